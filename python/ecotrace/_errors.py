"""The exceptions and warnings of ecotrace."""

from __future__ import annotations

# `typing` is imported by type checkers only: importing it costs more than the rest of
# `import ecotrace` (scripts/bench-python).
TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Optional

    from ecotrace._footprint import Footprint


class BudgetWarning(UserWarning):
    """The projected (or already spent) carbon of a run is above its ``budget_kgco2e``."""


class BudgetExceeded(RuntimeError):
    """Raised by ``Tracker.epoch_end()`` with ``on_budget="stop"`` as soon as the projected carbon of
    the whole run goes above ``budget_kgco2e``, before that carbon is spent.

    ``projected`` is the projection of the whole run (``None`` when no planned epoch count was given
    and the budget was already spent), ``spent`` the footprint so far, ``budget_kgco2e`` the budget.
    The run is recorded as ``interrupted`` with this message in its ``error``.
    """

    def __init__(
        self,
        message: str,
        *,
        budget_kgco2e: float,
        projected: Optional["Footprint"],
        spent: "Footprint",
    ) -> None:
        super().__init__(message)
        self.budget_kgco2e = budget_kgco2e
        self.projected = projected
        self.spent = spent
