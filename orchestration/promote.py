"""Release a workspace's promoted checkpoint into the git checkout: the one step that changes what CI gates on.

    python -m orchestration.promote                 # from ./workspace (where `make demo` and the UI work)
    python -m orchestration.promote path/to/workspace --root path/to/checkout

The graph (``make demo``, the UI) versions data and checkpoints in its workspace, with the workspace's own DVC cache
and remote; the checkout's ``data.dvc``, ``models/promoted.dvc``, ``dvc-store/`` and ``regression_bounds.yaml`` stay
as committed. This command copies the workspace's ``models/promoted`` (written when the promotion gate passed, or
the SFT model with ``when_gate_fails: sft``) and the ``data/`` it was trained on into the checkout, versions both
with the checkout's DVC, pushes them to its default remote, re-measures the regression bounds on the new checkpoint,
and prints every change, ready to commit.
Exit status 0: promoted; 2: nothing to promote (or the workspace is inconsistent).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
PROMOTED = "models/promoted"
PROVENANCE_FILE = "hieroaction_provenance.yaml"
BOUNDS_FILE = "regression_bounds.yaml"


class PromotionError(Exception):
    """The workspace holds nothing that can be promoted; the message says what to do."""


@dataclass(frozen=True)
class Change:
    what: str
    before: str
    after: str

    def line(self) -> str:
        same = "unchanged" if self.before == self.after else f"{self.before} -> {self.after}" if self.before else self.after
        return f"  {self.what:<24} {same}"


def candidate(workspace: Path) -> tuple[Path, dict]:
    """The workspace's promoted checkpoint and its provenance, checked against the workspace's data version."""
    from orchestration import dvc_ops

    checkpoint = workspace / PROMOTED
    provenance_path = checkpoint / PROVENANCE_FILE
    if not (checkpoint / "config.json").is_file() or not provenance_path.is_file():
        raise PromotionError(
            f"no promoted checkpoint in {workspace} ({PROMOTED}/ is written only when the promotion gate passes): "
            "run the train job (make demo) until it does"
        )
    provenance = yaml.safe_load(provenance_path.read_text(encoding="utf-8")) or {}
    data = dvc_ops.read_version(workspace, "data")
    if data is None or not (workspace / "data").is_dir():
        raise PromotionError(f"{workspace}/data is not versioned (no data.dvc): run the ingest job first")
    if provenance.get("dvc_data_md5") != data.md5:
        raise PromotionError(
            f"{PROMOTED} was trained on data {provenance.get('dvc_data_md5')} but {workspace}/data is now {data.md5}: "
            "run the train job on the current data first"
        )
    return checkpoint, provenance


def _replace_tree(source: Path, dest: Path) -> None:
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(source, dest)


def _short(md5: str | None) -> str:
    return (md5 or "none").removesuffix(".dir")[:12]


def _bounds_summary(path: Path) -> str:
    if not path.is_file():
        return "none"
    spec = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    under = [f"{k}>={v}" for k, v in (spec.get("fail_under") or {}).items()]
    over = [f"{k}<={v}" for k, v in (spec.get("fail_over") or {}).items()]
    return ", ".join(under + over) or "none"


def promote(workspace: Path, root: Path, *, bounds: Path | None = None, record: bool = True, log=print) -> list[Change]:
    """Copy, version, push and re-measure; returns what changed in the checkout (see the module docstring)."""
    from orchestration import dvc_ops

    workspace, root = workspace.resolve(), root.resolve()
    if workspace == root:
        raise PromotionError("the workspace is the checkout itself: nothing to copy")
    if not (root / ".dvc").is_dir():
        raise PromotionError(f"{root} is not a DVC repository (no .dvc/)")
    checkpoint, provenance = candidate(workspace)
    bounds = bounds or root / BOUNDS_FILE
    before = {t: dvc_ops.read_version(root, t) for t in ("data", PROMOTED)}
    bounds_before = _bounds_summary(bounds)
    log(f"promoting {checkpoint} (gate: {provenance.get('gate', 'not recorded')})")
    _replace_tree(workspace / "data", root / "data")
    _replace_tree(checkpoint, root / PROMOTED)
    after = {t: dvc_ops.add(root, t) for t in ("data", PROMOTED)}
    pushed = dvc_ops.push(root, [root / v.dvc_file for v in after.values()])
    if record:
        from orchestration.ci_evaluate import record_bounds

        record_bounds(root, bounds, checkpoint=PROMOTED)
    changes = [
        Change(after[t].dvc_file, _short(before[t].md5 if before[t] else None), _short(after[t].md5))
        for t in ("data", PROMOTED)
    ]
    changes.append(Change(f"{dvc_ops.WORKSPACE_STORE}/", "", f"{pushed} new object(s) pushed (the default remote)"))
    if record:
        rel = bounds.relative_to(root) if bounds.is_relative_to(root) else bounds
        changes.append(Change(str(rel), bounds_before, _bounds_summary(bounds)))
    return changes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m orchestration.promote", description=__doc__.splitlines()[0])
    parser.add_argument("workspace", nargs="?", type=Path, default=REPO_ROOT / "workspace")
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help="the git checkout to promote into (default: this)")
    parser.add_argument("--no-record", action="store_true", help="keep regression_bounds.yaml as it is")
    args = parser.parse_args(argv)
    os.environ.setdefault("DVC_NO_ANALYTICS", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # the bounds' evaluation loads a checkpoint
    try:
        changes = promote(args.workspace, args.root, record=not args.no_record)
    except PromotionError as exc:
        print(f"nothing promoted: {exc}", file=sys.stderr)
        return 2
    print("changed in the checkout:")
    for change in changes:
        print(change.line())
    files = " ".join(c.what.split(" ")[0] for c in changes)
    print(f"to release it: git add {files} && git commit -m 'promote checkpoint'")
    return 0


if __name__ == "__main__":
    sys.exit(main())
