"""Resolve a sample's media under a media root and say whether it is there.

Why separate: the adapters (optional early check), validation and frame extraction must agree on where pixels live.
"""

from __future__ import annotations

from pathlib import Path

from hieroaction.datasets.sample import Sample, VideoRef

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}


def is_remote(path: str) -> bool:
    """URLs (``s3://``, ``https://``) are checked by whoever downloads them, not here."""
    return "://" in path


def media_path(video: VideoRef, media_root: str | Path | None) -> Path:
    """Absolute paths stay as they are; relative ones are joined to ``media_root`` (if any)."""
    path = Path(video.path)
    if path.is_absolute() or media_root is None:
        return path
    return Path(media_root) / path


def missing_media(sample: Sample, media_root: str | Path | None) -> str | None:
    """A reason string if the sample's frame folder / video file is absent, else ``None``."""
    if is_remote(sample.video.path):
        return None
    path = media_path(sample.video, media_root)
    if sample.video.kind == "frames":
        if not path.is_dir():
            return f"frame folder not found: {path}"
        if not any(p.suffix.lower() in IMAGE_SUFFIXES for p in path.iterdir()):
            return f"frame folder holds no images: {path}"
        return None
    if not path.is_file():
        return f"video file not found: {path}"
    return None
