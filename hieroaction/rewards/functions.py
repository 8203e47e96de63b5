"""trl-compatible reward functions, one per level: ``fn(completions, **columns) -> list[float]``.

trl calls them with ``prompts``, ``completions`` (strings, or lists of message dicts for conversational data),
``completion_ids``, every dataset column (see :func:`hieroaction.rewards.reward_columns`) and a few extras
(``trainer_state``, ``log_metric``...); whatever a function does not read it ignores. A bad completion scores 0;
it never raises. Missing reward columns do raise, naming the columns: that is a dataset bug, not model output.
"""

from __future__ import annotations

from typing import Any

from hieroaction.reasoning.parse import parse_assessment
from hieroaction.rewards.columns import gold_rows
from hieroaction.rewards.levels import action_value, format_value, score_value, steps_value


def format_reward(completions: list[Any], **columns: Any) -> list[float]:
    """1.0 for an answer that follows the grammar exactly (see :mod:`hieroaction.rewards.levels`)."""
    return [format_value(parse_assessment(c)) for c in completions]


def action_reward(completions: list[Any], **columns: Any) -> list[float]:
    """Exact dive number 1.0, else partial credit per decoded part."""
    golds = gold_rows(columns, len(completions))
    results = []
    for completion, gold in zip(completions, golds, strict=True):
        a = parse_assessment(completion).assessment
        results.append(action_value(a.action_code if a else None, gold.action))
    return results


def steps_reward(completions: list[Any], **columns: Any) -> list[float]:
    """Label sequence (edit distance) and spans (temporal IoU) against the gold steps."""
    golds = gold_rows(columns, len(completions))
    results = []
    for completion, gold in zip(completions, golds, strict=True):
        a = parse_assessment(completion).assessment
        results.append(steps_value(a.steps if a else None, gold.steps))
    return results


def score_reward(completions: list[Any], **columns: Any) -> list[float]:
    """Gaussian of the score error relative to the dataset's score range."""
    golds = gold_rows(columns, len(completions))
    results = []
    for completion, gold in zip(completions, golds, strict=True):
        a = parse_assessment(completion).assessment
        results.append(score_value(a.score if a else None, gold.score, gold.score_min, gold.score_max))
    return results
