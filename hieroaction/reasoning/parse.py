"""Read a model's answer back into an :class:`Assessment` without ever raising.

Why so defensive: the parser runs on every sampled completion during GRPO and on every evaluation answer, and model
output can be anything (garbage, truncated, repeated or nested tags, 10**400, NaN, other scripts' digits). Structure
is strict — each deviation is named in ``problems`` — but whitespace and letter case are forgiven. Each section is
parsed on its own so that a broken score does not hide a correct action (the rewards give credit level by level).
"""

from __future__ import annotations

import math
import re
from typing import Any

from hieroaction.reasoning.grammar import (
    MAX_FRAME_DIGITS,
    MAX_SCORE,
    SECTIONS,
    TAG_PATTERN,
    UNKNOWN_DD,
    AssessedStep,
    Assessment,
    ParseResult,
)

MAX_PROBLEMS = 50
_TAG = TAG_PATTERN
# ASCII digits only: Python's \d and int() also accept other scripts' digits, which the grammar does not.
_NUMBER = r"[0-9]+(?:\.[0-9]+)?"
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_DD = re.compile(r"dd\s*[:=]?\s*(" + _NUMBER + "|" + re.escape(UNKNOWN_DD) + r")", re.IGNORECASE)
_STEP_LINE = re.compile(r"([0-9]{1,4})\s*[.)]\s*(.*)", re.DOTALL)
_FRAME = rf"([0-9]{{1,{MAX_FRAME_DIGITS}}})"
_SPAN = re.compile(rf"frames?\s+{_FRAME}\s*[-\u2013\u2014]\s*{_FRAME}", re.IGNORECASE)
_SCORE = re.compile(r"[+-]?" + _NUMBER)


def completion_text(completion: Any) -> str:
    """The answer text of a trl completion: a plain string, or a conversational list of message dicts
    (the assistant turns' text joined). Anything else gives ``""``; never raises."""
    try:
        if completion is None:
            return ""
        if isinstance(completion, str):
            return completion
        if isinstance(completion, dict):
            return _content_text(completion.get("content"))
        if isinstance(completion, list | tuple):
            texts = []
            for message in completion:
                if isinstance(message, dict):
                    if message.get("role", "assistant") == "assistant":
                        texts.append(_content_text(message.get("content")))
                elif isinstance(message, str):
                    texts.append(message)
            return "".join(texts)
    except Exception:  # a completion of an unexpected shape is a format failure, not a crash
        return ""
    return ""


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list | tuple):
        parts = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
        return "".join(parts)
    return ""


def parse_assessment(text: Any) -> ParseResult:
    """Parse an answer (string or trl completion). ``assessment`` is ``None`` only when no section could be read."""
    try:
        return _parse(completion_text(text))
    except Exception as exc:  # belt and braces: the contract is "never raises"
        return ParseResult(None, [f"parser error: {type(exc).__name__}"])


def _parse(text: str) -> ParseResult:
    problems: list[str] = []
    contents, order = _split_sections(text, problems)
    for name in SECTIONS:
        if name not in contents and not any(p.endswith(f"<{name}>") for p in problems):
            problems.append(f"missing <{name}>")
    if [n for n in order if n in SECTIONS] != [n for n in SECTIONS if n in order]:
        problems.append("sections out of order: expected " + ", ".join(f"<{n}>" for n in SECTIONS))

    reasoning = _parse_think(contents.get("think"), problems)
    code, name, difficulty = _parse_action(contents.get("action"), problems)
    steps = _parse_steps(contents.get("steps"), problems)
    score = _parse_score(contents.get("score"), problems)
    if len(problems) > MAX_PROBLEMS:  # tag soup can produce thousands; keep logs readable
        problems = [*problems[:MAX_PROBLEMS], f"... and {len(problems) - MAX_PROBLEMS} more problems"]
    if all(v is None for v in (reasoning, code, steps, score)):
        return ParseResult(None, problems or ["no section could be read"])
    return ParseResult(Assessment(code, name, difficulty, steps, score, reasoning), problems)


