"""The install refuses a disk too small for the environment before creating anything (tools/check_free_disk.py)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tools" / "check_free_disk.py"


def run_check(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, check=False)


def test_enough_space_passes_silently(tmp_path):
    result = run_check("--gib", "0.001", str(tmp_path / "not" / "yet" / "made"))
    assert result.returncode == 0
    assert result.stdout == result.stderr == ""


def test_too_little_space_is_one_line_naming_disk_need_and_free(tmp_path):
    result = run_check("--gib", "1e9", "--for", "a new .venv", str(tmp_path / "env"))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert f"for a new .venv on {tmp_path}" in lines[0]
    assert "need about 1e+09 GiB" in lines[0] and "GiB free" in lines[0]
    assert not (tmp_path / "env").exists()


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_refuses_before_creating_the_environment(tmp_path):
    venv = tmp_path / ".venv"
    result = subprocess.run(
        ["make", "-C", str(ROOT), "lint", f"VENV={venv}", "INSTALL_GIB=1000000000"],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode != 0
    assert "not enough disk space for a new" in result.stderr
    assert not venv.exists()
