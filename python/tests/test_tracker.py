"""The Tracker: context manager, start/stop, decorator, exceptions, settings layering."""

import sys
import time

import pytest

import ecotrace
from ecotrace import _ecotrace


def busy(seconds):
    end = time.perf_counter() + seconds
    n = 0
    while time.perf_counter() < end:
        n += 1
    return n


def test_context_manager_measures_and_stores_the_run(cli):
    with ecotrace.Tracker(project="bert-finetune", phase="training", region="FR", interval=0.05,
                          tags={"lr": 3e-4}) as t:
        assert t.running and t.run_id
        busy(0.3)
        t.log_metric("val_accuracy", 0.91)
    fp = t.footprint
    assert not t.running
    assert fp.status == "finished"
    assert fp.energy_kwh > 0
    assert fp.energy_kwh == pytest.approx(sum(fp.energy_by_component.values()))
    assert fp.operational_kgco2e == pytest.approx(
        fp.energy_kwh * fp.pue * fp.intensity_g_per_kwh / 1000, rel=1e-9)
    assert fp.intensity_zone == "FR"
    assert fp.duration_s >= 0.3
    assert set(fp.methods.values()) <= {"cpu-model", "ram-model"}  # empty sysfs, no NVML
    assert fp.metrics["val_accuracy"] == 0.91
    d = fp.to_dict()
    assert d["project"] == "bert-finetune" and d["phase"] == "training"
    assert d["tags"] == {"lr": "0.0003"}
    assert d["scope"] == "process"
    assert d["command"][0].endswith(("python", "python3")) or "python" in d["command"][0]
    # The same record is in the ledger, as the CLI shows it.
    shown = cli.show(fp.run_id)
    assert shown["status"] == "finished"
    assert shown["energy_kwh"]["total"] == pytest.approx(fp.energy_kwh)


def test_the_ledger_has_the_run_while_it_runs(cli):
    t = ecotrace.Tracker(project="p", interval=0.05).start()
    try:
        assert cli.show(t.run_id)["status"] == "running"
        time.sleep(0.2)
        snap = t.snapshot()
        assert snap.status == "running" and snap.duration_s > 0
    finally:
        fp = t.stop()
    assert fp.status == "finished"
    assert cli.show(t.run_id)["status"] == "finished"


def test_start_and_stop_without_with():
    t = ecotrace.Tracker(project="p", interval=0.02)
    assert not t.running and t.run_id is None
    assert t.start() is t
    busy(0.1)
    fp = t.stop()
    assert fp is t.footprint and fp.status == "finished"
    with pytest.raises(RuntimeError, match="already stopped"):
        t.stop()
    with pytest.raises(RuntimeError, match="already stopped"):
        t.epoch_end()
    with pytest.raises(RuntimeError, match="started once"):
        t.start()
    with pytest.raises(RuntimeError, match="not been started"):
        ecotrace.Tracker().epoch_end()


def test_sampling_does_not_need_the_gil():
    # A pure-Python loop holds the GIL; the Rust meter thread samples all the same.
    with ecotrace.Tracker(interval=0.02, scope="machine", cpu_power=50) as t:
        busy(0.4)
        mid = t.snapshot()
    assert mid.to_dict()["samples"]["count"] >= 5
    assert t.footprint.to_dict()["samples"]["count"] >= 10


def test_an_exception_records_a_failed_run_and_is_reraised(cli):
    t = ecotrace.Tracker(project="p", interval=0.02)
    with pytest.raises(ValueError, match="boom"):
        with t:
            busy(0.05)
            raise ValueError("boom")
    assert t.footprint.status == "failed"
    assert t.footprint.error == "ValueError: boom"
    shown = cli.show(t.run_id)
    assert shown["status"] == "failed" and shown["error"] == "ValueError: boom"


def test_keyboard_interrupt_records_an_interrupted_run():
    t = ecotrace.Tracker(interval=0.02)
    with pytest.raises(KeyboardInterrupt):
        with t:
            raise KeyboardInterrupt
    assert t.footprint.status == "interrupted"
    assert t.footprint.to_dict()["signal"] == 2


def test_decorator(cli):
    calls = []

    @ecotrace.track(project="sweeps", interval=0.02)
    def train(cfg):
        t = ecotrace.current_tracker()
        assert t is not None and t.running
        t.log_metric("loss", cfg["lr"] * 10)
        busy(0.05)
        calls.append(cfg)
        return "done"

    assert train.__name__ == "train"
    assert train({"lr": 0.1}) == "done"
    first = train.footprint
    assert first.status == "finished" and first.metrics["loss"] == pytest.approx(1.0)
    assert first.to_dict()["project"] == "sweeps"
    train({"lr": 0.2})
    assert train.footprint.run_id != first.run_id  # one run per call
    assert ecotrace.current_tracker() is None
    runs = cli("runs", "--project", "sweeps", "--json")
    assert len(__import__("json").loads(runs)) == 2


