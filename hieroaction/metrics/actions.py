"""Action recognition metrics: exact dive number and each decoded part.

Why per part: a wrong dive number can still have the right direction, somersaults or position, and seeing which
part fails says what the model has not learnt. The same decoding gives the action reward its partial credit.
"""

from __future__ import annotations

from collections.abc import Sequence

from hieroaction.datasets.dive_codes import DiveCode, DiveCodeError, parse_code

# The decoded parts compared, in reporting order.
PARTS = ("group", "rotation", "somersaults", "twists", "position")


def decode(code: str | None) -> DiveCode | None:
    if not isinstance(code, str):
        return None
    try:
        return parse_code(code)
    except DiveCodeError:
        return None


def dive_parts(dive: DiveCode) -> dict[str, object]:
    return {
        "group": dive.group,
        "rotation": dive.rotation,
        "somersaults": dive.half_somersaults,
        "twists": dive.half_twists,
        "position": dive.position,
    }


def same_code(pred: str | None, gold: str) -> bool:
    """Exact match in canonical form (:func:`hieroaction.reasoning.render.canonical_code`, the form the answer
    grammar writes): dive numbers decoded (case of the position letter ignored), other codes cleaned and lower-cased.
    A missing or blank prediction is wrong."""
    from hieroaction.reasoning.render import canonical_code

    if not isinstance(pred, str) or not pred.strip():
        return False
    return canonical_code(pred) == canonical_code(gold)


def matching_parts(pred: str | None, gold: str) -> dict[str, bool]:
    """Which decoded parts of ``pred`` agree with ``gold`` (all False when ``pred`` is not a dive number)."""
    g = decode(gold)
    if g is None:
        raise ValueError(f"gold action {gold!r} is not a dive number")
    p = decode(pred)
    if p is None:
        return dict.fromkeys(PARTS, False)
    gp, pp = dive_parts(g), dive_parts(p)
    return {part: gp[part] == pp[part] for part in PARTS}


def _check(pred: Sequence, gold: Sequence) -> None:
    if len(pred) != len(gold):
        raise ValueError(f"pred and gold differ in length: {len(pred)} vs {len(gold)}")
    if not gold:
        raise ValueError("no actions to evaluate")


def action_accuracy(pred: Sequence[str | None], gold: Sequence[str]) -> float:
    """Fraction of exact dive numbers (a missing prediction is wrong)."""
    _check(pred, gold)
    return sum(same_code(p, g) for p, g in zip(pred, gold, strict=True)) / len(gold)


def part_accuracy(pred: Sequence[str | None], gold: Sequence[str]) -> dict[str, float]:
    """Accuracy of each decoded part (group, rotation, somersaults, twists, position)."""
    _check(pred, gold)
    hits = dict.fromkeys(PARTS, 0)
    for p, g in zip(pred, gold, strict=True):
        for part, ok in matching_parts(p, g).items():
            hits[part] += ok
    return {part: hits[part] / len(gold) for part in PARTS}
