"""The training config of one pipeline stage: a shipped YAML pointed at the pipeline's tables, frames and output.

Why in the library: the orchestrator (or any other driver) says *what* to train on and where to write; the schema,
the ``section.key=value`` overrides (the syntax of ``hieroaction train --set``) and their validation stay with the
training code, so a bad override fails here, before any step runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hieroaction.train.config import ConfigError, HPLRunConfig, SFTRunConfig, config_from_dict

STAGE_CONFIGS = {"sft": SFTRunConfig, "hpl": HPLRunConfig}


@dataclass(frozen=True)
class StageInputs:
    """What a pipeline hands one training stage: data, frames, where to start from and where to write."""

    train_table: Path
    frames_dir: Path
    media_root: Path
    frames: dict[str, Any]  # {"sampler", "count", "size"}: the extraction settings the frames were written with
    data_version: str
    output_dir: Path
    start_model: str  # a checkpoint folder or preset:NAME


def stage_config(
    stage: str,
    inputs: StageInputs,
    *,
    base: dict[str, Any] | None = None,
    max_steps: int,
    learning_rate: float | None = None,
    overrides: list[str] | tuple[str, ...] = (),
) -> SFTRunConfig | HPLRunConfig:
    """``base`` (a shipped ``configs/train/<stage>_<preset>.yaml``, read) with the inputs filled in, the step budget,
    optionally the learning rate, then ``overrides``; checkpoints at least once, at the end at the latest."""
    if stage not in STAGE_CONFIGS:
        raise ConfigError(f"unknown stage {stage!r}; expected one of {', '.join(STAGE_CONFIGS)}")
    if max_steps < 1:
        raise ConfigError(f"max_steps must be >= 1, got {max_steps}")
    data: dict[str, Any] = dict(base or {})
    data["model"] = {**(data.get("model") or {}), "path": inputs.start_model}
    data["data"] = {
        **(data.get("data") or {}),
        "train": str(inputs.train_table),
        "eval": None,
        "frames_dir": str(inputs.frames_dir),
        "media_root": str(inputs.media_root),
        "frames": dict(inputs.frames),
        "version": inputs.data_version,
        "max_samples": None,
    }
    train = {**(data.get("train") or {}), "output_dir": str(inputs.output_dir), "max_steps": max_steps,
             "disable_tqdm": True}
    train["save_steps"] = max(1, min(int(train.get("save_steps", max_steps)), max_steps))
    if learning_rate:
        train["learning_rate"] = learning_rate
    data["train"] = train
    return config_from_dict(data, STAGE_CONFIGS[stage], overrides)
