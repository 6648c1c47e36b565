"""Logs ecotrace's footprint into Weights & Biases::

    import wandb, ecotrace
    from ecotrace.integrations.wandb import WandbReporter

    run = wandb.init(project="bert")
    with ecotrace.Tracker(project="bert", region="FR") as t:
        t.add_reporter(WandbReporter())
        for epoch in range(epochs):
            train_one_epoch()
            t.epoch_end()     # ecotrace/energy_kwh, ... against ecotrace/epoch

At each ``epoch_end()`` and when the tracker stops, the run gets a history row with
``ecotrace/epoch`` (epochs done: the x-axis of the ``ecotrace/*`` series, so that they never
disturb your own steps) and ``ecotrace/energy_kwh``, ``ecotrace/operational_kgco2e``,
``ecotrace/embodied_kgco2e``, ``ecotrace/water_l``, ``ecotrace/cost_usd`` (those assessed). When it
stops, the final figures go into the run's summary, the parameters they rest on into its config
(``ecotrace.region``, ``ecotrace.intensity_g_per_kwh``, ...), and the run record is saved with the
run as ``ecotrace-<run id>.json``.

They go into ``run``, else ``wandb.run``; with none, the reporter starts a run (project = the
tracker's project) and finishes it when the tracker stops (exit code 1 for a failed run). Works
offline (``WANDB_MODE=offline``). The callbacks take ``report_to="wandb"``.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any, Dict, Optional

import wandb

from ecotrace.integrations._report import Reporter

if TYPE_CHECKING:
    from ecotrace._footprint import Footprint
    from ecotrace._tracker import Tracker

PREFIX = "ecotrace/"
STEP = PREFIX + "epoch"


class WandbReporter(Reporter):
    """Reports a tracker's footprint into a W&B run (see the module's documentation)."""

    def __init__(self, run: Any = None, save_record: bool = True) -> None:
        self.run = run
        self._given_run = run
        self.save_record = save_record
        self._for: Optional[str] = None
        self._started = False

    def _target(self, tracker: "Tracker") -> Any:
        if self._for != tracker.run_id:  # a new ecotrace run (a second trainer.train(), say)
            self._for, self.run, self._started = tracker.run_id, self._given_run, False
            if self.run is None and wandb.run is None:
                project = tracker.snapshot().to_dict().get("project") or None
                self.run = wandb.init(project=project,
                                      name=f"ecotrace-{(tracker.run_id or '')[:8]}")
                self._started = True
            if self.run is None:
                self.run = wandb.run
            self.run.define_metric(STEP)
            self.run.define_metric(PREFIX + "*", step_metric=STEP)
        return self.run

    def log_metrics(self, tracker: "Tracker", values: Dict[str, float], step: int) -> None:
        row: Dict[str, float] = {STEP: step}
        row.update((PREFIX + k, v) for k, v in values.items())
        self._target(tracker).log(row)

    def log_final(self, tracker: "Tracker", fp: "Footprint", values: Dict[str, str]) -> None:
        run = self._target(tracker)
        run.summary.update({PREFIX + "run_id": fp.run_id})
        run.config.update({"ecotrace." + k: v for k, v in values.items()},
                          allow_val_change=True)
        if self.save_record and getattr(run, "dir", None):
            path = os.path.join(run.dir, f"ecotrace-{fp.run_id}.json")
            with open(path, "w") as f:
                json.dump(fp.to_dict(), f, indent=2)
            run.save(path, base_path=run.dir, policy="now")
        if self._started:
            run.finish(exit_code=1 if fp.status == "failed" else 0)
            self._started = False
