"""Render the training target of a Sample in the answer grammar.

Why deterministic: the same Sample must always give the same target (SFT data is cached and versioned), and every
word must follow from the labels (see :mod:`hieroaction.reasoning.commentary`), so the text never states what the
video could not show.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from hieroaction.datasets.dive_codes import DiveCode, DiveCodeError, parse_code
from hieroaction.datasets.sample import Sample, Step
from hieroaction.datasets.score_rule import SYNCHRO_FACTOR
from hieroaction.reasoning.commentary import execution_phrase, step_judgement
from hieroaction.reasoning.grammar import (
    UNKNOWN_DD,
    AssessedStep,
    Assessment,
    clean_field,
    format_answer,
    format_frame,
)

# Tolerance when checking that the final score follows the judges' awards by the FINA rule (scores have 2 decimals).
RULE_TOLERANCE = 0.006
_SYNCHRO_TEXT = f" x {SYNCHRO_FACTOR:g}"  # how a score line writes the five-judge factor after the sum


def decode_action(code: str) -> DiveCode | None:
    try:
        return parse_code(code)
    except DiveCodeError:
        return None


def canonical_code(code: str) -> str:
    """Dive numbers in canonical lower-case form; other action codes cleaned for the grammar, lower-cased."""
    dive = decode_action(code)
    if dive is not None:
        return dive.code
    return re.sub(r"[^a-z0-9._-]+", "_", str(code).lower()).strip("_.-") or "unknown"


def action_name(sample: Sample) -> str:
    """Readable action name as the grammar writes it (never empty)."""
    dive = decode_action(sample.action_code)
    if dive is not None:
        return dive.name()
    return clean_field(sample.extra.get("action_name") or "") or canonical_code(sample.action_code)


def step_label(step: Step) -> str:
    """A step's label as the grammar writes it (never empty, no ``|``)."""
    return clean_field(step.name) or f"sub-action {step.label_id}"


def expected_assessment(sample: Sample) -> Assessment:
    """The structured record that :func:`render_target` writes for ``sample`` (what the parser must return)."""
    dive = decode_action(sample.action_code)
    steps = [
        AssessedStep(
            step_label(s), s.first, s.last, clean_field(step_judgement(step_label(s), dive, sample.judge_scores))
        )
        for s in sample.steps
    ]
    return Assessment(
        action_code=canonical_code(sample.action_code),
        action_name=action_name(sample),
        difficulty=None if sample.difficulty is None else round(float(sample.difficulty), 1),
        steps=steps,
        score=round(float(sample.final_score), 2),
        reasoning=_reasoning(sample, dive, steps),
    )


def render_target(sample: Sample) -> str:
    """The assistant turn the model is trained to produce for ``sample``."""
    return format_answer(expected_assessment(sample))


# How each line of the reasoning starts, and the answer section whose content the line decides (the reward levels
# follow the sections). The reasoning is written from these prefixes, and level credit in HPL reads them back.
REASONING_LINES = (
    ("The clip has ", "steps"),
    ("Sub-actions ", "steps"),
    ("Action ", "action"),
    ("Awards ", "score"),
    ("Score", "score"),
)
_CLIP, _SUB_ACTIONS, _ACTION, _AWARDS, _SCORE = (prefix for prefix, _ in REASONING_LINES)


def _reasoning(sample: Sample, dive: DiveCode | None, steps: Sequence[AssessedStep]) -> str:
    lines = [f"{_CLIP}{sample.num_frames} frames ({format_frame(0)}-{format_frame(sample.num_frames - 1)})."]
    if steps:
        lines.append(f"{_SUB_ACTIONS}in order: " + ", ".join(s.name for s in steps) + ".")
    else:
        lines.append(f"{_SUB_ACTIONS}are not assessed for this clip.")
    dd = UNKNOWN_DD if sample.difficulty is None else f"{float(sample.difficulty):.1f}"
    lines.append(f"{_ACTION}{canonical_code(sample.action_code)}: {action_name(sample)}, DD {dd}.")
    if sample.judge_scores:
        lines.append(f"{_AWARDS}{awards_text(sample.judge_scores)}: {execution_phrase(sample.judge_scores)}.")
    lines.append(_score_line(sample))
    return "\n".join(lines)


def awards_text(awards: Sequence[float]) -> str:
    """``J1 7.5, J2 7.5, J3 7, ...``: each award behind its judge's number.

    Why numbered: seven awards are often the same value, and a bare list of them (``7.5, 7.5, 7.5, ...``) is where
    small models lose count and repeat the value until the answer breaks down; the numbers tell the model which award
    it is writing and when the list ends (benchmarks/LEARNING.md, "SFT's format validity")."""
    return ", ".join(f"J{judge} {float(award):g}" for judge, award in enumerate(awards, start=1))


# the awards line as :func:`awards_text` writes it, and one award in it (read back by award_spans)
_AWARDS_LINE = re.compile(rf"{_AWARDS}((?:J\d+ [0-9.]+(?:, )?)+):")
_AWARD = re.compile(r"J\d+ ([0-9]+(?:\.[0-9]+)?)")


def award_spans(text: str) -> list[tuple[int, int, float]]:
    """``(start, end, award)`` of each award of the first awards line in ``text`` (a target or a model's answer):
    where its characters are and its value; empty when there is no awards line. The reader of :func:`awards_text`,
    kept beside it so the two cannot drift."""
    line = _AWARDS_LINE.search(text)
    if line is None:
        return []
    base = line.start(1)
    return [(base + m.start(1), base + m.end(1), float(m.group(1))) for m in _AWARD.finditer(line.group(1))]


_NUMBER = r"([0-9]+(?:\.[0-9]+)?)"
_SCORE_RULE_LINE = re.compile(
    rf"{_SCORE} = [^=\n]+ = {_NUMBER} x {_NUMBER}({re.escape(_SYNCHRO_TEXT)})? = {_NUMBER}\.(?:\n|$)", re.MULTILINE)


def score_rule_terms(text: str) -> tuple[float, float, float, float] | None:
    """``(dd, kept awards, factor, product)`` of the first score line in ``text`` that states the rule, as
    :func:`_score_line` writes it; None when there is none. The reader of that line, kept beside it: it tells whether
    a model's answer multiplied its own DD and awards right."""
    m = _SCORE_RULE_LINE.search(text)
    if m is None:
        return None
    return float(m.group(1)), float(m.group(2)), SYNCHRO_FACTOR if m.group(3) else 1.0, float(m.group(4))


def _score_line(sample: Sample) -> str:
    """State the FINA rule when the label follows it; otherwise only the score (some labels break the rule)."""
    score = float(sample.final_score)
    awards = sorted(float(s) for s in sample.judge_scores)
    dd = sample.difficulty
    rules = {
        7: ("DD x sum of middle three awards", sum(awards[2:5]), ""),
        5: (f"DD x sum of awards{_SYNCHRO_TEXT}", sum(awards), _SYNCHRO_TEXT),
        3: ("DD x sum of awards", sum(awards), ""),
    }
    if dd is not None and len(awards) in rules:
        rule, kept, factor_text = rules[len(awards)]
        factor = SYNCHRO_FACTOR if factor_text else 1.0
        if abs(float(dd) * kept * factor - score) <= RULE_TOLERANCE:
            return f"{_SCORE} = {rule} = {float(dd):.1f} x {kept:g}{factor_text} = {score:.2f}."
    return f"{_SCORE} {score:.2f}."
