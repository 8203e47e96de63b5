"""Resolve a sample's media under a media root, keep it there, and say whether it is there.

Why separate: the adapters (optional early check), validation and frame extraction must agree on where pixels live.
Why confinement: a manifest is untrusted input. A ``video_path`` that is absolute, climbs out with ``..``, is a URL,
or is a symlink leading out of the media root would make the tools read (and copy into the clip store) files the
user never meant to hand over, e.g. ``/etc/passwd``. Such paths are refused with a reason unless the user opts in
(``allow_outside_root=True``, the ``--allow-outside-media-root`` flag, or ``HIEROACTION_ALLOW_OUTSIDE_MEDIA_ROOT=1``;
see docs/UNTRUSTED_INPUT.md). The same rule, :func:`key_problem`, keeps S3 keys under their prefix.
"""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath, PureWindowsPath

from hieroaction.datasets.sample import Sample, VideoRef

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}
ALLOW_OUTSIDE_ENV = "HIEROACTION_ALLOW_OUTSIDE_MEDIA_ROOT"
MAX_PATH_CHARS = 4096
# ``scheme://...`` and the schemes that need no ``//`` (``file:/etc/passwd``, ``data:...``)
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://|(file|data|https?|ftp|s3|gs):)", re.IGNORECASE)


class MediaPathError(ValueError):
    """A media path that is not allowed (outside the media root, a URL, ...); ``reason`` says which rule."""

    def __init__(self, path: str, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{reason}: {self.path!r}")


def allow_outside_default(allow: bool | None) -> bool:
    """``allow`` when given, else the ``HIEROACTION_ALLOW_OUTSIDE_MEDIA_ROOT`` environment switch (default off)."""
    if allow is not None:
        return bool(allow)
    return os.environ.get(ALLOW_OUTSIDE_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def is_remote(path: str) -> bool:
    """URLs (``s3://``, ``https://``, ``file://``) name media somewhere else: never read in place by the library."""
    return bool(_SCHEME.match(str(path)))


def path_problem(path: str) -> str | None:
    """Why ``path`` may not be used relative to a media root (text only, no file system), or ``None``."""
    text = str(path)
    if not text.strip():
        return "empty media path"
    if "\x00" in text:
        return "media path contains a NUL byte"
    if len(text) > MAX_PATH_CHARS:
        return f"media path longer than {MAX_PATH_CHARS} characters"
    if _SCHEME.match(text):
        return "URL media paths are not read (download the media under the media root)"
    if PurePosixPath(text).is_absolute() or PureWindowsPath(text).is_absolute() or PureWindowsPath(text).drive:
        return "absolute media path: must be relative to the media root"
    if ".." in re.split(r"[/\\]", text):
        return "media path climbs out of the media root with '..'"
    return None


def key_problem(key: str, prefix: str) -> str | None:
    """The confinement rule for object-store keys: ``key`` must lie under ``prefix`` as a plain relative name."""
    base = str(prefix).rstrip("/")
    key = str(key)
    if base and not key.startswith(base + "/"):
        return f"key {key!r} is not under the prefix {base!r}"
    rest = key[len(base) + 1 :] if base else key
    return path_problem(rest.rstrip("/")) or (None if rest.strip("/") not in ("", ".") else "empty key name")


def confined_path(path: str | Path, media_root: str | Path | None, *, allow_outside_root: bool | None = None) -> Path:
    """``path`` joined to ``media_root`` and resolved (symlinks too); raises :class:`MediaPathError` when it is not
    allowed or ends up outside the root. With ``allow_outside_root`` absolute paths stay as they are (old rule).

    Without a media root only the text rules apply (the path is relative to the working folder)."""
    text = str(path)
    if allow_outside_default(allow_outside_root):
        candidate = Path(text)
        return candidate if candidate.is_absolute() or media_root is None else Path(media_root) / candidate
    problem = path_problem(text)
    if problem:
        raise MediaPathError(text, problem)
    if media_root is None:
        return Path(text)
    root = Path(media_root).resolve()
    full = (root / text).resolve()
    if full != root and not full.is_relative_to(root):
        raise MediaPathError(text, f"media path resolves outside the media root {root} (symlink?)")
    return full


def inside_root(path: Path, media_root: str | Path | None, *, allow_outside_root: bool | None = None) -> bool:
    """True when ``path`` (resolved, symlinks followed) lies under ``media_root`` or confinement is off."""
    if media_root is None or allow_outside_default(allow_outside_root):
        return True
    root = Path(media_root).resolve()
    return Path(path).resolve().is_relative_to(root)


def media_path(video: VideoRef, media_root: str | Path | None, *, allow_outside_root: bool | None = None) -> Path:
    """Where the clip's pixels are: confined under ``media_root`` (see :func:`confined_path`)."""
    return confined_path(video.path, media_root, allow_outside_root=allow_outside_root)


def missing_media(sample: Sample, media_root: str | Path | None, *, allow_outside_root: bool | None = None) -> str | None:
    """A reason string if the sample's media path is not allowed, or its frame folder / video file is absent."""
    try:
        path = media_path(sample.video, media_root, allow_outside_root=allow_outside_root)
    except MediaPathError as exc:
        return exc.reason
    if allow_outside_default(allow_outside_root) and is_remote(sample.video.path):
        return None  # opted in: whoever downloads it checks it
    try:
        if sample.video.kind == "frames":
            if not path.is_dir():
                return f"frame folder not found: {path}"
            images = [p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES]
            if not images:
                return f"frame folder holds no images: {path}"
            outside = next((p for p in images if not inside_root(p, media_root, allow_outside_root=allow_outside_root)), None)
            if outside is not None:  # extraction refuses it too; validation must not report the sample as good
                return f"frame file is a link leading out of the media root: {outside}"
            return None
        if not path.is_file():
            return f"video file not found: {path}"
    except OSError as exc:
        return f"cannot look at the media: {exc.strerror or exc}: {path}"
    return None
