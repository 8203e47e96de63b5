"""Evaluation glue: run the library's benchmark on one checkpoint and one sample table, return metrics and files.

Why a thin wrapper: the promotion gate, the benchmark report and the CI gate must compute the same metrics the same
way; the library does the work (``hieroaction.evaluate``), this only adapts paths and shapes metadata.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import dagster as dg

from orchestration.metadata import image_markdown, markdown_table


def evaluate_systems(
    systems: dict[str, Path],
    samples,
    storage,
    frame_settings,
    *,
    split: str,
    out_dir: Path,
    regressor_epochs: int = 0,
    data_version: str | None = None,
    gates: Sequence[str] = (),
    max_new_tokens: int = 256,
    max_samples: int | None = None,
):
    """``hieroaction.evaluate.run_evaluation`` on ``samples``' ``split`` (frames from the pipeline's extraction
    folder, decoded from ``data/raw`` when missing); returns the library's ``EvaluationResult``."""
    from hieroaction.evaluate.baseline import RegressorConfig
    from hieroaction.evaluate.clips import ClipSource
    from hieroaction.evaluate.gates import parse_gates
    from hieroaction.evaluate.inference import GenerationSettings
    from hieroaction.evaluate.run import SystemSpec, run_evaluation

    clips = ClipSource(frame_settings.settings(), frames_dir=storage.frames_dir, media_root=storage.raw_dir)
    specs = [SystemSpec(name, str(path)) for name, path in systems.items()]
    return run_evaluation(
        list(samples),
        clips,
        specs,
        out_dir,
        split=split,
        generation=GenerationSettings(max_new_tokens=max_new_tokens, device="cpu"),
        regressor=RegressorConfig(epochs=regressor_epochs) if regressor_epochs > 0 else None,
        data_version=data_version,
        gates=parse_gates(gates),
        limit=max_samples,
        n_boot=200,
        progress=False,
    )


def system_summary(result, name: str) -> dict[str, Any]:
    """The numeric headline metrics of one system in a report (``None`` where undefined)."""
    metrics = result.report["systems"][name]["metrics"]
    return {k: v for k, v in metrics.items() if v is None or (isinstance(v, int | float) and not isinstance(v, bool))}


def report_metadata(result, name: str, prefix: str = "", root: Path | None = None) -> dict[str, Any]:
    """Metrics table, the report's plots (images the asset page shows: the score scatter and the example dives'
    assessments, served from under ``root``) and one sample assessment, for an asset's metadata panel."""
    p = f"{prefix}_" if prefix else ""
    report = result.report
    rows = [{"system": n, **{k: v for k, v in system_summary(result, n).items() if k in HEADLINE}}
            for n in report["systems"]]
    metadata: dict[str, Any] = {f"{p}metrics": dg.MetadataValue.md(markdown_table(rows))}
    out = Path(result.paths["markdown"]).parent if "markdown" in result.paths else None
    for key, relative in (report.get("plots") or {}).items():
        if out is not None and (key == "score_scatter" or key.startswith("assessment_")) and (out / relative).is_file():
            metadata[f"{p}{key}"] = image_markdown(out / relative, key.replace("_", " "), root)
    examples = report.get("examples") or []
    if examples:
        example = examples[len(examples) // 2]
        answer = example["answers"].get(name, {})
        metadata[f"{p}sample_assessment"] = dg.MetadataValue.md(
            f"**{example['sample_id']}** (gold {example['action_code']}, score {example['gold_score']})\n\n"
            f"Model ({name}, parsed score {answer.get('score')}):\n```\n{answer.get('text', '')}\n```\n"
            f"Gold answer:\n```\n{example['gold_answer']}\n```"
        )
    if "markdown" in result.paths:
        metadata[f"{p}report"] = dg.MetadataValue.path(str(result.paths["markdown"]))
    for key, value in system_summary(result, name).items():  # headline numbers as entries: plotted over time
        if value is not None and key in HEADLINE:
            metadata[f"{p}{key}"] = float(value)
    return metadata


HEADLINE = ("n", "srcc", "rl2_x100", "format_validity", "action_accuracy", "tiou_mean", "tiou@0.5", "score_coverage")
