"""Open a checkpoint for inference, or say in one line why it is not one.

What counts as a HieroAction checkpoint: a folder with a ``config.json`` of an image-text-to-text model, a processor
that takes video, and the marker the project writes beside the weights — ``hieroaction_run.json`` (written by SFT/HPL
training into every checkpoint) or ``hieroaction_preset.json`` (an offline preset). ``preset:tiny`` / ``preset:small``
name a preset that is built on demand. Baselines such as a zero-shot base model need only be a loadable video VLM
(``require_marker=False``), e.g. a local Qwen2.5-VL folder or a hub id.
"""

from __future__ import annotations

import json
from pathlib import Path

from hieroaction.model.artifacts import CONFIG_FILE, MARKER_FILES, grammar_mismatch

PRESET_PREFIX = "preset:"


class CheckpointError(ValueError):
    """The path is missing or is not a checkpoint this project can run; the message is one line."""


def check_checkpoint(path_or_id: str | Path, *, require_marker: bool = True) -> str:
    """Validate without loading weights. Returns the string to pass to ``load_model``."""
    text = str(path_or_id)
    if text.startswith(PRESET_PREFIX):
        from hieroaction.model.presets import PRESETS

        if text[len(PRESET_PREFIX) :] not in PRESETS:
            raise CheckpointError(f"unknown preset {text!r}; choose one of {', '.join(map(PRESET_PREFIX.__add__, PRESETS))}")
        return text
    path = Path(text).expanduser()
    if not path.exists():
        if require_marker or text.startswith((".", "/", "~")) or text.count("/") != 1:
            raise CheckpointError(f"checkpoint not found: {text}")
        return text  # a hub id for a zero-shot baseline
    if not path.is_dir():
        raise CheckpointError(f"not a HieroAction checkpoint: {path} is a file, expected a checkpoint folder")
    config_file = path / "config.json"
    if not config_file.is_file():
        nested = sorted(p.parent.name for p in path.glob("*/config.json"))
        hint = f" (it holds checkpoints: {', '.join(nested[:5])})" if nested else ""
        raise CheckpointError(f"not a HieroAction checkpoint: {path} has no config.json{hint}")
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"not a HieroAction checkpoint: {config_file} is not valid JSON ({exc})") from None
    if not isinstance(config, dict) or "vision_config" not in config:
        kind = config.get("model_type") if isinstance(config, dict) else None
        raise CheckpointError(f"not a HieroAction checkpoint: {path} holds a {kind or 'non-vision'} model, not a video VLM")
    if require_marker and not any((path / name).is_file() for name in MARKER_FILES):
        raise CheckpointError(
            f"not a HieroAction checkpoint: {path} has no {' or '.join(MARKER_FILES)} (train it with hieroaction train)"
        )
    mismatch = grammar_mismatch(path)
    if mismatch:
        raise CheckpointError(mismatch)
    return str(path)


def open_checkpoint(path_or_id: str | Path, *, require_marker: bool = True, dtype=None, device=None):
    """``(model, processor)`` ready for generation, or :class:`CheckpointError` with a one-line reason."""
    from hieroaction.model.loading import load_model

    source = check_checkpoint(path_or_id, require_marker=require_marker)
    try:
        model, processor = load_model(source, dtype=dtype, device=device)
    except Exception as exc:  # any failure to load (bad weights, bad processor files) becomes one line
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"cannot load checkpoint {path_or_id}: {first_line}") from None
    if getattr(processor, "video_processor", None) is None or not getattr(processor, "chat_template", None):
        raise CheckpointError(f"not a HieroAction checkpoint: {path_or_id} has no video processor or chat template")
    model.eval()
    return model, processor


def training_frame_settings(path_or_id: str | Path):
    """The frame sampling the checkpoint was trained with (its ``config.yaml``: ``data.frames``), or ``None``.

    Why: a model trained on 16 uniform 112x112 frames should be shown 16 uniform 112x112 frames."""
    from hieroaction.video.sampling import FrameSettings

    config_file = Path(str(path_or_id)).expanduser() / CONFIG_FILE
    if not config_file.is_file():
        return None
    try:
        import yaml

        frames = ((yaml.safe_load(config_file.read_text(encoding="utf-8")) or {}).get("data") or {}).get("frames")
        if not isinstance(frames, dict):
            return None
        return FrameSettings.from_mapping(frames)
    except (OSError, ValueError, AttributeError, TypeError, yaml.YAMLError):
        return None
