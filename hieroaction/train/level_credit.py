"""Per-token GRPO advantages from level credit (:mod:`hieroaction.rewards.credit`): the tensor side.

Each credit class (format, action, steps, score) has its own return per completion; each is baselined against the
other answers to the same clip (or against the clip's greedy answer: ``hpl.baseline: greedy``) and scaled as trl
scales whole-answer rewards (``scale_rewards``: group, batch or none), and each token takes the advantage of its
class. trl's loss accepts ``(B, T)`` advantages as they are. Whole-answer credit is the case of one class.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from hieroaction.rewards.credit import CREDIT_CLASSES, token_credit_classes


def token_pieces(tokenizer, ids: Sequence[int]) -> list[str]:
    """Each token's decoded text, such that the pieces concatenate to the decoded completion. Token-by-token decoding
    does that when every token ends on a character boundary; otherwise each piece is what the token adds to the
    decoded prefix, a character split over tokens going to the token that completes it (quadratic, only then)."""
    ids = [int(i) for i in ids]
    pieces = tokenizer.batch_decode([[i] for i in ids], skip_special_tokens=False)
    if "".join(pieces) == tokenizer.decode(ids, skip_special_tokens=False):
        return pieces
    out, emitted = [], ""
    for k in range(1, len(ids) + 1):
        text = tokenizer.decode(ids[:k], skip_special_tokens=False)
        stable = text if k == len(ids) else text.rstrip("\ufffd")  # a trailing U+FFFD may be half a character
        piece = stable[len(emitted) :] if stable.startswith(emitted) else ""
        out.append(piece)
        emitted += piece
    return out


def token_part_values(tokenizer, ids: Sequence[int], per_part: Mapping[str, float], default: float) -> list[float]:
    """Each token's value by the answer part (credit class) it belongs to, ``default`` for a part not in ``per_part``:
    SFT's per-part loss weights and input noise rates, read off the same classes as HPL's level credit. When every
    part has the same value no token is decoded."""
    per_class = [float(per_part.get(name, default)) for name in CREDIT_CLASSES]
    if len(set(per_class)) == 1:
        return [per_class[0]] * len(ids)
    return [per_class[c] for c in token_credit_classes(token_pieces(tokenizer, ids))]


def completion_classes(tokenizer, completion_ids: torch.Tensor, completion_mask: torch.Tensor) -> torch.Tensor:
    """``(B, T)`` credit-class indices of the completion tokens (padding gets class 0; its loss is masked anyway), on
    the CPU whatever the ids' device: they are built from the decoded pieces there, and :func:`token_advantages` moves
    them to the advantages' device."""
    classes = torch.zeros(tuple(completion_ids.shape), dtype=torch.long)
    for row, (ids, mask) in enumerate(zip(completion_ids.tolist(), completion_mask.tolist(), strict=True)):
        length = int(sum(mask))
        if length:
            classes[row, :length] = torch.tensor(token_credit_classes(token_pieces(tokenizer, ids[:length])))
    return classes


def class_advantages(returns: torch.Tensor, num_generations: int, scale: str,
                     baseline: torch.Tensor | None = None) -> torch.Tensor:
    """``(N, C)`` returns of N completions (consecutive groups of ``num_generations`` answers to one clip) to
    ``(N, C)`` advantages: minus the group mean, or minus ``baseline`` (``(N, C)``: per completion, the returns of its
    clip's greedy answer, the group's first row's standing for the group, so that only answers better than the one
    evaluation reads are reinforced), divided by the group's or the batch's standard deviation of the returns (or
    not). With a baseline the greedy answer counts among its clip's answers for that spread: answers that agree with
    each other but not with it are scaled by a spread above zero, not by the 1e-4 floor."""
    if returns.size(0) % num_generations:
        raise ValueError(f"{returns.size(0)} completions do not split into groups of {num_generations}")
    grouped = returns.view(-1, num_generations, returns.size(1))
    if baseline is None:
        centre, pool = grouped.mean(dim=1, keepdim=True), grouped
    else:
        if baseline.shape != returns.shape:
            raise ValueError(f"baseline of shape {tuple(baseline.shape)} for returns of shape {tuple(returns.shape)}")
        # one greedy answer per clip: its first row's stands for the group (a clip whose rows were decoded on two
        # processes, in batches padded differently, could differ in a near tie)
        centre = baseline.view_as(grouped)[:, :1]
        pool = torch.cat([grouped, centre], dim=1)
    advantages = grouped - centre
    if scale == "group":
        std = pool.std(dim=1, keepdim=True) if pool.size(1) > 1 else torch.zeros_like(pool[:, :1])
        advantages = advantages / (std + 1e-4)
    elif scale == "batch":
        flat = pool.reshape(-1, returns.size(1))
        std = flat.std(dim=0, keepdim=True) if flat.size(0) > 1 else torch.zeros_like(flat[:1])
        advantages = advantages / (std + 1e-4)
    elif scale != "none":
        raise ValueError(f"scale_rewards must be 'group', 'batch' or 'none', got {scale!r}")
    return advantages.reshape(returns.shape)


def token_advantages(class_adv: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
    """``(B, C)`` advantages and ``(B, T)`` classes to the ``(B, T)`` advantage of every token."""
    return class_adv.gather(1, classes.to(class_adv.device))
