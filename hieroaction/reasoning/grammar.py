"""The answer grammar of Stepwise Action Reasoning: its version, its sections and the structured record it encodes.

Why one module: the renderer writes this grammar, the parser reads it and the rewards and metrics compare what the
parser returns, so the tags, the field layout and the number formats are defined once here (docs/GRAMMAR.md is the
human description of the same thing; bump ``GRAMMAR_VERSION`` whenever either changes).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

GRAMMAR_VERSION = "2.0"

# Sections, in the order they must appear. Each appears exactly once; nothing but whitespace between them.
SECTIONS = ("think", "action", "steps", "score")

# A section tag, opening or closing, with any letter case and inner whitespace.
TAG_PATTERN = re.compile(r"<\s*(/?)\s*(" + "|".join(SECTIONS) + r")\s*>", re.IGNORECASE)

# Written for an unknown difficulty (a manifest without DD).
UNKNOWN_DD = "n/a"

# Largest magnitudes the parser accepts; anything bigger is a problem, never an exception or an inf.
MAX_SCORE = 1_000_000.0
MAX_FRAME_DIGITS = 9


@dataclass(frozen=True)
class AssessedStep:
    """One sub-action as the answer states it: label, clip-relative inclusive frame span, and a judgement."""

    name: str
    first: int
    last: int
    judgement: str = ""


@dataclass(frozen=True)
class Assessment:
    """What an answer says. A field is ``None`` when its section is missing or malformed (see the problems)."""

    action_code: str | None = None
    action_name: str | None = None
    difficulty: float | None = None
    steps: list[AssessedStep] | None = None
    score: float | None = None
    reasoning: str | None = None


@dataclass(frozen=True)
class ParseResult:
    """The parsed answer plus every deviation from the grammar found. ``ok`` means fully valid."""

    assessment: Assessment | None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.assessment is not None and not self.problems


def strip_tags(text: str) -> str:
    """Neutralise section tags inside free text (``<score>`` becomes ``score``) so it cannot break the structure."""
    text = str(text)
    while TAG_PATTERN.search(text):  # repeat: removing brackets can join new ones ("<<score>>")
        text = TAG_PATTERN.sub(lambda m: m.group(1) + m.group(2), text)
    return text


def clean_field(text: str) -> str:
    """Make free text safe for a ``|``-separated single-line field (renderer side)."""
    return " ".join(strip_tags(text).replace("|", "/").split())


def format_action(code: str, name: str, difficulty: float | None) -> str:
    dd = UNKNOWN_DD if difficulty is None else f"{difficulty:.1f}"
    return f"{clean_field(code)} | {clean_field(name)} | DD {dd}"


# Frame numbers are written with at least this many digits, zero-padded (``frames 007-052``).
FRAME_DIGITS = 3


def format_frame(frame: int) -> str:
    """``7`` -> ``007``: a frame number in the grammar's fixed width.

    Why fixed width: a model writing numbers digit by digit must otherwise also decide how many digits a number has,
    and small models stopped after two digits of a three-digit frame (``frames 46-10`` for 46-104), which made spans
    end before they start (benchmarks/LEARNING.md, "SFT's format validity"). Clips of 1000 frames or more simply
    write more digits; the parser reads any width."""
    return f"{int(frame):0{FRAME_DIGITS}d}"


def format_step(index: int, step: AssessedStep) -> str:
    """``1. Back | frames 000-021 | judgement`` (1-based numbering, ASCII hyphen in the span)."""
    return (f"{index}. {clean_field(step.name)} | frames {format_frame(step.first)}-{format_frame(step.last)} | "
            f"{clean_field(step.judgement)}")


def format_score(score: float) -> str:
    return f"{score:.2f}"


def format_answer(assessment: Assessment) -> str:
    """Write an :class:`Assessment` in the grammar (the inverse of the parser for valid records; a missing field is
    written as an empty or zero placeholder)."""
    step_lines = "".join(format_step(i, s) + "\n" for i, s in enumerate(assessment.steps or (), start=1))
    return (
        f"<think>\n{strip_tags(assessment.reasoning or '').strip()}\n</think>\n"
        f"<action>{format_action(assessment.action_code or '', assessment.action_name or '', assessment.difficulty)}"
        "</action>\n"
        f"<steps>\n{step_lines}</steps>\n"
        f"<score>{format_score(assessment.score if assessment.score is not None else 0.0)}</score>"
    )