def test_decorator_without_arguments_and_failure():
    @ecotrace.track
    def broken():
        raise RuntimeError("nope")

    with pytest.raises(RuntimeError):
        broken()
    assert broken.footprint.status == "failed"
    assert broken.footprint.error == "RuntimeError: nope"


def test_options_come_from_env_and_config_like_the_cli(monkeypatch, tmp_path):
    (tmp_path / "work" / "ecotrace.toml").write_text(
        'project = "from-file"\nphase = "tuning"\nregion = "FR"\n[tags]\nteam = "nlp"\n')
    monkeypatch.setenv("ECOTRACE_PROJECT", "from-env")
    monkeypatch.setenv("ECOTRACE_PUE", "1.25")
    with ecotrace.Tracker(interval=0.02) as t:
        pass
    d = t.footprint.to_dict()
    assert d["project"] == "from-env"          # env over file
    assert d["phase"] == "tuning"              # file over default
    assert d["pue"]["value"] == 1.25
    assert d["intensity"]["zone"] == "FR"
    assert d["tags"] == {"team": "nlp"}
    with ecotrace.Tracker(project="from-kw", interval=0.02) as t2:
        pass
    assert t2.footprint.to_dict()["project"] == "from-kw"  # keyword over env


def test_bad_options_fail_before_anything_runs(ledger):
    with pytest.raises(ValueError, match="phase"):
        ecotrace.Tracker(phase="trainnig")
    with pytest.raises(ValueError, match="Atlantis|zone|region"):
        ecotrace.Tracker(region="Atlantis")
    with pytest.raises(ValueError, match="interval"):
        ecotrace.Tracker(interval="fast")
    with pytest.raises(ValueError, match="on_budget"):
        ecotrace.Tracker(on_budget="explode")
    with pytest.raises(ValueError):
        ecotrace.Tracker(pue=0.5)
    with pytest.raises(ValueError):
        ecotrace.track(scope="cluster")
    assert not ledger.exists()


def test_summary_is_printed_unless_quiet(monkeypatch, capsys):
    monkeypatch.delenv("ECOTRACE_QUIET")
    with ecotrace.Tracker(interval=0.02, region="FR"):
        pass
    err = capsys.readouterr().err
    assert "kWh" in err or "Wh" in err
    with ecotrace.Tracker(interval=0.02, quiet=True):
        pass
    assert capsys.readouterr().err == ""


def test_metrics_flops_and_epochs_are_stored_and_read_back_by_the_cli(cli):
    with ecotrace.Tracker(project="m", interval=0.02, planned_epochs=3) as t:
        for epoch in range(3):
            busy(0.02)
            t.epoch_end()
            t.log_metric("val_accuracy", 0.5 + epoch / 10)
        t.set_flops(1.5e15)
        t.log_metrics({"loss": 0.25, "note": "not a number"})
    shown = cli.show(t.run_id)
    m = shown["metrics"]
    assert m["val_accuracy"] == pytest.approx(0.7)
    assert m["loss"] == 0.25 and "note" not in m
    assert m["epochs"] == 3 and m["planned_epochs"] == 3 and m["flops"] == 1.5e15
    text = cli("show", t.run_id)
    assert "val_accuracy" in text


def test_bad_metrics_are_refused():
    with ecotrace.Tracker(interval=0.02) as t:
        with pytest.raises(ValueError):
            t.log_metric("x", float("nan"))
        with pytest.raises(ValueError):
            t.log_metric("", 1.0)
        with pytest.raises(ValueError):
            t.set_planned_epochs(0)
        with pytest.raises(ValueError):
            t.set_flops(-1)


