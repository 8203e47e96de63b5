"""The machine's capacity for a training run: clear errors when the disk or the GPU memory is too small, instead of a
crash hours in or a corrupt checkpoint (not to be confused with the orchestration's Dagster resources).

Why estimates and checks before the fact: a checkpoint that fails half-written leaves nothing to resume from, and a
CUDA out-of-memory traceback says nothing about which setting to change.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
from dataclasses import dataclass
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


def trainable_count(model) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def optimizer_state_bytes(model, optimizer: str) -> int:
    """Bytes of the optimizer's state: two AdamW moments per trainable parameter, float32 for ``adamw_sr`` (see
    :mod:`hieroaction.train.optim`), the parameter's own dtype for torch's AdamW."""
    if optimizer == "adamw_sr":
        return 8 * trainable_count(model)
    return sum(2 * p.numel() * p.element_size() for p in model.parameters() if p.requires_grad)


def is_adapter_model(model) -> bool:
    return hasattr(model, "peft_config")


def checkpoint_bytes(model, optimizer: str = "adamw_torch", *, with_optimizer: bool = True) -> int:
    """Size of one ``checkpoint-N`` as the Trainer writes it: the weights in their training dtype (only the adapter
    for a LoRA model), plus the optimizer state unless checkpoints hold the model only."""
    total, trainable = parameter_bytes(model)
    weights = trainable if is_adapter_model(model) else total
    return weights + (optimizer_state_bytes(model, optimizer) if with_optimizer else 0)


def final_model_bytes(model) -> int:
    """Size of the final model: the (merged) weights in the training dtype, plus the adapter for a LoRA model."""
    total, trainable = parameter_bytes(model)
    return total + (trainable if is_adapter_model(model) else 0)


# transformers writes each checkpoint's RNG/scheduler/trainer state and the processor's files beside the weights.
SMALL_FILES_BYTES = 64 * 1024**2


@dataclass
class DiskPlan:
    """What the run will write, and the most it will hold on disk at once (beyond what is already there).

    Checkpoint rotation (``save_total_limit``) deletes old checkpoints only after the new one is written, so while
    saving, ``limit + 1`` checkpoints exist; the final model is written while the last ``limit`` checkpoints are kept.
    Checkpoints of this run already on disk (a resume) count toward both and need no new space.
    """

    checkpoint_bytes: int
    final_bytes: int
    saves: int
    limit: int | None
    existing_checkpoints: int = 0
    existing_bytes: int = 0

    @property
    def peak_bytes(self) -> int:
        held = self.existing_checkpoints + self.saves
        cap = held if self.limit is None else min(self.limit, held)
        while_saving = (min(held, cap + 1) if self.saves else 0) * self.checkpoint_bytes
        at_end = cap * self.checkpoint_bytes + self.final_bytes
        return max(while_saving, at_end, self.existing_bytes) - self.existing_bytes + SMALL_FILES_BYTES

    def describe(self) -> str:
        return (
            f"{self.saves} checkpoint(s) of {self.checkpoint_bytes / GIB:.2f} GiB, keep {self.limit or 'all'}, "
            f"final model {self.final_bytes / GIB:.2f} GiB, needs {self.peak_bytes / GIB:.2f} GiB free"
        )


def free_disk_bytes(path: str | Path) -> int:
    """Free bytes on the file system that holds ``path`` (or its nearest existing parent)."""
    probe = Path(path)
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return shutil.disk_usage(probe).free


def check_free_disk(path: str | Path, needed_bytes: int, *, what: str = "a checkpoint") -> None:
    """Raise :class:`TrainingResourceError` when ``path``'s file system has less than ``needed_bytes`` free."""
    free = free_disk_bytes(path)
    if free < needed_bytes:
        raise TrainingResourceError(
            f"not enough disk space for {what} under {path}: need {needed_bytes / GIB:.2f} GiB, "
            f"{free / GIB:.2f} GiB free. Free space, lower train.save_total_limit, set train.save_optimizer: false "
            "(weights-only checkpoints), or set train.output_dir on a larger disk."
        )


def check_gpu_memory(model, optimizer: str = "adamw_torch", *, device_index: int | None = None,
                     extra_bytes: int = 0, extra_what: str = "") -> None:
    """Refuse a run whose weights, gradients and optimizer states alone (plus ``extra_bytes`` the run keeps beside
    them, e.g. a weight average, named by ``extra_what``) exceed the free GPU memory."""
    import torch

    if not torch.cuda.is_available():
        return
    free, total = torch.cuda.mem_get_info(device_index if device_index is not None else torch.cuda.current_device())
    weights, trainable = parameter_bytes(model)
    on_gpu = any(p.is_cuda for p in model.parameters())
    # weights (unless already resident) + gradients (same dtype as the trainable weights) + optimizer states;
    # activations come on top
    needed = (0 if on_gpu else weights) + trainable + optimizer_state_bytes(model, optimizer) + extra_bytes
    if needed > free:
        name = torch.cuda.get_device_name()
        raise TrainingResourceError(
            f"the run needs at least {needed / GIB:.1f} GiB more GPU memory for {'' if on_gpu else 'weights, '}"
            f"gradients{', ' + extra_what if extra_what else ''} and optimizer states (before activations), "
            f"but {name} has {free / GIB:.1f} of "
            f"{total / GIB:.1f} GiB free: " + OOM_ADVICE
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
