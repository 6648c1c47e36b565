"""IPython / Jupyter magics, loaded with ``%load_ext ecotrace``::

    %%ecotrace --project bert --phase experiment --region FR
    model.fit(x, y)                 # this cell is measured; the summary is printed under it

    %ecotrace start --project bert  # measure from here...
    ...                             # ...over several cells...
    %ecotrace stop                  # ...to here, and print the summary

Options are ``ecotrace run``'s, written as on its command line: ``--project P``, ``--phase X``,
``--tag k=v`` (repeatable), ``--region R``, ``--intensity G``, ``--pue P``, ``--interval 1s``,
``--scope machine``, ``--cpu-power W``..., and ``--ledger PATH``, ``--job ID``. ``%ecotrace``
alone shows the footprint so far of the tracker started with ``%ecotrace start``. A cell that
raises is recorded as ``failed`` with the exception, which IPython shows as usual. The last
tracker is ``ecotrace.integrations.jupyter.last_tracker`` (its ``footprint`` once stopped).
"""

from __future__ import annotations

import shlex
import sys
from typing import Any, Dict, Optional, Tuple

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class

from ecotrace._tracker import Tracker

#: The tracker of the last measured cell, or of the last ``%ecotrace start``.
last_tracker: Optional[Tracker] = None

_NO_VALUE = {"quiet"}  # flags without a value


def parse_options(line: str) -> Dict[str, Any]:
    """``--name value`` / ``--name=value`` pairs as ``Tracker`` keyword arguments (``--tag k=v``
    gathered into ``tags``). The tracker checks the names and values with the CLI's own
    definitions."""
    try:
        words = shlex.split(line)
    except ValueError as e:
        raise UsageError(f"%ecotrace: {e}") from None
    options: Dict[str, Any] = {}
    tags: Dict[str, str] = {}
    i = 0
    while i < len(words):
        w = words[i]
        if not w.startswith("--") or len(w) == 2:
            raise UsageError(
                f"%ecotrace: unexpected {w!r}; options are written --name value "
                "(e.g. --project bert --phase experiment --tag lr=3e-4)"
            )
        name, eq, value = w[2:].partition("=")
        name = name.replace("-", "_")
        if name in _NO_VALUE and not eq:
            options[name] = True
            i += 1
            continue
        if not eq:
            if i + 1 >= len(words):
                raise UsageError(f"%ecotrace: --{name.replace('_', '-')} needs a value")
            value = words[i + 1]
            i += 1
        i += 1
        if name == "tag":
            k, sep, v = value.partition("=")
            if not sep or not k.strip():
                raise UsageError(f"%ecotrace: --tag takes key=value, got {value!r}")
            tags[k.strip()] = v
        else:
            options[name] = value
    if tags:
        options["tags"] = tags
    return options


def _tracker(line: str) -> Tuple[Tracker, bool]:
    """The tracker the options ask for, and whether to print nothing (``--quiet``)."""
    options = parse_options(line)
    quiet = bool(options.pop("quiet", False))
    try:
        # The summary is printed under the cell (stdout), not as the CLI's stderr lines.
        return Tracker(quiet=True, **options), quiet
    except (TypeError, ValueError) as e:
        raise UsageError(f"%ecotrace: {e}") from None


def _print_summary(t: Tracker, quiet: bool) -> None:
    if quiet or t.summary is None:
        return
    text = t.summary if t.summary.endswith("\n") else t.summary + "\n"
    sys.stdout.write(text)
    sys.stdout.flush()


@magics_class
class EcotraceMagics(Magics):  # type: ignore[misc]
    """``%%ecotrace [options]`` measures a cell; ``%ecotrace start [options]`` / ``stop`` span
    cells; ``%ecotrace`` shows the footprint so far."""

    def __init__(self, shell: Any) -> None:
        super().__init__(shell)
        self.running: Optional[Tracker] = None
        self.quiet = False

    @line_cell_magic
    def ecotrace(self, line: str = "", cell: Optional[str] = None) -> None:
        global last_tracker
        if cell is not None:
            t, quiet = _tracker(line)
            last_tracker = t
            t.start()
            result = self.shell.run_cell(cell, store_history=False)
            error = result.error_before_exec or result.error_in_exec
            if t.running:
                if error is None:
                    t.stop()
                else:
                    t.stop_after(error)
            _print_summary(t, quiet)
            return None
        command, _, rest = line.strip().partition(" ")
        if command == "start":
            if self.running is not None and self.running.running:
                raise UsageError(
                    f"%ecotrace: a tracker is already running ({self.running.run_id}); "
                    "%ecotrace stop it first"
                )
            t, self.quiet = _tracker(rest)
            last_tracker = t
            self.running = t.start()
            if not self.quiet:
                print(f"ecotrace: measuring run {t.run_id} until %ecotrace stop")
        elif command == "stop":
            if rest.strip():
                raise UsageError("%ecotrace stop takes no options")
            t = self.running
            if t is None or not t.running:
                raise UsageError("%ecotrace stop: no tracker is running (%ecotrace start one)")
            self.running = None
            t.stop()
            _print_summary(t, self.quiet)
        elif command == "":
            t = self.running
            if t is None or not t.running:
                raise UsageError(
                    "%ecotrace: nothing is being measured; %ecotrace start [options], or "
                    "%%ecotrace [options] on the first line of a cell"
                )
            print(t.snapshot())
        else:
            raise UsageError(
                f"%ecotrace: unknown command {command!r}; use %ecotrace start [options], "
                "%ecotrace stop, or %%ecotrace [options] on the first line of a cell"
            )
        return None


def load_ipython_extension(ipython: Any) -> None:
    """Registers the ``%ecotrace`` / ``%%ecotrace`` magics (``%load_ext ecotrace``)."""
    ipython.register_magics(EcotraceMagics)


def unload_ipython_extension(ipython: Any) -> None:
    """Stops a tracker left running by ``%ecotrace start`` (``%unload_ext ecotrace``)."""
    magics = ipython.magics_manager.registry.get("EcotraceMagics")
    t = getattr(magics, "running", None)
    if t is not None and t.running:
        t.stop("interrupted", "the ecotrace IPython extension was unloaded while measuring")