def test_a_tracker_left_running_is_recorded_at_exit(tmp_path, cli):
    import subprocess
    code = (
        "import ecotrace\n"
        "t = ecotrace.Tracker(project='forgot', interval=0.02).start()\n"
        "print(t.run_id)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    shown = cli.show(out.stdout.strip())
    assert shown["status"] == "interrupted"
    assert "stop() was not called" in shown["error"]


def test_a_forked_child_leaves_the_parents_run_alone(cli):
    import subprocess
    code = (
        "import os, sys, ecotrace\n"
        "t = ecotrace.Tracker(project='fork', interval=0.02).start()\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    try:\n"
        "        t.epoch_end()\n"
        "        sys.exit(3)\n"
        "    except RuntimeError as e:\n"
        "        assert 'forked child' in str(e), e\n"
        "    sys.exit(0)  # a normal exit: atexit runs in the child, and must not stop the run\n"
        "_, status = os.waitpid(pid, 0)\n"
        "assert os.waitstatus_to_exitcode(status) == 0, status\n"
        "t.epoch_end()\n"
        "print(t.stop().run_id)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    shown = cli.show(out.stdout.strip())
    assert shown["status"] == "finished" and shown["metrics"]["epochs"] == 1


def test_footprint_options_reach_the_record(steady_machine):
    with ecotrace.Tracker(interval=0.02, scope="machine", cpu_power=100, region="FR", wue=1.5,
                          electricity_price=0.2, lifetime_years=4) as t:
        time.sleep(0.1)
    fp = t.footprint
    d = fp.to_dict()
    assert d["water"]["wue_l_per_kwh"] == 1.5
    assert fp.water_l is not None and fp.water_l > 0
    assert d["cost"]["basis"] == "electricity" and d["cost"]["usd_per_kwh"] == 0.2
    assert fp.cost_usd == pytest.approx(fp.energy_kwh * fp.pue * 0.2)
    with pytest.raises(ValueError):
        ecotrace.Tracker(lifetime_years=-1)


def test_job_key(monkeypatch):
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "4")
    with ecotrace.Tracker(interval=0.02, job="sweep-7") as t:
        pass
    job = t.footprint.to_dict()["job"]
    assert job["id"] == "sweep-7" and job["rank"] == 1 and job["world_size"] == 4


def test_every_cli_measure_option_is_accepted(tmp_path):
    """Each option `ecotrace run` takes (its ids come from the CLI's own definitions) is accepted as
    a keyword argument and lands in the run's settings; an unknown one names the closest."""
    samples = {
        "project": "p", "phase": "training", "interval": "50ms", "scope": "machine",
        "region": "aws:eu-west-3", "intensity": 123.0, "pue": 1.7, "wue": 0.9, "cpu_power": 42.0,
        "ram_power": 7.0, "lifetime_years": 3.0, "price_per_hour": 2.5,
        "electricity_price": 0.2, "tags": {"lr": "3e-4"}, "basis": "direct",
        "gpus": [0, 1],
        # No region: the provider is configured and not asked (nothing leaves the machine).
        "grid_provider": "ukci", "grid_provider_url": "http://127.0.0.1:9",
        "grid_provider_zone": "13",
    }
    ids = _ecotrace.measure_options()
    assert set(ids) <= set(samples), f"add a sample for {set(ids) - set(samples)}"
    for name in ids:
        t = ecotrace.Tracker(ledger=str(tmp_path / "l.db"), quiet=True, **{name: samples[name]})
        with t:
            pass
        rec = t.footprint._record
        assert rec["status"] == "finished", name
    with pytest.raises(ValueError, match="did you mean region="):
        ecotrace.Tracker(regoin="FR")
    with pytest.raises(ValueError, match="GPU indices or UUIDs"):
        ecotrace.Tracker(gpus="0,,1")


def test_windows_and_counted_work(cli):
    with ecotrace.Tracker(project="serve", phase="inference", interval=0.05) as t:
        with t.window("warmup"):
            busy(0.15)
        t.start_window("eval")
        with t.window("eval"):  # nested, same name
            busy(0.15)
            for _ in range(3):
                t.count(requests=1, prompt_tokens=7, generated_tokens=40)
        t.end_window("eval")
        with pytest.raises(ValueError, match="no window"):
            t.end_window("eval")
        with pytest.raises(ValueError, match="whole number"):
            t.count(requests=-1)
        busy(0.1)
    rec = cli.show(t.run_id)
    names = [(w["name"], w["depth"]) for w in rec["windows"]]
    assert names == [("warmup", 0), ("eval", 0), ("eval", 1)]
    assert all(w["ended_at"] for w in rec["windows"])
    assert all(w["energy_kwh"]["total"] > 0 for w in rec["windows"])
    outer, inner = rec["windows"][1], rec["windows"][2]
    assert outer["energy_kwh"]["total"] >= inner["energy_kwh"]["total"]
    s = rec["serving"]
    assert (s["requests"], s["prompt_tokens"], s["generated_tokens"]) == (3, 21, 120)
    assert s["source"] == "tracker.count()"
    assert s["energy_wh_per_1k_tokens"] == pytest.approx(
        rec["energy_kwh"]["total"] * 1000 / 120 * 1000, rel=1e-9)
