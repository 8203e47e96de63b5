"""No tracked file holds a merge-conflict marker: inside a docstring one would still import and pass every test."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MARKER = re.compile(r"^(<{7} |>{7} |={7}$)", re.MULTILINE)


def tracked_text_files() -> list[Path]:
    try:
        listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    paths = [REPO / p for p in listed.decode().split("\0") if p]
    return [p for p in paths if p.suffix in {".py", ".md", ".yaml", ".yml", ".toml", ".txt", ".cfg", ".sh", ""}]


def test_no_tracked_file_holds_a_conflict_marker():
    found = []
    for path in tracked_text_files():
        if not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        for match in MARKER.finditer(text):
            found.append(f"{path.relative_to(REPO)}:{text.count(chr(10), 0, match.start()) + 1}")
    assert not found, f"merge-conflict markers: {found}"
