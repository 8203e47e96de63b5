"""Reports are strict JSON: an undefined metric is null, never NaN (hieroaction.metrics.json_safe)."""

import json
import math

import numpy as np
import pytest

from hieroaction.metrics.json_safe import dumps, json_safe


def _strict(text: str):
    def refuse(name):
        raise ValueError(f"{name} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_undefined_metrics_become_null_and_numpy_scalars_numbers():
    report = {"srcc": {"estimate": math.nan, "low": -math.inf, "high": np.float32(0.5)}, "n": np.int64(3),
              "rows": [(1.0, math.nan)], 7: "seven"}
    assert _strict(dumps(report)) == {"srcc": {"estimate": None, "low": None, "high": 0.5}, "n": 3,
                                      "rows": [[1.0, None]], "7": "seven"}
    assert json_safe(math.nan) is None and json_safe(2.5) == 2.5


def test_a_value_json_safe_cannot_reach_is_refused_rather_than_written_as_nan():
    class Opaque:
        pass

    with pytest.raises(TypeError):
        dumps({"x": Opaque()})
    assert dumps({"x": Opaque()}, default=lambda _: "opaque") == '{"x": "opaque"}'

