"""SFT loss weights per answer part (``train.answer_weights``): a token of the ``score`` part can count 3x.

Why: cross-entropy averages over the answer's ~240 tokens, of which the judges' awards are about 20. Most tokens are
grammar the model copies within a few hundred steps; the awards are read from the clip and are what the score
ranking (SRCC) depends on. Weighting a part's tokens raises the share of the gradient that teaches that reading
without changing the answer, the grammar or the tokenizer.

The parts are the reward levels' credit classes (:data:`hieroaction.rewards.credit.CREDIT_CLASSES`: ``format``,
``action``, ``steps``, ``score``), found in the text by the same function HPL's level credit uses
(:func:`hieroaction.rewards.credit.token_credit_classes`), so "the score part" means the same tokens in both stages.
A part not named weighs 1. The loss stays a sum over tokens divided by the number of answer tokens, as trl's: at
weight 1 everywhere it is trl's loss exactly.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from hieroaction.rewards.credit import CREDIT_CLASSES

MAX_WEIGHT = 100.0


def check_answer_weights(mapping: Mapping[str, Any] | None, key: str = "train.answer_weights") -> dict[str, float]:
    """``{part: weight}`` with every part a credit class and every weight a finite number in (0, 100]; one line
    naming the key otherwise."""
    if mapping is None:
        return {}
    if not isinstance(mapping, Mapping):
        raise ValueError(f"{key}: expected a mapping of answer part to weight, got {type(mapping).__name__}")
    weights = {}
    for part, value in mapping.items():
        if part not in CREDIT_CLASSES:
            raise ValueError(f"{key}.{part}: unknown answer part; choose from {list(CREDIT_CLASSES)}")
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise ValueError(f"{key}.{part}: expected a number, got {value!r}")
        if not 0 < value <= MAX_WEIGHT:
            raise ValueError(f"{key}.{part}: must be in (0, {MAX_WEIGHT:g}], got {value!r}")
        weights[part] = float(value)
    return weights


def answer_token_weights(tokenizer, answer_ids: Sequence[int], weights: Mapping[str, float]) -> list[float]:
    """The loss weight of each answer token (the ids of :func:`hieroaction.train.data.answer_token_ids`)."""
    from hieroaction.train.level_credit import token_part_values

    return token_part_values(tokenizer, answer_ids, weights, default=1.0)


def weighted_answer_loss(log_probs, label_mask, token_weights, num_items_in_batch=None):
    """``-sum(weight x log p) / answer tokens`` over the shifted positions of trl's fused head (``log_probs`` and
    ``label_mask`` are ``(B, L-1)``, ``token_weights`` ``(B, L)`` aligned with the labels)."""
    import torch

    shifted = token_weights[:, 1:].to(device=log_probs.device, dtype=log_probs.dtype)
    count = label_mask.sum() if num_items_in_batch is None else num_items_in_batch
    return -(log_probs * shifted * label_mask).sum() / torch.as_tensor(count, device=log_probs.device).clamp(min=1)
