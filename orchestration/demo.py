"""Run the whole asset graph headless on the embedded default and say where the report is.

    python -m orchestration.demo            # rendered dives -> frames -> SFT -> HPL -> gate -> report
    python -m orchestration.demo --quick    # fewer dives and steps (a smoke run)

Uses the same Definitions, resources and jobs as the UI (``dagster dev -w workspace.yaml``) and records every run in
a persistent Dagster instance (``$DAGSTER_HOME``, default ``./dagster_home``), so the UI shows the demo's runs,
materializations and checks afterwards.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"


@dataclass
class PipelineSettings:
    """Size of the demo: rendered videos, dives per video, and training steps per stage."""

    # 96 dives and 1500 SFT steps at 3e-3: the tiny model then writes the grammar on about half of the held-out
    # dives (measured 47% on validation); 24 dives and 300 steps gave 0-12%. About 4 minutes on 2 free cores.
    num_videos: int = 12
    dives_per_video: int = 8
    test_videos: int = 3
    sft_steps: int = 1500
    sft_learning_rate: float = 3e-3
    hpl_steps: int = 20
    seed: int = 0
    promotion_metric: str = "srcc"
    train_extra: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass
class PipelineOutcome:
    success: bool
    runs: dict[str, Any]
    report: Path | None
    promoted: bool
    gate: str


def run_config(settings: PipelineSettings) -> dict[str, Any]:
    return {
        "ops": {
            "raw_videos": {
                "config": {
                    "num_videos": settings.num_videos,
                    "dives_per_video": settings.dives_per_video,
                    "test_videos": settings.test_videos,
                    "seed": settings.seed,
                }
            },
            "sft_checkpoint": {
                "config": {
                    "max_steps": settings.sft_steps,
                    "learning_rate": settings.sft_learning_rate,
                    "extra": settings.train_extra.get("sft", {}),
                }
            },
            "hpl_checkpoint": {
                "config": {"max_steps": settings.hpl_steps, "extra": settings.train_extra.get("hpl", {})}
            },
            "promoted_checkpoint": {"config": {"metric": settings.promotion_metric}},
        }
    }


QUIET = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}  # Dagster's DEBUG events stay in the UI


def _ops_for(config: dict[str, Any], names: list[str]) -> dict[str, Any]:
    return {"ops": {k: v for k, v in config["ops"].items() if k in names}, **QUIET}


def run_pipeline(defs, instance, settings: PipelineSettings, *, train: bool = True, log=print) -> PipelineOutcome:
    """ingest (unpartitioned part) → frames for every video partition (one run) → train job, in-process."""
    import dagster as dg

    from orchestration.partitions import VIDEOS_PARTITION

    config = run_config(settings)
    ingest = defs.resolve_job_def("ingest")
    runs: dict[str, Any] = {}
    start = time.perf_counter()
    head = [dg.AssetKey(k) for k in ("raw_videos", "annotations", "samples")]
    runs["ingest"] = ingest.execute_in_process(
        instance=instance, asset_selection=head, run_config=_ops_for(config, ["raw_videos"]), raise_on_error=False
    )
    log(f"ingest: {'ok' if runs['ingest'].success else 'FAILED'} ({time.perf_counter() - start:.0f} s)")
    if not runs["ingest"].success:
        return PipelineOutcome(False, runs, None, False, "ingest failed")
    keys = instance.get_dynamic_partitions(VIDEOS_PARTITION)
    start = time.perf_counter()
    runs["frames"] = ingest.execute_in_process(
        instance=instance,
        asset_selection=[dg.AssetKey("frames")],
        tags={RANGE_START: keys[0], RANGE_END: keys[-1]},
        run_config=QUIET,
        raise_on_error=False,
    )
    log(f"frames: {len(keys)} video partitions {'ok' if runs['frames'].success else 'FAILED'} "
        f"({time.perf_counter() - start:.0f} s)")
    if not runs["frames"].success or not train:
        return PipelineOutcome(runs["frames"].success, runs, None, False, "not trained")
    start = time.perf_counter()
    trained = defs.resolve_job_def("train")
    runs["train"] = trained.execute_in_process(
        instance=instance,
        run_config=_ops_for(config, ["sft_checkpoint", "hpl_checkpoint", "promoted_checkpoint"]),
        raise_on_error=False,
    )
    log(f"train: {'ok' if runs['train'].success else 'FAILED'} ({time.perf_counter() - start:.0f} s)")
    gate = _gate_outcome(runs["train"])
    promoted = runs["train"].success and any(
        e.event_type_value == "ASSET_MATERIALIZATION" and e.asset_key == dg.AssetKey("promoted_checkpoint")
        for e in runs["train"].all_events
    )
    report = _report_path(runs["train"])
    return PipelineOutcome(runs["train"].success and report is not None, runs, report, promoted, gate)


def _gate_outcome(result) -> str:
    for event in result.all_events:
        if event.event_type_value == "ASSET_CHECK_EVALUATION":
            data = event.event_specific_data
            if data.check_name == "promotion_gate":
                verdict = "passed" if data.passed else "failed"
                return f"{verdict}: {data.description}"
    return "not evaluated"


def _report_path(result) -> Path | None:
    import dagster as dg

    for event in result.all_events:
        if event.event_type_value == "ASSET_MATERIALIZATION" and event.asset_key == dg.AssetKey("benchmark_report"):
            value = event.event_specific_data.materialization.metadata.get("report")
            if value is not None:
                return Path(value.value)
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m orchestration.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 videos of 2 dives, a few training steps")
    parser.add_argument("--no-train", action="store_true", help="ingest and frames only")
    defaults = PipelineSettings()
    parser.add_argument("--videos", type=int, default=defaults.num_videos, help="rendered videos (default %(default)s)")
    parser.add_argument("--dives-per-video", type=int, default=defaults.dives_per_video, help="default %(default)s")
    parser.add_argument("--test-videos", type=int, default=defaults.test_videos, help="default %(default)s")
    parser.add_argument("--sft-steps", type=int, default=defaults.sft_steps, help="default %(default)s")
    parser.add_argument("--hpl-steps", type=int, default=defaults.hpl_steps, help="default %(default)s")
    args = parser.parse_args(argv)
    os.environ.setdefault("DVC_NO_ANALYTICS", "1")
    os.environ.setdefault("HIEROACTION_EXECUTOR", "in_process")
    from orchestration.ui import prepare_home

    home = prepare_home(Path(os.environ.setdefault("DAGSTER_HOME", str(REPO_ROOT / "dagster_home"))))

    import dagster as dg

    from orchestration.definitions import defs

    settings = PipelineSettings(
        num_videos=args.videos,
        dives_per_video=args.dives_per_video,
        test_videos=args.test_videos,
        sft_steps=args.sft_steps,
        hpl_steps=args.hpl_steps,
    )
    if args.quick:
        settings = PipelineSettings(num_videos=3, dives_per_video=2, test_videos=1, sft_steps=4, hpl_steps=2)
    print(f"HieroAction demo: {settings.num_videos} rendered videos x {settings.dives_per_video} dives; "
          f"Dagster home {home}")
    with dg.DagsterInstance.get() as instance:
        outcome = run_pipeline(defs, instance, settings, train=not args.no_train)
    if outcome.report:
        print(f"promotion gate {outcome.gate}")
        print(f"report: {outcome.report}")
        print(f"see it in the UI: python -m orchestration.ui  (Dagster home {home})")
    if not outcome.success:
        failed = [name for name, run in outcome.runs.items() if not run.success]
        print(f"FAILED: {', '.join(failed) or 'no report'}; details in the Dagster UI", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
