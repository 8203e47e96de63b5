"""Training configuration as dataclasses, loaded from YAML (shared by SFT and HPL).

Why dataclasses and not trl's own configs: the YAML holds what *we* decide (model source, data, frames, schedule,
rewards) in one reviewed file that is saved beside every checkpoint; trl's ``SFTConfig``/``GRPOConfig`` are built
from it (anything trl-specific that is not modelled here goes through ``train.extra``).

YAML layout (see ``configs/train/*.yaml``)::

    model: {path: preset:tiny, lora: null, freeze_vision: false, dtype: null, attn_implementation: null}
    data:  {train: runs/data/train.jsonl, eval: null, frames_dir: runs/frames, media_root: ...,
            frames: {sampler: uniform, count: 16, size: 112}, max_samples: null, score_range: null}
    train: {output_dir: runs/sft, max_steps: 100, per_device_train_batch_size: 2, learning_rate: 1e-4, save_steps: 50, ...}
    hpl:   {num_generations: 4, ..., rewards: {...}}   # HPL only: GRPO and reward settings (HPLSettings)

Two kinds of check, both before any data or model is touched: :func:`config_from_dict` checks every value (types,
ranges, finite numbers, known samplers and presets, unknown keys named); :func:`check_inputs` checks what the config
points at on disk (the sample tables, the model folder, the output folder). Either raises :class:`ConfigError`
with one line naming the file and key.
"""

from __future__ import annotations

import dataclasses
import json
import math
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
    """The YAML form of :class:`hieroaction.video.FrameSettings` (the one frame settings type); :meth:`settings`
    builds it, so extraction, training and evaluation read the same sampler, count and size."""

    sampler: str = "uniform"
    count: int | None = 16
    size: int | list[int] | None = 112  # square side, [height, width], or null for the source size

    def settings(self):
        """THE frame settings this section describes (``ValueError`` naming a bad value)."""
        from hieroaction.video.sampling import FrameSettings

        return FrameSettings.from_mapping(asdict(self))


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
    save_optimizer: bool = True  # false: checkpoints hold the weights only (resuming restarts the optimizer moments)
    keep_checkpoints: bool = True  # false: delete checkpoint-N folders once the final model is saved
    logging_steps: int = 10
    seed: int = 0
    bf16: bool | None = None  # default: on when the GPU supports it
    gradient_checkpointing: bool = False
    dataloader_num_workers: int | None = None  # batch-building processes; default 4 on a GPU, 0 on a CPU
    report_to: list[str] = field(default_factory=list)
    resume: str = "auto"  # auto: resume from the last checkpoint in output_dir; never; or a checkpoint path
    min_free_disk_gb: float | None = None  # default: estimated from the model size
    disable_tqdm: bool = False
    cpu_threads: int | None = None  # torch intra-op threads on a CPU run (1 is fastest on a shared, busy machine)
    optimizer: str = "auto"  # auto | adamw_torch | adamw_sr | sgd (see hieroaction.train.optim)
    sgd_momentum: float = 0.0  # momentum of the sgd optimizer
    optimizer_state: str | None = None  # a checkpoint-N folder: start with its optimizer's moments (hieroaction.train.optim)
    weight_average: dict[str, Any] | None = None  # {decay, start}: save the weights' running average (train.weight_average)
    answer_weights: dict[str, float] | None = None  # SFT only, {part: weight}: loss weight of an answer part's tokens
    answer_noise: float | dict[str, float] = 0.0  # SFT only: share of the answer tokens the model reads replaced
    # by random ones, for the whole answer or {part: rate} (train.answer_noise)
    answer_noise_until: float = 1.0  # SFT only: the noise stops after this share of max_steps (1: never stops)
    award_loss: float | None = None  # SFT only: weight of the awards' ordinal loss (train.award_loss)
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
class HPLSettings:
    """The ``hpl:`` section: GRPO sampling/optimisation settings and the reward configuration.

    Every field but ``rewards``, ``fast_generation``, ``credit``, ``baseline``, ``sft_weight`` and
    ``allow_cut_answers`` is a trl ``GRPOConfig`` field of the same name and
    passes to it by name; anything else trl accepts goes through ``train.extra``. ``rewards`` is a
    :class:`hieroaction.rewards.RewardConfig` mapping. ``fast_generation`` generates the rollouts with
    :mod:`hieroaction.model.fast_generation` (each clip's prompt prefilled once, a lean decode loop; the same tokens as
    HF ``generate``) instead of HF ``generate``. ``credit``: ``sequence`` (one advantage per answer, trl's) or
    ``level`` (each token credited with the reward levels its part of the answer decides:
    :mod:`hieroaction.rewards.credit`). ``baseline``: what each sampled answer's reward is compared with, ``group``
    (the mean of the clip's answers, trl's) or ``greedy`` (the clip's greedy answer, decoded too; needs
    ``fast_generation``). ``sft_weight``: weight of the gold answers' SFT loss added to the GRPO loss
    (0: GRPO alone; :class:`hieroaction.train.video_grpo.VideoGRPOTrainer`). ``allow_cut_answers``: run although
    ``max_completion_length`` is shorter than some training sample's complete target answer (plumbing tests only:
    such answers are cut off and scored as broken; :mod:`hieroaction.train.answer_budget`); otherwise refused
    before the first step.
    """

    num_generations: int = 4
    max_completion_length: int = 256
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int | None = None
    beta: float = 0.0
    epsilon: float = 0.2
    loss_type: str = "dapo"
    scale_rewards: str = "group"
    num_iterations: int = 1
    steps_per_generation: int | None = None
    mask_truncated_completions: bool = False
    log_completions: bool = False
    fast_generation: bool = False
    credit: str = "sequence"
    baseline: str = "group"
    sft_weight: float = 0.0
    allow_cut_answers: bool = False
    rewards: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: HPLSettings | dict[str, Any] | None) -> HPLSettings:
        """Typed and checked settings from a mapping (an ``HPLSettings`` passes through, checked again)."""
        if isinstance(data, HPLSettings):
            data = asdict(data)
        settings = _build(cls, dict(data or {}), "hpl")
        _check_hpl(settings)
        return settings

    def reward_config(self):
        from hieroaction.rewards import RewardConfig

        try:
            return RewardConfig.from_dict(self.rewards)
        except (ValueError, TypeError, KeyError) as exc:
            raise ConfigError(f"hpl.rewards: {exc}") from None

    def grpo_fields(self) -> dict[str, Any]:
        """The fields trl's ``GRPOConfig`` takes by the same name (unset optional ones left to trl's defaults)."""
        own = ("rewards", "fast_generation", "credit", "baseline", "sft_weight", "allow_cut_answers")
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in own}
        if values["steps_per_generation"] is None:
            del values["steps_per_generation"]
        return values


