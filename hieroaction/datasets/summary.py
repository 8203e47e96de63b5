"""Load a dataset by kind, validate it, and summarise what was found (used by the CLI, the demo and assets).

Why one function: "counts per split, action types, quarantined with reasons, rule warnings" is the same report
whether it is printed for a person, emitted as JSON or attached to a Dagster materialisation.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from hieroaction.datasets.records import LoadResult

DATASET_KINDS = ("finediving", "mtl-aqa", "manifest")


def detect_source(path: str | Path) -> tuple[str, Path]:
    """Which adapter reads ``path``, from file names alone, and the file or folder to give it: a file is a manifest;
    a folder with ``FineDiving_coarse_annotation.pkl`` is FineDiving, one with ``final_annotations_dict*.pkl``
    MTL-AQA, one with exactly one ``.jsonl``/``.csv`` that manifest."""
    path = Path(path)
    if path.is_file():
        return "manifest", path
    if (path / "FineDiving_coarse_annotation.pkl").exists():
        return "finediving", path
    if any(path.glob("final_annotations_dict*.pkl")):
        return "mtl-aqa", path
    manifests = sorted(p for p in path.glob("*") if p.suffix in (".jsonl", ".csv"))
    if len(manifests) == 1:
        return "manifest", manifests[0]
    raise FileNotFoundError(
        f"annotation source {path}: expected FineDiving pickles, MTL-AQA pickles or exactly one manifest (.jsonl/.csv)"
    )


def load_source(path: str | Path, *, media_root: str | Path | None = None, layout: str = "video") -> LoadResult:
    """:func:`load_dataset` with the kind found by :func:`detect_source` (what the pipeline's ingest uses)."""
    kind, found = detect_source(path)
    return load_dataset(kind, found, media_root=media_root, layout=layout)


def load_dataset(
    kind: str,
    path: str | Path | None = None,
    *,
    media_root: str | Path | None = None,
    layout: str = "frames",
    allow_outside_root: bool | None = None,
) -> LoadResult:
    """Dispatch to the adapter for ``kind`` (``path`` defaults to the bundled files, except for manifests).

    ``allow_outside_root`` matters for manifests only (the other adapters build their media paths themselves)."""
    if kind == "finediving":
        from hieroaction.datasets.finediving import load_finediving

        return load_finediving(path, media_root=media_root, layout=layout)  # type: ignore[arg-type]
    if kind == "mtl-aqa":
        from hieroaction.datasets.mtl_aqa import load_mtl_aqa

        return load_mtl_aqa(path, media_root=media_root)
    if kind == "manifest":
        from hieroaction.datasets.manifest import ManifestError, load_manifest

        if path is None:
            raise ManifestError("a manifest path is required")
        return load_manifest(path, media_root=media_root, allow_outside_root=allow_outside_root)
    raise ValueError(f"unknown dataset kind {kind!r}; expected one of {', '.join(DATASET_KINDS)}")


def summarize(kind: str, loaded: LoadResult, report) -> dict[str, Any]:
    """One JSON-able summary of a load + validation (``report`` is a ValidationReport of ``loaded.samples``)."""
    quarantined = [q.to_dict() for q in loaded.quarantined] + [q.to_dict() for q in report.quarantined]
    warnings = Counter(loaded.warnings)
    warnings.update(report.warnings)
    return {
        "dataset": kind,
        "source": loaded.source,
        "samples": loaded.count_in,
        "loaded": len(loaded.samples),
        "good": len(report.good),
        "splits": dict(sorted(Counter(s.split for s in loaded.samples).items())),
        "good_splits": dict(sorted(Counter(s.split for s in report.good).items())),
        "action_types": dict(Counter(s.action_code for s in loaded.samples).most_common()),
        "quarantined": quarantined,
        "warnings": dict(sorted(warnings.items())),
        "warning_samples": {**loaded.warning_samples, **report.warning_samples},
        "validation_success": report.success,
        "expectations": [r.to_dict() for r in report.results],
    }


def format_summary(summary: dict[str, Any], top: int = 10) -> str:
    """Human-readable text for the terminal."""
    lines = [
        f"{summary['dataset']}: {summary['samples']} samples read from {summary['source']}",
        f"  loaded {summary['loaded']}, passed validation {summary['good']}, quarantined {len(summary['quarantined'])}",
        "  splits: " + ", ".join(f"{k} {v}" for k, v in summary["splits"].items()),
        "  after validation: " + ", ".join(f"{k} {v}" for k, v in summary["good_splits"].items()),
    ]
    actions = summary["action_types"]
    shown = ", ".join(f"{code} {n}" for code, n in list(actions.items())[:top])
    lines.append(f"  action types: {len(actions)} (top {min(top, len(actions))}: {shown})")
    if summary["warnings"]:
        lines.append("  warnings:")
        for name, count in summary["warnings"].items():
            lines.append(f"    {name}: {count}")
    else:
        lines.append("  warnings: none")
    if summary["quarantined"]:
        lines.append("  quarantined:")
        for q in summary["quarantined"]:
            place = f"{q['where']}: " if q.get("where") else ""
            lines.append(f"    {place}{q['id']}: {q['field']}={q['value']!r}: {q['reason']}")
    else:
        lines.append("  quarantined: none")
    return "\n".join(lines)
