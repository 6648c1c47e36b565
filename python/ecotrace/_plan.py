"""``ecotrace.plan()``: the region and start hour with the cleanest grid, by a deadline — the
CLI's ``ecotrace plan``, computed by the same Rust code in-process (docs/planning.md)."""

from __future__ import annotations

# `typing` is imported by type checkers only: importing it costs more than the rest of
# `import ecotrace` (scripts/bench-python).
TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Dict, List, Optional, Union

from ecotrace import _ecotrace
from ecotrace._estimate import _flags


class Plan:
    """A plan: the fields of ``ecotrace plan --json`` (``to_dict()``); ``str()`` gives the CLI's
    text."""

    __slots__ = ("_data", "_text")

    def __init__(self, data: Dict[str, Any], text: str) -> None:
        self._data = data
        self._text = text

    @property
    def region(self) -> str:
        return self._data["region"]  # type: ignore[no-any-return]

    @property
    def start(self) -> str:
        """Start of the window, RFC 3339 UTC."""
        return self._data["start"]  # type: ignore[no-any-return]

    @property
    def end(self) -> str:
        return self._data["end"]  # type: ignore[no-any-return]

    @property
    def mean_g_per_kwh(self) -> float:
        return self._data["mean_g_per_kwh"]  # type: ignore[no-any-return]

    @property
    def basis(self) -> str:
        """``lifecycle`` or ``direct``."""
        return self._data["basis"]  # type: ignore[no-any-return]

    @property
    def signal(self) -> str:
        """``average`` or ``marginal`` (WattTime's MOER, with ``grid_provider="watttime"``): never
        a mix."""
        return self._data.get("signal", "average")  # type: ignore[no-any-return]

    @property
    def baseline(self) -> Dict[str, Any]:
        """The first region at the earliest start: ``region``, ``start``, ``mean_g_per_kwh``."""
        return dict(self._data["baseline"])

    @property
    def saving_pct(self) -> float:
        return self._data["saving_pct"]  # type: ignore[no-any-return]

    @property
    def saving_kgco2e(self) -> Optional[float]:
        """``None`` unless ``hardware`` or ``energy_kwh`` was given."""
        return self._data.get("saving_kgco2e")  # type: ignore[no-any-return]

    @property
    def alternatives(self) -> List[Dict[str, Any]]:
        return [dict(a) for a in self._data.get("alternatives", [])]

    @property
    def profile_year(self) -> Optional[int]:
        """The year whose hours stood in for dates without data; ``None`` if none did."""
        return self._data.get("profile_year")  # type: ignore[no-any-return]

    @property
    def data(self) -> List[Dict[str, Any]]:
        """The series used per region, with source, year and licence."""
        return [dict(d) for d in self._data.get("data", [])]

    @property
    def notes(self) -> List[str]:
        return list(self._data.get("notes", []))

    def to_dict(self) -> Dict[str, Any]:
        """The plan as ``ecotrace plan --json`` prints it (a copy)."""
        import json

        return json.loads(json.dumps(self._data))  # type: ignore[no-any-return]

    def __str__(self) -> str:
        return self._text

    def __repr__(self) -> str:
        return (
            f"Plan(region={self.region!r}, start={self.start!r}, "
            f"mean_g_per_kwh={self.mean_g_per_kwh:.4g}, saving_pct={self.saving_pct:.3g})"
        )


def plan(
    duration: str,
    region: Union[str, List[str]],
    start_after: Optional[str] = None,
    deadline: Optional[str] = None,
    **options: Any,
) -> Plan:
    """Finds the region and start hour whose window has the lowest mean grid intensity, finishing
    by the deadline, as ``ecotrace plan`` does::

        p = ecotrace.plan(duration="6h", region=["FR", "DE", "aws:eu-north-1"],
                          start_after="2023-01-01T00:00Z", deadline="24h")
        print(p.region, p.start, p.saving_pct)

    Every flag of ``ecotrace plan`` is a keyword argument (``profile_year``, ``basis``,
    ``hardware``, ``devices``, ``energy_kwh``). Raises ``ValueError`` with the CLI's message for
    bad input (deadline too early, unknown region, profile year without data, ...)."""
    text, texts = _ecotrace.estimate(
        ["plan"]
        + _flags(
            dict(
                duration=duration,
                region=region,
                start_after=start_after,
                deadline=deadline,
                **options,
            )
        )
    )
    import json

    return Plan(json.loads(text), texts[0])
