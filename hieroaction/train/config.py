"""Training configuration as dataclasses, loaded from YAML (shared by SFT and HPL).

Why dataclasses and not trl's own configs: the YAML holds what *we* decide (model source, data, frames, schedule,
rewards) in one reviewed file that is saved beside every checkpoint; trl's ``SFTConfig``/``GRPOConfig`` are built
from it (anything trl-specific that is not modelled here goes through ``train.extra``).

YAML layout (see ``configs/train/*.yaml``)::

    model: {path: preset:tiny, lora: null, freeze_vision: false, dtype: null, attn_implementation: null}
    data:  {train: runs/data/train.jsonl, eval: null, frames_dir: runs/frames, media_root: ...,
            frames: {sampler: uniform, count: 16, size: 112}, max_samples: null, score_range: null}
    train: {output_dir: runs/sft, max_steps: 100, per_device_train_batch_size: 2, learning_rate: 1e-4, save_steps: 50, ...}
    hpl:   {...}   # HPL only: GRPO and reward settings, read by hieroaction.train.hpl
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    """A configuration file or override that does not fit the schema; the message names the key."""


@dataclass
class ModelConfig:
    """Which model to start from: a local model/checkpoint folder, a hub id, or ``preset:tiny|small``."""

    path: str = "preset:tiny"
    lora: dict[str, Any] | None = None  # peft.LoraConfig kwargs; None = full fine-tuning
    freeze_vision: bool = False
    dtype: str | None = None  # default: bf16 on GPU, float32 on CPU
    attn_implementation: str | None = None  # default: flash_attention_2 if installed on GPU, else sdpa


@dataclass
class FramesConfig:
    """How clips are turned into frames (mirrors ``hieroaction.video.extract.FrameSettings``)."""

    sampler: str = "uniform"
    count: int | None = 16
    size: int | list[int] | None = 112  # square side, [height, width], or null for the source size


@dataclass
class DataConfig:
    """Where the samples and their extracted frames are.

    ``train``/``eval``: canonical sample tables (JSON lines of ``Sample``). ``frames_dir``: extracted frames root;
    missing clips are extracted from ``media_root`` first when ``extract_missing``. ``score_range``: the dataset's
    score range for the score reward (default: min/max of the training scores). ``version``: the data version
    recorded beside checkpoints (default: a hash of the sample tables).
    """

    train: str = ""
    eval: str | None = None
    frames_dir: str = "runs/frames"
    media_root: str | None = None
    frames: FramesConfig = field(default_factory=FramesConfig)
    extract_missing: bool = True
    max_samples: int | None = None
    eval_max_samples: int | None = None
    score_range: list[float] | None = None
    version: str | None = None


@dataclass
class TrainConfig:
    """Optimisation, checkpointing and logging shared by SFT and HPL (names follow transformers' TrainingArguments)."""

    output_dir: str = "runs/sft"
    max_steps: int = 100
    num_train_epochs: float = 1.0  # used only when max_steps <= 0
    per_device_train_batch_size: int = 2
    gradient_accumulation_steps: int = 1
    learning_rate: float = 1e-4
    lr_scheduler_type: str = "cosine"
    warmup_steps: float = 0.0  # steps, or a fraction of max_steps when < 1 (transformers 5)
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    save_steps: int = 50
    save_total_limit: int | None = 3
    logging_steps: int = 10
    seed: int = 0
    bf16: bool | None = None  # default: on when the GPU supports it
    gradient_checkpointing: bool = False
    dataloader_num_workers: int = 0
    report_to: list[str] = field(default_factory=list)
    resume: str = "auto"  # auto: resume from the last checkpoint in output_dir; never; or a checkpoint path
    min_free_disk_gb: float | None = None  # default: estimated from the model size
    disable_tqdm: bool = False
    cpu_threads: int | None = None  # torch intra-op threads on a CPU run (1 is fastest on a shared, busy machine)
    extra: dict[str, Any] = field(default_factory=dict)  # passed verbatim to trl's SFTConfig/GRPOConfig


@dataclass
class SFTRunConfig:
    """One SFT run: model + data + training."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class HPLRunConfig(SFTRunConfig):
    """One HPL (GRPO) run. ``hpl`` holds the GRPO, reward and stage settings, interpreted by ``hieroaction.train.hpl``."""

    hpl: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------------------------


def _convert(value: Any, annotation: Any, where: str) -> Any:
    """Coerce a YAML value to ``annotation`` (dataclasses, optionals, lists, dicts and scalars)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if value is None:
            return None
        errors = []
        for arg in args:
            try:
                return _convert(value, arg, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0])
    if dataclasses.is_dataclass(annotation):
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {type(value).__name__}")
        return _build(annotation, value, where)
    if origin is list:
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        (item,) = typing.get_args(annotation) or (Any,)
        return [_convert(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict or annotation is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    if annotation is Any:
        return value
    if annotation is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true/false, got {value!r}")
        return value
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if annotation is float:
        if isinstance(value, bool):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        try:
            return float(value)  # YAML reads 1e-4 as a string
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expected a number, got {value!r}") from None
    if annotation is str:
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return str(value)
    return value


def _build(cls, data: dict[str, Any], where: str):
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"{where or 'config'}: unknown key(s) {unknown}; allowed: {sorted(names)}")
    kwargs = {k: _convert(v, hints[k], f"{where}.{k}" if where else k) for k, v in data.items()}
    return cls(**kwargs)


def _parse_override(text: str) -> tuple[list[str], Any]:
    import yaml

    if "=" not in text:
        raise ConfigError(f"override {text!r} must look like section.key=value")
    key, raw = text.split("=", 1)
    return key.strip().split("."), yaml.safe_load(raw)


def config_from_dict(data: dict[str, Any], cls=SFTRunConfig, overrides: list[str] | tuple[str, ...] = ()):
    """Build ``cls`` from a plain dict plus ``section.key=value`` overrides (values parsed as YAML)."""
    data = json.loads(json.dumps(data or {}))  # deep copy
    for text in overrides:
        keys, value = _parse_override(text)
        node = data
        for key in keys[:-1]:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {text!r}: {key} is not a section")
        node[keys[-1]] = value
    return _build(cls, data, "")


def load_config(path: str | Path, cls=SFTRunConfig, overrides: list[str] | tuple[str, ...] = ()):
    """Read a YAML config file into ``cls`` (``SFTRunConfig`` or ``HPLRunConfig``); errors name the file and key."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    try:
        return config_from_dict(data, cls, overrides)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def save_config(config, path: str | Path) -> None:
    import yaml

    Path(path).write_text(yaml.safe_dump(asdict(config), sort_keys=False))
