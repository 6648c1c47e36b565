"""``Tracker`` and ``track``: measure the energy and carbon of Python code as it runs.

The measuring is done by the Rust core (``ecotrace._ecotrace.Core``) on its own thread, which never
takes the GIL; this module adds the context manager, the decorator, budgets and the output.
"""

from __future__ import annotations

import atexit
import os
import sys
import warnings
from _thread import allocate_lock

from ecotrace import _ecotrace
from ecotrace._errors import BudgetExceeded, BudgetWarning
from ecotrace._footprint import Footprint

# `typing` is imported by type checkers only: importing it costs more than the rest of
# `import ecotrace` (scripts/bench-python).
TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Callable, Iterator, List, Mapping, Optional, TypeVar, Union, overload

    F = TypeVar("F", bound=Callable[..., Any])

# A plain lock from `_thread`: `threading` (and `contextlib`, `functools`) are not imported just
# for it, which keeps `import ecotrace` fast.
_lock = allocate_lock()
# Trackers started and not yet stopped, innermost last (for current_tracker() and atexit).
_running: List["Tracker"] = []


def current_tracker() -> Optional["Tracker"]:
    """The innermost tracker running in this process, e.g. inside a ``@track`` function."""
    with _lock:
        return _running[-1] if _running else None


def _command() -> List[str]:
    argv = getattr(sys, "orig_argv", None)
    if argv:
        return [str(a) for a in argv]
    return [sys.executable or "python"] + [str(a) for a in sys.argv]


def _interval(v: Union[None, str, float, int, Any]) -> Optional[str]:
    if v is None or isinstance(v, str):
        return v
    if hasattr(v, "total_seconds"):  # datetime.timedelta
        v = v.total_seconds()
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise TypeError(f"interval must be seconds or a duration like '500ms', got {v!r}")
    return f"{float(v)!r}s"