def _split_sections(text: str, problems: list[str]) -> tuple[dict[str, str], list[str]]:
    """Walk the tags once. A section counts only when opened and closed with no other tag inside it."""
    contents: dict[str, str] = {}
    order: list[str] = []
    open_name: str | None = None
    open_end = 0
    cursor = 0  # end of the last consumed tag, for spotting stray text outside sections
    for match in _TAG.finditer(text):
        closing, name = match.group(1) == "/", match.group(2).lower()
        if open_name is None:
            if text[cursor : match.start()].strip():
                problems.append("text outside tags")
            if closing:
                problems.append(f"stray closing tag </{name}>")
            else:
                open_name, open_end = name, match.end()
        elif closing and name == open_name:
            if open_name in contents:
                problems.append(f"repeated <{open_name}>")
            else:
                contents[open_name] = text[open_end : match.start()]
                order.append(open_name)
            open_name = None
        else:
            tag = f"</{name}>" if closing else f"<{name}>"
            problems.append(f"tag {tag} inside <{open_name}>: broken <{open_name}>")
            # A fresh opening tag starts its own section; a mismatched closing one just ends the broken one.
            open_name, open_end = (None, 0) if closing else (name, match.end())
        cursor = match.end()
    if open_name is not None:
        problems.append(f"unclosed (truncated?) <{open_name}>")
    elif text[cursor:].strip():
        problems.append("text outside tags")
    return contents, order


def _parse_think(content: str | None, problems: list[str]) -> str | None:
    if content is None:
        return None
    reasoning = content.strip()
    if not reasoning:
        problems.append("empty <think>")
    return reasoning


def _parse_action(content: str | None, problems: list[str]) -> tuple[str | None, str | None, float | None]:
    if content is None:
        return None, None, None
    fields = [f.strip() for f in content.split("|")]
    if len(fields) != 3:
        problems.append(f"<action> needs 3 fields 'code | name | DD x.x', got {len(fields)}")
        code = fields[0] if fields and _CODE.fullmatch(fields[0]) else None
        return (code.lower() if code else None), None, None
    raw_code, name, raw_dd = fields
    code = raw_code.lower() if _CODE.fullmatch(raw_code) else None
    if code is None:
        problems.append("<action> code is not an action code")
    if not name:
        problems.append("<action> name is empty")
    difficulty = None
    dd = _DD.fullmatch(raw_dd)
    if dd is None:
        problems.append("<action> third field must be 'DD x.x' or 'DD n/a'")
    elif dd.group(1).lower() != UNKNOWN_DD:
        difficulty = _finite(dd.group(1))
        if difficulty is None or difficulty > 100:
            problems.append("<action> DD out of range")
            difficulty = None
    return code, " ".join(name.split()) or None, difficulty


def _parse_steps(content: str | None, problems: list[str]) -> list[AssessedStep] | None:
    if content is None:
        return None
    steps: list[AssessedStep] = []
    broken = False
    lines = (line for line in (raw.strip() for raw in content.splitlines()) if line)
    for index, line in enumerate(lines, start=1):  # a broken line still counts: the next one is expected at +1
        step = _parse_step_line(line, index, problems)
        if step is None:
            broken = True
        else:
            steps.append(step)
    return None if broken else steps


def _parse_step_line(line: str, expected_index: int, problems: list[str]) -> AssessedStep | None:
    numbered = _STEP_LINE.fullmatch(line)
    if numbered is None:
        problems.append(f"step {expected_index}: line must start with its number")
        return None
    if int(numbered.group(1)) != expected_index:
        problems.append(f"step {expected_index}: numbered {numbered.group(1)}")
        return None
    fields = [f.strip() for f in numbered.group(2).split("|", 2)]
    if len(fields) < 2:
        problems.append(f"step {expected_index}: needs 'label | frames a-b | judgement'")
        return None
    label, span = fields[0], fields[1]
    judgement = " ".join(fields[2].split()) if len(fields) == 3 else ""
    if not label:
        problems.append(f"step {expected_index}: empty label")
        return None
    frames = _SPAN.fullmatch(span)
    if frames is None:
        problems.append(f"step {expected_index}: span must be 'frames a-b'")
        return None
    first, last = int(frames.group(1)), int(frames.group(2))
    if first > last:
        problems.append(f"step {expected_index}: span ends before it starts")
        return None
    if len(fields) < 3:
        problems.append(f"step {expected_index}: missing judgement")
    return AssessedStep(" ".join(label.split()), first, last, judgement)


def _parse_score(content: str | None, problems: list[str]) -> float | None:
    if content is None:
        return None
    raw = content.strip()
    if not _SCORE.fullmatch(raw):
        problems.append("<score> is not a number")
        return None
    score = _finite(raw)
    if score is None or abs(score) > MAX_SCORE:
        problems.append("<score> out of range")
        return None
    return score


def _finite(raw: str) -> float | None:
    try:
        value = float(raw)
    except (ValueError, OverflowError):
        return None
    return value if math.isfinite(value) else None
