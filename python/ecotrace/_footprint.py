"""``Footprint``: a read-only view of a run record (the JSON that ``ecotrace show --json`` prints)."""

from __future__ import annotations

# `typing` is imported by type checkers only: importing it costs more than the rest of
# `import ecotrace` (scripts/bench-python).
TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Dict, List, Optional


class Footprint:
    """The energy, carbon and water of a run — final, as measured so far, or projected.

    Every figure is read from the run record (see docs/run-record.md in the repository; field names
    carry their unit). ``to_dict()`` returns the whole record. ``predicted`` is true for the
    projection of a whole run returned by ``Tracker.predict()``.
    """

    __slots__ = ("_record", "predicted")

    def __init__(self, record: Dict[str, Any], predicted: bool = False) -> None:
        self._record = record
        self.predicted = predicted

    @classmethod
    def _from_json(cls, text: str, predicted: bool = False) -> "Footprint":
        import json

        return cls(json.loads(text), predicted=predicted)

    # -- identity and state -------------------------------------------------------------------
    @property
    def run_id(self) -> str:
        """The run's id in the ledger (``ecotrace show RUN_ID``)."""
        return self._record["id"]

    @property
    def status(self) -> str:
        """``running``, ``finished``, ``failed`` or ``interrupted``."""
        return self._record["status"]

    @property
    def error(self) -> Optional[str]:
        """Why the run failed or was stopped, if it was."""
        return self._record.get("error")

    @property
    def duration_s(self) -> float:
        """Wall time measured (projected, for a prediction), in seconds."""
        return self._record["duration_s"]

    # -- energy ------------------------------------------------------------------------------
    @property
    def energy_kwh(self) -> float:
        """IT energy of the run in kWh (CPU + GPU + RAM, before PUE)."""
        return self._record["energy_kwh"]["total"]

    @property
    def energy_by_component(self) -> Dict[str, float]:
        """IT energy in kWh by kind: ``{"cpu": ..., "gpu": ..., "ram": ...}``."""
        e = self._record["energy_kwh"]
        return {"cpu": e["cpu"], "gpu": e["gpu"], "ram": e["ram"]}

    @property
    def components(self) -> List[Dict[str, Any]]:
        """One entry per device with its energy, mean and peak power, method, figures and note."""
        return [dict(c) for c in self._record["components"]]

    @property
    def methods(self) -> Dict[str, str]:
        """How each device's energy was obtained, e.g. ``{"package-0": "rapl", "ram": "ram-model"}``."""
        return {c["device"]: c["method"] for c in self._record["components"]}

    @property
    def mean_power_w(self) -> float:
        """Mean IT power over the run, in watts."""
        return self._record["mean_power_w"]

    # -- carbon and water --------------------------------------------------------------------
    @property
    def operational_kgco2e(self) -> float:
        """Emissions of the electricity used: energy × PUE × grid intensity, in kgCO2e."""
        return self._record["operational_kgco2e"]

    @property
    def embodied_kgco2e(self) -> Optional[float]:
        """The run's share of the hardware's manufacturing emissions, in kgCO2e; ``None`` when the
        hardware was not assessed."""
        return self._record.get("embodied_kgco2e")

    @property
    def total_kgco2e(self) -> float:
        """Operational plus embodied (when assessed) kgCO2e: what a budget is compared with."""
        return self.operational_kgco2e + (self.embodied_kgco2e or 0.0)

    @property
    def water_l(self) -> Optional[float]:
        """Water consumed on- and off-site, in litres; ``None`` when not assessed."""
        return self._record.get("water_l")

    @property
    def cost_usd(self) -> Optional[float]:
        """Cost in US dollars; ``None`` when no price is known."""
        return self._record.get("cost_usd")

    @property
    def intensity_g_per_kwh(self) -> float:
        """Grid carbon intensity used, in gCO2e/kWh."""
        return self._record["intensity"]["g_per_kwh"]

    @property
    def intensity_zone(self) -> str:
        """Grid zone of the intensity (``FR``, ``US-CA``, ``WORLD``, or ``user``)."""
        return self._record["intensity"]["zone"]

    @property
    def intensity_source(self) -> str:
        """Where the intensity comes from (data source and year, or ``given by the user``)."""
        i = self._record["intensity"]
        return i["source"] if i.get("year") is None else f"{i['source']} ({i['year']})"

    @property
    def pue(self) -> float:
        """Power usage effectiveness applied."""
        return self._record["pue"]["value"]

    @property
    def metrics(self) -> Dict[str, float]:
        """Metrics logged with the run (``log_metric``), with ``epochs``, ``planned_epochs`` and
        ``flops`` when they were reported."""
        return dict(self._record.get("metrics", {}))

    @property
    def notes(self) -> List[str]:
        """What a reader should know: defaults used, sensors that could not be read."""
        return list(self._record.get("notes", []))

    def to_dict(self) -> Dict[str, Any]:
        """The whole run record as a plain dict (a copy), in the shape of ``ecotrace show --json``."""
        import json

        return json.loads(json.dumps(self._record))

    def __repr__(self) -> str:
        emb = self.embodied_kgco2e
        water = self.water_l
        return (
            f"Footprint({'predicted, ' if self.predicted else ''}status={self.status!r}, "
            f"duration_s={self.duration_s:.3g}, energy_kwh={self.energy_kwh:.6g}, "
            f"operational_kgco2e={self.operational_kgco2e:.6g}, "
            f"embodied_kgco2e={'None' if emb is None else format(emb, '.6g')}, "
            f"water_l={'None' if water is None else format(water, '.6g')})"
        )
