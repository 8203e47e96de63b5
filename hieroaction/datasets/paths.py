"""Where the bundled real annotation files live inside the installed package."""

from __future__ import annotations

from pathlib import Path


def bundled_root() -> Path:
    """Folder holding ``FineDiving/Annotations`` and ``MTL-AQA/{release,info}`` (shipped as package data)."""
    return Path(__file__).resolve().parent / "bundled"
