"""ecotrace.integrations.optuna against real Optuna, with in-memory and SQLite storage: each trial
a run, its footprint in the trial's user attributes, a carbon budget that stops the study, and the
study's waste in `ecotrace report --lifecycle`."""

import json
import time

import pytest

import ecotrace  # noqa: F401
from conftest import STEADY, need

optuna = need("optuna")
from ecotrace.integrations.optuna import EcotraceCallback  # noqa: E402

optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.fixture(params=["memory", "sqlite"])
def storage(request, tmp_path):
    return None if request.param == "memory" else f"sqlite:///{tmp_path}/optuna.db"


def objective_for(eco, fail_at=(), prune_at=()):
    @eco.track_in_ecotrace()
    def objective(trial):
        # Two choices over six trials: parameters repeat.
        lr = trial.suggest_categorical("lr", [0.1, 0.01])
        layers = trial.suggest_int("layers", 1, 1)
        time.sleep(0.03)
        if trial.number in fail_at:
            raise ValueError("loss diverged")
        if trial.number in prune_at:
            trial.report(1.0, step=1)
            raise optuna.TrialPruned("pruned at step 1")
        return lr * 10 + layers

    return objective


def test_each_trial_is_a_run_with_its_footprint_in_user_attrs(storage, cli):
    eco = EcotraceCallback(project="lr-sweep", tags={"team": "nlp"}, interval=0.02)
    study = optuna.create_study(study_name="sweep-a", storage=storage,
                                sampler=optuna.samplers.RandomSampler(seed=1))
    study.optimize(objective_for(eco, fail_at=(2,), prune_at=(4,)), n_trials=6,
                   callbacks=[eco], catch=(ValueError,))
    assert len(study.trials) == 6
    ids = set()
    for tr in study.trials:
        attrs = tr.user_attrs
        run = cli.show(attrs["ecotrace.run_id"])
        ids.add(run["id"])
        assert run["phase"] == "tuning" and run["project"] == "lr-sweep"
        assert run["tags"]["study"] == "sweep-a" and run["tags"]["trial"] == str(tr.number)
        assert run["tags"]["team"] == "nlp"
        assert run["tags"]["param.lr"] == str(tr.params["lr"])
        assert run["tags"]["param.layers"] == "1"
        assert attrs["ecotrace.energy_kwh"] == run["energy_kwh"]["total"]
        assert attrs["ecotrace.operational_kgco2e"] == run["operational_kgco2e"]
        assert attrs["ecotrace.total_kgco2e"] == pytest.approx(
            run["operational_kgco2e"] + (run["embodied_kgco2e"] or 0.0))
        state = tr.state
        if state == optuna.trial.TrialState.COMPLETE:
            assert run["status"] == "finished"
            assert run["metrics"]["objective"] == tr.value
        elif state == optuna.trial.TrialState.PRUNED:
            assert tr.number == 4
            assert run["status"] == "interrupted" and run["error"] == "pruned: pruned at step 1"
        else:
            assert state == optuna.trial.TrialState.FAIL and tr.number == 2
            assert run["status"] == "failed" and run["error"] == "ValueError: loss diverged"
    assert len(ids) == 6
    total = sum(t.user_attrs["ecotrace.total_kgco2e"] for t in study.trials)
    assert study.user_attrs["ecotrace.total_kgco2e"] == pytest.approx(total)
    assert eco.total_kgco2e == pytest.approx(total) and not eco.stopped_by_budget

    # The study's waste: the pruned and the failed trial, and the finished trials that drew
    # parameters a later finished trial drew again (all but the last of each set).
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    distinct = {tuple(sorted(t.params.items())) for t in complete}
    report = json.loads(cli("report", "--project", "lr-sweep", "--lifecycle", "--format", "json"))
    tuning = report["phases"]["tuning"]
    assert tuning["runs"] == 6
    assert tuning["failed_runs"] == 2 and tuning["pruned_runs"] == 1
    assert len(complete) - len(distinct) >= 1  # two choices, four finished trials
    assert tuning["repeated_runs"] == len(complete) - len(distinct)
    text = cli("report", "--project", "lr-sweep", "--lifecycle")
    assert f"Waste: 2 failed or interrupted (of which 1 pruned) and {tuning['repeated_runs']} " \
           "repeated run(s)" in text


def test_the_budget_stops_the_study(storage, steady_machine):
    eco = EcotraceCallback(project="budget", budget_kgco2e=1e-12, **STEADY)
    study = optuna.create_study(storage=storage)
    with pytest.warns(RuntimeWarning, match="above its budget"):
        study.optimize(objective_for(eco), n_trials=20, callbacks=[eco])
    assert len(study.trials) == 1  # stopped after the first trial's footprint
    assert eco.stopped_by_budget and eco.total_kgco2e > 1e-12


def test_a_block_measured_with_the_trial_context(cli):
    eco = EcotraceCallback(project="ctx", interval=0.02)

    def objective(trial):
        x = trial.suggest_float("x", -1, 1)
        with eco.trial(trial) as t:
            time.sleep(0.02)
            t.log_metric("val_loss", x * x)
        return x * x

    study = optuna.create_study()
    study.optimize(objective, n_trials=2, callbacks=[eco])
    for tr in study.trials:
        run = cli.show(tr.user_attrs["ecotrace.run_id"])
        assert run["metrics"]["val_loss"] == pytest.approx(tr.value)
        assert run["tags"]["param.x"] == str(tr.params["x"])


def test_an_undecorated_objective_is_pointed_out():
    eco = EcotraceCallback()
    study = optuna.create_study()
    with pytest.warns(RuntimeWarning, match="track_in_ecotrace"):
        study.optimize(lambda trial: trial.suggest_float("x", 0, 1), n_trials=2, callbacks=[eco])
    assert eco.total_kgco2e == 0.0
