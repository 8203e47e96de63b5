"""An exponential moving average of the trainable weights, saved as the final model (``train.weight_average``).

Why: the small preset's SFT ends where its last few hundred noisy updates left it, and how well that one point keeps
the answer grammar varies from seed to seed (benchmarks/LEARNING.md). An average of the iterates along the end of
the trajectory sits nearer the middle of the region they wander in (Polyak averaging; Izmailov et al. 2018, "Averaging
Weights Leads to Wider Optima"; Kaddour 2022, "Stop Wasting My Time! Saving Days of ImageNet and BERT Training with
Latest Weight Averaging"). It costs one float32 copy of the trainable weights and one in-place update per step.

Settings (``train.weight_average``, absent = off)::

    weight_average: {decay: 0.998, start: 0.5}

``decay``: the average's weight on its past; it covers roughly the last ``1 / (1 - decay)`` steps. ``start``: the
fraction of ``max_steps`` (or a step number, when >= 1) before which nothing is averaged, so the early, far-off
weights never enter it. The first update after ``start`` copies the weights; later ones blend.

The average travels with every checkpoint (``weight_average.safetensors`` beside the weights, with the number of
updates it holds), so a resumed run continues the same average and ends with the same final weights as one that was
never stopped. At the end of training the average replaces the trainable weights in place, before the final model
is saved: the final model *is* the average, loadable like any other.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import TrainerCallback

log = logging.getLogger(__name__)

AVERAGE_FILE = "weight_average.safetensors"
UPDATES_KEY = "__updates__"


@dataclass(frozen=True)
class WeightAverageSettings:
    """What ``train.weight_average`` holds, checked."""

    decay: float
    start: float = 0.0

    @classmethod
    def from_mapping(cls, data: dict, key: str = "train.weight_average") -> WeightAverageSettings:
        unknown = set(data) - {"decay", "start"}
        if unknown:
            raise ValueError(f"{key}: unknown key(s) {sorted(unknown)}; expected decay and start")
        if "decay" not in data:
            raise ValueError(f"{key}.decay: required (e.g. 0.998)")
        decay, start = data["decay"], data.get("start", 0.0)
        for name, value in (("decay", decay), ("start", start)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
                raise ValueError(f"{key}.{name}: must be a number, got {value!r}")
        if not 0.0 < decay < 1.0:
            raise ValueError(f"{key}.decay: must be in (0, 1), got {decay!r}")
        if start < 0:
            raise ValueError(f"{key}.start: must be >= 0 (a fraction of max_steps, or a step), got {start!r}")
        return cls(float(decay), float(start))

    def start_step(self, max_steps: int) -> int:
        """The first step whose weights enter the average."""
        return int(self.start) if self.start >= 1 else int(round(self.start * max_steps))


def trainable_parameters(model: torch.nn.Module) -> dict[str, torch.nn.Parameter]:
    return {name: p for name, p in model.named_parameters() if p.requires_grad}


def average_bytes(model: torch.nn.Module) -> int:
    """Size of the average in a checkpoint: float32 copies of the trainable weights."""
    return sum(4 * p.numel() for p in trainable_parameters(model).values())


class WeightAverage:
    """The running average itself, apart from the Trainer: updated from, and copied into, one model's weights."""

    def __init__(self, model: torch.nn.Module, decay: float):
        self.decay = decay
        self.params = trainable_parameters(model)
        self.shadow = {name: p.detach().float().clone() for name, p in self.params.items()}
        self.updates = 0

    @torch.no_grad()
    def update(self) -> None:
        weight = 1.0 if self.updates == 0 else 1.0 - self.decay
        for name, param in self.params.items():
            self.shadow[name].lerp_(param.detach().float(), weight)
        self.updates += 1

    @torch.no_grad()
    def copy_to_model(self) -> None:
        for name, param in self.params.items():
            param.copy_(self.shadow[name].to(param.dtype))

    def save(self, directory: Path) -> None:
        from safetensors.torch import save_file

        tensors = {name: t.contiguous() for name, t in self.shadow.items()}
        tensors[UPDATES_KEY] = torch.tensor([self.updates], dtype=torch.int64)
        save_file(tensors, str(Path(directory) / AVERAGE_FILE))

    def load(self, directory: Path) -> bool:
        """Continue the average a checkpoint holds; False when it holds none. A file that does not match this model's
        trainable weights is refused (``ValueError`` naming the file and the first differing name)."""
        from safetensors.torch import load_file

        path = Path(directory) / AVERAGE_FILE
        if not path.is_file():
            return False
        try:
            tensors = load_file(str(path))
        except Exception as exc:  # safetensors raises its own error types for a corrupt header or body
            raise ValueError(f"{path}: not a readable safetensors file ({' '.join(str(exc).split())})") from None
        updates = tensors.pop(UPDATES_KEY, None)
        if updates is None or updates.numel() != 1:
            raise ValueError(f"{path}: {UPDATES_KEY}: missing")
        for name in sorted(set(tensors) ^ set(self.shadow)):
            raise ValueError(f"{path}: {name}: {'not a trainable weight' if name in tensors else 'missing'}")
        for name, tensor in tensors.items():
            if tensor.shape != self.shadow[name].shape:
                raise ValueError(f"{path}: {name}: shape {tuple(tensor.shape)}, the model's is {tuple(self.shadow[name].shape)}")
        for name, tensor in tensors.items():
            self.shadow[name].copy_(tensor.float())
        self.updates = int(updates.item())
        return True


class WeightAverageCallback(TrainerCallback):
    """Keeps a :class:`WeightAverage` through a Trainer run and leaves the model holding it at the end."""

    resume_from: str | None = None  # set by the entry point to the checkpoint passed to ``trainer.train``

    def __init__(self, settings: WeightAverageSettings):
        self.settings = settings
        self.average: WeightAverage | None = None
        self.start_step = 0

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        self.average = WeightAverage(model, self.settings.decay)
        self.start_step = self.settings.start_step(state.max_steps)
        if state.global_step > 0:
            from hieroaction.model.loading import ModelLoadError

            checkpoint = Path(self.resume_from or Path(args.output_dir) / f"checkpoint-{state.global_step}")
            try:
                loaded = self.average.load(checkpoint)
            except ValueError as exc:
                raise ModelLoadError(str(exc)) from None
            if loaded:
                log.info("weight average: continuing the %d updates of %s", self.average.updates, checkpoint)
            elif state.global_step > self.start_step:
                raise ModelLoadError(f"{checkpoint / AVERAGE_FILE}: missing, so the average of steps "
                                     f"{self.start_step + 1}-{state.global_step} cannot be continued")

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step > self.start_step:
            self.average.update()

    def on_save(self, args, state, control, **kwargs):
        if args.should_save and self.average is not None:
            self.average.save(Path(args.output_dir) / f"checkpoint-{state.global_step}")

    def on_train_end(self, args, state, control, **kwargs):
        if self.average is not None and self.average.updates:
            self.average.copy_to_model()
            log.info("weight average: the final weights are the average of %d steps (decay %g, from step %d)",
                     self.average.updates, self.settings.decay, self.start_step + 1)
