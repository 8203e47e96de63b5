"""How many tokens a complete target answer takes, and whether a generation limit leaves room for it.

Why: an answer cut off by the limit has no closing tags, so it fails the format level and has no score. A limit below
the longest target makes HPL punish complete answers on exactly the longest dives (many sub-actions, twists), and
makes evaluation count them as broken. The limit is checked against the rendered targets before the first step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hieroaction.datasets.sample import Sample


@dataclass(frozen=True)
class TargetLength:
    """The generated tokens of one sample's complete target answer, end-of-turn token included."""

    sample_id: str
    tokens: int


def target_lengths(samples: Sequence[Sample], tokenizer) -> list[TargetLength]:
    """Tokens a model generates to write each sample's target (:func:`render_target`) and end its turn."""
    from hieroaction.reasoning import render_target

    if not samples:
        return []
    encoded = tokenizer([render_target(s) for s in samples], add_special_tokens=False)["input_ids"]
    return [TargetLength(s.sample_id, len(ids) + 1) for s, ids in zip(samples, encoded, strict=True)]


def longest_target(samples: Sequence[Sample], tokenizer) -> TargetLength | None:
    lengths = target_lengths(samples, tokenizer)
    return max(lengths, key=lambda t: t.tokens) if lengths else None


def check_generation_limit(samples: Sequence[Sample], tokenizer, limit: int, setting: str) -> TargetLength | None:
    """Refuse, in one line, a generation ``limit`` (named ``setting`` in the message) that would cut off the target
    answer of any of ``samples``; returns the longest target."""
    from hieroaction.train.config import ConfigError

    longest = longest_target(samples, tokenizer)
    if longest is not None and longest.tokens > int(limit):
        raise ConfigError(
            f"{setting} is {int(limit)} tokens, but the target answer of {longest.sample_id} takes {longest.tokens} "
            f"(end of turn included): answers that long would be cut off and scored as broken; raise it to at least "
            f"{longest.tokens}"
        )
    return longest
