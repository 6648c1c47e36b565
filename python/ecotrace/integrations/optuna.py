"""Measures an Optuna study with ecotrace, one run per trial::

    import optuna
    from ecotrace.integrations.optuna import EcotraceCallback

    eco = EcotraceCallback(project="lr-sweep", region="FR", budget_kgco2e=0.5)

    @eco.track_in_ecotrace()
    def objective(trial):
        lr = trial.suggest_float("lr", 1e-5, 1e-1, log=True)
        return train(lr)

    study = optuna.create_study()
    study.optimize(objective, n_trials=50, callbacks=[eco])

Each trial is an ecotrace run of phase ``tuning`` with the tags ``study`` (the study's name),
``trial`` (its number) and ``param.NAME`` for each parameter it drew, and the objective as the
metric ``objective`` (``objective_0``, ``objective_1``... for several objectives). A pruned trial is
recorded as ``interrupted`` with an error starting ``pruned``, a trial that raised as ``failed``.
Optuna refuses to change a finished trial, so the footprint is stored in the trial's user
attributes by the decorated objective while the trial runs: ``ecotrace.run_id``,
``ecotrace.energy_kwh``, ``ecotrace.operational_kgco2e``, ``ecotrace.embodied_kgco2e``,
``ecotrace.total_kgco2e``, ``ecotrace.water_l``. Inside an objective you would rather not decorate,
``with eco.trial(trial) as tracker:`` does the same for a block (the objective value is then yours
to log with ``tracker.log_metric``).

The callback (``callbacks=[eco]``) adds up ``ecotrace.total_kgco2e`` over every trial of the study,
those of other workers sharing its storage included, keeps the sum in the study's user attribute
``ecotrace.total_kgco2e``, and with ``budget_kgco2e`` stops the study (``study.stop()``) once the sum
passes it. ``ecotrace report --project P --lifecycle`` then shows the study's waste: pruned and
failed trials, and trials that drew parameters already tried (the tag ``trial`` is not part of what
makes two runs the same job).
"""

from __future__ import annotations

import contextlib
import functools
import warnings
from typing import Any, Callable, Dict, Iterator, Optional, Sequence, TypeVar

import optuna

from ecotrace._footprint import Footprint
from ecotrace._tracker import Tracker

F = TypeVar("F", bound=Callable[..., Any])

ATTR = "ecotrace."


def _attrs(fp: Footprint) -> Dict[str, Any]:
    out: Dict[str, Any] = {
        "run_id": fp.run_id,
        "energy_kwh": fp.energy_kwh,
        "operational_kgco2e": fp.operational_kgco2e,
        "embodied_kgco2e": fp.embodied_kgco2e,
        "total_kgco2e": fp.total_kgco2e,
        "water_l": fp.water_l,
    }
    return {ATTR + k: v for k, v in out.items() if v is not None}


class EcotraceCallback:
    """An Optuna study callback and objective decorator measuring each trial as an ecotrace run
    (see the module's documentation). Takes the keyword arguments of ``ecotrace.Tracker``
    (``phase`` defaults to ``tuning``; ``tags`` are added to each trial's). ``budget_kgco2e``: stop
    the study once its trials' operational plus embodied CO2e passes this many kg."""

    def __init__(self, budget_kgco2e: Optional[float] = None, **tracker_options: Any) -> None:
        if budget_kgco2e is not None and not budget_kgco2e > 0:
            raise ValueError(f"budget_kgco2e must be a positive number of kg, got {budget_kgco2e!r}")
        tracker_options.setdefault("phase", "tuning")
        self._tags = dict(tracker_options.pop("tags", None) or {})
        self._options = tracker_options
        Tracker(**tracker_options)  # check the options now
        self.budget_kgco2e = budget_kgco2e
        #: The study's total (operational + embodied kgCO2e) at the last callback.
        self.total_kgco2e = 0.0
        #: Whether the callback stopped the study for its budget.
        self.stopped_by_budget = False
        self._warned_untracked = False

    # -- per trial ----------------------------------------------------------------------------------
    @contextlib.contextmanager
    def trial(self, trial: "optuna.trial.Trial") -> Iterator[Tracker]:
        """Measures a block of an objective as the trial's run; yields its tracker."""
        tags = dict(self._tags)
        tags.update(study=trial.study.study_name, trial=trial.number)
        t = Tracker(tags=tags, **self._options).start()
        try:
            yield t
        except optuna.TrialPruned as e:
            self._close(trial, t, lambda: t.stop("interrupted", f"pruned: {e}" if str(e) else "pruned"))
            raise
        except BaseException as e:
            self._close(trial, t, lambda: t.stop_after(e))
            raise
        else:
            self._close(trial, t, t.stop)

    def _close(self, trial: Any, t: Tracker, stop: Callable[[], Footprint]) -> None:
        if not t.running:
            return
        for name, value in trial.params.items():
            t.set_tag(f"param.{name}", value)
        fp = stop()
        try:
            for k, v in _attrs(fp).items():
                trial.set_user_attr(k, v)
        except Exception as e:  # the storage failing must not cost the trial
            warnings.warn(
                f"ecotrace: the footprint of trial {trial.number} could not be stored in its user "
                f"attributes: {type(e).__name__}: {e}",
                RuntimeWarning,
                stacklevel=3,
            )

    def track_in_ecotrace(self) -> Callable[[F], F]:
        """Decorates an objective ``f(trial)``: each call is measured as the trial's run, and its
        return value stored as the metric ``objective`` (``objective_0``... for a sequence)."""

        def decorate(objective: F) -> F:
            @functools.wraps(objective)
            def measured(trial: Any, *args: Any, **kwargs: Any) -> Any:
                with self.trial(trial) as t:
                    value = objective(trial, *args, **kwargs)
                    self._log_objective(t, value)
                    return value

            return measured  # type: ignore[return-value]

        return decorate

    @staticmethod
    def _log_objective(t: Tracker, value: Any) -> None:
        try:
            if isinstance(value, Sequence) and not isinstance(value, str):
                for i, v in enumerate(value):
                    t.log_metric(f"objective_{i}", v)
            elif value is not None:
                t.log_metric("objective", value)
        except (TypeError, ValueError):
            pass  # Optuna will say what is wrong with the value

    # -- per study ----------------------------------------------------------------------------------
    def __call__(self, study: "optuna.study.Study", trial: "optuna.trial.FrozenTrial") -> None:
        if ATTR + "run_id" not in trial.user_attrs and not self._warned_untracked:
            self._warned_untracked = True
            warnings.warn(
                f"ecotrace: trial {trial.number} has no footprint: decorate the objective with "
                "@callback.track_in_ecotrace() (or use `with callback.trial(trial):` in it)",
                RuntimeWarning,
                stacklevel=2,
            )
        total = sum(
            float(t.user_attrs.get(ATTR + "total_kgco2e", 0.0))
            for t in study.get_trials(deepcopy=False)
        )
        self.total_kgco2e = total
        study.set_user_attr(ATTR + "total_kgco2e", total)
        if self.budget_kgco2e is not None and total > self.budget_kgco2e and not self.stopped_by_budget:
            self.stopped_by_budget = True
            warnings.warn(
                f"ecotrace: study {study.study_name!r} has emitted {total:.4g} kgCO2e over "
                f"{len(study.trials)} trial(s), above its budget of {self.budget_kgco2e:.4g} "
                "kgCO2e: stopping it",
                RuntimeWarning,
                stacklevel=2,
            )
            study.stop()
