"""Level credit: which reward level each part of an answer decides, and what each part of a completion earned.

Why: GRPO gives every token of a completion one advantage, the whole answer's. The hierarchical reward mixes four
levels decided by different parts of the text, so the tokens that place the step spans are pushed up or down by
whether the dive code happened to be right, and the other way round; with a few answers per clip that noise
swamps the signal. The grammar says which text decides which level: the ``<action>`` section and the reasoning's
``Action`` line the action; the frame-count and sub-action lines and ``<steps>`` the steps; the awards and score
lines and ``<score>`` the score (:data:`hieroaction.reasoning.render.REASONING_LINES`). Everything else (tags,
blank lines, text outside any section) decides only the format. A token of class ``L`` earns the weighted mean of
the format level and level ``L`` (gated as the hierarchical total gates it); a ``format`` token earns the format
level alone.

The estimate is biased where one part also shapes another level (the sub-action line constrains the dive code; a
wrong code closes the gates of steps and score), in exchange for far less noise per token. ``hpl.credit:
sequence`` keeps trl's whole-answer advantage.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from hieroaction.reasoning.grammar import TAG_PATTERN
from hieroaction.reasoning.render import REASONING_LINES
from hieroaction.rewards.config import GATED_BY, RewardConfig

CREDIT_CLASSES = ("format", "action", "steps", "score")
_CLASS_INDEX = {name: i for i, name in enumerate(CREDIT_CLASSES)}


def char_credit_classes(text: str) -> list[int]:
    """The credit class (index into :data:`CREDIT_CLASSES`) of every character of ``text``.

    A closed or still-open (truncated) ``<action>``/``<steps>``/``<score>`` section, tags included, is its own
    class; inside ``<think>`` each line is classed by how it starts; anything else is ``format``.
    """
    classes = [0] * len(text)
    opened: tuple[str, int, int] | None = None  # section name, tag start, content start
    for match in TAG_PATTERN.finditer(text):
        closing, name = match.group(1) == "/", match.group(2).lower()
        if not closing:
            if opened is not None:
                _mark_section(classes, text, opened, match.start(), match.start())
            opened = (name, match.start(), match.end())
        elif opened is not None and opened[0] == name:
            _mark_section(classes, text, opened, match.start(), match.end())
            opened = None
    if opened is not None:
        _mark_section(classes, text, opened, len(text), len(text))
    return classes


def _mark_section(classes: list[int], text: str, opened: tuple[str, int, int], content_end: int, end: int) -> None:
    name, start, content_start = opened
    if name != "think":
        classes[start:end] = [_CLASS_INDEX[name]] * (end - start)
        return
    position = content_start
    for line in text[content_start:content_end].splitlines(keepends=True):
        stripped = line.lstrip()
        for prefix, level in REASONING_LINES:
            if stripped.startswith(prefix):
                classes[position : position + len(line)] = [_CLASS_INDEX[level]] * len(line)
                break
        position += len(line)


def token_credit_classes(pieces: Sequence[str]) -> list[int]:
    """The class of each token given its decoded text ``pieces`` (which concatenate to the completion): the class
    of the token's first character; an empty piece takes the class of the token before it."""
    text = "".join(pieces)
    chars = char_credit_classes(text)
    out, position, previous = [], 0, 0
    for piece in pieces:
        if piece:
            previous = chars[position]
        out.append(previous)
        position += len(piece)
    return out


def class_returns(components: Mapping[str, Sequence[float]], config: RewardConfig) -> list[list[float]]:
    """Per completion, what each credit class earned (a row of :data:`CREDIT_CLASSES` order), from the components
    :meth:`HierarchicalReward.components` returned for the same completions (values, gates and the levels active in
    the current stage). A class whose levels are all inactive earns 0 for every completion (so no advantage)."""
    count = len(components["total"])
    weights = config.weights
    rows = []
    for i in range(count):
        active = {level for level in CREDIT_CLASSES if components[f"active_{level}"][i] > 0}
        earned = {
            level: components[level][i] * (components[f"gate_{level}"][i] if level in GATED_BY else 1.0)
            for level in CREDIT_CLASSES
        }
        row = []
        for credit in CREDIT_CLASSES:
            levels = [level for level in {"format", credit} if level in active]
            weight = sum(weights.get(level, 0.0) for level in levels)
            row.append(sum(weights.get(level, 0.0) * earned[level] for level in levels) / weight if weight > 0 else 0.0)
        rows.append(row)
    return rows
