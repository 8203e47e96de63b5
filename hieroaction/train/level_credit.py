"""Per-token GRPO advantages from level credit (:mod:`hieroaction.rewards.credit`): the tensor side.

Each credit class (format, action, steps, score) has its own return per completion; each is baselined against the
other answers to the same clip and scaled as trl scales whole-answer rewards (``scale_rewards``: group, batch or
none), and each token takes the advantage of its class. trl's loss accepts ``(B, T)`` advantages as they are.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from hieroaction.rewards.credit import token_credit_classes


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


def completion_classes(tokenizer, completion_ids: torch.Tensor, completion_mask: torch.Tensor) -> torch.Tensor:
    """``(B, T)`` credit-class indices of the completion tokens (padding gets class 0; its loss is masked anyway)."""
    classes = torch.zeros_like(completion_ids, dtype=torch.long)
    for row, (ids, mask) in enumerate(zip(completion_ids.tolist(), completion_mask.tolist(), strict=True)):
        length = int(sum(mask))
        if length:
            classes[row, :length] = torch.tensor(token_credit_classes(token_pieces(tokenizer, ids[:length])))
    return classes


def class_advantages(returns: torch.Tensor, num_generations: int, scale: str) -> torch.Tensor:
    """``(N, C)`` returns of N completions (consecutive groups of ``num_generations`` answers to one clip) to
    ``(N, C)`` advantages: minus the group mean, divided by the group's or the batch's standard deviation (or not)."""
    if returns.size(0) % num_generations:
        raise ValueError(f"{returns.size(0)} completions do not split into groups of {num_generations}")
    grouped = returns.view(-1, num_generations, returns.size(1))
    advantages = (grouped - grouped.mean(dim=1, keepdim=True)).view_as(returns)
    if scale == "group":
        std = grouped.std(dim=1, keepdim=True) if num_generations > 1 else torch.zeros_like(grouped[:, :1])
        advantages = (advantages.view_as(grouped) / (std + 1e-4)).view_as(returns)
    elif scale == "batch":
        std = returns.std(dim=0, keepdim=True) if returns.size(0) > 1 else torch.zeros_like(returns[:1])
        advantages = advantages / (std + 1e-4)
    elif scale != "none":
        raise ValueError(f"scale_rewards must be 'group', 'batch' or 'none', got {scale!r}")
    return advantages


def token_advantages(class_adv: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
    """``(B, C)`` advantages and ``(B, T)`` classes to the ``(B, T)`` advantage of every token."""
    return class_adv.gather(1, classes.to(class_adv.device))