@dataclass
class HPLRunConfig(SFTRunConfig):
    """One HPL (GRPO) run: model + data + training + the typed ``hpl`` section."""

    hpl: HPLSettings = field(default_factory=HPLSettings)


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
            number = float(value)  # YAML reads 1e-4 as a string
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expected a number, got {value!r}") from None
        if not math.isfinite(number):
            raise ConfigError(f"{where}: expected a finite number, got {value!r}")
        return number
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
    config = _build(cls, data, "")
    check_values(config)
    return config


# ---------------------------------------------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------------------------------------------

DTYPE_NAMES = ("bf16", "bfloat16", "fp16", "float16", "half", "fp32", "float32", "float")
OPTIMIZERS = ("auto", "adamw_torch", "adamw_sr", "sgd")


def _at_least(value: float | int | None, minimum: float, key: str, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if value is None or value < minimum:
        raise ConfigError(f"{key}: must be >= {minimum:g}, got {value!r}")


def check_values(config: SFTRunConfig) -> None:
    """Every value in range: what a typo or a hostile file could otherwise turn into a traceback mid-run."""
    from hieroaction.model.presets import PRESETS

    m, d, t = config.model, config.data, config.train
    if m.lora is not None:
        from hieroaction.model.loading import lora_config

        try:
            lora_config(m.lora)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"model.lora: {' '.join(str(exc).split())}") from None
    if m.path.startswith("preset:") and m.path[len("preset:") :] not in PRESETS:
        raise ConfigError(f"model.path: unknown preset {m.path!r}; choose one of {['preset:' + p for p in PRESETS]}")
    if not m.path.strip():
        raise ConfigError("model.path: a model folder, hub id or preset:NAME is required")
    if m.dtype is not None and m.dtype not in DTYPE_NAMES:
        raise ConfigError(f"model.dtype: unknown dtype {m.dtype!r}; choose one of {list(DTYPE_NAMES)}")
    try:
        d.frames.settings()
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"data.frames: {exc}") from None
    _at_least(d.max_samples, 1, "data.max_samples", optional=True)
    _at_least(d.eval_max_samples, 1, "data.eval_max_samples", optional=True)
    if d.score_range is not None and (len(d.score_range) != 2 or not d.score_range[0] < d.score_range[1]):
        raise ConfigError(f"data.score_range: must be [min, max] with min < max, got {d.score_range}")
    if t.max_steps <= 0 and t.num_train_epochs <= 0:
        raise ConfigError("train.max_steps: must be > 0 (or set train.num_train_epochs > 0)")
    for key in ("per_device_train_batch_size", "gradient_accumulation_steps", "save_steps", "logging_steps"):
        _at_least(getattr(t, key), 1, f"train.{key}")
    _at_least(t.save_total_limit, 1, "train.save_total_limit", optional=True)
    _at_least(t.cpu_threads, 1, "train.cpu_threads", optional=True)
    _at_least(t.dataloader_num_workers, 0, "train.dataloader_num_workers", optional=True)
    for key in ("warmup_steps", "weight_decay", "max_grad_norm"):
        _at_least(getattr(t, key), 0, f"train.{key}")
    _at_least(t.min_free_disk_gb, 0, "train.min_free_disk_gb", optional=True)
    if not t.learning_rate > 0:
        raise ConfigError(f"train.learning_rate: must be > 0, got {t.learning_rate!r}")
    if not str(t.output_dir).strip():
        raise ConfigError("train.output_dir: a folder for checkpoints and the final model is required")
    if t.optimizer not in OPTIMIZERS:
        raise ConfigError(f"train.optimizer: unknown optimizer {t.optimizer!r}; choose one of {list(OPTIMIZERS)}")
    if not 0 <= t.sgd_momentum < 1:
        raise ConfigError(f"train.sgd_momentum: must be in [0, 1), got {t.sgd_momentum!r}")
    if t.weight_average is not None:
        from hieroaction.train.weight_average import WeightAverageSettings

        try:
            WeightAverageSettings.from_mapping(t.weight_average)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    if t.answer_weights is not None:
        from hieroaction.train.answer_weights import check_answer_weights

        _check_sft_only(config, "train.answer_weights", t.answer_weights, check_answer_weights,
                        "HPL's loss weighs tokens by their reward; see hpl.credit")
    if t.answer_noise:
        from hieroaction.train.answer_noise import check_answer_noise

        _check_sft_only(config, "train.answer_noise", t.answer_noise, check_answer_noise,
                        "HPL trains on the model's own answers")
    if t.answer_noise_until != 1.0:
        from hieroaction.train.answer_noise import check_noise_until

        _check_sft_only(config, "train.answer_noise_until", t.answer_noise_until,
                        lambda until: check_noise_until(until, t.answer_noise), "HPL trains on the model's own answers")
    if t.award_loss is not None:
        from hieroaction.train.award_loss import check_award_loss

        _check_sft_only(config, "train.award_loss", t.award_loss, check_award_loss,
                        "HPL's reward scores the awards; see rewards.weights")
    if isinstance(config, HPLRunConfig):
        _check_hpl(config.hpl)


