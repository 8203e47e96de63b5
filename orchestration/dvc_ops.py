"""DVC and git provenance through DVC's Python API (``dvc.repo.Repo``), so assets can version data and checkpoints.

Why plain functions: the Dagster resource, the schedule, the CI gate and the tests all need the same few operations
(hash of a tracked folder, add, push, pull, git revision) and none of them should shell out to ``dvc``.
DVC resolves relative targets against the process's working directory, not the repo root, so every target here is
made absolute first (docs/STACK.md).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import yaml


@dataclass(frozen=True)
class TrackedVersion:
    """What a ``.dvc`` pointer file says about one tracked output: its content hash, size and file count."""

    dvc_file: str
    path: str
    md5: str
    size: int | None
    nfiles: int | None

    def as_metadata(self, prefix: str = "dvc") -> dict[str, object]:
        return {f"{prefix}_md5": self.md5, f"{prefix}_file": self.dvc_file, f"{prefix}_nfiles": self.nfiles or 1}


def _repo(root: str | os.PathLike):
    """The DVC repo, waiting for its lock: two Dagster runs may version data at the same time."""
    from dvc.repo import Repo

    return Repo(str(Path(root).resolve()), _wait_for_lock=True)


WORKSPACE_REMOTE = "local"
WORKSPACE_STORE = "dvc-store"  # the workspace's own remote, inside it (relative to .dvc/config: ../dvc-store)


def ensure_repo(root: str | os.PathLike) -> bool:
    """Make ``root`` a DVC repository of its own if it is none yet: no git, cache in ``.dvc/cache`` and a default
    remote ``dvc-store/``, all inside ``root``; returns whether it created one.

    Why: a workspace (the demo's, the UI's) versions its data and checkpoints without touching the git checkout it
    sits in; only ``python -m orchestration.promote`` copies a promoted checkpoint into the checkout. A folder that is
    a git work tree without DVC is refused rather than silently given a repository git does not know about.
    """
    import logging

    from dvc.repo import Repo

    root = Path(root).resolve()
    if (root / ".dvc").is_dir():
        return False
    if (root / ".git").exists():
        raise FileNotFoundError(f"{root} is a git checkout without DVC: run `dvc init` there first")
    root.mkdir(parents=True, exist_ok=True)
    banner = logging.getLogger("dvc.repo.init")  # "Initialized DVC repository": the caller says what it did
    level = banner.level
    banner.setLevel(logging.WARNING)
    try:
        repo = Repo.init(str(root), no_scm=True)
    finally:
        banner.setLevel(level)
    with repo:
        with repo.config.edit() as config:
            config["core"]["remote"] = WORKSPACE_REMOTE
            config["core"]["analytics"] = False
            config["remote"][WORKSPACE_REMOTE] = {"url": str(root / WORKSPACE_STORE)}
    return True


def dvc_file_for(root: str | os.PathLike, target: str | os.PathLike) -> Path:
    """The pointer file DVC writes next to a tracked output (``data`` -> ``data.dvc``)."""
    target = Path(target)
    if not target.is_absolute():
        target = Path(root).resolve() / target
    return target.with_name(target.name + ".dvc")


def read_version(root: str | os.PathLike, target: str | os.PathLike) -> TrackedVersion | None:
    """The version recorded in ``<target>.dvc``, or ``None`` when the target is not tracked yet."""
    dvc_file = dvc_file_for(root, target)
    if not dvc_file.exists():
        return None
    spec = yaml.safe_load(dvc_file.read_text(encoding="utf-8")) or {}
    outs = spec.get("outs") or []
    if not outs:
        return None
    out = outs[0]
    return TrackedVersion(
        dvc_file=str(dvc_file.relative_to(Path(root).resolve())),
        path=str(out.get("path")),
        md5=str(out.get("md5", "")),
        size=out.get("size"),
        nfiles=out.get("nfiles"),
    )


def add(root: str | os.PathLike, target: str | os.PathLike) -> TrackedVersion:
    """Track (or re-hash) ``target`` in the DVC cache and rewrite its ``.dvc`` file; returns the new version."""
    root = Path(root).resolve()
    target = Path(target)
    if not target.is_absolute():
        target = root / target
    if not target.exists():
        raise FileNotFoundError(f"cannot version {target}: it does not exist")
    with _repo(root) as repo:
        repo.scm_context.quiet = True  # no "To track the changes with git" hint: callers say what changed
        repo.add([str(target)])
    version = read_version(root, target)
    assert version is not None, f"dvc add wrote no pointer file for {target}"
    return version


def push(root: str | os.PathLike, targets: list[str | os.PathLike], remote: str | None = None) -> int:
    """Upload the cached content of ``targets`` (paths or ``.dvc`` files) to ``remote`` (default remote if None)."""
    root = Path(root).resolve()
    with _repo(root) as repo:
        return int(repo.push(targets=[str(_abs(root, t)) for t in targets], remote=remote or None))


def pull(root: str | os.PathLike, targets: list[str | os.PathLike] | None = None, remote: str | None = None) -> dict:
    """Download and check out ``targets`` (all tracked outputs when None) from ``remote``."""
    root = Path(root).resolve()
    with _repo(root) as repo:
        stats = repo.pull(targets=[str(_abs(root, t)) for t in targets] if targets else None, remote=remote or None)
    return dict(stats or {})


def git_revision(root: str | os.PathLike) -> dict[str, object]:
    """The git commit the code was at, and whether the working tree had uncommitted changes (provenance)."""
    from scmrepo.git import Git

    try:
        scm = Git(str(Path(root).resolve()))
        try:
            rev = scm.get_rev()
        except Exception:  # noqa: BLE001 - a repo without commits has no revision yet
            rev = "no-commit"
        dirty = bool(scm.is_dirty(untracked_files=False)) if rev != "no-commit" else True
        scm.close()
    except Exception as exc:  # noqa: BLE001 - not a git checkout (e.g. an installed wheel)
        return {"git_rev": "unknown", "git_dirty": True, "git_error": str(exc)}
    return {"git_rev": rev, "git_dirty": dirty}


def provenance(root: str | os.PathLike, targets: dict[str, str | os.PathLike]) -> dict[str, object]:
    """git revision plus the DVC hash of each named input (``{"data": "data"}``) for reports and checkpoints."""
    record: dict[str, object] = dict(git_revision(root))
    for name, target in targets.items():
        version = read_version(root, target)
        record[f"dvc_{name}_md5"] = version.md5 if version else "untracked"
    return record


def _abs(root: Path, target: str | os.PathLike) -> Path:
    target = Path(target)
    return target if target.is_absolute() else root / target
