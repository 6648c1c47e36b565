"""Writes ecotrace's footprint as TensorBoard scalars::

    import ecotrace
    from ecotrace.integrations.tensorboard import TensorBoardReporter

    with ecotrace.Tracker(project="resnet") as t:
        t.add_reporter(TensorBoardReporter("runs/resnet"))
        for epoch in range(epochs):
            train_one_epoch()
            t.epoch_end()      # ecotrace/energy_kwh, ... at step = epoch

The scalars ``ecotrace/energy_kwh``, ``ecotrace/operational_kgco2e``, ``ecotrace/embodied_kgco2e``,
``ecotrace/water_l`` and ``ecotrace/cost_usd`` (those assessed) are written at each ``epoch_end()``
(step = epochs done) and when the tracker stops, and then the parameters the figures rest on as the
text ``ecotrace/params``. Without ``writer`` they go to an event file of their own in ``log_dir``
(default ``runs/ecotrace-<run id>``), written with the ``tensorboard`` package's event writer (no
TensorFlow needed); with ``writer`` (a ``torch.utils.tensorboard.SummaryWriter``, tensorboardX...)
through its ``add_scalar`` / ``add_text``. The callbacks take ``report_to="tensorboard"``.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Dict, Optional

from tensorboard.compat.proto import types_pb2
from tensorboard.compat.proto.event_pb2 import Event
from tensorboard.compat.proto.summary_pb2 import Summary, SummaryMetadata
from tensorboard.compat.proto.tensor_pb2 import TensorProto
from tensorboard.compat.proto.tensor_shape_pb2 import TensorShapeProto
from tensorboard.summary.writer.event_file_writer import EventFileWriter

from ecotrace.integrations._report import Reporter

if TYPE_CHECKING:
    from ecotrace._footprint import Footprint
    from ecotrace._tracker import Tracker

PREFIX = "ecotrace/"


def params_markdown(values: Dict[str, str]) -> str:
    """The parameters as a two-column Markdown table (TensorBoard's text plugin renders it)."""
    rows = "\n".join(f"| {k} | {v.replace('|', '/')} |" for k, v in values.items())
    return "| parameter | value |\n|---|---|\n" + rows


class TensorBoardReporter(Reporter):
    """Reports a tracker's footprint as TensorBoard scalars (see the module's documentation)."""

    def __init__(self, log_dir: Optional[str] = None, writer: Any = None) -> None:
        self.log_dir = log_dir
        self.writer = writer
        self._own: Optional[EventFileWriter] = None

    def _events(self, tracker: "Tracker") -> EventFileWriter:
        if self._own is None:
            self._own = EventFileWriter(
                self.log_dir or f"runs/ecotrace-{(tracker.run_id or '')[:8]}"
            )
        return self._own

    def log_metrics(self, tracker: "Tracker", values: Dict[str, float], step: int) -> None:
        if self.writer is not None:
            for k, v in values.items():
                self.writer.add_scalar(PREFIX + k, v, step)
            self.writer.flush()
            return
        summary = Summary(value=[Summary.Value(tag=PREFIX + k, simple_value=v)
                                 for k, v in values.items()])
        events = self._events(tracker)
        events.add_event(Event(wall_time=time.time(), step=step, summary=summary))
        events.flush()

    def log_final(self, tracker: "Tracker", fp: "Footprint", values: Dict[str, str]) -> None:
        text = params_markdown(values)
        step = int(fp.metrics.get("epochs", 0))
        if self.writer is not None:
            if hasattr(self.writer, "add_text"):
                self.writer.add_text(PREFIX + "params", text, step)
                self.writer.flush()
            return
        tensor = TensorProto(
            dtype=types_pb2.DT_STRING,
            string_val=[text.encode("utf-8")],
            tensor_shape=TensorShapeProto(dim=[TensorShapeProto.Dim(size=1)]),
        )
        meta = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="text"))
        summary = Summary(value=[Summary.Value(tag=PREFIX + "params", metadata=meta,
                                               tensor=tensor)])
        events = self._events(tracker)
        events.add_event(Event(wall_time=time.time(), step=step, summary=summary))
        events.close()
        self._own = None
