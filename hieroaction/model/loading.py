"""Load a vision-language model and its processor: an offline preset, a local Qwen2.5-VL checkpoint, or a hub id.

Why one function: SFT, HPL, evaluation and the GPU benchmark all need the same choices made the same way — bf16 and
SDPA/flash attention on a GPU, float32 on a CPU, LoRA through peft, optionally a frozen vision tower.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

PRESET_PREFIX = "preset:"


class ModelLoadError(RuntimeError):
    """The path or id does not name a loadable model/checkpoint."""


def resolve_source(path_or_id: str | Path) -> str:
    """A local folder must hold a ``config.json``; a string with no local match is treated as a hub id.

    A path that does not exist is refused (not taken for a hub id) when it is absolute, relative (``./``), has more
    than one ``/``, or its parent folder exists here (``runs/final`` in a folder that has ``runs/``).
    """
    text = str(path_or_id)
    path = Path(text).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ModelLoadError(f"{path} is a file, not a model folder (expected a folder with config.json)")
        if not (path / "config.json").is_file():
            nested = sorted(p.parent.name for p in path.glob("*/config.json"))
            hint = f"; it contains checkpoints {nested} — pass one of those" if nested else ""
            raise ModelLoadError(f"{path} is not a model/checkpoint folder: no config.json{hint}")
        return str(path)
    looks_local = text.startswith((".", "/", "~")) or text.count("/") != 1 or path.parent.is_dir()
    if looks_local:
        raise ModelLoadError(f"model path {text} does not exist")
    return text  # hub id such as Qwen/Qwen2.5-VL-3B-Instruct (needs the hub cache or network)


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def default_dtype(device: str):
    """bf16 on a GPU that supports it (the checkpoints' own dtype), float32 on a CPU (bf16 matmuls are slow there)."""
    import torch

    if device.startswith("cuda") and torch.cuda.is_available() and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


def default_attn_implementation(device: str) -> str:
    """flash_attention_2 when installed on a GPU, else SDPA (both supported by Qwen2.5-VL)."""
    if device.startswith("cuda"):
        try:
            import flash_attn  # noqa: F401

            return "flash_attention_2"
        except ImportError:
            pass
    return "sdpa"


def _as_dtype(dtype):
    import torch

    if dtype is None or isinstance(dtype, torch.dtype):
        return dtype
    names = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32", "half": "float16", "float": "float32"}
    name = names.get(str(dtype), str(dtype))
    value = getattr(torch, name, None)
    if not isinstance(value, torch.dtype):
        raise ValueError(f"unknown dtype {dtype!r}")
    return value


def freeze_vision_tower(model) -> int:
    """Stop gradients into the vision encoder (patch embed, blocks, merger). Returns the number of frozen tensors."""
    visual = None
    for name in ("visual", "model.visual", "base_model.model.model.visual"):
        obj = model
        try:
            for part in name.split("."):
                obj = getattr(obj, part)
        except AttributeError:
            continue
        visual = obj
        break
    if visual is None:
        raise ValueError(f"{type(model).__name__} has no vision tower (.visual) to freeze")
    count = 0
    for param in visual.parameters():
        param.requires_grad_(False)
        count += 1
    return count


def apply_lora(model, lora: dict[str, Any]):
    """Wrap ``model`` with a peft LoRA adapter; ``lora`` holds ``peft.LoraConfig`` keyword arguments.

    Default targets are the language model's attention and MLP projections (not the vision tower, whose linear
    layers have different names), which is the usual recipe for Qwen2.5-VL.
    """
    from peft import get_peft_model

    return get_peft_model(model, lora_config(lora))


def lora_config(lora: dict[str, Any]):
    """The ``peft.LoraConfig`` of ``lora`` with our defaults; ``TypeError``/``ValueError`` for a bad setting (the
    training config check calls it, so ``{r: -1}`` is refused before any model is loaded)."""
    from peft import LoraConfig

    kwargs = dict(lora)
    kwargs.setdefault("r", 16)
    kwargs.setdefault("lora_alpha", 2 * kwargs["r"])
    kwargs.setdefault("lora_dropout", 0.05)
    kwargs.setdefault(
        "target_modules",
        r".*language_model.*\.(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)",
    )
    kwargs.setdefault("task_type", "CAUSAL_LM")
    rank, dropout = kwargs["r"], kwargs["lora_dropout"]
    if isinstance(rank, bool) or not isinstance(rank, int) or rank < 1:  # peft itself finds out only per layer
        raise ValueError(f"r must be a positive integer, got {rank!r}")
    if isinstance(dropout, bool) or not isinstance(dropout, int | float) or not 0 <= dropout < 1:
        raise ValueError(f"lora_dropout must be a number in [0, 1), got {dropout!r}")
    return LoraConfig(**kwargs)


def load_processor(path_or_id: str | Path):
    from transformers import AutoProcessor

    return AutoProcessor.from_pretrained(resolve_source(path_or_id))


def load_model(
    path_or_id: str | Path,
    *,
    lora: dict[str, Any] | None = None,
    freeze_vision: bool = False,
    dtype=None,
    device: str | None = None,
    attn_implementation: str | None = None,
    batch_vision_windows: bool = True,
):
    """Load ``(model, processor)`` from a local model/checkpoint folder or hub id, on ``device`` in ``dtype``.

    ``preset:tiny`` / ``preset:small`` build (or reuse) an offline preset in the cache folder
    (:func:`hieroaction.model.presets.cache_dir`: ``$HIEROACTION_CACHE`` or ``~/.cache/hieroaction``).
    ``dtype`` accepts a torch dtype or a name (``bf16``); default bf16 on a GPU, float32 on a CPU.
    ``device`` defaults to CUDA when available. ``lora``: ``peft.LoraConfig`` kwargs (``{}`` for defaults).
    ``batch_vision_windows``: the vision tower's window attention in one call per layer
    (:mod:`hieroaction.model.vision_attention`).
    Raises :class:`ModelLoadError` when the path is not a model folder.
    """
    from transformers import AutoModelForImageTextToText, AutoProcessor

    text = str(path_or_id)
    if text.startswith(PRESET_PREFIX):
        from hieroaction.model.presets import cached_preset

        path_or_id = cached_preset(text[len(PRESET_PREFIX) :])
    source = resolve_source(path_or_id)
    device = device or default_device()
    torch_dtype = _as_dtype(dtype) or default_dtype(device)
    attn = attn_implementation or default_attn_implementation(device)
    try:
        processor = AutoProcessor.from_pretrained(source)
        # Straight onto the target device in the target dtype: a float32 copy in host memory first would double the
        # host memory and, left to the Trainer to move, keeps training in float32 (the default dtype on a CPU).
        placement = {"device_map": {"": device}} if device.startswith("cuda") else {}
        model = AutoModelForImageTextToText.from_pretrained(
            source, dtype=torch_dtype, attn_implementation=attn, **placement
        )
    except OSError as exc:
        raise ModelLoadError(f"cannot load a model from {source}: {exc}") from exc
    except ValueError as exc:
        if "Unrecognized configuration class" in str(exc) or "model_type" in str(exc):
            raise ModelLoadError(f"{source} is not an image-text-to-text model checkpoint: {exc}") from exc
        raise
    model.to(device)
    if batch_vision_windows:  # one attention call per vision layer instead of one per window (same outputs)
        from hieroaction.model.vision_attention import batch_vision_windows as batch_windows

        batch_windows(model)
    if freeze_vision:
        count = freeze_vision_tower(model)
        log.info("froze %d vision-tower tensors", count)
    if lora is not None:
        model = apply_lora(model, lora)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    log.info(
        "loaded %s on %s (%s, %s): %d parameters, %d trainable", source, device, torch_dtype, attn, total, trainable
    )
    return model, processor
