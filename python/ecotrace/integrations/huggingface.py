"""A Hugging Face ``transformers`` callback that measures ``Trainer.train()`` with ecotrace::

    from ecotrace.integrations.huggingface import EcotraceCallback

    cb = EcotraceCallback(project="bert-finetune", region="FR")
    trainer = Trainer(model=model, args=args, train_dataset=ds, callbacks=[cb])
    trainer.train()
    print(cb.footprint)

A tracker opens at ``on_train_begin`` (on the main process only), with the planned epoch count from
the trainer's state; each ``on_epoch_end`` marks an epoch; ``on_log`` and ``on_evaluate`` store the
numeric metrics; ``on_train_end`` stores ``state.total_flos`` as ``flops`` and closes the run. With
``budget_kgco2e=...`` and ``on_budget="stop"``, training is stopped (``control.should_training_stop``)
as soon as the projected carbon goes above the budget, and the run is recorded as ``interrupted``.
"""

from __future__ import annotations

import math
from typing import Any, Optional

from transformers import TrainerCallback

from ecotrace._errors import BudgetExceeded
from ecotrace._footprint import Footprint
from ecotrace._tracker import Tracker
from ecotrace.integrations._common import numeric


class EcotraceCallback(TrainerCallback):  # type: ignore[misc]
    """Measures a ``Trainer.train()`` run. Takes the keyword arguments of ``ecotrace.Tracker``
    (``phase`` defaults to ``training``)."""

    def __init__(self, **tracker_options: Any) -> None:
        super().__init__()
        tracker_options.setdefault("phase", "training")
        self._options = tracker_options
        Tracker(**tracker_options)  # check the options now
        self.tracker: Optional[Tracker] = None
        self.footprint: Optional[Footprint] = None
        self.budget_error: Optional[BudgetExceeded] = None

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if not getattr(state, "is_world_process_zero", True):
            return
        if self.tracker is not None and self.tracker.running:
            return
        self.footprint = None
        self.budget_error = None
        self.tracker = Tracker(**self._options).start()
        epochs = getattr(state, "num_train_epochs", 0) or getattr(args, "num_train_epochs", 0)
        if epochs and epochs > 0:
            self.tracker.set_planned_epochs(max(1, math.ceil(epochs)))

    def on_epoch_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.tracker is None or not self.tracker.running:
            return
        try:
            self.tracker.epoch_end()
        except BudgetExceeded as e:
            self.budget_error = e
            control.should_training_stop = True

    def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> None:
        if self.tracker is not None and self.tracker.running:
            self.tracker.log_metrics(numeric(logs))

    def on_evaluate(
        self, args: Any, state: Any, control: Any, metrics: Any = None, **kwargs: Any
    ) -> None:
        if self.tracker is not None and self.tracker.running:
            self.tracker.log_metrics(numeric(metrics))

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        t = self.tracker
        if t is None or not t.running:
            return
        flos = getattr(state, "total_flos", 0) or 0
        if flos > 0:
            t.set_flops(flos)
        if self.budget_error is not None:
            self.footprint = t.stop("interrupted", f"BudgetExceeded: {self.budget_error}")
        else:
            self.footprint = t.stop()
