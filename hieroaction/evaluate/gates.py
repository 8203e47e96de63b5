"""Regression gates: fail a CI run when a metric of the report falls below (or rises above) its bound.

Why metrics that cannot be computed fail: a gate that passes because SRCC came out undefined (e.g. every score was
the fallback) would hide exactly the regression it exists to catch.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass

# Short names accepted on the command line for the report's metric keys.
ALIASES = {"rho": "srcc", "spearman": "srcc", "rl2": "rl2_x100", "format": "format_validity", "action": "action_accuracy"}


class GateError(ValueError):
    """A gate that cannot be checked: bad syntax, or a metric the report does not have."""


@dataclass(frozen=True)
class Gate:
    metric: str
    op: str  # ">=" (fail under) or "<=" (fail over)
    bound: float


@dataclass(frozen=True)
class GateResult:
    metric: str
    system: str
    op: str
    bound: float
    value: float | None
    passed: bool

    def to_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        shown = "undefined" if self.value is None else f"{self.value:.4f}"
        verdict = "ok" if self.passed else "FAILED"
        return f"{verdict}: {self.system} {self.metric} = {shown} (required {self.op} {self.bound})"


def parse_gates(fail_under: Iterable[str] = (), fail_over: Iterable[str] = ()) -> list[Gate]:
    """``["srcc=0.8"]`` -> gates; ``fail_under`` requires value >= bound, ``fail_over`` requires value <= bound."""
    gates = []
    for op, items in ((">=", fail_under), ("<=", fail_over)):
        for item in items:
            name, sep, raw = str(item).partition("=")
            name = name.strip()
            if not sep or not name:
                raise GateError(f"gate {item!r}: expected METRIC=BOUND, e.g. srcc=0.80")
            try:
                bound = float(raw)
            except ValueError:
                raise GateError(f"gate {item!r}: bound {raw!r} is not a number") from None
            if not math.isfinite(bound):
                raise GateError(f"gate {item!r}: bound must be finite")
            gates.append(Gate(ALIASES.get(name, name), op, bound))
    return gates


def check_gates(report: dict, gates: Iterable[Gate], system: str | None = None) -> list[GateResult]:
    """Check each gate on ``system``'s metrics (default: the report's primary system)."""
    name = system or report.get("primary")
    systems = report.get("systems", {})
    if name not in systems:
        raise GateError(f"system {name!r} is not in the report (systems: {', '.join(systems) or 'none'})")
    metrics = systems[name]["metrics"]
    results = []
    for gate in gates:
        if gate.metric not in metrics:
            known = sorted(k for k, v in metrics.items() if isinstance(v, int | float) or v is None)
            raise GateError(f"metric {gate.metric!r} is not in the report; known metrics: {', '.join(known)}")
        value = metrics[gate.metric]
        if isinstance(value, bool) or not (value is None or isinstance(value, int | float)):
            raise GateError(f"metric {gate.metric!r} is not a number")
        defined = value is not None and math.isfinite(value)
        passed = defined and (value >= gate.bound if gate.op == ">=" else value <= gate.bound)
        results.append(GateResult(gate.metric, name, gate.op, gate.bound, float(value) if defined else None, passed))
    return results
