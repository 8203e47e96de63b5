"""Format validity: how often answers follow the grammar exactly (the first thing to watch in training)."""

from __future__ import annotations

from collections.abc import Iterable

from hieroaction.reasoning.parse import parse_assessment


def format_validity(answers: Iterable) -> float:
    """Fraction of answers (strings or trl completions) that parse with no problem at all."""
    results = [parse_assessment(a).ok for a in answers]
    if not results:
        raise ValueError("no answers to evaluate")
    return sum(results) / len(results)
