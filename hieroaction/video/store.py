"""Where an extracted clip lives on disk, and how it is written so a crash never leaves half a file.

Format: one uint8 ``.npy`` per sample holding ``(T, H, W, 3)``. Why (numbers in benchmarks/FRAMES.md): loading is a
header read plus the pixels (no decoding), so a training loader reads a 16x112x112 clip 7-10x faster than from
16 JPEGs or a compressed ``.npz``. It costs disk (602 KB per clip
vs 44 KB of JPEGs): 1.8 GB for all 3000 FineDiving clips, which is the cheaper resource when training re-reads
every clip every epoch. It is also lossless, so the stored clip is exactly what the decoder produced.
Why the source in the name: the file name carries a short hash of the sample's video reference, so changing a
sample's media or frame range makes a new file instead of silently serving the old pixels.
Why a checksum beside each clip (``<clip>.npy.sha256``, in ``sha256sum`` format): a clip overwritten with other
pixels of the same shape (a copy from another store, a bad disk, a tool writing into the folder) still loads as a
valid array; only its digest tells. Extraction re-extracts a clip whose digest does not match, and loading refuses
it (:func:`verify_clip`), so training and evaluation never see pixels the extraction did not write.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import uuid
from pathlib import Path

import numpy as np

from hieroaction.datasets.sample import Sample
from hieroaction.video.limits import CLIP_PIXELS_ENV, DecodeLimits
from hieroaction.video.sampling import FrameSettings

TMP_MARK = ".partial-"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_SAFE_PART = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")
MAX_PART_CHARS = 64  # file-name component kept verbatim (well under the 255-byte limit once the suffix is added)
MAX_ID_PARTS = 6  # folder depth an id may ask for
CHECKSUM_SUFFIX = ".sha256"
MAX_CHECKSUM_BYTES = 4096  # a sha256sum line is 64 hex digits, two spaces and a file name
NPY_HEADER_ALLOWANCE = 4096  # a uint8 array's .npy header is 128 bytes (padded to 64-byte multiples)
_SHA256 = re.compile(r"[0-9a-f]{64}")
# Clips whose digest this process has checked: (path, size, inode, mtime) -> digest. Bounded by the store's size.
_VERIFIED: dict[tuple, str] = {}


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


def checksum_path(path: Path) -> Path:
    """Where the digest of the clip at ``path`` is kept: ``<clip>.npy.sha256``."""
    return path.with_name(path.name + CHECKSUM_SUFFIX)


def write_atomic(path: Path, frames: np.ndarray) -> None:
    """Write the clip and its checksum, each through a uniquely named temp file and ``os.replace``.

    Readers see all or nothing of each file. The checksum goes first: a crash between the two leaves a digest
    that does not match the clip on disk, which extraction re-extracts and loading refuses, never a clip taken as
    checked.
    """
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(frames, dtype=np.uint8), allow_pickle=False)
    data = buffer.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    _write_bytes_atomic(checksum_path(path), f"{digest}  {path.name}\n".encode())
    _write_bytes_atomic(path, data)
    _remember_verified(path, digest)


def write_text_atomic(path: Path, text: str) -> None:
    _write_bytes_atomic(path, text.encode("utf-8"))


def _write_bytes_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{TMP_MARK}{os.getpid()}-{uuid.uuid4().hex[:8]}-{path.name}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_checksum(path: Path) -> str | None:
    """The digest recorded for the clip at ``path``, or None when there is no readable one."""
    try:
        with open(checksum_path(path), "rb") as fh:
            text = fh.read(MAX_CHECKSUM_BYTES).decode("ascii")
    except (OSError, UnicodeDecodeError):
        return None
    digest = text.split(" ", 1)[0].strip().lower()
    return digest if _SHA256.fullmatch(digest) else None


def verify_clip(path: Path) -> str | None:
    """None when the clip file matches its recorded digest, else a one-line reason.

    A file already verified in this process and unchanged since (same size, inode and modification time) is not
    read again, so a loader that reads every clip each epoch pays the hash once per clip and process.
    """
    expected = read_checksum(path)
    if expected is None:
        return f"no checksum {checksum_path(path).name} beside it (extract the frames again to write one)"
    try:
        stat = os.stat(path)
        key = _stat_key(path, stat)
        if _VERIFIED.get(key) == expected:
            return None
        most = max_clip_bytes()
        if stat.st_size > most:  # refused before reading: no clip the decode budget allows is this large
            return f"{stat.st_size:,} bytes, more than any clip the decode budget allows ({most:,}; {CLIP_PIXELS_ENV})"
        with open(path, "rb") as fh:
            actual = hashlib.file_digest(fh, "sha256").hexdigest()
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    if actual != expected:
        return (f"its bytes are not the ones extraction wrote (cut short, overwritten or corrupted: sha256 "
                f"{actual[:12]}, recorded {expected[:12]})")
    _VERIFIED[key] = expected
    return None


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
    """A finished, unaltered clip: present, matching its recorded digest and readable as an array."""
    if not path.is_file() or verify_clip(path) is not None:
        return False
    try:
        np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError):
        return False
    return True


def inside_store(path: Path, out_dir) -> bool:
    """Whether ``path`` (a clip path under ``out_dir``), links resolved, still lies inside ``out_dir``: a clip file
    or folder linked out of the store is never read through it."""
    try:
        return Path(path).resolve().is_relative_to(Path(out_dir).resolve())
    except (OSError, RuntimeError):  # a link loop
        return False


def max_clip_bytes() -> int:
    """The largest file a stored clip can be: the per-clip pixel budget as uint8 RGB, plus the ``.npy`` header."""
    return DecodeLimits.from_env().max_clip_pixels * 3 + NPY_HEADER_ALLOWANCE


def _stat_key(path: Path, stat: os.stat_result) -> tuple:
    return (str(path), stat.st_size, stat.st_ino, stat.st_mtime_ns)


def _remember_verified(path: Path, digest: str) -> None:
    try:
        _VERIFIED[_stat_key(path, os.stat(path))] = digest
    except OSError:
        pass
