"""Metadata a person reads in the Dagster UI: Markdown tables, embedded images, short JSON excerpts.

Why helpers: every asset shows counts and versions the same way, and images must be embedded (the UI renders
Markdown ``data:`` images) so the plot is visible without access to the machine that produced it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import dagster as dg


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


def image_markdown(path: str | Path, alt: str = "plot") -> dg.MetadataValue:
    """A PNG embedded as a Markdown ``data:`` image (shown inline in the asset's metadata panel)."""
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return dg.MetadataValue.md(f"![{alt}](data:image/png;base64,{data})")


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
