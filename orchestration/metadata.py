"""Metadata a person reads in the Dagster UI: Markdown tables, embedded images, short JSON excerpts.

Why helpers: every asset shows counts and versions the same way, and plots the way the UI can show them inline.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import dagster as dg

DEFAULT_PLOTS_URL = "http://127.0.0.1:3001"


def markdown_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> str:
    """A GitHub-flavoured Markdown table; floats get 4 significant decimals."""
    if not rows:
        return "_(none)_"
    columns = list(columns or rows[0].keys())
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(_cell(row.get(c)) for c in columns) + " |")
    return "\n".join(lines)


def counts_table(counts: Mapping[str, int], key: str = "name", value: str = "count") -> str:
    return markdown_table([{key: k, value: v} for k, v in counts.items()])


def image_markdown(path: str | Path, alt: str = "plot", root: str | Path | None = None) -> dg.MetadataValue:
    """A PNG as a Markdown image the asset page shows inline.

    Why a URL: the Dagster UI renders Markdown images only from ``http(s)`` sources (``data:`` URIs are sanitised
    away) and shows Markdown longer than 1000 characters only behind a button; ``python -m orchestration.ui`` serves
    the PNGs under the project root at ``HIEROACTION_PLOTS_URL`` (default ``http://127.0.0.1:3001``). Outside the
    root the entry is the file's path.
    """
    path = Path(path).resolve()
    if root is None or not path.is_relative_to(Path(root).resolve()):
        return dg.MetadataValue.path(str(path))
    relative = path.relative_to(Path(root).resolve()).as_posix()
    return dg.MetadataValue.md(f"![{alt}]({plots_url()}/{quote(relative)})")


def plots_url() -> str:
    return os.environ.get("HIEROACTION_PLOTS_URL", DEFAULT_PLOTS_URL).rstrip("/")


def quarantine_table(quarantined: Iterable[Any], limit: int = 20) -> dg.MetadataValue:
    rows = [q.to_dict() if hasattr(q, "to_dict") else dict(q) for q in quarantined]
    shown = rows[:limit]
    more = f"\n\n… and {len(rows) - limit} more" if len(rows) > limit else ""
    return dg.MetadataValue.md(markdown_table(shown, ["id", "field", "value", "reason"]) + more if rows else "_none_")


def json_excerpt(data: Any, limit: int = 4000) -> dg.MetadataValue:
    text = json.dumps(data, indent=2, ensure_ascii=False, default=str)
    return dg.MetadataValue.md("```json\n" + (text if len(text) <= limit else text[:limit] + "\n…") + "\n```")


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    if value is None:
        return "–"
    return str(value).replace("|", "\\|").replace("\n", " ")
