"""ecotrace: measure the energy, carbon and water of ML work from inside the training script.

    import ecotrace

    with ecotrace.Tracker(project="bert-finetune", phase="training", region="FR") as t:
        for epoch in range(epochs):
            train_one_epoch()
            t.epoch_end()
            t.log_metric("val_accuracy", acc)
    print(t.footprint.energy_kwh, t.footprint.operational_kgco2e)

Runs land in the same ledger as ``ecotrace run``; ``ecotrace runs`` / ``ecotrace show`` read them.
Integrations are imported only when asked for: the framework callbacks
``ecotrace.integrations.huggingface`` and ``ecotrace.integrations.lightning`` (or
``ecotrace.HuggingFaceCallback`` / ``ecotrace.LightningCallback``), and the reporters to experiment
trackers ``ecotrace.integrations.mlflow``, ``.wandb`` and ``.tensorboard``
(``Tracker.add_reporter``), ``ecotrace.integrations.optuna``, and the notebook magics
(``%load_ext ecotrace``).
"""

from __future__ import annotations

from ecotrace._ecotrace import __version__
from ecotrace._errors import BudgetExceeded, BudgetWarning
from ecotrace._estimate import Estimate, compare, estimate, estimate_inference
from ecotrace._footprint import Footprint
from ecotrace._plan import Plan, plan
from ecotrace._tracker import Tracker, current_tracker, track

__all__ = [
    "BudgetExceeded",
    "BudgetWarning",
    "Estimate",
    "Footprint",
    "Plan",
    "Tracker",
    "__version__",
    "compare",
    "current_tracker",
    "estimate",
    "estimate_inference",
    "plan",
    "track",
]

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any

_LAZY = {
    "HuggingFaceCallback": ("ecotrace.integrations.huggingface", "EcotraceCallback"),
    "LightningCallback": ("ecotrace.integrations.lightning", "EcotraceCallback"),
}


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext ecotrace``: the ``%ecotrace`` / ``%%ecotrace`` magics
    (``ecotrace.integrations.jupyter``; IPython is imported only then)."""
    from ecotrace.integrations.jupyter import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext ecotrace``: stops a tracker left running by ``%ecotrace start``."""
    from ecotrace.integrations.jupyter import unload_ipython_extension as unload

    unload(ipython)


def __getattr__(name: str) -> Any:
    # The integrations import transformers / lightning, so only on first use.
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'ecotrace' has no attribute {name!r}")
