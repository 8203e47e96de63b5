"""Deterministic wording for the training target, derived only from the labels and the judges' awards.

Why these rules: the target must teach the model to say things that are checkable. A sub-action label says what was
done (direction, somersaults, twists, position) and the dive number says what was announced, so a step's judgement
compares the two. The judges' awards say how well the whole dive was executed, on FINA's 0-10 scale, so they give
the execution band; nothing here claims a per-step fault (a splash, a short rotation) that no label records.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from hieroaction.datasets.dive_codes import DiveCode

# FINA's award scale, with boundaries half-way between its bands (completely failed 0, unsatisfactory 0.5-2,
# deficient 2.5-4.5, satisfactory 5-6.5, good 7-8, very good 8.5-9.5, excellent 10).
AWARD_BANDS = (
    (9.75, "excellent"),
    (8.25, "very good"),
    (6.75, "good"),
    (4.75, "satisfactory"),
    (2.25, "deficient"),
    (0.25, "unsatisfactory"),
    (float("-inf"), "completely failed"),
)

_TAKEOFF = {"forward": "forward", "back": "back", "reverse": "reverse", "inward": "inward"}
_SOMERSAULTS = re.compile(r"([0-9]+(?:\.5)?)\s+soms?\.\s*(straight|pike|tuck)", re.IGNORECASE)
_TWISTS = re.compile(r"([0-9]+(?:\.5)?)\s+twists?", re.IGNORECASE)


def award_band(mean_award: float) -> str:
    for threshold, band in AWARD_BANDS:
        if mean_award >= threshold:
            return band
    return AWARD_BANDS[-1][1]


def usable_awards(judge_scores: Sequence[float]) -> bool:
    """Awards are usable for wording only when every one is on the 0-10 scale (a few annotations are not)."""
    return bool(judge_scores) and all(0.0 <= float(s) <= 10.0 for s in judge_scores)


def execution_phrase(judge_scores: Sequence[float]) -> str:
    """``judged very good (mean award 8.3)``, or why no band can be given."""
    if not judge_scores:
        return "no judges' awards given"
    if not usable_awards(judge_scores):
        return "judges' awards not on the 0-10 scale"
    mean = sum(float(s) for s in judge_scores) / len(judge_scores)
    return f"judged {award_band(mean)} (mean award {mean:.1f})"


def halves_text(halves: int) -> str:
    whole, half = divmod(int(halves), 2)
    if whole == 0:
        return "½" if half else "0"
    return f"{whole}{'½' if half else ''}"


def step_judgement(name: str, dive: DiveCode | None, judge_scores: Sequence[float]) -> str:
    """The judgement of one labelled step: what the label shows and whether it agrees with the dive number."""
    label = " ".join(name.split())
    key = label.lower()
    if key == "entry":
        return f"entry, dive {execution_phrase(judge_scores)}"
    if key == "background":
        return "not part of the dive"
    armstand = key.startswith("arm.")
    direction = _TAKEOFF.get(key[4:] if armstand else key)
    if direction is not None:
        what = f"{direction} take-off" + (" from armstand" if armstand else "")
        if dive is None:
            return what
        agrees = dive.rotation == direction and dive.armstand == armstand
        return what + (", as announced" if agrees else f", announced {_announced_takeoff(dive)}")
    soms = _SOMERSAULTS.fullmatch(label)
    if soms is not None:
        count, position = _halves(soms.group(1)), soms.group(2).lower()
        what = f"{halves_text(count)} somersault{'' if count in (1, 2) else 's'}, {position}"
        if dive is None:
            return what
        if dive.position == "free":  # free position lets the diver choose: any position agrees
            return what + ", free position announced"
        return what + (", as announced" if dive.position == position else f", announced {dive.position}")
    twists = _TWISTS.fullmatch(label)
    if twists is not None:
        count = _halves(twists.group(1))
        what = f"{halves_text(count)} twist{'' if count in (1, 2) else 's'}"
        if dive is None:
            return what
        if dive.half_twists == 0:
            return what + ", none announced"
        agrees = count == dive.half_twists
        return what + (", as announced" if agrees else f", announced {halves_text(dive.half_twists)}")
    return f"{label} phase"


def _announced_takeoff(dive: DiveCode) -> str:
    return f"{dive.rotation}" + (" from armstand" if dive.armstand else "")


def _halves(count: str) -> int:
    return round(float(count) * 2)
