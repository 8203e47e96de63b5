"""The architecture as tests (docs/ARCHITECTURE.md): layers, no cycles, no dagster/dvc in the library (import-linter,
configured in pyproject.toml), and no module reaching into another package's private (``_name``) helpers."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("hieroaction", "orchestration")


def test_import_contracts_are_kept(monkeypatch, capsys):
    pytest.importorskip("importlinter")
    from importlinter.cli import lint_imports

    monkeypatch.chdir(ROOT)
    status = lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True)
    assert status == 0, capsys.readouterr().out[-4000:]


def _package_of(module: str) -> str:
    """``hieroaction.train.sft`` -> ``hieroaction.train``; a top-level module is its own package."""
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "hieroaction" and len(parts) > 2 else module


def private_imports_across_packages() -> list[str]:
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
                if not isinstance(node, ast.ImportFrom) or node.level or not node.module:
                    continue
                if not node.module.startswith(PACKAGES) or _package_of(node.module) == _package_of(module):
                    continue
                for alias in node.names:
                    if alias.name.startswith("_"):
                        found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {alias.name} from {node.module}")
    return found


def test_no_module_imports_another_packages_private_helpers():
    assert private_imports_across_packages() == []
