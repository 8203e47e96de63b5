"""Jobs: ingest (partitioned by video), train (SFT → HPL → promotion → report), evaluate (one checkpoint)."""

from __future__ import annotations

import dagster as dg

INGEST_ASSETS = ["raw_videos", "annotations", "samples", "frames"]
TRAIN_ASSETS = ["reasoning_targets", "sft_checkpoint", "hpl_checkpoint", "promoted_checkpoint", "benchmark_report"]
EVALUATE_ASSETS = ["checkpoint_report"]


def _select(names: list[str], available: set[str]) -> dg.AssetSelection:
    return dg.AssetSelection.assets(*[n for n in names if n in available])


def build_jobs(available: set[str], max_runtime_s: int) -> list[dg.UnresolvedAssetJobDefinition]:
    """Jobs over the assets that exist (object selections: no string parsing, see docs/STACK.md on antlr)."""
    jobs = [
        dg.define_asset_job(
            "ingest",
            selection=_select(INGEST_ASSETS, available),
            description="Sync/render raw videos, read annotations, validate the contract, version data/, extract frames.",
            partitions_def=None,
        )
    ]
    train = [n for n in TRAIN_ASSETS if n in available]
    if train:
        jobs.append(
            dg.define_asset_job(
                "train",
                selection=_select(TRAIN_ASSETS, available),
                description="Reasoning targets → SFT → HPL → promotion gate → benchmark report.",
                tags={"dagster/max_runtime": str(max_runtime_s), "hieroaction/kind": "training"},
            )
        )
    if "checkpoint_report" in available:
        jobs.append(
            dg.define_asset_job(
                "evaluate",
                selection=_select(EVALUATE_ASSETS, available),
                description="Benchmark report for one checkpoint (default: the promoted one); used by CI.",
            )
        )
    return jobs
