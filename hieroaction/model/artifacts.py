"""THE names and version stamps of what the stages hand each other: checkpoint folders and the data and code behind
them.

Why one module: training writes these names, evaluation, ``assess`` and the orchestration read them; a name spelled
in two places drifts. What a checkpoint folder holds:

- the weights and ``config.json`` (transformers), the processor files;
- :data:`RUN_INFO_FILE` (training: data version, code version, library versions, step) and :data:`CONFIG_FILE`
  (the run's whole config, so the frame settings it was trained with can be read back), or
  :data:`PRESET_INFO_FILE` (an offline preset). Either marker makes a folder a HieroAction checkpoint;
- a training run's output folder holds ``checkpoint-N`` folders and the finished model in :data:`FINAL_DIR`, the
  samples held back before training in :data:`QUARANTINE_FILE` and those whose clips failed to load while it
  trained in :data:`TRAINING_QUARANTINE_FILE` (one JSON line each; their counts are in the final run record).

Versions: :func:`code_version` (the git revision the library runs from), :func:`table_version` (what a training run
read: its sample tables' bytes, the frame settings and the grammar version), :func:`samples_version` (an evaluated
set of canonical samples), :func:`checkpoint_version` (a checkpoint's content hash and what its markers record).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

FINAL_DIR = "final"
QUARANTINE_FILE = "quarantined.jsonl"
TRAINING_QUARANTINE_FILE = "quarantined_training.jsonl"
CONFIG_FILE = "config.yaml"
RUN_INFO_FILE = "hieroaction_run.json"
PRESET_INFO_FILE = "hieroaction_preset.json"
MARKER_FILES = (RUN_INFO_FILE, PRESET_INFO_FILE)
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")
RECORDED_KEYS = ("kind", "data_version", "code_version", "global_step", "saved_at", "preset", "seed", "grammar")


def _git(*args: str) -> str:
    root = Path(__file__).resolve().parents[2]
    return subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10, check=True
    ).stdout.strip()


def code_version() -> dict[str, Any]:
    """``{"package", "git_rev", "git_dirty"}``: the git revision of the checkout the library runs from (read-only git
    calls) and whether tracked files were modified; outside a git checkout (an installed wheel) only the package."""
    import hieroaction

    info: dict[str, Any] = {"package": hieroaction.__version__, "git_rev": None, "git_dirty": None}
    try:
        info["git_rev"] = _git("rev-parse", "HEAD")
        info["git_dirty"] = bool(_git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        pass
    return info


def code_version_text(info: dict[str, Any] | None = None) -> str:
    """:func:`code_version` as one string: ``<rev>[-dirty]``, else ``hieroaction==<version>``."""
    info = code_version() if info is None else info
    if info.get("git_rev"):
        return info["git_rev"] + ("-dirty" if info.get("git_dirty") else "")
    return f"hieroaction=={info['package']}" if info.get("package") else "unknown"


def table_version(paths: Iterable[str | Path | None], frames_key: str = "") -> str:
    """What a training run read: a 16-hex-digit SHA-256 of the sample tables' bytes, the frame settings' key and the
    answer grammar version (a new grammar renders new targets from the same tables)."""
    from hieroaction.reasoning import GRAMMAR_VERSION

    digest = hashlib.sha256()
    for path in paths:
        if path:
            digest.update(Path(path).read_bytes())
    digest.update(f"|frames={frames_key}|grammar={GRAMMAR_VERSION}".encode())
    return digest.hexdigest()[:16]


def samples_version(samples: Iterable) -> str:
    """SHA-256 (first 16 hex digits) of canonical samples, every field in order: the version of an evaluated set when
    no DVC hash is given (two reports on the same samples share it)."""
    digest = hashlib.sha256()
    for sample in samples:
        digest.update(json.dumps(sample.to_dict(), sort_keys=True, ensure_ascii=False).encode("utf-8"))
        digest.update(b"\n")
    return "samples-sha256:" + digest.hexdigest()[:16]


def checkpoint_version(path: str | Path | None) -> dict:
    """Version of a checkpoint: ``id`` (content hash of config + weights, or the preset / hub id) plus what its
    markers record (data version, code version, step; or the preset) when present."""
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
    for name, info in marker_infos(local):
        version[name.removesuffix(".json")] = {k: info[k] for k in RECORDED_KEYS if k in info}
    return version


def marker_infos(folder: str | Path) -> Iterator[tuple[str, dict]]:
    """``(file name, content)`` of each readable marker file in ``folder`` (run info first, then preset info);
    missing or unreadable ones are skipped."""
    for name in MARKER_FILES:
        info_file = Path(folder) / name
        if not info_file.is_file():
            continue
        try:
            info = json.loads(info_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(info, dict):
            yield name, info


def trained_grammar(folder: str | Path) -> str | None:
    """The answer grammar version a checkpoint folder was trained on (its run info, else its preset info), or
    ``None`` when it is not recorded: no readable marker file (e.g. a zero-shot base model), or a checkpoint from
    before grammar 2.0, when versions began to be recorded."""
    for _, info in marker_infos(folder):
        if info.get("grammar"):
            return str(info["grammar"])
    return None


def grammar_mismatch(folder: str | Path) -> str | None:
    """One line saying that the checkpoint in ``folder`` was trained on another answer grammar than this code's, or
    ``None``. Why refuse: it was taught other prompts and answers than the ones this code builds and parses."""
    from hieroaction.reasoning import GRAMMAR_VERSION

    grammar = trained_grammar(folder)
    if grammar is None or grammar == GRAMMAR_VERSION:
        return None
    return (f"{folder} was trained on answer grammar {grammar}, but this hieroaction prompts and parses grammar "
            f"{GRAMMAR_VERSION}: retrain it (docs/GRAMMAR.md, Changelog)")
