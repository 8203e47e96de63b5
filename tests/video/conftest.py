"""Session fixture: real media files encoded once (helpers in video_media.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# pytest runs in importlib mode (test files may share names across areas): make the helper module importable.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from video_media import encode_video, write_jpeg_folder  # noqa: E402


@pytest.fixture(scope="session")
def media(tmp_path_factory):
    """A shared set of real media files (encoded once per test session)."""
    root = tmp_path_factory.mktemp("media")
    encode_video(root / "short.mp4", 60, gop=12)
    encode_video(root / "long.mp4", 1500, gop=30)
    encode_video(root / "mpeg4.mkv", 40, codec="mpeg4", gop=10)
    write_jpeg_folder(root / "fd" / "vid" / "7", range(99_990, 100_010))  # crosses 5 -> 6 digit names
    return root
