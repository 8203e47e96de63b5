"""Where an extracted clip lives on disk, and how it is written so a crash never leaves half a file.

Format: one uint8 ``.npy`` per sample holding ``(T, H, W, 3)``. Why (numbers in benchmarks/FRAMES.md): loading is a
header read plus one memory-map (no decoding), so a training loader reads a 16x112x112 clip in ~1.4 ms, ~7x faster
than from 16 JPEGs (9.8 ms) and ~13x faster than from a compressed ``.npz`` (18 ms). It costs disk (602 KB per clip
vs 44 KB of JPEGs): 1.8 GB for all 3000 FineDiving clips, which is the cheaper resource when training re-reads
every clip every epoch. It is also lossless, so the stored clip is exactly what the decoder produced.
Why the source in the name: the file name carries a short hash of the sample's video reference, so changing a
sample's media or frame range makes a new file instead of silently serving the old pixels.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import uuid
from pathlib import Path

import numpy as np

from hieroaction.datasets.sample import Sample
from hieroaction.video.sampling import FrameSettings

TMP_MARK = ".partial-"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_SAFE_PART = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")
MAX_PART_CHARS = 64  # file-name component kept verbatim (well under the 255-byte limit once the suffix is added)
MAX_ID_PARTS = 6  # folder depth an id may ask for


def source_hash(sample: Sample) -> str:
    """8 hex digits identifying what the pixels come from (media path, kind and frame range)."""
    video = sample.video
    text = f"{video.kind}|{video.path}|{video.start_frame}|{video.end_frame}"
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]


def settings_dir(out_dir, settings: FrameSettings) -> Path:
    """The folder holding every clip extracted with ``settings`` (and its quarantine record)."""
    return Path(out_dir) / settings.key


def id_parts(sample_id: str) -> list[str]:
    """Path components for a sample id: safe, bounded and unique.

    An id made of at most ``MAX_ID_PARTS`` ``/``-separated plain names (letters, digits, ``._-``, not starting with
    a dot, at most ``MAX_PART_CHARS`` each) is used verbatim, so the file name shows the id. Any other id (empty
    parts, ``..``, spaces, slashes in odd places, 10 000 characters) is mapped to sanitised, shortened parts plus
    ``~<hash of the whole id>`` on the last one: ``~`` never occurs in a verbatim name, so two ids never share a file.
    """
    text = str(sample_id)
    raw = text.split("/")
    if 0 < len(raw) <= MAX_ID_PARTS and all(len(p) <= MAX_PART_CHARS and _SAFE_PART.fullmatch(p) for p in raw):
        return raw
    parts = [_UNSAFE.sub("_", p).lstrip(".")[:MAX_PART_CHARS] for p in raw[:MAX_ID_PARTS]]
    parts = [p for p in parts if p.strip("_")] or ["id"]
    digest = hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    parts[-1] = f"{parts[-1]}~{digest}"
    return parts


def clip_path(out_dir, sample: Sample, settings: FrameSettings) -> Path:
    """``<out>/<settings.key>/<sample id parts>.<source hash>.npy``; see :func:`id_parts` for the id mapping."""
    parts = id_parts(sample.sample_id)
    parts[-1] = f"{parts[-1]}.{source_hash(sample)}.npy"
    return settings_dir(out_dir, settings).joinpath(*parts)


def write_atomic(path: Path, frames: np.ndarray) -> None:
    """Write to a uniquely named temp file in the same folder, then ``os.replace``: readers see all or nothing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{TMP_MARK}{os.getpid()}-{uuid.uuid4().hex[:8]}-{path.name}.tmp")
    try:
        with open(tmp, "wb") as fh:
            np.save(fh, np.ascontiguousarray(frames, dtype=np.uint8), allow_pickle=False)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{TMP_MARK}{os.getpid()}-{uuid.uuid4().hex[:8]}-{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def remove_stale_partials(folder: Path) -> int:
    """Delete temp files/folders left by killed runs (their writer process is gone). Returns how many."""
    removed = 0
    if not Path(folder).is_dir():
        return 0
    for tmp in sorted(Path(folder).rglob(f"{TMP_MARK}*"), reverse=True):
        pid_text = tmp.name[len(TMP_MARK) :].split("-", 1)[0]
        if pid_text.isdigit() and writer_alive(int(pid_text)) and int(pid_text) != os.getpid():
            continue  # another live run is writing it right now
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
        removed += 1
    return removed


def writer_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_complete(path: Path) -> bool:
    """A finished clip: present and its header readable (files only ever appear complete, via ``os.replace``)."""
    if not path.is_file():
        return False
    try:
        np.load(path, mmap_mode="r")
    except (ValueError, OSError, EOFError):
        return False
    return True
