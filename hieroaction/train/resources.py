"""Clear errors when the disk or the GPU memory is too small, instead of a crash hours in or a corrupt checkpoint.

Why estimates and checks before the fact: a checkpoint that fails half-written leaves nothing to resume from, and a
CUDA out-of-memory traceback says nothing about which setting to change.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
from pathlib import Path

log = logging.getLogger(__name__)

GIB = 1024**3
OOM_ADVICE = (
    "lower train.per_device_train_batch_size (raise gradient_accumulation_steps to keep the effective batch), "
    "use fewer or smaller frames (data.frames.count / data.frames.size), turn on train.gradient_checkpointing, "
    "train LoRA adapters (model.lora: {r: 16}) and/or model.freeze_vision: true, or use a GPU with more memory"
)


class TrainingResourceError(RuntimeError):
    """Not enough disk or GPU memory for the requested run; the message says what to change."""


def parameter_bytes(model) -> tuple[int, int]:
    """(bytes of all parameters, bytes of trainable parameters) in their current dtypes."""
    total = trainable = 0
    for param in model.parameters():
        size = param.numel() * param.element_size()
        total += size
        if param.requires_grad:
            trainable += size
    return total, trainable


def checkpoint_bytes(model, *, with_optimizer: bool = True) -> int:
    """Size of one checkpoint: the weights, plus AdamW's two fp32 moments per trainable parameter."""
    total, _ = parameter_bytes(model)
    trainable_count = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return total + (8 * trainable_count if with_optimizer else 0)


def check_free_disk(path: str | Path, needed_bytes: int, *, what: str = "a checkpoint") -> None:
    """Raise :class:`TrainingResourceError` when ``path``'s file system has less than ``needed_bytes`` free."""
    path = Path(path)
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    if free < needed_bytes:
        raise TrainingResourceError(
            f"not enough disk space for {what} under {path}: need {needed_bytes / GIB:.2f} GiB, "
            f"{free / GIB:.2f} GiB free. Free space, lower train.save_total_limit, or set train.output_dir on a "
            "larger disk."
        )


def check_gpu_memory(model, *, device_index: int | None = None) -> None:
    """Refuse a full fine-tune whose weights, gradients and AdamW states alone exceed the free GPU memory."""
    import torch

    if not torch.cuda.is_available():
        return
    free, total = torch.cuda.mem_get_info(device_index if device_index is not None else torch.cuda.current_device())
    weights, trainable = parameter_bytes(model)
    trainable_count = sum(p.numel() for p in model.parameters() if p.requires_grad)
    # weights + gradients (same dtype as the trainable weights) + two fp32 AdamW moments; activations come on top
    needed = weights + trainable + 8 * trainable_count
    if needed > free:
        name = torch.cuda.get_device_name()
        raise TrainingResourceError(
            f"the model needs at least {needed / GIB:.1f} GiB of GPU memory for weights, gradients and optimizer "
            f"states (before activations), but {name} has {free / GIB:.1f} of {total / GIB:.1f} GiB free: "
            + OOM_ADVICE
        )


def limit_cpu_threads(threads: int | None) -> None:
    """Cap torch's CPU threads for a CPU run (oversubscribed cores make spinning OpenMP threads 10x slower)."""
    import torch

    if threads is not None and not torch.cuda.is_available():
        torch.set_num_threads(max(1, int(threads)))


@contextlib.contextmanager
def explain_out_of_memory(context: str = "training"):
    """Re-raise a CUDA out-of-memory error as :class:`TrainingResourceError` with the settings to change."""
    import torch

    try:
        yield
    except torch.OutOfMemoryError as exc:
        detail = str(exc).splitlines()[0] if str(exc) else "CUDA out of memory"
        raise TrainingResourceError(f"GPU out of memory during {context} ({detail}). To fit: {OOM_ADVICE}.") from exc
