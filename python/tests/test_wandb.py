"""ecotrace.integrations.wandb against real wandb in offline mode: the run's transaction log
(run-<id>.wandb) is read back and each record parsed with wandb's own protobuf classes."""

import json
import struct
import time

import pytest

import ecotrace
from conftest import STEADY, need

wandb = need("wandb")
from wandb.proto import wandb_internal_pb2  # noqa: E402

from ecotrace.integrations.wandb import WandbReporter  # noqa: E402


@pytest.fixture(autouse=True)
def offline(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_CONSOLE", "off")
    for k in ("WANDB_API_KEY", "WANDB_PROJECT", "WANDB_ENTITY", "WANDB_RUN_ID"):
        monkeypatch.delenv(k, raising=False)
    yield
    if wandb.run is not None:
        wandb.run.finish()
    wandb.teardown()  # wandb keeps its settings (WANDB_DIR) for the process: read them anew


def records(run_dir):
    """The records of a .wandb file: a 7-byte header (':W&B', magic 0xBEE1, version), then the
    LevelDB log format (32 KiB blocks; each chunk: CRC, length, type FULL/FIRST/MIDDLE/LAST)."""
    [path] = run_dir.glob("run-*.wandb")
    data = path.read_bytes()
    ident, magic, _version = struct.unpack("<4sHB", data[:7])
    assert ident == b":W&B" and magic == 0xBEE1
    out, pos, pending = [], 7, b""
    while pos + 7 <= len(data):
        left_in_block = 32768 - pos % 32768
        if left_in_block < 7:  # block trailer
            pos += left_in_block
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos:pos + 7])
        if kind == 0 and length == 0:
            break
        chunk = data[pos + 7:pos + 7 + length]
        pos += 7 + length
        pending += chunk
        if kind in (1, 4):  # FULL or LAST
            rec = wandb_internal_pb2.Record()
            rec.ParseFromString(pending)
            out.append(rec)
            pending = b""
    return out


def history(recs):
    rows = []
    for r in recs:
        if r.WhichOneof("record_type") == "history":
            rows.append({(i.key or "/".join(i.nested_key)): json.loads(i.value_json)
                         for i in r.history.item})
    return rows


def run_dir(tmp_path):
    # finish() hands the run to the wandb-core service, which writes the files on its own time;
    # teardown() waits for it to exit.
    wandb.teardown()
    [d] = (tmp_path / "wandb").glob("offline-run-*")
    return d


def test_series_summary_config_and_record_in_an_offline_run(tmp_path, steady_machine):
    run = wandb.init(project="bert")
    with ecotrace.Tracker(project="bert", region="FR", electricity_price=0.25, **STEADY) as t:
        t.add_reporter(WandbReporter())
        for epoch in range(3):
            time.sleep(0.05)
            run.log({"loss": 1.0 / (epoch + 1)})  # the user's own series go on beside
            t.epoch_end()
    run.finish()
    fp = t.footprint
    recs = records(run_dir(tmp_path))
    rows = [r for r in history(recs) if "ecotrace/epoch" in r]
    assert [r["ecotrace/epoch"] for r in rows] == [1, 2, 3, 3]
    for name in ("energy_kwh", "operational_kgco2e", "embodied_kgco2e", "water_l", "cost_usd"):
        series = [r["ecotrace/" + name] for r in rows]
        assert series == sorted(series), name
        assert series[-1] == pytest.approx(getattr(fp, name)), name
    assert [r["loss"] for r in history(recs) if "loss" in r] == [1.0, 0.5, pytest.approx(1 / 3)]

    summary = {}
    config = {}
    files = []
    for r in recs:
        kind = r.WhichOneof("record_type")
        if kind == "summary":
            summary.update({(u.key or "/".join(u.nested_key)): json.loads(u.value_json)
                            for u in r.summary.update})
        elif kind == "config":
            config.update({u.key: json.loads(u.value_json) for u in r.config.update})
        elif kind == "files":
            files.extend(f.path for f in r.files.files)
    assert summary["ecotrace/run_id"] == fp.run_id
    assert summary["ecotrace/energy_kwh"] == pytest.approx(fp.energy_kwh)
    assert config["ecotrace.region"] == "FR"
    assert config["ecotrace.run_id"] == fp.run_id
    assert float(config["ecotrace.intensity_g_per_kwh"]) == fp.intensity_g_per_kwh
    name = f"ecotrace-{fp.run_id}.json"
    assert name in files
    saved = json.loads((run_dir(tmp_path) / "files" / name).read_text())
    assert saved["id"] == fp.run_id and saved["status"] == "finished"


def test_without_a_run_the_reporter_starts_and_finishes_one(tmp_path):
    with ecotrace.Tracker(project="sweep", interval=0.02) as t:
        t.add_reporter(WandbReporter())
        t.epoch_end()
        assert wandb.run is not None and wandb.run.project == "sweep"
    assert wandb.run is None
    recs = records(run_dir(tmp_path))
    rows = [r for r in history(recs) if "ecotrace/epoch" in r]
    assert [r["ecotrace/epoch"] for r in rows] == [1, 1]
