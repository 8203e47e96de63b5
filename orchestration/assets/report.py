"""Benchmark reports: the trained checkpoints on the test split side by side, and a report for any one checkpoint."""

import json
from dataclasses import replace
from pathlib import Path

import dagster as dg

from orchestration.assets.reasoning import read_splits
from orchestration.assets.training import final_dir, hpl_checkpoint, sft_checkpoint
from orchestration.config import EvaluateConfig
from orchestration.evaluation import evaluate_systems, report_metadata
from orchestration.resources import DvcResource, FrameSettingsResource, StorageResource, TrainingResource

OWNERS = ["team:hieroaction-ml"]


@dg.asset(
    group_name="evaluation",
    kinds={"python", "pytorch", "matplotlib"},
    owners=OWNERS,
    deps=[sft_checkpoint, hpl_checkpoint],
    description=(
        "Benchmark report on the test split (`hieroaction.evaluate`): the zero-shot base model, SFT, HPL and the classic "
        "score regressor side by side with the published numbers (Spearman ρ, RL2, action accuracy, step tIoU, format "
        "validity), the predicted-vs-true score scatter plot and sample assessments; JSON + Markdown + PNG under "
        "`runs/pipeline/report/`, with the data DVC hash and git revision."
    ),
)
def benchmark_report(
    context: dg.AssetExecutionContext,
    storage: StorageResource,
    dvc: DvcResource,
    frame_settings: FrameSettingsResource,
    training: TrainingResource,
) -> dg.MaterializeResult:
    out = storage.report_dir
    provenance = dvc.provenance(data="data")
    from hieroaction.model.presets import build_offline_model

    # the zero-shot reference: the same seeded preset SFT starts from, before any training
    zero_shot = build_offline_model(training.preset, storage.presets_dir / training.preset)
    result = evaluate_systems(
        {"zero-shot": zero_shot, "sft": final_dir(storage, "sft"), "hpl": final_dir(storage, "hpl")},
        read_splits(storage),
        storage,
        frame_settings,
        split="test",
        out_dir=out,
        regressor_epochs=training.baseline_epochs,
        data_version=str(provenance.get("dvc_data_md5")),
        max_new_tokens=training.eval_max_new_tokens,
    )
    (out / "provenance.json").write_text(json.dumps(provenance, indent=2, default=str), encoding="utf-8")
    context.log.info(f"report: {result.paths['markdown']}")
    return dg.MaterializeResult(
        metadata={
            **report_metadata(result, "hpl", root=storage.root),
            "quarantined": len(result.quarantined),
            **provenance,
        }
    )


@dg.asset(
    group_name="evaluation",
    kinds={"python", "pytorch"},
    owners=OWNERS,
    description=(
        "Report for one checkpoint (default: the promoted one, `models/promoted`) on one split, read straight from "
        "`data/` (no upstream run needed: CI pulls data and checkpoint with DVC and runs only this). Fails when a "
        "configured regression bound (`fail_under` / `fail_over`, see `regression_bounds.yaml`) is broken."
    ),
)
def checkpoint_report(
    context: dg.AssetExecutionContext,
    config: EvaluateConfig,
    storage: StorageResource,
    dvc: DvcResource,
    frame_settings: FrameSettingsResource,
    training: TrainingResource,
) -> dg.MaterializeResult:
    from hieroaction.datasets.splits import assign_split
    from hieroaction.datasets.summary import load_source

    checkpoint = Path(config.checkpoint)
    checkpoint = checkpoint if checkpoint.is_absolute() else storage.root / checkpoint
    if not (checkpoint / "config.json").is_file():
        raise FileNotFoundError(f"no model at {checkpoint} (for the promoted one: `dvc pull models/promoted.dvc`)")
    manifest = storage.annotations_dir / "manifest.jsonl"
    loaded = load_source(manifest if manifest.exists() else storage.annotations_dir, media_root=storage.raw_dir)
    samples = [replace(s, split=assign_split(s)) for s in loaded.samples]
    provenance = dvc.provenance(data="data", checkpoint=checkpoint)
    gates = [f"{k}={v}" for k, v in config.fail_under.items()]
    over = [f"{k}={v}" for k, v in config.fail_over.items()]
    from hieroaction.evaluate.gates import parse_gates

    name = checkpoint.name
    result = evaluate_systems(
        {name: checkpoint},
        samples,
        storage,
        frame_settings,
        split=config.split,
        out_dir=storage.work / "evaluate" / name,
        data_version=str(provenance.get("dvc_data_md5")),
        max_samples=config.max_samples or None,
        max_new_tokens=training.eval_max_new_tokens,
    )
    outcomes = []
    if gates or over:
        from hieroaction.evaluate.gates import check_gates

        outcomes = check_gates(result.report, parse_gates(gates, over), system=name)
    lines = [g.describe() for g in outcomes]
    (storage.work / "evaluate" / name / "gates.json").write_text(
        json.dumps({"gates": [g.to_dict() for g in outcomes], **provenance}, indent=2, default=str)
    )
    for line in lines:
        context.log.info(line)
    failed = [g for g in outcomes if not g.passed]
    if failed:
        raise dg.Failure(
            description="regression: " + "; ".join(g.describe() for g in failed),
            metadata={"gates": dg.MetadataValue.md("\n".join(f"- {line}" for line in lines))},
            allow_retries=False,
        )
    return dg.MaterializeResult(
        metadata={
            "checkpoint": dg.MetadataValue.path(str(checkpoint)),
            "split": config.split,
            **report_metadata(result, name, root=storage.root),
            "gates": dg.MetadataValue.md("\n".join(f"- {line}" for line in lines) or "_no bounds configured_"),
            **provenance,
        }
    )
