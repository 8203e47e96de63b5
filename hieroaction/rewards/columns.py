"""The dataset columns the rewards read, written from a Sample and read back from trl's batched keyword arguments.

Why JSON-able scalars and a JSON string for the steps: trl hands every dataset column to the reward functions, and
a `datasets.Dataset` column of nested lists with varying length and mixed types is fragile; a string is not.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hieroaction.datasets.sample import Sample
from hieroaction.reasoning.render import canonical_code, step_label

COLUMNS = ("gold_action", "gold_steps", "gold_score", "score_min", "score_max")


@dataclass(frozen=True)
class Gold:
    """What one completion is compared with."""

    action: str
    steps: tuple[tuple[str, int, int], ...]
    score: float
    score_min: float
    score_max: float


def reward_columns(sample: Sample, score_range: tuple[float, float]) -> dict[str, Any]:
    """Columns for one dataset row. ``score_range`` is the dataset's (min, max) final score (see :func:`score_range`);
    the score reward measures errors relative to it."""
    low, high = float(score_range[0]), float(score_range[1])
    if not (math.isfinite(low) and math.isfinite(high)) or high < low:
        raise ValueError(f"{sample.sample_id}: score_range must be finite (min, max), got {score_range!r}")
    steps = [[step_label(s), int(s.first), int(s.last)] for s in sample.steps]
    return {
        "gold_action": canonical_code(sample.action_code),
        "gold_steps": json.dumps(steps, ensure_ascii=False),
        "gold_score": float(sample.final_score),
        "score_min": low,
        "score_max": high,
    }


def score_range(samples: Iterable[Sample]) -> tuple[float, float]:
    """(min, max) final score over ``samples`` (use the training split, so evaluation data does not leak in)."""
    scores = [float(s.final_score) for s in samples]
    if not scores:
        raise ValueError("score_range needs at least one sample")
    return min(scores), max(scores)


def gold_rows(columns: Mapping[str, Any], count: int) -> list[Gold]:
    """Decode trl's batched columns (one list entry per completion) into :class:`Gold` records."""
    missing = [c for c in COLUMNS if c not in columns]
    if missing:
        raise KeyError(
            f"reward columns missing: {', '.join(missing)} (build the dataset with hieroaction.rewards.reward_columns)"
        )
    lists = {c: _as_list(columns[c], c, count) for c in COLUMNS}
    rows = []
    for i in range(count):
        try:
            steps = lists["gold_steps"][i]
            if isinstance(steps, str):
                steps = json.loads(steps)
            gold_steps = tuple((str(s[0]), int(s[1]), int(s[2])) for s in steps or ())
        except (ValueError, TypeError, IndexError, KeyError) as exc:
            raise ValueError(
                f"reward column 'gold_steps' row {i}: not a JSON list of [label, first, last]: {exc}"
            ) from None
        rows.append(
            Gold(
                action=str(lists["gold_action"][i]),
                steps=gold_steps,
                score=float(lists["gold_score"][i]),
                score_min=float(lists["score_min"][i]),
                score_max=float(lists["score_max"][i]),
            )
        )
    return rows


def _as_list(value: Any, name: str, count: int) -> Sequence[Any]:
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise TypeError(f"reward column {name!r} must be a list with one entry per completion")
    if len(value) != count:
        raise ValueError(f"reward column {name!r} has {len(value)} entries for {count} completions")
    return value
