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

``Trainer.train()`` calls no callback when the training raises, so the callback also wraps the
trainer's ``train`` method (found at ``on_init_end``, when the trainer is built with the callback):
a training that raises is recorded as ``failed`` with the exception's type and message
(``interrupted`` for a KeyboardInterrupt), and the exception goes on to the caller. Each
``train()`` call is its own run.
"""

from __future__ import annotations

import functools
import math
import sys
from typing import Any, Optional

from transformers import TrainerCallback

from ecotrace._errors import BudgetExceeded
from ecotrace._footprint import Footprint
from ecotrace._tracker import Tracker
from ecotrace.integrations._common import numeric
from ecotrace.integrations._report import attach, reporters


class EcotraceCallback(TrainerCallback):  # type: ignore[misc]
    """Measures a ``Trainer.train()`` run. Takes the keyword arguments of ``ecotrace.Tracker``
    (``phase`` defaults to ``training``). ``report_to`` sends the footprint to experiment trackers as
    training goes: ``"mlflow"``, ``"wandb"``, ``"tensorboard"``, reporter objects, or a list."""

    def __init__(self, report_to: Any = None, **tracker_options: Any) -> None:
        super().__init__()
        tracker_options.setdefault("phase", "training")
        self._options = tracker_options
        Tracker(**tracker_options)  # check the options now
        self.report_to = reporters(report_to)
        self.tracker: Optional[Tracker] = None
        self.footprint: Optional[Footprint] = None
        self.budget_error: Optional[BudgetExceeded] = None

    def _find_trainer(self) -> Any:
        # The trainer calling this hook: the `self` of a caller frame whose callback handler
        # holds this callback (Trainer.__init__ for on_init_end, Trainer.train for on_train_begin).
        frame = sys._getframe(1)
        while frame is not None:
            obj = frame.f_locals.get("self")
            try:
                callbacks = obj.callback_handler.callbacks
            except Exception:
                callbacks = ()
            if any(c is self for c in callbacks):
                return obj
            frame = frame.f_back
        return None

    def _wrap_train(self, trainer: Any) -> None:
        # Trainer.train() calls no callback when the training raises: catch that here.
        train = getattr(trainer, "train", None)
        if train is None or getattr(train, "_ecotrace_callback", None) is self:
            return
        callback = self

        @functools.wraps(train)
        def train_and_record_failure(*args: Any, **kwargs: Any) -> Any:
            try:
                return train(*args, **kwargs)
            except BaseException as e:
                t = callback.tracker
                if t is not None and t.running:
                    callback.footprint = t.stop_after(e)
                raise

        train_and_record_failure._ecotrace_callback = self  # type: ignore[attr-defined]
        trainer.train = train_and_record_failure

    def on_init_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        trainer = self._find_trainer()
        if trainer is not None:
            self._wrap_train(trainer)

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if not getattr(state, "is_world_process_zero", True):
            return
        if self.tracker is not None and self.tracker.running:
            # A train() that ended without on_train_end and that the wrapper did not see (the
            # callback was added after the trainer was built): record it rather than merge it
            # into this one.
            self.tracker.stop(
                "failed", "Trainer.train() ended without reaching on_train_end (it raised)"
            )
        trainer = self._find_trainer()
        if trainer is not None:
            self._wrap_train(trainer)  # for the next train() call, if not done at on_init_end
        self.footprint = None
        self.budget_error = None
        self.tracker = Tracker(**self._options)
        attach(self.tracker, self.report_to)
        self.tracker.start()
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
