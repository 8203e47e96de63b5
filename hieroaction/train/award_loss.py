"""An ordinal loss on the judges' awards in SFT (``train.award_loss``): the award the model expects is pulled toward
the judge's.

Why: cross-entropy treats the award tokens ``6``, ``7`` and ``8`` as unrelated classes, so writing 8 for a 5 costs
what writing 6 does, and with judge noise on 600 dives the cheapest fit is the training dives' usual award: how
well SFT learns to read the execution from the clip varies from one run to the next (benchmarks/LEARNING.md, "The
awards weighted 3x", "Noisy answer inputs"). At the token that writes each award's whole number, this loss takes
the model's distribution over the number tokens 0-10, its expected value, and the squared error of that value
against the award's whole number (number token loss: Zausinger et al., "Regress, Don't Guess"). It uses the
model's own head, so nothing is added to the model and nothing changes at answering time; cross-entropy stays as it
is and this is added to it, ``weight`` x the mean squared error over the batch's awards. Off by default: on the
small preset it made the greedy awards worse (benchmarks/LEARNING.md, "Seed 1's form against its awards").

The awards' characters come from the renderer's own reader (:func:`hieroaction.reasoning.render.award_spans`); the
hidden states from a hook on the language model's final norm, since trl's fused head returns only the gold tokens'
log-probabilities.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from contextlib import contextmanager
from typing import Any

MAX_WEIGHT = 10.0
AWARD_NUMBERS = tuple(range(11))  # the whole numbers an award on the 0-10 scale starts with


def check_award_loss(weight: Any, key: str = "train.award_loss") -> float:
    """The loss weight, a finite number in (0, 10]; one line naming the key otherwise."""
    if isinstance(weight, bool) or not isinstance(weight, int | float) or not math.isfinite(weight):
        raise ValueError(f"{key}: expected a number, got {weight!r}")
    if not 0 < weight <= MAX_WEIGHT:
        raise ValueError(f"{key}: must be in (0, {MAX_WEIGHT:g}] (the squared award error's weight), got {weight!r}")
    return float(weight)


def number_token_ids(tokenizer) -> list[int]:
    """The id of each whole number 0-10 (:data:`AWARD_NUMBERS`), each a single token; refused in one line when a
    tokenizer writes one of them in several tokens (its awards have no one token to take a distribution over)."""
    ids = []
    for number in AWARD_NUMBERS:
        encoded = tokenizer.encode(str(number), add_special_tokens=False)
        if len(encoded) != 1:
            raise ValueError(f"train.award_loss: the tokenizer writes the award number {number} as {len(encoded)} "
                             "tokens; the loss needs one token per whole number 0-10")
        ids.append(encoded[0])
    return ids


def award_token_targets(tokenizer, answer_ids: Sequence[int]) -> list[tuple[int, float]]:
    """``(index, whole number)`` for each award of the answer whose whole number is one token of its own: the index
    of that token in ``answer_ids`` and the value it stands for. Awards off the 0-10 scale are left out."""
    from hieroaction.reasoning.render import award_spans
    from hieroaction.train.level_credit import token_pieces

    pieces = token_pieces(tokenizer, answer_ids)
    starts, position = {}, 0
    for index, piece in enumerate(pieces):
        starts.setdefault(position, index)
        position += len(piece)
    text = "".join(pieces)
    targets = []
    for start, end, _ in award_spans(text):
        whole = text[start:end].split(".")[0]
        index = starts.get(start)
        if index is None or pieces[index] != whole or int(whole) not in AWARD_NUMBERS:
            continue
        targets.append((index, float(whole)))
    return targets


def award_value_loss(hidden, head_weight, positions, targets, number_ids):
    """The mean squared error between the expected whole number and the award's, over the awards of a batch.

    ``hidden`` ``(B, L, H)``: the final norm's output; ``head_weight`` ``(V, H)``: the output embedding;
    ``positions`` ``(B, K)``: each award token's position in the sequence, -1 for none; ``targets`` ``(B, K)``.
    The hidden state one position earlier is the one that predicts the award's token."""
    import torch

    rows, slots = torch.nonzero(positions >= 0, as_tuple=True)
    if rows.numel() == 0:
        return hidden.sum() * 0.0
    states = hidden[rows, positions[rows, slots] - 1]
    ids = torch.as_tensor(number_ids, device=hidden.device)
    logits = states @ head_weight[ids].to(states.dtype).T
    values = torch.as_tensor(AWARD_NUMBERS, device=hidden.device, dtype=logits.dtype)
    expected = torch.softmax(logits.float(), dim=-1) @ values.float()
    return ((expected - targets[rows, slots].to(expected)) ** 2).mean()


@contextmanager
def final_hidden_states(model):
    """Hold the language model's last hidden states (the final norm's output) of the forward passes run inside."""
    decoder = model.get_decoder()
    norm = getattr(decoder, "norm", None)
    if norm is None:
        raise ValueError(f"train.award_loss: {type(decoder).__name__} has no final norm to read hidden states from")
    held: dict[str, Any] = {}

    def keep(_module, _inputs, output):
        held["hidden"] = output

    handle = norm.register_forward_hook(keep)
    try:
        yield held
    finally:
        handle.remove()
