"""Reports as strict JSON: an undefined metric (NaN, infinity) is written as ``null``.

Why: ``json.dumps`` writes ``NaN`` by default, which is not JSON; ``jq``, browsers and most JSON libraries refuse the
whole file. A metric with no value (SRCC of answers that gave no score, an interval of nothing) is a missing number,
which is what ``null`` says. The benchmark report, the learning proof and its sweeps all write through here.
"""

from __future__ import annotations

import json
import math
from typing import Any


def json_safe(value: Any) -> Any:
    """``value`` with every non-finite float replaced by None and numpy scalars made Python numbers."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return json_safe(value.item())
    return value


def dumps(value: Any, **kwargs: Any) -> str:
    """``json.dumps`` of :func:`json_safe` ``(value)``; refuses (ValueError) rather than write a NaN."""
    return json.dumps(json_safe(value), allow_nan=False, **kwargs)
