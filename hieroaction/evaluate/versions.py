"""Version stamps for a report: which code, which data, which checkpoint produced these numbers.

Why: a benchmark number without its provenance cannot be compared with the next one. Every report records
- the code version: ``git rev-parse HEAD`` of the checkout the library runs from, with a ``-dirty`` suffix when the
  working tree has uncommitted changes (read-only git calls only), or the package version outside a git checkout;
- the data version: a DVC hash when the caller has one, else a SHA-256 of the canonical sample table (every field of
  every evaluated sample, in order), so two reports on the same samples share it;
- each checkpoint's version: a SHA-256 over its config and weight files, plus what the trainer recorded beside the
  weights (``hieroaction_run.json``: data version, code version, step) or the preset it was built from.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Iterable
from pathlib import Path

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")
# files written beside the weights by training (hieroaction.train.checkpoints) and by the offline presets
CHECKPOINT_INFO_FILES = ("hieroaction_run.json", "hieroaction_preset.json")
RECORDED_KEYS = ("kind", "data_version", "code_version", "global_step", "saved_at", "preset", "seed")


def code_version(start: str | Path | None = None) -> str:
    """Git revision of the checkout containing ``start`` (this package by default), ``-dirty`` if modified."""
    here = Path(start) if start is not None else Path(__file__).resolve().parent
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        return rev + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        from importlib.metadata import PackageNotFoundError, version

        try:
            return f"hieroaction=={version('hieroaction')}"
        except PackageNotFoundError:
            return "unknown"


def samples_version(samples: Iterable) -> str:
    """SHA-256 (first 16 hex digits) of the canonical sample table: a data version when no DVC hash is given."""
    digest = hashlib.sha256()
    for sample in samples:
        digest.update(json.dumps(sample.to_dict(), sort_keys=True, ensure_ascii=False).encode("utf-8"))
        digest.update(b"\n")
    return "samples-sha256:" + digest.hexdigest()[:16]


def checkpoint_version(path: str | Path | None) -> dict:
    """Version of a checkpoint: ``id`` (content hash of config + weights, or the preset / hub id) plus what the
    trainer recorded beside the weights (data version, code version, step) when present."""
    if path is None:
        return {"id": "none"}
    text = str(path)
    local = Path(text).expanduser()
    if not local.exists():
        return {"id": text}  # a preset name or hub id: the name is the version we have
    files = [local] if local.is_file() else sorted(
        p for p in local.rglob("*") if p.is_file() and (p.suffix in WEIGHT_SUFFIXES or p.name == "config.json")
    )
    digest = hashlib.sha256()
    for file in files:
        digest.update(str(file.relative_to(local) if local.is_dir() else file.name).encode("utf-8"))
        with open(file, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    version: dict = {"id": "weights-sha256:" + digest.hexdigest()[:16]}
    for name in CHECKPOINT_INFO_FILES:
        info_file = local / name if local.is_dir() else None
        if info_file is None or not info_file.is_file():
            continue
        try:
            info = json.loads(info_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(info, dict):
            version[name.removesuffix(".json")] = {k: info[k] for k in RECORDED_KEYS if k in info}
    return version
