"""Logs ecotrace's footprint into MLflow::

    import mlflow, ecotrace
    from ecotrace.integrations.mlflow import MlflowReporter

    mlflow.autolog()
    with mlflow.start_run():
        with ecotrace.Tracker(project="bert-finetune", region="FR") as t:
            t.add_reporter(MlflowReporter())
            for epoch in range(epochs):
                train_one_epoch()
                t.epoch_end()     # ecotrace.energy_kwh, ... at step = epoch

The metrics ``ecotrace.energy_kwh``, ``ecotrace.operational_kgco2e``, ``ecotrace.embodied_kgco2e``,
``ecotrace.water_l`` and ``ecotrace.cost_usd`` (those assessed) are logged at each ``epoch_end()``
(step = epochs done) and when the tracker stops; the parameters ``ecotrace.region``,
``ecotrace.intensity_g_per_kwh``, ``ecotrace.intensity_source``, ``ecotrace.pue``,
``ecotrace.pue_source``, ``ecotrace.hardware``, ``ecotrace.methods``, ``ecotrace.scope`` and
``ecotrace.run_id`` and the run record (artifact ``ecotrace/<run id>.json``) when it stops.

They go into the MLflow run given by ``run_id``, else the run active at the first report (the one
``mlflow.start_run()`` or ``mlflow.autolog()`` opened); with none active, the reporter starts a run
named ``ecotrace-<run id>`` and ends it when the tracker stops (``FAILED`` / ``KILLED`` for a failed /
interrupted ecotrace run). The Hugging Face and Lightning callbacks take ``report_to="mlflow"``.
``log_footprint(footprint)`` logs a finished footprint into the active run.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Dict, Optional

import mlflow
from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient

from ecotrace.integrations._report import Reporter

if TYPE_CHECKING:
    from ecotrace._footprint import Footprint
    from ecotrace._tracker import Tracker

PREFIX = "ecotrace."
_END_STATUS = {"finished": "FINISHED", "failed": "FAILED", "interrupted": "KILLED"}


class MlflowReporter(Reporter):
    """Reports a tracker's footprint into an MLflow run (see the module's documentation).
    ``tracking_uri`` defaults to MLflow's own (``MLFLOW_TRACKING_URI``, ``mlflow.set_tracking_uri``);
    ``artifact=False`` leaves out the run record."""

    def __init__(
        self,
        run_id: Optional[str] = None,
        tracking_uri: Optional[str] = None,
        artifact: bool = True,
    ) -> None:
        self.run_id = run_id
        self._given_run = run_id
        self.tracking_uri = tracking_uri
        self.artifact = artifact
        self._for: Optional[str] = None  # the ecotrace run the MLflow run was chosen for
        self._started = False

    def _client(self) -> MlflowClient:
        return MlflowClient(self.tracking_uri or mlflow.get_tracking_uri())

    def _target(self, tracker: "Tracker") -> str:
        if self._for != tracker.run_id:  # a new ecotrace run (a second trainer.train(), say)
            self._for, self.run_id, self._started = tracker.run_id, self._given_run, False
        if self.run_id is None:
            active = mlflow.active_run()
            if active is None:
                if self.tracking_uri:
                    mlflow.set_tracking_uri(self.tracking_uri)
                active = mlflow.start_run(run_name=f"ecotrace-{(tracker.run_id or '')[:8]}")
                self._started = True
            self.run_id = active.info.run_id
        return self.run_id

    def log_metrics(self, tracker: "Tracker", values: Dict[str, float], step: int) -> None:
        run_id = self._target(tracker)
        now = int(time.time() * 1000)
        self._client().log_batch(
            run_id, metrics=[Metric(PREFIX + k, v, now, step) for k, v in values.items()]
        )

    def log_final(self, tracker: "Tracker", fp: "Footprint", values: Dict[str, str]) -> None:
        run_id = self._target(tracker)
        client = self._client()
        client.log_batch(
            run_id,
            params=[Param(PREFIX + k, v[:6000]) for k, v in values.items()],
            tags=[RunTag(PREFIX + "run_id", fp.run_id)],
        )
        if self.artifact:
            client.log_dict(run_id, fp.to_dict(), f"ecotrace/{fp.run_id}.json")
        if self._started:
            mlflow.end_run(status=_END_STATUS.get(fp.status, "FINISHED"))
            self._started = False


def log_footprint(fp: "Footprint", run_id: Optional[str] = None, artifact: bool = True) -> str:
    """Logs a finished footprint (``tracker.footprint``) into ``run_id`` or the active MLflow run
    (one is started and ended if none is active): its figures as metrics at step 0, its
    parameters, and the record as an artifact. Returns the MLflow run id."""

    class _Done:  # what the reporter needs of a tracker
        run_id = fp.run_id

    r = MlflowReporter(run_id=run_id, artifact=artifact)
    t: Any = _Done()
    target = r._target(t)
    r.on_stop(t, fp)
    return target
