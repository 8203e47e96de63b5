"""Noisy answer inputs in SFT (``train.answer_noise``): the model reads a few wrong answer tokens, and is still
trained to write the right ones after them.

Why: SFT only ever shows the model the gold answer (teacher forcing), so it never learns to go on after a token of
its own that is wrong. A small greedy answerer that writes one odd token in a step line (``2.0`` where a label
belongs) then derails the rest of the line, and the answer breaks the grammar (benchmarks/LEARNING.md, "SFT's format
validity"). Here each answer token the model *reads* is, with probability ``rate``, replaced by a random ordinary
token; the labels stay the gold answer, so the token after a replaced one is still trained to be the right one
(the input-corruption remedy for exposure bias, as in word dropout and scheduled sampling). The prompt, the video
tokens and the loss are untouched; at rate 0 the batch is exactly the plain one.

``train.answer_noise_until`` ends the noise after a share of the steps: the batch then carries the gold inputs as
well (``clean_input_ids``) and the trainer, which knows the step, picks one (the collator does not: on a GPU it runs
in loader processes a step ahead).
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from typing import Any

from hieroaction.rewards.credit import CREDIT_CLASSES

MAX_RATE = 0.5


def _check_rate(rate: Any, key: str) -> float:
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not math.isfinite(rate):
        raise ValueError(f"{key}: expected a number, got {rate!r}")
    if not 0 <= rate <= MAX_RATE:
        raise ValueError(f"{key}: must be in [0, {MAX_RATE:g}] (the share of answer tokens replaced), got {rate!r}")
    return float(rate)


def check_answer_noise(value: Any, key: str = "train.answer_noise") -> dict[str, float]:
    """``{part: rate}`` for every answer part from one rate or a mapping of some parts (the others 0), each rate in
    [0, 0.5]; one line naming the key otherwise."""
    if value is None:
        return dict.fromkeys(CREDIT_CLASSES, 0.0)
    if not isinstance(value, Mapping):
        return dict.fromkeys(CREDIT_CLASSES, _check_rate(value, key))
    rates = dict.fromkeys(CREDIT_CLASSES, 0.0)
    for part, rate in value.items():
        if part not in CREDIT_CLASSES:
            raise ValueError(f"{key}.{part}: unknown answer part; choose from {list(CREDIT_CLASSES)}")
        rates[part] = _check_rate(rate, f"{key}.{part}")
    return rates


def check_noise_until(until: Any, noise: Any, key: str = "train.answer_noise_until") -> float:
    """The share of the steps after which the noise stops, in (0, 1]; refused without any noise to stop."""
    if isinstance(until, bool) or not isinstance(until, int | float) or not 0 < until <= 1:
        raise ValueError(f"{key}: must be in (0, 1] (the share of max_steps trained on noisy inputs), got {until!r}")
    if until < 1 and not any(check_answer_noise(noise).values()):
        raise ValueError(f"{key}: {until!r} without train.answer_noise: there is no noise to stop")
    return float(until)


def noise_until_step(until: float, max_steps: int) -> int:
    """The first optimizer step that reads the gold answers (``max_steps`` when the noise never stops)."""
    return max_steps if until >= 1 else math.ceil(until * max_steps)


def token_noise_rates(tokenizer, answer_ids: Sequence[int], rates: Mapping[str, float]) -> list[float]:
    """Each answer token's replacement rate, by the part of the answer it belongs to."""
    from hieroaction.train.level_credit import token_part_values

    return token_part_values(tokenizer, answer_ids, rates, default=0.0)


def ordinary_token_ids(tokenizer) -> list[int]:
    """Every id of the tokenizer but its added tokens (chat and vision markers): a replaced ``<|video_pad|>`` would
    add a video token with no features behind it. ``all_special_ids`` alone is not enough: it names only the
    tokens given a role (eos, pad), not every marker a tokenizer adds."""
    added = set(tokenizer.all_special_ids) | set(getattr(tokenizer, "added_tokens_decoder", {}))
    return [i for i in range(len(tokenizer)) if i not in added]


def noisy_answer_ids(answer_ids: Sequence[int], rates: Sequence[float], replacements: Sequence[int],
                     rng: random.Random) -> list[int]:
    """``answer_ids`` with token i replaced, with probability ``rates[i]``, by one drawn from ``replacements``."""
    return [rng.choice(replacements) if rng.random() < rate else token
            for token, rate in zip(answer_ids, rates, strict=True)]