def _check_sft_only(config: SFTRunConfig, key: str, value, check, why: str) -> None:
    """An SFT-only training option: refused in an HPL config, else checked by ``check`` (one line naming the key)."""
    if isinstance(config, HPLRunConfig):
        raise ConfigError(f"{key}: SFT only ({why})")
    try:
        check(value)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _check_hpl(settings: HPLSettings) -> None:
    _at_least(settings.num_generations, 2, "hpl.num_generations")  # GRPO compares answers within a group
    _at_least(settings.max_completion_length, 1, "hpl.max_completion_length")
    _at_least(settings.num_iterations, 1, "hpl.num_iterations")
    _at_least(settings.steps_per_generation, 1, "hpl.steps_per_generation", optional=True)
    _at_least(settings.beta, 0, "hpl.beta")
    _at_least(settings.sft_weight, 0, "hpl.sft_weight")
    _at_least(settings.top_k, 0, "hpl.top_k", optional=True)
    if not settings.temperature > 0:
        raise ConfigError(f"hpl.temperature: must be > 0, got {settings.temperature!r}")
    if not 0 < settings.top_p <= 1:
        raise ConfigError(f"hpl.top_p: must be in (0, 1], got {settings.top_p!r}")
    if settings.credit not in ("sequence", "level"):
        raise ConfigError(f"hpl.credit: must be 'sequence' or 'level', got {settings.credit!r}")
    if settings.baseline not in ("group", "greedy"):
        raise ConfigError(f"hpl.baseline: must be 'group' or 'greedy', got {settings.baseline!r}")
    if settings.baseline == "greedy" and not settings.fast_generation:
        raise ConfigError("hpl.baseline: 'greedy' decodes the greedy answers with the fast generation path: set "
                          "hpl.fast_generation: true")
    settings.reward_config()


