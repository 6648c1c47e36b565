"""A PyTorch Lightning callback that measures ``Trainer.fit()`` with ecotrace::

    from ecotrace.integrations.lightning import EcotraceCallback

    cb = EcotraceCallback(project="resnet", region="FR")
    trainer = lightning.Trainer(max_epochs=10, callbacks=[cb])
    trainer.fit(model, datamodule=dm)
    print(cb.footprint)

A tracker opens at ``on_fit_start`` (on global rank 0 only) with ``trainer.max_epochs`` as the
planned epoch count; each ``on_train_epoch_end`` marks an epoch and stores the numeric
``trainer.callback_metrics``; ``on_fit_end`` closes the run, and ``on_exception`` records it as
``failed`` (``interrupted`` for a KeyboardInterrupt). With ``budget_kgco2e=...`` and
``on_budget="stop"``, ``trainer.should_stop`` is set as soon as the projection goes above the budget.
Works with the ``lightning`` package and with the older ``pytorch_lightning``.
"""

from __future__ import annotations

from typing import Any, Optional

try:
    from lightning.pytorch.callbacks import Callback
except ImportError:  # the pre-2.0 package name
    from pytorch_lightning.callbacks import Callback

from ecotrace._errors import BudgetExceeded
from ecotrace._footprint import Footprint
from ecotrace._tracker import Tracker
from ecotrace.integrations._common import numeric
from ecotrace.integrations._report import attach, reporters


class EcotraceCallback(Callback):  # type: ignore[misc]
    """Measures a ``Trainer.fit()`` run. Takes the keyword arguments of ``ecotrace.Tracker``
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

    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        if not getattr(trainer, "is_global_zero", True):
            return
        self.footprint = None
        self.budget_error = None
        self.tracker = Tracker(**self._options)
        attach(self.tracker, self.report_to)
        self.tracker.start()
        max_epochs = getattr(trainer, "max_epochs", None)
        if max_epochs is not None and max_epochs > 0:
            self.tracker.set_planned_epochs(int(max_epochs))

    def on_train_epoch_end(self, trainer: Any, pl_module: Any, *args: Any) -> None:
        t = self.tracker
        if t is None or not t.running:
            return
        t.log_metrics(numeric(getattr(trainer, "callback_metrics", None)))
        try:
            t.epoch_end()
        except BudgetExceeded as e:
            self.budget_error = e
            trainer.should_stop = True

    def on_fit_end(self, trainer: Any, pl_module: Any) -> None:
        t = self.tracker
        if t is None or not t.running:
            return
        t.log_metrics(numeric(getattr(trainer, "callback_metrics", None)))
        if self.budget_error is not None:
            self.footprint = t.stop("interrupted", f"BudgetExceeded: {self.budget_error}")
        else:
            self.footprint = t.stop()

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        t = self.tracker
        if t is None or not t.running:
            return
        self.footprint = t.stop_after(exception)