def _option_text(v: Any) -> str:
    """An option's value as the command line writes it (a list: comma-separated, `gpus=[0, 2]`)."""
    if isinstance(v, (list, tuple)):
        return ",".join(_option_text(x) for x in v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    return str(v)


def _to_float(value: Any) -> float:
    if hasattr(value, "item"):  # numpy scalars, 0-d tensors
        value = value.item()
    return float(value)


class Tracker:
    """Measures the energy, carbon (and water, where assessed) of this Python process and its
    children while it runs, and stores the run in the ecotrace ledger — the same ledger, record and
    settings as ``ecotrace run``.

    Options not given here come from ``ECOTRACE_*`` environment variables, then ``ecotrace.toml``
    (found upward from the working directory), then ``~/.config/ecotrace/config.toml``, then
    defaults, exactly as for the CLI::

        with ecotrace.Tracker(project="bert-finetune", phase="training", region="FR") as t:
            for epoch in range(epochs):
                train_one_epoch()
                t.epoch_end()
                t.log_metric("val_accuracy", acc)
        print(t.footprint.energy_kwh, t.footprint.operational_kgco2e)

    ``budget_kgco2e`` with ``planned_epochs`` (or ``set_planned_epochs``) checks the projection of
    the whole run at every ``epoch_end()``: above the budget it warns once (``BudgetWarning``), or
    with ``on_budget="stop"`` raises ``BudgetExceeded`` before the carbon is spent.
    """

    def __init__(
        self,
        project: Optional[str] = None,
        phase: Optional[str] = None,
        tags: Optional[Mapping[str, Any]] = None,
        interval: Union[None, str, float] = None,
        scope: Optional[str] = None,
        region: Optional[str] = None,
        intensity: Optional[float] = None,
        pue: Optional[float] = None,
        ledger: Optional[str] = None,
        cpu_power: Optional[float] = None,
        ram_power: Optional[float] = None,
        lifetime_years: Optional[float] = None,
        wue: Optional[float] = None,
        price_per_hour: Optional[float] = None,
        electricity_price: Optional[float] = None,
        *,
        quiet: Optional[bool] = None,
        job: Optional[str] = None,
        budget_kgco2e: Optional[float] = None,
        on_budget: str = "warn",
        planned_epochs: Optional[int] = None,
        flops: Optional[float] = None,
        **options: Any,
    ) -> None:
        if on_budget not in ("warn", "stop"):
            raise ValueError(f"on_budget must be 'warn' or 'stop', got {on_budget!r}")
        if budget_kgco2e is not None and not budget_kgco2e > 0:
            raise ValueError(f"budget_kgco2e must be a positive number of kg, got {budget_kgco2e!r}")
        # Every measure option goes to the core as the CLI's option id and text: the core parses
        # them with the CLI's own definitions, so an option `ecotrace run` gains is accepted here
        # (through **options) and an unknown one is a ValueError naming the closest.
        given = {
            "project": project,
            "phase": phase,
            "interval": _interval(interval),
            "scope": scope,
            "region": region,
            "intensity": intensity,
            "pue": pue,
            "cpu_power": cpu_power,
            "ram_power": ram_power,
            "lifetime_years": lifetime_years,
            "wue": wue,
            "price_per_hour": price_per_hour,
            "electricity_price": electricity_price,
        }
        given.update(options)
        self._core = _ecotrace.Core(
            _command(),
            [(k, _option_text(v)) for k, v in given.items() if v is not None],
            tags=None if tags is None else [(str(k), str(v)) for k, v in tags.items()],
            ledger=ledger,
            quiet=quiet,
            job=job,
        )
        self._quiet = self._core.quiet
        self.budget_kgco2e = budget_kgco2e
        self.on_budget = on_budget
        self._planned = planned_epochs
        self._flops = flops
        self._warned = False
        self._run_id: Optional[str] = None
        self._reporters: List[Any] = []
        #: The final footprint, set when the tracker stops.
        self.footprint: Optional[Footprint] = None
        #: The summary of the final footprint (the text printed when the tracker stops), once
        #: stopped.
        self.summary: Optional[str] = None

    # -- life cycle ------------------------------------------------------------------------------
    def start(self) -> "Tracker":
        """Writes the run to the ledger as ``running`` and starts measuring. Returns the tracker."""
        self._run_id = self._core.start()
        with _lock:
            _running.append(self)
        if self._planned is not None:
            self.set_planned_epochs(self._planned)
        if self._flops is not None:
            self.set_flops(self._flops)
        return self

    def stop(
        self,
        status: str = "finished",
        error: Optional[str] = None,
        signal: Optional[int] = None,
    ) -> Footprint:
        """Stops measuring, writes the final record and returns its ``Footprint`` (also kept as
        ``self.footprint``). ``status`` is ``finished``, ``failed`` or ``interrupted``."""
        checkpoint_error = self._core.checkpoint_error()
        record, store_error, location, summary = self._core.stop(status, error, signal)
        with _lock:
            if self in _running:
                _running.remove(self)
        self.footprint = Footprint._from_json(record)
        self.summary = summary
        for r in self._reporters:
            self._report(r, "on_stop", self.footprint)
        if checkpoint_error and not self._quiet:
            warnings.warn(
                f"ecotrace: a checkpoint could not be written: {checkpoint_error}",
                RuntimeWarning,
                stacklevel=2,
            )
        if store_error:
            # Nothing is lost: the record goes to stderr, as with `ecotrace run`.
            sys.stderr.write(
                f"ecotrace: error: the run could not be stored in {location}: {store_error}\n"
                f"ecotrace: its record follows, so nothing is lost:\n{record}\n"
            )
        elif not self._quiet:
            sys.stderr.write(summary if summary.endswith("\n") else summary + "\n")
        return self.footprint

    def __enter__(self) -> "Tracker":
        return self.start()

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        # Returns None: an exception from the block is always re-raised.
        if not self.running:
            return
        if exc is None:
            self.stop()
        else:
            self.stop_after(exc)

    def stop_after(self, exc: BaseException) -> Footprint:
        """Stops the tracker for an exception that ended the measured work: ``interrupted`` for a
        KeyboardInterrupt or a ``BudgetExceeded``, else ``failed``, with the exception's type and
        message as the run's error."""
        if isinstance(exc, KeyboardInterrupt):
            return self.stop("interrupted", "KeyboardInterrupt", signal=2)
        if isinstance(exc, BudgetExceeded):
            return self.stop("interrupted", f"BudgetExceeded: {exc}")
        return self.stop("failed", f"{type(exc).__name__}: {exc}")

    # -- progress and metrics ---------------------------------------------------------------------
    @property
    def running(self) -> bool:
        """Whether the tracker has started and not stopped."""
        return self._run_id is not None and self.footprint is None

    @property
    def run_id(self) -> Optional[str]:
        """The run's id in the ledger, once started."""
        return self._run_id

    @property
    def epochs(self) -> int:
        """Epochs reported with ``epoch_end()`` so far."""
        return self._core.epochs

    def epoch_end(self) -> int:
        """Marks the end of an epoch; returns the number of epochs done. Checks the budget."""
        n = self._core.epoch_end()
        if self._reporters:
            so_far = self.snapshot()
            for r in self._reporters:
                self._report(r, "on_epoch", n, so_far)
        if self.budget_kgco2e is not None:
            self._check_budget()
        return n

    def log_metric(self, name: str, value: Any) -> None:
        """Stores a metric with the run (e.g. ``val_accuracy``); the last value logged wins. Shown
        by ``ecotrace show`` beside the footprint."""
        self._core.log_metric(str(name), _to_float(value))

    def set_tag(self, key: str, value: Any) -> None:
        """Sets a tag of the running run (like ``tags=`` at the start, for what is known only
        later, e.g. the parameters a tuning trial drew). ``ecotrace runs --tag k=v`` finds it."""
        self._core.set_tag(str(key), str(value))

    def log_metrics(self, metrics: Mapping[str, Any]) -> None:
        """``log_metric`` for each numeric item of a mapping; other values are skipped."""
        for k, v in metrics.items():
            try:
                f = _to_float(v)
            except (TypeError, ValueError):
                continue
            if f == f and f not in (float("inf"), float("-inf")):
                self._core.log_metric(str(k), f)

    def set_flops(self, flops: float) -> None:
        """The floating-point operations the run does (or did), stored as the metric ``flops``."""
        f = _to_float(flops)
        if not f > 0:
            raise ValueError(f"flops must be positive, got {flops!r}")
        if self.running:
            self._core.log_metric("flops", f)
        else:
            self._flops = f

    def set_planned_epochs(self, n: int) -> None:
        """The number of epochs the run will have, for ``predict()`` and budgets (stored as the
        metric ``planned_epochs``)."""
        if isinstance(n, bool) or int(n) != n or n < 1:
            raise ValueError(f"planned epochs must be a whole number ≥ 1, got {n!r}")
        if self.running:
            self._core.set_planned_epochs(int(n))
        self._planned = int(n)

    def add_reporter(self, reporter: Any) -> Any:
        """Sends the footprint to an experiment tracker as the run goes, and returns the reporter:
        ``reporter.on_epoch(tracker, epoch, footprint_so_far)`` at each ``epoch_end()`` and
        ``reporter.on_stop(tracker, footprint)`` when the tracker stops. The reporters of
        ``ecotrace.integrations.mlflow``, ``.wandb`` and ``.tensorboard`` are such. A reporter that
        raises is warned about and never stops the run."""
        self._reporters.append(reporter)
        return reporter

    def _report(self, reporter: Any, hook: str, *args: Any) -> None:
        try:
            getattr(reporter, hook)(self, *args)
        except Exception as e:  # never cost the user their run
            warnings.warn(
                f"ecotrace: {type(reporter).__name__}.{hook} failed: {type(e).__name__}: {e}",
                RuntimeWarning,
                stacklevel=3,
            )

    # -- serving work and windows -------------------------------------------------------------------
    def count(self, requests: int = 0, prompt_tokens: int = 0, generated_tokens: int = 0) -> None:
        """Counts work done, e.g. once per request a server answers::

            tracker.count(requests=1, prompt_tokens=len(prompt_ids), generated_tokens=len(out_ids))

        The record then carries energy, CO2e and water per request and per 1,000 generated tokens
        (its ``serving`` object, hour by hour in the ledger; see docs/serving.md)."""
        self._core.count(int(requests), int(prompt_tokens), int(generated_tokens))

    def start_window(self, name: str) -> None:
        """Opens a named window: the record lists its start, end and the energy and CO2e measured
        while it is open. Windows nest, and a name may repeat."""
        self._core.start_window(str(name))

    def end_window(self, name: str) -> None:
        """Closes the innermost open window called ``name``. ``ValueError`` if none is open."""
        self._core.end_window(str(name))

    def window(self, name: str) -> _Window:
        """``with tracker.window("eval"): ...``: a named window around the block (closed even if
        the block raises)."""
        return _Window(self, name)

    # -- figures ------------------------------------------------------------------------------------
    def snapshot(self) -> Footprint:
        """The footprint so far (at most one sampling interval old), or the final one once stopped."""
        return Footprint._from_json(self._core.snapshot())

    def predict(self) -> Optional[Footprint]:
        """The projected footprint of the whole run: each device's mean power so far, over the mean
        epoch so far × the planned epochs. ``None`` until an epoch has ended and the planned epoch
        count is known."""
        j = self._core.predict()
        return None if j is None else Footprint._from_json(j, predicted=True)

    def _check_budget(self) -> None:
        budget = self.budget_kgco2e
        assert budget is not None
        projected = self.predict()
        spent = self.snapshot()
        if projected is not None and projected.total_kgco2e > budget:
            msg = (
                f"run {spent.run_id[:8]} is projected to emit {projected.total_kgco2e:.4g} kgCO2e over "
                f"{self._planned} epochs ({spent.total_kgco2e:.4g} kg after {self.epochs}), above its "
                f"budget of {budget:.4g} kgCO2e"
            )
        elif spent.total_kgco2e > budget:
            msg = (
                f"run {spent.run_id[:8]} has emitted {spent.total_kgco2e:.4g} kgCO2e, above its budget "
                f"of {budget:.4g} kgCO2e"
            )
        else:
            return
        if self.on_budget == "stop":
            raise BudgetExceeded(msg, budget_kgco2e=budget, projected=projected, spent=spent)
        if not self._warned:
            self._warned = True
            warnings.warn(BudgetWarning(msg), stacklevel=3)

    def __repr__(self) -> str:
        state = "running" if self.running else ("stopped" if self.footprint else "not started")
        return f"<ecotrace.Tracker {state}{' ' + self._run_id[:8] if self._run_id else ''}>"


if TYPE_CHECKING:  # pragma: no cover

    @overload
    def track(func: F) -> F: ...
    @overload
    def track(func: None = None, **options: Any) -> Callable[[F], F]: ...


def track(func: Optional[F] = None, **options: Any) -> Any:
    """Decorator: each call of the function is measured as one run, with the options of
    ``Tracker``. The last call's footprint is kept as ``func.footprint``; inside the function,
    ``ecotrace.current_tracker()`` returns its tracker (for ``epoch_end``, ``log_metric``)::

        @ecotrace.track(project="sweeps")
        def train(cfg): ...
    """
    Tracker(**options)  # check the options now, at decoration time, not at the first call

    def decorate(fn: F) -> F:
        import functools

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            t = Tracker(**options)
            try:
                with t:
                    return fn(*args, **kwargs)
            finally:
                wrapper.footprint = t.footprint  # type: ignore[attr-defined]

        wrapper.footprint = None  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate(func) if func is not None else decorate


class _Window:
    """The context manager of ``Tracker.window``: opens the window on entry, closes it on exit."""

    __slots__ = ("_tracker", "_name")

    def __init__(self, tracker: Tracker, name: str) -> None:
        self._tracker = tracker
        self._name = name

    def __enter__(self) -> None:
        self._tracker.start_window(self._name)

    def __exit__(self, *exc: Any) -> None:
        self._tracker.end_window(self._name)


def _forget_in_child() -> None:
    # A forked child (a DataLoader worker, say) is measured as part of its parent's run; it must not
    # stop the parent's trackers when it exits.
    global _lock
    _lock = allocate_lock()
    _running.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_in_child)


@atexit.register
def _stop_all_at_exit() -> None:
    # A tracker started with start() and never stopped: record the run rather than leave it
    # `running` (reads would show it interrupted anyway once this process is gone).
    while True:
        with _lock:
            if not _running:
                return
            t = _running[-1]
        try:
            t.stop(
                "interrupted",
                "the Python process exited while the tracker was running (stop() was not called)",
            )
        except Exception:  # pragma: no cover - nothing more can be done at exit
            with _lock:
                if t in _running:
                    _running.remove(t)