def check_inputs(config: SFTRunConfig) -> None:
    """What the config points at exists and is usable: sample tables, model folder, output folder, resume point.

    Called by every training entry point right after loading, before frames are extracted or a model is loaded.
    """
    from hieroaction.model.loading import ModelLoadError, resolve_source

    d, t = config.data, config.train
    _check_table(d.train, "data.train", required=True)
    _check_table(d.eval, "data.eval", required=False)
    if d.media_root and d.extract_missing and not Path(d.media_root).is_dir():
        raise ConfigError(f"data.media_root: folder {d.media_root} does not exist")
    frames_dir = Path(d.frames_dir)
    if frames_dir.exists() and not frames_dir.is_dir():
        raise ConfigError(f"data.frames_dir: {frames_dir} is a file, not a folder")
    if not config.model.path.startswith("preset:"):
        try:
            resolve_source(config.model.path)
        except ModelLoadError as exc:
            raise ConfigError(f"model.path: {exc}") from None
    out = Path(t.output_dir)
    for parent in (out, *out.parents):
        if parent.exists():
            if not parent.is_dir():
                raise ConfigError(f"train.output_dir: {parent} is a file, not a folder")
            break
    if t.resume not in ("auto", "never") and not Path(t.resume).is_dir():
        raise ConfigError(f"train.resume: checkpoint {t.resume} does not exist (or use auto / never)")


def _check_table(path: str | None, key: str, *, required: bool) -> None:
    if path is None or not str(path).strip():
        if required:
            raise ConfigError(f"{key}: path of the samples (JSONL/CSV) is required")
        return
    table = Path(path)
    if not table.is_file():
        what = "a folder, not a file" if table.is_dir() else "missing"
        raise ConfigError(f"{key}: sample table {table} is {what}")
    from hieroaction.datasets.manifest import ManifestError, manifest_format

    try:
        manifest_format(table)
    except ManifestError as exc:
        raise ConfigError(f"{key}: {exc}") from None
    try:
        with table.open("rb") as fh:
            blank = not any(line.strip() for line in fh)
    except OSError as exc:
        raise ConfigError(f"{key}: cannot read {table}: {exc.strerror or exc}") from None
    if blank:
        raise ConfigError(f"{key}: sample table {table} is empty")


def load_config(path: str | Path, cls=SFTRunConfig, overrides: list[str] | tuple[str, ...] = ()):
    """Read a YAML config file into ``cls`` (``SFTRunConfig`` or ``HPLRunConfig``); errors name the file and key."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} {'is a folder' if path.is_dir() else 'does not exist'}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid YAML: {' '.join(str(exc).split())}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    try:
        return config_from_dict(data, cls, overrides)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def save_config(config, path: str | Path) -> None:
    import yaml

    Path(path).write_text(yaml.safe_dump(asdict(config), sort_keys=False))
