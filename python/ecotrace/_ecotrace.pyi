"""Type stubs of the native core (crates/ecotrace-py). Records cross as JSON text."""

from typing import List, Optional, Sequence, Tuple

__version__: str

class Core:
    def __init__(
        self,
        command: Sequence[str],
        project: Optional[str] = None,
        phase: Optional[str] = None,
        tags: Optional[Sequence[Tuple[str, str]]] = None,
        interval: Optional[str] = None,
        scope: Optional[str] = None,
        region: Optional[str] = None,
        intensity: Optional[float] = None,
        pue: Optional[float] = None,
        ledger: Optional[str] = None,
        cpu_power: Optional[float] = None,
        ram_power: Optional[float] = None,
        quiet: Optional[bool] = None,
        job: Optional[str] = None,
        lifetime_years: Optional[float] = None,
        wue: Optional[float] = None,
        price_per_hour: Optional[float] = None,
        electricity_price: Optional[float] = None,
    ) -> None: ...
    @property
    def quiet(self) -> bool: ...
    @property
    def epochs(self) -> int: ...
    def start(self) -> str: ...
    def epoch_end(self) -> int: ...
    def log_metric(self, name: str, value: float) -> None: ...
    def set_planned_epochs(self, n: int) -> None: ...
    def snapshot(self) -> str: ...
    def predict(self) -> Optional[str]: ...
    def checkpoint_error(self) -> Optional[str]: ...
    def stop(
        self, status: str, error: Optional[str] = None, signal: Optional[int] = None
    ) -> Tuple[str, Optional[str], str, str]: ...

def estimate(args: Sequence[str]) -> Tuple[str, List[str]]: ...
