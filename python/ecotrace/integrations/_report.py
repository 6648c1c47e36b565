"""What the experiment-tracker reporters (MLflow, W&B, TensorBoard) share: the figures of a
footprint as metrics, its assumptions as parameters, and the hooks a ``Tracker`` calls."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Optional, Union

if TYPE_CHECKING:
    from ecotrace._footprint import Footprint
    from ecotrace._tracker import Tracker

#: The footprint's figures, each reported as ``<prefix><name>`` (a figure that was not assessed,
#: e.g. cost without a price, is left out rather than reported as 0).
METRICS = ("energy_kwh", "operational_kgco2e", "embodied_kgco2e", "water_l", "cost_usd")


def metrics(fp: "Footprint") -> Dict[str, float]:
    """The footprint's figures that were assessed, by name (``energy_kwh``, ...)."""
    out: Dict[str, float] = {}
    for name in METRICS:
        v = getattr(fp, name)
        if v is not None:
            out[name] = float(v)
    return out


def hardware(record: Dict[str, Any]) -> str:
    """The machine in one line: CPU, GPUs (counted) and memory."""
    host = record.get("host") or {}
    parts: List[str] = []
    if host.get("cpu_model"):
        parts.append(f"{host['cpu_model']} ({host.get('cpu_count', '?')} CPUs)")
    gpus: Dict[str, int] = {}
    for g in host.get("gpus") or []:
        gpus[g] = gpus.get(g, 0) + 1
    parts.extend(f"{n} × {g}" for g, n in gpus.items())
    if host.get("memory_gb"):
        parts.append(f"{host['memory_gb']:.0f} GB RAM")
    return ", ".join(parts)


def params(fp: "Footprint") -> Dict[str, str]:
    """What the figures rest on, as strings: region, intensity with its source, PUE with its
    source, hardware, the method of each device, scope and the ecotrace run id."""
    r = fp.to_dict()
    pue = r.get("pue") or {}
    return {
        "run_id": fp.run_id,
        "region": fp.intensity_zone,
        "intensity_g_per_kwh": f"{fp.intensity_g_per_kwh:g}",
        "intensity_source": fp.intensity_source,
        "pue": f"{fp.pue:g}",
        "pue_source": str(pue.get("source", "")),
        "hardware": hardware(r),
        "methods": ", ".join(f"{d}={m}" for d, m in fp.methods.items()),
        "scope": str(r.get("scope", "")),
    }


class Reporter:
    """Base of the reporters: ``on_epoch`` reports the figures so far at step = the epoch count;
    ``on_stop`` reports the final figures (at step = the epochs done, 0 without epochs), the parameters and the run
    record. Subclasses write them with their tracker's own client."""

    def on_epoch(self, tracker: "Tracker", epoch: int, fp: "Footprint") -> None:
        self.log_metrics(tracker, metrics(fp), step=epoch)

    def on_stop(self, tracker: "Tracker", fp: "Footprint") -> None:
        self.log_metrics(tracker, metrics(fp), step=int(fp.metrics.get("epochs", 0)))
        self.log_final(tracker, fp, params(fp))

    def log_metrics(self, tracker: "Tracker", values: Dict[str, float], step: int) -> None:
        raise NotImplementedError

    def log_final(self, tracker: "Tracker", fp: "Footprint", values: Dict[str, str]) -> None:
        raise NotImplementedError


_REPORTERS = {
    "mlflow": ("ecotrace.integrations.mlflow", "MlflowReporter"),
    "wandb": ("ecotrace.integrations.wandb", "WandbReporter"),
    "tensorboard": ("ecotrace.integrations.tensorboard", "TensorBoardReporter"),
}


def reporters(report_to: Union[None, str, Any, Iterable[Any]]) -> List[Any]:
    """The reporters a callback's ``report_to`` names: ``"mlflow"``, ``"wandb"``,
    ``"tensorboard"``, reporter objects, or a list of these. Each integration is imported only
    when named."""
    if report_to is None:
        return []
    if isinstance(report_to, str) or not isinstance(report_to, Iterable):
        report_to = [report_to]
    out: List[Any] = []
    for r in report_to:
        if isinstance(r, str):
            if r not in _REPORTERS:
                raise ValueError(
                    f"report_to: unknown reporter {r!r}; use one of {', '.join(_REPORTERS)} "
                    "or a reporter object"
                )
            module, cls = _REPORTERS[r]
            r = getattr(importlib.import_module(module), cls)()
        elif not (hasattr(r, "on_epoch") and hasattr(r, "on_stop")):
            raise TypeError(f"report_to: {r!r} is neither a reporter name nor a reporter")
        out.append(r)
    return out


def attach(tracker: "Tracker", to: Optional[List[Any]]) -> None:
    for r in to or []:
        tracker.add_reporter(r)
