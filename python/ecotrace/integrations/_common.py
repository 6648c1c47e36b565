"""What the framework callbacks share: numeric metrics out of a framework's dict."""

from __future__ import annotations

import math
from typing import Any, Dict, Mapping, Optional


def numeric(metrics: Optional[Mapping[str, Any]]) -> Dict[str, float]:
    """The items of ``metrics`` that are finite numbers (0-d tensors and numpy scalars included)."""
    out: Dict[str, float] = {}
    for k, v in (metrics or {}).items():
        try:
            if hasattr(v, "item"):
                v = v.item()
            if isinstance(v, bool):
                continue
            f = float(v)
        except (TypeError, ValueError, RuntimeError):
            continue
        if math.isfinite(f):
            out[str(k)] = f
    return out
