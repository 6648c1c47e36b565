"""ecotrace.integrations.mlflow against real MLflow: a local file store, and an `mlflow server`
(SQLite store, artifacts served by the server) started on loopback; read back with MLflow's own
client."""

import json
import os
import subprocess
import sys
import time
import urllib.request

import pytest

import ecotrace
from conftest import STEADY, free_port, need

mlflow = need("mlflow")
from mlflow.tracking import MlflowClient  # noqa: E402

from ecotrace.integrations.mlflow import MlflowReporter, log_footprint  # noqa: E402
from test_integrations import (  # noqa: E402,F401  (fixtures)
    HFTrainer, PLTrainer, fake_lightning, fake_transformers)

FIGURES = ("energy_kwh", "operational_kgco2e", "embodied_kgco2e", "water_l", "cost_usd")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`mlflow server` on 127.0.0.1 with a SQLite store, artifacts served by the server."""
    d = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    log = open(d / "server.log", "wb")
    p = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
         "--workers", "1", "--backend-store-uri", f"sqlite:///{d}/mlflow.db"],
        cwd=d, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(url + "/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if p.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("mlflow server did not start:\n" +
                                   (d / "server.log").read_text()[-3000:])
            time.sleep(0.5)
        yield url
    finally:
        p.terminate()
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            p.kill()
        log.close()


def use(uri, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)


@pytest.fixture
def file_store(tmp_path, monkeypatch):
    # MLflow 3 keeps the file store in maintenance mode behind this switch.
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    uri = (tmp_path / "mlruns").as_uri()
    use(uri, monkeypatch)
    yield uri
    while mlflow.active_run():
        mlflow.end_run()


@pytest.fixture(params=["file", "server"])
def tracking_uri(request, monkeypatch):
    if request.param == "file":
        yield request.getfixturevalue("file_store")
        return
    uri = request.getfixturevalue("server")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    yield uri
    while mlflow.active_run():
        mlflow.end_run()


def test_footprint_per_epoch_params_and_record_with_autolog(tracking_uri, steady_machine, cli,
                                                             tmp_path):
    mlflow.autolog()
    with mlflow.start_run() as run:
        with ecotrace.Tracker(project="bert", region="FR", electricity_price=0.25,
                              scope="machine", cpu_power=100.0, interval=0.02) as t:
            t.add_reporter(MlflowReporter())
            for _ in range(3):
                time.sleep(0.05)
                t.epoch_end()
        mlflow.log_metric("val_accuracy", 0.9)  # the user's own logging goes on beside it
    fp = t.footprint
    client = MlflowClient(tracking_uri)
    data = client.get_run(run.info.run_id).data
    for name in FIGURES:
        assert getattr(fp, name) is not None, name
        assert data.metrics["ecotrace." + name] == pytest.approx(getattr(fp, name)), name
    assert data.metrics["val_accuracy"] == 0.9

    # One point per epoch (the figures so far), then the final one at the last epoch's step.
    history = client.get_metric_history(run.info.run_id, "ecotrace.energy_kwh")
    assert [m.step for m in history] == [1, 2, 3, 3]
    values = [m.value for m in sorted(history, key=lambda m: (m.step, m.timestamp))]
    # (the figures so far are at most one sampling interval old: the first may still be 0)
    assert 0 <= values[0] <= values[1] <= values[2] <= values[3] == pytest.approx(fp.energy_kwh)
    assert values[3] > 0

    p = data.params
    shown = cli.show(fp.run_id)
    assert p["ecotrace.region"] == "FR" == shown["intensity"]["zone"]
    assert float(p["ecotrace.intensity_g_per_kwh"]) == shown["intensity"]["g_per_kwh"]
    assert p["ecotrace.intensity_source"].startswith(shown["intensity"]["source"])
    assert str(shown["intensity"]["year"]) in p["ecotrace.intensity_source"]
    assert float(p["ecotrace.pue"]) == shown["pue"]["value"]
    assert p["ecotrace.pue_source"] == shown["pue"]["source"]
    assert "Test CPU (2 CPUs)" in p["ecotrace.hardware"] and "16 GB RAM" in p["ecotrace.hardware"]
    assert "ram=ram-model" in p["ecotrace.methods"] and "=cpu-model" in p["ecotrace.methods"]
    assert p["ecotrace.run_id"] == fp.run_id == data.tags["ecotrace.run_id"]

    path = client.download_artifacts(run.info.run_id, f"ecotrace/{fp.run_id}.json",
                                     str(tmp_path))
    with open(path) as f:
        record = json.load(f)
    assert record["id"] == fp.run_id and record["status"] == "finished"
    assert record["energy_kwh"] == shown["energy_kwh"]


def test_without_an_active_run_the_reporter_opens_and_closes_one(tracking_uri):
    with pytest.raises(ZeroDivisionError):
        with ecotrace.Tracker(interval=0.02) as t:
            t.add_reporter(MlflowReporter())
            t.epoch_end()
            assert mlflow.active_run() is not None
            1 / 0
    assert mlflow.active_run() is None
    runs = MlflowClient(tracking_uri).search_runs(
        [mlflow.get_experiment_by_name("Default").experiment_id],
        filter_string=f"tags.`ecotrace.run_id` = '{t.footprint.run_id}'")
    assert len(runs) == 1
    r = runs[0]
    assert r.info.run_name == f"ecotrace-{t.footprint.run_id[:8]}"
    assert r.info.status == "FAILED"
    assert r.data.metrics["ecotrace.energy_kwh"] == pytest.approx(t.footprint.energy_kwh)


def test_log_footprint_of_a_finished_run(tracking_uri):
    with ecotrace.Tracker(interval=0.02) as t:
        time.sleep(0.05)
    with mlflow.start_run() as run:
        assert log_footprint(t.footprint) == run.info.run_id
    data = MlflowClient(tracking_uri).get_run(run.info.run_id).data
    assert data.metrics["ecotrace.operational_kgco2e"] == pytest.approx(
        t.footprint.operational_kgco2e)
    assert data.params["ecotrace.run_id"] == t.footprint.run_id


def test_a_failing_mlflow_never_costs_the_run(monkeypatch, tmp_path):
    # A store MLflow cannot write: the reporter's errors become warnings and the run is recorded.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    mlflow.set_tracking_uri("http://127.0.0.1:9")
    with pytest.warns(RuntimeWarning, match="MlflowReporter"):
        with ecotrace.Tracker(interval=0.02) as t:
            t.add_reporter(MlflowReporter(run_id="0" * 32))
            t.epoch_end()
    assert t.footprint.status == "finished"


def test_huggingface_callback_reports_to_mlflow(file_store, fake_transformers):
    from ecotrace.integrations.huggingface import EcotraceCallback

    cb = EcotraceCallback(report_to="mlflow", interval=0.02)
    with mlflow.start_run() as run:  # as transformers' own MLflowCallback or autolog opens it
        HFTrainer(cb, epochs=2).train()
    client = MlflowClient(file_store)
    history = client.get_metric_history(run.info.run_id, "ecotrace.operational_kgco2e")
    assert [m.step for m in history] == [1, 2, 2]
    data = client.get_run(run.info.run_id).data
    assert data.params["ecotrace.run_id"] == cb.footprint.run_id
    assert data.metrics["ecotrace.energy_kwh"] == pytest.approx(cb.footprint.energy_kwh)


def test_lightning_callback_reports_to_mlflow(file_store, fake_lightning):
    from ecotrace.integrations.lightning import EcotraceCallback

    cb = EcotraceCallback(report_to=[MlflowReporter()], interval=0.02)
    with mlflow.start_run() as run:
        PLTrainer([cb], max_epochs=3).fit()
    history = MlflowClient(file_store).get_metric_history(run.info.run_id, "ecotrace.energy_kwh")
    assert [m.step for m in history] == [1, 2, 3, 3]


def test_report_to_names_an_unknown_tracker(fake_transformers):
    from ecotrace.integrations.huggingface import EcotraceCallback

    with pytest.raises(ValueError, match="unknown reporter 'neptune'"):
        EcotraceCallback(report_to=["mlflow", "neptune"])
