"""The four reward levels, each a number in [0, 1] that is 1 exactly when the answer matches the gold record.

- format: 1.0 when the answer parses with no problem; otherwise 0.5 x (readable sections / 4), so any deviation
  from the grammar costs at least half.
- action: 1.0 for the exact code; otherwise ``ACTION_PARTIAL`` x (matching decoded parts / 5) over group,
  rotation, somersaults, twists and position (all five can match only when a flying flag differs); 0 when the code
  is missing, or when either code is not a dive number and they differ.
- steps: ``(1 - span_weight) x (1 - normalised edit distance of the label sequences)
  + span_weight x tIoU`` (see :mod:`hieroaction.metrics.steps`); both empty gives 1.0; a missing or broken
  <steps> gives 0.
- score: ``exp(-0.5 x (e / (sigma x range))**2)`` with ``e = max(0, |pred - gold| - 0.005)`` (half the grammar's
  0.01 resolution counts as exact) and ``range = score_max - score_min`` (1.0 if that is not positive);
  sigma 0.05: an error of 5% of the range earns 0.61, 10% earns 0.14. A missing score gives 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from hieroaction.metrics.actions import PARTS, decode, matching_parts, same_code
from hieroaction.metrics.steps import step_edit_distance, temporal_iou
from hieroaction.reasoning.grammar import SECTIONS, AssessedStep, ParseResult

ACTION_PARTIAL = 0.8
DEFAULT_SCORE_SIGMA = 0.05
DEFAULT_SPAN_WEIGHT = 0.5
SCORE_RESOLUTION = 0.005


def format_value(parsed: ParseResult) -> float:
    if parsed.ok:
        return 1.0
    a = parsed.assessment
    if a is None:
        return 0.0
    readable = [bool(a.reasoning), a.action_code is not None, a.steps is not None, a.score is not None]
    return 0.5 * sum(readable) / len(SECTIONS)


def action_value(pred_code: str | None, gold_code: str) -> float:
    if pred_code is None:
        return 0.0
    if same_code(pred_code, gold_code):
        return 1.0
    if decode(gold_code) is None or decode(pred_code) is None:
        return 0.0
    matched = sum(matching_parts(pred_code, gold_code).values())
    return ACTION_PARTIAL * matched / len(PARTS)


def steps_value(
    pred_steps: Sequence[AssessedStep] | None,
    gold_steps: Sequence[tuple[str, int, int]],
    span_weight: float = DEFAULT_SPAN_WEIGHT,
) -> float:
    if pred_steps is None:
        return 0.0
    pred = [(s.name, s.first, s.last) for s in pred_steps]
    labels = 1.0 - step_edit_distance([p[0] for p in pred], [g[0] for g in gold_steps], normalize=True)
    spans = temporal_iou(pred, list(gold_steps))
    return (1.0 - span_weight) * labels + span_weight * spans


def score_value(
    pred: float | None, gold: float, score_min: float, score_max: float, sigma: float = DEFAULT_SCORE_SIGMA
) -> float:
    if pred is None or not math.isfinite(pred):
        return 0.0
    span = score_max - score_min
    if not span > 0:
        span = 1.0
    error = max(0.0, abs(pred - gold) - SCORE_RESOLUTION)
    return math.exp(-0.5 * (error / (sigma * span)) ** 2)
