"""Checkpoints that say where they came from, and resuming from the last complete one.

Why: a checkpoint is only useful if one can tell which config, which data and which code produced it, so each
``checkpoint-N`` folder gets ``hieroaction_run.json`` (data version, code version, library versions, step) and the
run's ``config.yaml`` beside the weights. transformers writes checkpoints in place, not atomically, so a run killed
while saving leaves a partial folder; :func:`find_resume_checkpoint` skips (and sets aside) such folders.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from hieroaction.model.artifacts import CONFIG_FILE, RUN_INFO_FILE
from hieroaction.train.capacity import check_free_disk

log = logging.getLogger(__name__)

TRAINER_STATE_FILE = "trainer_state.json"
_CHECKPOINT_RE = re.compile(r"^checkpoint-(\d+)$")


def library_versions() -> dict[str, str]:
    import importlib.metadata as md

    versions = {}
    for name in ("torch", "transformers", "trl", "accelerate", "peft", "datasets"):
        try:
            versions[name] = md.version(name)
        except md.PackageNotFoundError:
            pass
    return versions


def is_rank_zero() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def checkpoint_step(path: Path) -> int | None:
    match = _CHECKPOINT_RE.match(path.name)
    return int(match.group(1)) if match else None


def is_complete_checkpoint(path: Path) -> bool:
    """transformers writes ``trainer_state.json`` last; a parsable one with the folder's step marks a whole save."""
    try:
        state = json.loads((path / TRAINER_STATE_FILE).read_text())
    except (OSError, ValueError):
        return False
    has_weights = any(path.glob("*.safetensors")) or any(path.glob("*.bin"))
    return has_weights and state.get("global_step") == checkpoint_step(path)


def find_resume_checkpoint(output_dir: str | Path, *, set_aside_incomplete: bool = True) -> Path | None:
    """The newest complete ``checkpoint-N`` in ``output_dir``; incomplete newer ones are renamed ``*.incomplete-T``
    (by rank 0 only) so they neither get resumed nor confuse checkpoint rotation."""
    output_dir = Path(output_dir)
    if not output_dir.is_dir():
        return None
    candidates = sorted(
        (p for p in output_dir.iterdir() if p.is_dir() and checkpoint_step(p) is not None),
        key=lambda p: checkpoint_step(p),
        reverse=True,
    )
    for path in candidates:
        if is_complete_checkpoint(path):
            return path
        log.warning("checkpoint %s is incomplete (killed while saving?); skipping it", path)
        if set_aside_incomplete and is_rank_zero():
            path.rename(path.with_name(f"{path.name}.incomplete-{int(time.time())}"))
    return None


def restore_checkpoint_weights(model, checkpoint: str | Path) -> bool:
    """Load the weights of ``checkpoint`` into ``model`` in place; returns False where the Trainer's own loading works.

    Why: ``save_pretrained`` writes Qwen2.5-VL weights under the original checkpoint's key names (``visual.*``,
    ``model.layers.*``) while transformers 5's Trainer resumes with a plain ``load_state_dict`` on the new names
    (``model.visual.*``, ``model.language_model.*``): every key misses, a warning scrolls by, and training silently
    continues from the *initial* weights with the checkpoint's optimizer state. ``from_pretrained`` applies the key
    mapping, so the weights are read through it and copied into the live parameters (the optimizer keeps its
    references). PEFT adapters are loaded correctly by the Trainer and are left to it.
    """
    if hasattr(model, "peft_config"):
        return False
    checkpoint = Path(checkpoint)
    if not any(checkpoint.glob("*.safetensors")):
        return False
    if getattr(model, "_hieroaction_restored_from", None) == str(checkpoint):
        return True  # already restored by the trainer (see HieroSFTTrainer)
    dtype = next(model.parameters()).dtype
    loaded = type(model).from_pretrained(str(checkpoint), dtype=dtype)
    model.load_state_dict(loaded.state_dict(), strict=True)
    del loaded
    model._hieroaction_restored_from = str(checkpoint)
    return True


def write_run_info(directory: str | Path, info: dict[str, Any], config_yaml: str) -> None:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / CONFIG_FILE).write_text(config_yaml)
    (directory / RUN_INFO_FILE).write_text(json.dumps(info, indent=2, default=str))


class RunInfoCallback(TrainerCallback):
    """Writes config, data version and code version into every checkpoint; re-checks free disk before each save.

    The whole run's disk need was planned before step 1 (:func:`hieroaction.train.runner.check_before_training`,
    which sets ``checkpoint_bytes``); the check before each save only catches a disk that filled up meanwhile.
    """

    def __init__(self, run_info: dict[str, Any], config_yaml: str):
        self.run_info = run_info
        self.config_yaml = config_yaml
        self.checkpoint_bytes = 0

    resume_from: str | None = None  # set by the entry point to the checkpoint passed to ``trainer.train``

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        if state.global_step > 0 and model is not None and not is_sharded(args):
            checkpoint = Path(self.resume_from or Path(args.output_dir) / f"checkpoint-{state.global_step}")
            if restore_checkpoint_weights(model, checkpoint):
                log.info("restored the weights of %s (step %d)", checkpoint, state.global_step)

    def on_step_end(self, args, state, control, **kwargs):
        if control.should_save and args.should_save:
            check_free_disk(args.output_dir, self.checkpoint_bytes, what=f"checkpoint-{state.global_step}")

    def on_save(self, args, state, control, **kwargs):
        if not args.should_save:
            return
        directory = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        info = dict(self.run_info, global_step=state.global_step, saved_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        write_run_info(directory, info, self.config_yaml)
        log.info("saved %s (step %d of %d)", directory, state.global_step, state.max_steps)


def is_sharded(args) -> bool:
    """FSDP/DeepSpeed load their own (sharded) checkpoints; a full state dict cannot be copied into them."""
    return bool(getattr(args, "fsdp", None)) or getattr(args, "deepspeed", None) is not None
