"""The hierarchical reward: one trl reward function combining the four levels as :class:`RewardConfig` says.

Why one function rather than four with ``reward_weights``: gates and stages need all levels of the same completion
at once. The per-level values are kept for logging (``last_components``) and, inside trl, logged through its
``log_metric`` hook as ``reward/<level>``.
"""

from __future__ import annotations

from typing import Any

from hieroaction.reasoning.parse import parse_assessment
from hieroaction.rewards.columns import gold_rows
from hieroaction.rewards.config import GATED_BY, LEVELS, RewardConfig
from hieroaction.rewards.levels import action_value, format_value, score_value, steps_value


class HierarchicalReward:
    """Callable as ``reward(completions, **columns) -> list[float]`` (trl's reward function protocol)."""

    def __init__(self, config: RewardConfig | dict | None = None, *, name: str | None = None) -> None:
        if config is None or isinstance(config, dict):
            config = RewardConfig.from_dict(config)
        self.config = config
        self.__name__ = name or f"{config.mode}_reward"
        self.last_components: dict[str, list[float]] = {}

    def levels(self, completions: list[Any], **columns: Any) -> dict[str, list[float]]:
        """Raw (ungated) value of every level for every completion."""
        golds = gold_rows(columns, len(completions))
        out: dict[str, list[float]] = {level: [] for level in LEVELS}
        for completion, gold in zip(completions, golds, strict=True):
            parsed = parse_assessment(completion)
            a = parsed.assessment
            out["format"].append(format_value(parsed))
            out["action"].append(action_value(a.action_code if a else None, gold.action))
            out["steps"].append(steps_value(a.steps if a else None, gold.steps, self.config.span_weight))
            out["score"].append(
                score_value(a.score if a else None, gold.score, gold.score_min, gold.score_max, self.config.score_sigma)
            )
        return out

    def position(self, columns: dict[str, Any]) -> float | None:
        """Where training is, for the stage schedule: an explicit ``progress``/``step`` column, else trl's state."""
        key = "progress" if self.config.schedule_by == "progress" else "step"
        value = columns.get(key)
        if isinstance(value, list | tuple):
            value = value[0] if value else None
        if value is not None:
            try:
                return float(value)
            except (TypeError, ValueError):
                raise ValueError(f"reward column {key!r} must be a number, got {value!r}") from None
        state = columns.get("trainer_state")
        step = getattr(state, "global_step", None)
        if step is None:
            return None
        if key == "step":
            return float(step)
        max_steps = getattr(state, "max_steps", 0) or 0
        return float(step) / max_steps if max_steps > 0 else None

    def components(self, completions: list[Any], **columns: Any) -> dict[str, list[float]]:
        """Per-level values, the gates (1/0) actually applied, the levels in use and the total."""
        values = self.levels(completions, **columns)
        cfg = self.config
        if cfg.mode == "flat":
            active = LEVELS
            gates = {level: [1.0] * len(completions) for level in LEVELS}
        else:
            active = cfg.stage_at(self.position(columns)).levels
            gates = self._gates(values, len(completions))
        weight_sum = sum(cfg.weights.get(level, 0.0) for level in active)
        totals = []
        for i in range(len(completions)):
            total = sum(cfg.weights.get(level, 0.0) * values[level][i] * gates[level][i] for level in active)
            totals.append(min(1.0, max(0.0, total / weight_sum)))
        result = dict(values)
        result.update({f"gate_{level}": gates[level] for level in GATED_BY})
        result.update({f"active_{level}": [float(level in active)] * len(completions) for level in LEVELS})
        result["total"] = totals
        return result

    def _gates(self, values: dict[str, list[float]], count: int) -> dict[str, list[float]]:
        gates = {"format": [1.0] * count}
        for level in LEVELS[1:]:
            below = GATED_BY[level]
            threshold = self.config.gates.get(level, 0.0)
            gates[level] = [float(gates[below][i] > 0 and values[below][i] >= threshold) for i in range(count)]
        return gates

    def __call__(self, completions: list[Any], **columns: Any) -> list[float]:
        components = self.components(completions, **columns)
        self.last_components = components
        log_metric = columns.get("log_metric")
        if callable(log_metric) and completions:
            for level in (*LEVELS, "total"):
                log_metric(f"reward/{level}", sum(components[level]) / len(completions))
        return components["total"]

    def __repr__(self) -> str:
        return f"HierarchicalReward({self.config!r})"
