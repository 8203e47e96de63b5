"""Check a whole clip store against the checksums written beside its clips, without the samples that made it.

Why apart from :func:`~hieroaction.video.extract.load_clip`: loading checks the clips a run asks for, one by one; an
operator wants to know whether a store copied between machines, pulled from a remote or left on an old disk is whole
before anything trains on it (``hieroaction frames verify``), the way ``sha256sum -c`` would, but across the
store's nested folders and with temp files of running writers left alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from hieroaction.video.store import CHECKSUM_SUFFIX, TMP_MARK, inside_store, verify_clip


@dataclass
class StoreCheck:
    """What :func:`verify_store` found: every clip file checked, and each bad one with its reason (one line)."""

    root: Path
    checked: int = 0
    problems: dict[str, str] = field(default_factory=dict)  # path relative to root -> reason
    orphan_checksums: list[str] = field(default_factory=list)  # a checksum whose clip is gone

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self, most: int = 20) -> dict:
        return {
            "store": str(self.root),
            "checked": self.checked,
            "bad": len(self.problems),
            "problems": dict(list(self.problems.items())[:most]),
            "orphan_checksums": len(self.orphan_checksums),
        }


def verify_store(root) -> StoreCheck:
    """Verify every ``.npy`` clip below ``root`` (a store, or one settings folder of it) against its checksum.

    Links are not followed out of ``root`` (a link is reported, not read), so the check never reads outside the
    folder it was given.
    """
    root = Path(root)
    result = StoreCheck(root)
    for path in sorted(root.rglob("*")):
        if TMP_MARK in path.name:
            continue  # a writer's temp file: whole or removed by the next extraction
        relative = str(path.relative_to(root))
        if path.name.endswith(CHECKSUM_SUFFIX):
            if not path.with_name(path.name[: -len(CHECKSUM_SUFFIX)]).exists():
                result.orphan_checksums.append(relative)
            continue
        if path.suffix != ".npy":
            continue
        result.checked += 1
        if not inside_store(path, root):
            result.problems[relative] = "a link out of the store (not read)"
            continue
        problem = verify_clip(path)
        if problem is not None:
            result.problems[relative] = problem
    return result
