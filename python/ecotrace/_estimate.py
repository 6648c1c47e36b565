"""``ecotrace.estimate()``: a job's footprint before it runs — the CLI's ``ecotrace estimate``,
``estimate inference`` and ``compare``, computed by the same Rust code in-process."""

from __future__ import annotations

# `typing` is imported by type checkers only: importing it costs more than the rest of
# `import ecotrace` (scripts/bench-python).
TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Dict, List, Optional, Union

from ecotrace import _ecotrace


def _flags(options: Dict[str, Any]) -> List[str]:
    argv: List[str] = []
    for key, value in options.items():
        if value is None or value is False:
            continue
        flag = "--" + key.replace("_", "-")
        if value is True:
            argv.append(flag)
        elif isinstance(value, (list, tuple)):
            argv += [flag, ",".join(str(v) for v in value)]
        else:
            argv += [flag, str(value)]
    return argv


class Estimate:
    """An a-priori estimate: the figures of ``ecotrace estimate --json`` (``to_dict()``), with
    every assumption and its source; ``str()`` gives the CLI's text."""

    __slots__ = ("_data", "_text")

    def __init__(self, data: Dict[str, Any], text: str) -> None:
        self._data = data
        self._text = text

    def _get(self, key: str) -> Any:
        return self._data.get(key)

    @property
    def hardware(self) -> Optional[str]:
        """Catalog id of the hardware (``None`` for inference from energy per request)."""
        return self._get("hardware")  # type: ignore[no-any-return]

    @property
    def devices(self) -> Optional[float]:
        return self._get("devices")  # type: ignore[no-any-return]

    @property
    def region(self) -> str:
        return self._get("region")  # type: ignore[no-any-return]

    @property
    def device_hours(self) -> Optional[float]:
        return self._get("device_hours")  # type: ignore[no-any-return]

    @property
    def wall_hours(self) -> Optional[float]:
        return self._get("wall_hours")  # type: ignore[no-any-return]

    @property
    def energy_kwh(self) -> float:
        """IT energy in kWh (before PUE)."""
        return self._get("energy_kwh")  # type: ignore[no-any-return]

    @property
    def operational_kgco2e(self) -> float:
        return self._get("operational_kgco2e")  # type: ignore[no-any-return]

    @property
    def embodied_kgco2e(self) -> Optional[float]:
        """SCI M share of the hardware's manufacturing emissions; ``None`` without hardware."""
        return self._get("embodied_kgco2e")  # type: ignore[no-any-return]

    @property
    def water_l(self) -> float:
        return self._get("water_l")  # type: ignore[no-any-return]

    @property
    def cost_usd(self) -> Optional[float]:
        """``None`` when no price is known (never guessed)."""
        return self._get("cost_usd")  # type: ignore[no-any-return]

    @property
    def assumptions(self) -> List[Dict[str, Any]]:
        """Each figure used: ``name``, ``value``, ``unit``, ``source``."""
        return [dict(a) for a in self._data.get("assumptions", [])]

    @property
    def notes(self) -> List[str]:
        return list(self._data.get("notes", []))

    def to_dict(self) -> Dict[str, Any]:
        """The estimate as ``ecotrace estimate --json`` prints it (a copy)."""
        import json

        return json.loads(json.dumps(self._data))  # type: ignore[no-any-return]

    def __str__(self) -> str:
        return self._text

    def __repr__(self) -> str:
        emb = self.embodied_kgco2e
        return (
            f"Estimate(hardware={self.hardware!r}, region={self.region!r}, "
            f"energy_kwh={self.energy_kwh:.6g}, operational_kgco2e={self.operational_kgco2e:.6g}, "
            f"embodied_kgco2e={'None' if emb is None else format(emb, '.6g')}, "
            f"water_l={self.water_l:.6g})"
        )


def _run(args: List[str]) -> Any:
    text, texts = _ecotrace.estimate(args)
    import json

    return json.loads(text), texts


def estimate(
    hardware: Optional[str] = None,
    devices: Optional[float] = None,
    hours: Optional[float] = None,
    region: Optional[str] = None,
    **options: Any,
) -> Estimate:
    """Estimates a job before it runs, as ``ecotrace estimate`` does::

        ecotrace.estimate(hardware="A100-80GB", devices=8, hours=24, region="US-CA")
        ecotrace.estimate(hardware="H100-SXM", devices=64, params=7e9, tokens=2e12, mfu=0.4)
        ecotrace.estimate(hardware="A100-40GB", devices=8, hours=24, region="aws:us-east-1",
                          instance="p4d.24xlarge")

    Every flag of ``ecotrace estimate`` is a keyword argument (``--power-w`` is ``power_w``,
    ``--lifetime-years`` is ``lifetime_years``, ...). Raises ``ValueError`` with the CLI's message
    for a bad or missing argument, an unknown hardware or region."""
    data, texts = _run(
        ["estimate"]
        + _flags(dict(hardware=hardware, devices=devices, hours=hours, region=region, **options))
    )
    return Estimate(data, texts[0])


def estimate_inference(**options: Any) -> Estimate:
    """A deployment's inference footprint, as ``ecotrace estimate inference`` computes it::

        ecotrace.estimate_inference(energy_per_request_wh=0.3, requests_per_day=1e6, days=365,
                                    region="FR")
    """
    data, texts = _run(["estimate", "inference"] + _flags(options))
    return Estimate(data, texts[0])


def compare(
    hardware: Union[str, List[str]],
    region: Union[None, str, List[str]] = None,
    **options: Any,
) -> List[Estimate]:
    """The same job across hardware and regions, sorted by carbon, as ``ecotrace compare``::

        ecotrace.compare(hardware=["A100-80GB", "H100-SXM"], region=["FR", "US-VA"], hours=100)
    """
    data, texts = _run(["compare"] + _flags(dict(hardware=hardware, region=region, **options)))
    return [Estimate(d, t) for d, t in zip(data, texts)]
