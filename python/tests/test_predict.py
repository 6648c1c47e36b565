"""Prediction of a whole run from its first epochs, and carbon budgets.

These run in machine scope on a fake /proc whose counters never move (see `steady_machine`), with a
given CPU power: the measured power is then constant, so energy is power × time and the projection
can be checked against the run it projects."""

import time
import warnings

import pytest

import ecotrace

STEADY = dict(scope="machine", cpu_power=100.0, intensity=1000.0, interval=0.02)


def wait_measured(t, timeout=5.0):
    """Waits for the first measurement: a projection needs one, and on a loaded machine the meter
    thread may not have run before a very short first epoch ends."""
    end = time.monotonic() + timeout
    while t.snapshot().duration_s == 0 and time.monotonic() < end:
        time.sleep(0.005)


def test_prediction_of_a_scripted_sequence_of_epochs(steady_machine):
    epoch_s = 0.1
    with ecotrace.Tracker(**STEADY) as t:
        t0 = time.perf_counter()
        assert t.predict() is None  # no epoch yet
        time.sleep(epoch_s)
        t.epoch_end()
        assert t.predict() is None  # no planned count yet
        t.set_planned_epochs(10)
        for _ in range(2):
            time.sleep(epoch_s)
            t.epoch_end()
        three_epochs_s = time.perf_counter() - t0
        so_far = t.snapshot()
        p = t.predict()
        assert p is not None and p.predicted and p.status == "running"
        # 3 epochs of 0.1 s, 10 planned: ~1 s at the power measured so far.
        power_w = so_far.mean_power_w
        assert power_w > 0
        assert p.duration_s == pytest.approx(three_epochs_s * 10 / 3, rel=0.05)
        assert p.duration_s == pytest.approx(10 * epoch_s, rel=0.25)
        per_epoch_kwh = power_w * p.duration_s / 10 / 3.6e6
        assert p.energy_kwh == pytest.approx(per_epoch_kwh * 10, rel=0.02)
        assert p.mean_power_w == pytest.approx(power_w, rel=0.02)
        assert p.operational_kgco2e == pytest.approx(p.energy_kwh * 1.0, rel=1e-9)  # 1 kg/kWh
        assert p.energy_by_component["cpu"] > 0 and p.energy_by_component["ram"] > 0
        for _ in range(7):
            time.sleep(epoch_s)
            t.epoch_end()
    final = t.footprint
    # The projection made after 3 epochs matches the 10-epoch run.
    assert final.energy_kwh == pytest.approx(p.energy_kwh, rel=0.10)
    assert final.duration_s == pytest.approx(p.duration_s, rel=0.10)
    assert final.metrics["epochs"] == 10


def carbon_per_second(steady_machine):
    with ecotrace.Tracker(**STEADY) as t:
        time.sleep(0.1)
    return t.footprint.operational_kgco2e / t.footprint.duration_s


def test_budget_stop_raises_before_the_carbon_is_spent(steady_machine, cli):
    epoch_s = 0.05
    per_epoch = carbon_per_second(steady_machine) * epoch_s
    budget = 6 * per_epoch  # 10 epochs planned: the projection is ~10 × per_epoch
    done = 0
    t = ecotrace.Tracker(**STEADY, budget_kgco2e=budget, on_budget="stop", planned_epochs=10)
    with pytest.raises(ecotrace.BudgetExceeded) as info:
        with t:
            wait_measured(t)
            for _ in range(10):
                time.sleep(epoch_s)
                done += 1
                t.epoch_end()
    e = info.value
    assert done <= 2  # stopped at the first projection (the second on a very busy machine)
    assert e.budget_kgco2e == budget
    assert e.spent.total_kgco2e < budget < e.projected.total_kgco2e
    assert e.projected.predicted
    assert "projected" in str(e) and "budget" in str(e)
    assert t.footprint.status == "interrupted"
    assert t.footprint.error.startswith("BudgetExceeded:")
    assert cli.show(t.run_id)["status"] == "interrupted"


def test_budget_warn_warns_once_and_goes_on(steady_machine):
    epoch_s = 0.03
    per_epoch = carbon_per_second(steady_machine) * epoch_s
    with pytest.warns(ecotrace.BudgetWarning, match="projected") as record:
        with ecotrace.Tracker(**STEADY, budget_kgco2e=2 * per_epoch, planned_epochs=6) as t:
            wait_measured(t)
            for _ in range(6):
                time.sleep(epoch_s)
                t.epoch_end()
    assert len([w for w in record if issubclass(w.category, ecotrace.BudgetWarning)]) == 1
    assert t.footprint.status == "finished" and t.footprint.metrics["epochs"] == 6


def test_budget_without_a_plan_compares_what_is_spent(steady_machine):
    with ecotrace.Tracker(**STEADY, budget_kgco2e=1e-15) as t:
        wait_measured(t)
        with pytest.warns(ecotrace.BudgetWarning, match="has emitted"):
            t.epoch_end()


def test_no_warning_under_budget(steady_machine):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with ecotrace.Tracker(**STEADY, budget_kgco2e=1e6, planned_epochs=3) as t:
            for _ in range(3):
                time.sleep(0.03)
                t.epoch_end()
    assert t.footprint.status == "finished"
