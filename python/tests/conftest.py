"""Every test gets its own ledger, no GPU, an empty sysfs (so the CPU model is used, never RAPL),
no config file and no ECOTRACE_* variable from the developer's shell."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    for k in list(os.environ):
        if k.startswith("ECOTRACE_") and k != "ECOTRACE_BIN":
            monkeypatch.delenv(k)
    sysfs = tmp_path / "sys"
    sysfs.mkdir()
    ledger = tmp_path / "ledger.db"
    monkeypatch.setenv("ECOTRACE_LEDGER", str(ledger))
    monkeypatch.setenv("ECOTRACE_NVML_LIBRARY", "none")
    monkeypatch.setenv("ECOTRACE_SYSFS_ROOT", str(sysfs))
    monkeypatch.setenv("ECOTRACE_QUIET", "1")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return ledger


@pytest.fixture
def ledger(isolated):
    return isolated


@pytest.fixture
def steady_machine(tmp_path, monkeypatch):
    """A fake /proc whose counters never move: in machine scope with a given CPU power, the CPU
    model then draws its idle power and the RAM model a fixed power, so energy = P × time exactly."""
    proc = tmp_path / "proc"
    (proc / "sys/kernel").mkdir(parents=True)
    (proc / "stat").write_text(
        "cpu  1000 0 500 80000 100 0 0 0 0 0\ncpu0 500 0 250 40000 50 0 0 0 0 0\n"
        "cpu1 500 0 250 40000 50 0 0 0 0 0\n"
    )
    (proc / "meminfo").write_text(
        "MemTotal:       16000000 kB\nMemFree:         8000000 kB\nMemAvailable:   12000000 kB\n"
    )
    (proc / "cpuinfo").write_text(
        "processor\t: 0\nmodel name\t: Test CPU\nphysical id\t: 0\ncore id\t\t: 0\ncpu cores\t: 2\n\n"
        "processor\t: 1\nmodel name\t: Test CPU\nphysical id\t: 0\ncore id\t\t: 1\ncpu cores\t: 2\n\n"
    )
    (proc / "sys/kernel/osrelease").write_text("6.1.0-test\n")
    (proc / "sys/kernel/hostname").write_text("testhost\n")
    monkeypatch.setenv("ECOTRACE_PROCFS_ROOT", str(proc))
    return proc


def ecotrace_bin():
    b = os.environ.get("ECOTRACE_BIN")
    if b:
        return b
    for p in (REPO / "target/debug/ecotrace", REPO / "target/release/ecotrace"):
        if p.exists():
            return str(p)
    return shutil.which("ecotrace")


@pytest.fixture
def cli():
    """Runs the ecotrace CLI (ECOTRACE_BIN, as scripts/test-python sets it) and returns its stdout."""
    b = ecotrace_bin()
    if b is None:
        pytest.skip("the ecotrace CLI is not built: set ECOTRACE_BIN (scripts/test-python does)")

    def run(*args):
        out = subprocess.run([b, *args], capture_output=True, text=True, env=os.environ.copy())
        assert out.returncode == 0, f"ecotrace {' '.join(args)}: {out.stderr}"
        return out.stdout

    def show(run_id):
        return json.loads(run("show", run_id, "--json"))

    run.show = show
    return run


def need(module):
    """Imports an integration's framework for a test. scripts/test-python installs them all and
    sets ECOTRACE_TEST_ALL_INTEGRATIONS, so that a missing one fails there; elsewhere (the wheel's
    fresh virtualenv, a developer's own) the test is skipped."""
    if os.environ.get("ECOTRACE_TEST_ALL_INTEGRATIONS"):
        import importlib

        return importlib.import_module(module)
    return pytest.importorskip(module)


def free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


STEADY = dict(scope="machine", cpu_power=100.0, intensity=1000.0, interval=0.02)
