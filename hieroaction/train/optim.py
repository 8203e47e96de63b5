"""The precision policy's optimizer: AdamW that can update bf16 weights without losing small updates.

Why: on a GPU the weights train in bf16 (half the memory of float32 masters; a 3B model's float32 weights, gradients
and AdamW states alone are ~65 GB). Plain AdamW on bf16 weights rounds every update to the nearest bf16 value, and
bf16 has 8 bits of mantissa: an update smaller than 1/256 of a weight is rounded away, every step, so with a small
learning rate training stalls. Keeping float32 master weights would cost 4 more bytes per parameter. This optimizer
keeps float32 moments (8 bytes per trainable parameter, as torch's AdamW on float32 weights), computes each update
in float32, and writes the new weight back to bf16 with *stochastic rounding*: rounded up with probability equal to
the discarded fraction, so the expected weight equals the float32 result and small updates accumulate on average
(Gupta et al. 2015; Zamirai et al. 2020, "Revisiting BFloat16 Training").

What the pinned stack offers instead, checked: transformers' ``adamw_anyprecision`` (Kahan summation) needs
``torchdistx``, ``stable_adamw`` needs ``torch-optimi``, the 8-bit/4-bit AdamWs need ``bitsandbytes``/``torchao``;
none is installed or installable on the GPU machine, and torch's own AdamW has no stochastic rounding. So it is
here, in a few lines, and tested against torch's AdamW (identical on float32 weights; on bf16 weights it follows the
float32 trajectory where plain bf16 AdamW stalls).

``train.optimizer``: ``auto`` picks ``adamw_sr`` when any trainable weight is bf16/fp16 and torch's AdamW (fused on
CUDA) when they are float32, as on a CPU; ``adamw_torch`` or ``adamw_sr`` force one. ``sgd`` is torch's SGD with
momentum ``train.sgd_momentum``: each weight moves in proportion to its gradient, where Adam's first steps move every
weight by about the learning rate whatever its gradient (see benchmarks/LEARNING.md, HPL settings tried).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch

LOW_PRECISION = (torch.bfloat16, torch.float16)


def stochastic_round_to_bf16(values: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """float32 -> bf16, rounding up with probability equal to the fraction of a bf16 step that is cut off.

    bf16 is the top 16 bits of a float32: adding a uniform random 16-bit integer to the bit pattern, then dropping the
    low 16 bits, rounds up exactly when the random number exceeds the distance to the next value.
    """
    bits = values.contiguous().view(torch.int32)
    noise = torch.randint(0, 1 << 16, bits.shape, dtype=torch.int32, device=bits.device, generator=generator)
    rounded = (bits + noise) & -65536  # 0xFFFF0000 as a signed int32
    out = rounded.view(torch.float32)
    keep = ~torch.isfinite(values)  # inf/nan pass through unchanged
    if keep.any():
        out = torch.where(keep, values, out)
    return out.to(torch.bfloat16)


class AdamWStochasticRounding(torch.optim.Optimizer):
    """AdamW (decoupled weight decay, bias correction as in torch) with float32 moments and stochastic rounding of
    bf16 weights; float32 weights are updated exactly like ``torch.optim.AdamW``."""

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0):
        if not lr > 0 or not eps > 0 or not 0 <= betas[0] < 1 or not 0 <= betas[1] < 1 or weight_decay < 0:
            raise ValueError(f"invalid AdamW settings lr={lr} betas={betas} eps={eps} weight_decay={weight_decay}")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, (beta1, beta2), eps, decay = group["lr"], group["betas"], group["eps"], group["weight_decay"]
            lr = float(lr)
            for param in group["params"]:
                if param.grad is None:
                    continue
                state = self.state[param]
                if not state:
                    state["step"] = torch.zeros((), dtype=torch.float32)
                    state["exp_avg"] = torch.zeros_like(param, dtype=torch.float32, memory_format=torch.preserve_format)
                    state["exp_avg_sq"] = torch.zeros_like(param, dtype=torch.float32, memory_format=torch.preserve_format)
                state["step"] += 1
                step = int(state["step"].item())
                grad = param.grad.float()
                exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
                exp_avg.lerp_(grad, 1 - beta1)
                exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                bias1 = 1 - beta1**step
                bias2_sqrt = math.sqrt(1 - beta2**step)
                denom = (exp_avg_sq.sqrt() / bias2_sqrt).add_(eps)
                weights = param.float() if param.dtype != torch.float32 else param
                if decay:
                    weights.mul_(1 - lr * decay)
                weights.addcdiv_(exp_avg, denom, value=-lr / bias1)
                if param.dtype == torch.bfloat16:
                    param.copy_(stochastic_round_to_bf16(weights))
                elif param.dtype != torch.float32:
                    param.copy_(weights)
        return loss


def trains_low_precision(model) -> bool:
    """True when some trainable weight is bf16/fp16 (what the choice of optimizer depends on)."""
    return any(p.requires_grad and p.dtype in LOW_PRECISION for p in model.parameters())


def resolve_optimizer(model, name: str) -> str:
    """``auto`` -> ``adamw_sr`` when a trainable weight is bf16/fp16, else ``adamw_torch``."""
    if name != "auto":
        return name
    return "adamw_sr" if trains_low_precision(model) else "adamw_torch"


def optimizer_for(model, name: str, args, sgd_momentum: float = 0.0) -> tuple[str, tuple[type, dict[str, Any]] | None]:
    """(resolved name, ``(optimizer class, kwargs)`` for the Trainer, or None to keep the Trainer's own AdamW)."""
    resolved = resolve_optimizer(model, name)
    if resolved == "adamw_torch":
        return resolved, None
    if resolved == "sgd":
        if trains_low_precision(model):
            raise ValueError("train.optimizer sgd updates float32 weights only; bf16 weights need adamw_sr")
        return resolved, (torch.optim.SGD, {"lr": args.learning_rate, "momentum": sgd_momentum})
    kwargs = {"lr": args.learning_rate, "betas": (args.adam_beta1, args.adam_beta2), "eps": args.adam_epsilon}
    return resolved, (AdamWStochasticRounding, kwargs)


OPTIMIZER_STATE_FILE = "optimizer.pt"  # what transformers writes into every checkpoint-N folder


def optimizer_state_file(path: str | Path) -> Path:
    """``path`` itself or ``path/optimizer.pt``; one clear line when there is none."""
    path = Path(path)
    file = path / OPTIMIZER_STATE_FILE if path.is_dir() else path
    if not file.is_file():
        raise ValueError(f"train.optimizer_state: {file} not found (give a checkpoint-N folder saved with its optimizer)")
    return file


def moments_from(file: Path, current: dict[str, Any]) -> dict[str, Any]:
    """The per-weight state (Adam's moments and step counts) of a saved optimizer, with ``current``'s settings.

    Only the moments carry over: learning rate, betas, epsilon and decay stay this run's (a checkpoint at the end of a
    cosine schedule would otherwise start this run at its learning rate of ~0). Loaded with ``weights_only`` (tensors
    and numbers only: an optimizer file is a pickle, and a hostile one must not run code).
    """
    try:
        saved = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as exc:  # a truncated or hostile file: one line, not a traceback
        raise ValueError(f"train.optimizer_state: {file} is not a loadable optimizer state ({type(exc).__name__})") from None
    groups = saved.get("param_groups") if isinstance(saved, dict) else None
    if not isinstance(groups, list) or not isinstance(saved.get("state"), dict):
        raise ValueError(f"train.optimizer_state: {file} holds no optimizer state_dict")
    shapes = [len(g.get("params", ())) for g in groups]
    wanted = [len(g["params"]) for g in current["param_groups"]]
    if shapes != wanted:
        raise ValueError(f"train.optimizer_state: {file} covers parameter groups of {shapes} weights, this model trains "
                         f"{wanted}: a checkpoint of another model or other frozen parts")
    merged = [dict(now, params=old["params"]) for now, old in zip(current["param_groups"], groups, strict=True)]
    return {"state": saved["state"], "param_groups": merged}


def start_from_moments(trainer, path: str | Path) -> Path:
    """Create the trainer's optimizer now and give it the moments saved in ``path`` (see :func:`moments_from`);
    returns the file. transformers keeps an optimizer that exists when training starts.

    Why: HPL starts from an SFT model whose learning rate had decayed to ~0. A fresh Adam's first updates move every
    weight by about the learning rate whatever its gradient (its second moment starts at the first gradient squared);
    SFT's own moments scale each weight's update by the size of the gradients it had.
    """
    file = optimizer_state_file(path)
    if getattr(trainer, "is_deepspeed_enabled", False) or getattr(trainer, "is_fsdp_enabled", False):
        raise ValueError("train.optimizer_state: DeepSpeed and FSDP shard the optimizer; use it on one process or DDP")
    optimizer = trainer.create_optimizer()
    try:
        optimizer.load_state_dict(moments_from(file, optimizer.state_dict()))
    except (KeyError, RuntimeError, TypeError) as exc:  # the groups matched, their tensors do not
        raise ValueError(f"train.optimizer_state: {file} does not fit this model's weights ({exc})") from None
    return file
