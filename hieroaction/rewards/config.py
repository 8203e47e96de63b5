"""Configuration of the hierarchical reward: weights, gates and a stage schedule (or a flat sum, for the ablation).

Why configuration: the paper's claim is that rewarding level by level (recognise, then locate, then score) beats a
flat sum; the benchmark can only test that if both are the same code with different settings.

- ``weights``: level -> weight. The total is the weighted mean over the levels in use, so it stays in [0, 1].
- ``gates`` (hierarchical mode): level -> threshold on the level below it (action on format, steps on action,
  score on steps). A level whose lower level is under its threshold, or is itself gated off, earns 0.
- ``stages`` (hierarchical mode): ordered; each names the levels in use until a point of training (``until``:
  a fraction of training when ``schedule_by="progress"``, a global step when ``"step"``). Past the last stage, the
  last stage applies; with no trainer state (evaluation) the last stage applies.
- ``mode="flat"``: the weighted mean of all four levels, no gates, no stages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

LEVELS = ("format", "action", "steps", "score")
# The level each level is gated by.
GATED_BY = {"action": "format", "steps": "action", "score": "steps"}


@dataclass(frozen=True)
class Stage:
    until: float
    levels: tuple[str, ...]


def _default_stages() -> tuple[Stage, ...]:
    return (
        Stage(0.25, ("format", "action")),
        Stage(0.5, ("format", "action", "steps")),
        Stage(1.0, LEVELS),
    )


@dataclass(frozen=True)
class RewardConfig:
    mode: Literal["hierarchical", "flat"] = "hierarchical"
    weights: dict[str, float] = field(
        default_factory=lambda: {"format": 0.1, "action": 0.3, "steps": 0.3, "score": 0.3}
    )
    # format < 0.5 means some section is unreadable; action >= 0.5 means at least 4 of 5 dive parts right.
    gates: dict[str, float] = field(default_factory=lambda: {"action": 0.5, "steps": 0.5, "score": 0.5})
    stages: tuple[Stage, ...] = field(default_factory=_default_stages)
    schedule_by: Literal["progress", "step"] = "progress"
    score_sigma: float = 0.05
    span_weight: float = 0.5

    def __post_init__(self) -> None:
        if self.mode not in ("hierarchical", "flat"):
            raise ValueError(f"reward mode must be 'hierarchical' or 'flat', got {self.mode!r}")
        if self.schedule_by not in ("progress", "step"):
            raise ValueError(f"schedule_by must be 'progress' or 'step', got {self.schedule_by!r}")
        unknown = (set(self.weights) | set(self.gates)) - set(LEVELS)
        if unknown:
            raise ValueError(f"unknown reward levels {sorted(unknown)}; levels are {LEVELS}")
        if set(self.gates) - set(GATED_BY):
            raise ValueError(f"only {sorted(GATED_BY)} can be gated")
        if any(w < 0 for w in self.weights.values()) or sum(self.weights.values()) <= 0:
            raise ValueError("reward weights must be non-negative and not all zero")
        if any(not 0.0 <= g <= 1.0 for g in self.gates.values()):
            raise ValueError("gate thresholds must lie in [0, 1]")
        if not self.score_sigma > 0 or not 0.0 <= self.span_weight <= 1.0:
            raise ValueError("score_sigma must be positive and span_weight in [0, 1]")
        if not self.stages:
            raise ValueError("at least one stage is needed")
        previous = float("-inf")
        for stage in self.stages:
            bad = set(stage.levels) - set(LEVELS)
            if bad or not stage.levels:
                raise ValueError(f"stage levels must be a non-empty subset of {LEVELS}, got {stage.levels}")
            if stage.until <= previous:
                raise ValueError("stage 'until' values must increase")
            if sum(self.weights.get(level, 0.0) for level in stage.levels) <= 0:
                raise ValueError(f"stage {stage.levels} has zero total weight")
            previous = stage.until

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> RewardConfig:
        data = dict(data or {})
        known = {"mode", "weights", "gates", "stages", "schedule_by", "score_sigma", "span_weight"}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown reward config keys {sorted(unknown)}")
        if "stages" in data:
            data["stages"] = tuple(
                s if isinstance(s, Stage) else Stage(float(s["until"]), tuple(s["levels"])) for s in data["stages"]
            )
        for key in ("weights", "gates"):
            if key in data:
                data[key] = {str(k): float(v) for k, v in dict(data[key]).items()}
        return cls(**data)

    @classmethod
    def from_yaml(cls, path: str | Path) -> RewardConfig:
        import yaml

        with open(path, encoding="utf-8") as fh:
            return cls.from_dict(yaml.safe_load(fh))

    @classmethod
    def flat(cls, **overrides: Any) -> RewardConfig:
        return cls(mode="flat", **overrides)

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "weights": dict(self.weights),
            "gates": dict(self.gates),
            "stages": [{"until": s.until, "levels": list(s.levels)} for s in self.stages],
            "schedule_by": self.schedule_by,
            "score_sigma": self.score_sigma,
            "span_weight": self.span_weight,
        }

    def stage_at(self, position: float | None) -> Stage:
        """The stage in force at ``position`` (progress fraction or global step); the last one when unknown."""
        if position is not None:
            for stage in self.stages:
                if position < stage.until:
                    return stage
        return self.stages[-1]
