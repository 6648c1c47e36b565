"""ecotrace.integrations.tensorboard against the real tensorboard package: the event files are read
back with TensorBoard's own EventAccumulator (no TensorFlow)."""

import time

import pytest

import ecotrace
from conftest import STEADY, need

need("tensorboard")
from tensorboard.backend.event_processing.event_accumulator import (  # noqa: E402
    EventAccumulator,
)

from ecotrace.integrations.tensorboard import TensorBoardReporter  # noqa: E402


def read(log_dir):
    acc = EventAccumulator(str(log_dir), size_guidance={"scalars": 0, "tensors": 0})
    acc.Reload()
    return acc


def test_scalars_per_epoch_and_params(tmp_path, steady_machine):
    log_dir = tmp_path / "runs" / "resnet"
    with ecotrace.Tracker(project="resnet", region="FR", electricity_price=0.25, **STEADY) as t:
        t.add_reporter(TensorBoardReporter(str(log_dir)))
        for _ in range(3):
            time.sleep(0.05)
            t.epoch_end()
    fp = t.footprint
    acc = read(log_dir)
    tags = acc.Tags()
    for name in ("energy_kwh", "operational_kgco2e", "embodied_kgco2e", "water_l", "cost_usd"):
        assert "ecotrace/" + name in tags["scalars"], name
        events = acc.Scalars("ecotrace/" + name)
        assert [e.step for e in events] == [1, 2, 3, 3]
        # float32 in the event file
        assert events[-1].value == pytest.approx(getattr(fp, name), rel=1e-6)
        assert [e.value for e in events] == sorted(e.value for e in events)
    text = acc.Tensors("ecotrace/params")[0].tensor_proto.string_val[0].decode()
    assert f"| run_id | {fp.run_id} |" in text
    assert "| region | FR |" in text
    assert "| intensity_g_per_kwh | 1000 |" in text  # the intensity given (STEADY)


def test_default_log_dir_and_a_failed_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(KeyError):
        with ecotrace.Tracker(interval=0.02) as t:
            t.add_reporter(TensorBoardReporter())
            {}["missing"]
    acc = read(tmp_path / "runs" / f"ecotrace-{t.footprint.run_id[:8]}")
    [final] = acc.Scalars("ecotrace/energy_kwh")
    assert final.step == 0 and final.value == pytest.approx(t.footprint.energy_kwh, rel=1e-6)


class RecordingWriter:
    """A SummaryWriter's add_scalar/add_text/flush, recording what it is given."""

    def __init__(self):
        self.scalars, self.texts = [], []

    def add_scalar(self, tag, value, step):
        self.scalars.append((tag, value, step))

    def add_text(self, tag, text, step):
        self.texts.append((tag, text, step))

    def flush(self):
        pass


def test_a_writer_of_your_own(tmp_path):
    w = RecordingWriter()
    with ecotrace.Tracker(interval=0.02) as t:
        t.add_reporter(TensorBoardReporter(writer=w))
        t.epoch_end()
    assert ("ecotrace/energy_kwh", t.footprint.energy_kwh, 1) in w.scalars
    assert w.texts[0][0] == "ecotrace/params" and t.footprint.run_id in w.texts[0][1]
