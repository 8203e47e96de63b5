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
from typing import Any, get_args

REPO_ROOT = Path(__file__).resolve().parents[1]
RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"


@dataclass
class PipelineSettings:
    """Size of the demo: rendered videos, dives per video, and training steps per stage."""

    # 96 dives and 1500 SFT steps at 3e-3: the tiny model then writes the grammar on about half of the held-out
    # dives (measured 47% on validation); 24 dives and 300 steps gave 0-12%. About 4 minutes on 2 free cores.
    num_videos: int = 15
    dives_per_video: int = 8
    test_videos: int = 3
    val_videos: int = 3  # 24 dives plus the 20% carved from train (~38): enough for the gate's paired test
    sft_steps: int = 1500
    sft_learning_rate: float = 3e-3
    hpl_steps: int = 20
    seed: int = 0
    promotion_metric: str = "srcc"
    when_gate_fails: str = "keep"  # or "sft": promote the SFT model when HPL does not pass the gate
    train_extra: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass
class PipelineOutcome:
    success: bool
    runs: dict[str, Any]
    report: Path | None
    promoted: bool
    gate: str
    times: dict[str, float] = field(default_factory=dict)


def run_config(settings: PipelineSettings) -> dict[str, Any]:
    return {
        "ops": {
            "raw_videos": {
                "config": {
                    "num_videos": settings.num_videos,
                    "dives_per_video": settings.dives_per_video,
                    "test_videos": settings.test_videos,
                    "val_videos": settings.val_videos,
                    "seed": settings.seed,
                }
            },
            "sft_checkpoint": {
                "config": {
                    "max_steps": settings.sft_steps,
                    "learning_rate": settings.sft_learning_rate,
                    "extra": {**_checkpoint_every(settings.sft_steps), **settings.train_extra.get("sft", {})},
                }
            },
            "hpl_checkpoint": {
                "config": {
                    "max_steps": settings.hpl_steps,
                    "extra": {**_checkpoint_every(settings.hpl_steps), **settings.train_extra.get("hpl", {})},
                }
            },
            "promoted_checkpoint": {"config": {"metric": settings.promotion_metric,
                                               "when_gate_fails": settings.when_gate_fails}},
        }
    }


def _checkpoint_every(steps: int) -> dict[str, str]:
    """Five resumable checkpoints per stage (the shipped tiny configs save every 10 steps, made for short runs)."""
    return {"train.save_steps": str(max(1, steps // 5))}


QUIET = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}  # Dagster's DEBUG events stay in the UI


def _ops_for(config: dict[str, Any], names: list[str]) -> dict[str, Any]:
    return {"ops": {k: v for k, v in config["ops"].items() if k in names}, **QUIET}


def run_pipeline(defs, instance, settings: PipelineSettings, *, train: bool = True, log=print) -> PipelineOutcome:
    """ingest (unpartitioned part) → frames for every video partition (one run) → train job, in-process; one line
    per stage when it ends (its counts and time)."""
    import dagster as dg

    from orchestration.partitions import VIDEOS_PARTITION

    config = run_config(settings)
    ingest = defs.resolve_job_def("ingest")
    runs: dict[str, Any] = {}
    times: dict[str, float] = {}
    start = time.perf_counter()
    head = [dg.AssetKey(k) for k in ("raw_videos", "annotations", "samples")]
    runs["ingest"] = ingest.execute_in_process(
        instance=instance, asset_selection=head, run_config=_ops_for(config, ["raw_videos"]), raise_on_error=False
    )
    times["ingest"] = time.perf_counter() - start
    if not runs["ingest"].success:
        log(stage_line("ingest", "FAILED", times["ingest"]))
        return PipelineOutcome(False, runs, None, False, "ingest failed", times)
    samples = latest_metadata(instance, "samples")
    log(stage_line("ingest", f"{samples.get('good')} samples in {samples.get('videos')} videos, "
                   f"{samples.get('quarantined')} quarantined, data version {_short(samples.get('data_dvc_md5'))}",
                   times["ingest"]))
    keys = instance.get_dynamic_partitions(VIDEOS_PARTITION)
    start = time.perf_counter()
    runs["frames"] = ingest.execute_in_process(
        instance=instance,
        asset_selection=[dg.AssetKey("frames")],
        tags={RANGE_START: keys[0], RANGE_END: keys[-1]},
        run_config=QUIET,
        raise_on_error=False,
    )
    times["frames"] = time.perf_counter() - start
    frames = latest_metadata(instance, "frames") if runs["frames"].success else {}
    log(stage_line("frames", f"{frames.get('samples')} clips from {len(keys)} video partitions "
                   f"({frames.get('written')} extracted, {frames.get('quarantined')} quarantined)"
                   if frames else "FAILED", times["frames"]))
    if not runs["frames"].success or not train:
        return PipelineOutcome(runs["frames"].success, runs, None, False, "not trained", times)
    start = time.perf_counter()
    trained = defs.resolve_job_def("train")
    runs["train"] = trained.execute_in_process(
        instance=instance,
        run_config=_ops_for(config, ["sft_checkpoint", "hpl_checkpoint", "promoted_checkpoint"]),
        raise_on_error=False,
    )
    times["train"] = time.perf_counter() - start
    times.update(step_durations(instance, runs["train"].run_id))
    log(stage_line("train", "ok" if runs["train"].success else "FAILED", times["train"]))
    gate = _gate_outcome(runs["train"])
    promoted = runs["train"].success and any(
        e.event_type_value == "ASSET_MATERIALIZATION" and e.asset_key == dg.AssetKey("promoted_checkpoint")
        for e in runs["train"].all_events
    )
    report = _report_path(runs["train"])
    return PipelineOutcome(runs["train"].success and report is not None, runs, report, promoted, gate, times)


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


def stage_line(stage: str, what: str, seconds: float) -> str:
    return f"== {stage:<8} {what}  ({format_duration(seconds)})"


def format_duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    return f"{seconds} s" if seconds < 60 else f"{seconds // 60}m {seconds % 60:02d}s"


def latest_metadata(instance, key: str) -> dict[str, Any]:
    import dagster as dg

    event = instance.get_latest_materialization_event(dg.AssetKey(key))
    if event is None or event.asset_materialization is None:
        return {}
    return {k: getattr(v, "value", v) for k, v in event.asset_materialization.metadata.items()}


def step_durations(instance, run_id: str) -> dict[str, float]:
    """Seconds from start to success of each step of a run (from the event log's timestamps)."""
    started: dict[str, float] = {}
    took: dict[str, float] = {}
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None or not entry.step_key:
            continue
        if event.event_type_value == "STEP_START":
            started[entry.step_key] = entry.timestamp
        elif event.event_type_value == "STEP_SUCCESS" and entry.step_key in started:
            took[entry.step_key] = entry.timestamp - started[entry.step_key]
    return took


def _short(md5: Any) -> str:
    return str(md5 or "none").removesuffix(".dir")[:12]


SUMMARY_METRICS = (("srcc", "SRCC"), ("rl2_x100", "RL2x100"), ("format_validity", "format"),
                   ("action_accuracy", "action"), ("tiou_mean", "tIoU"), ("score_coverage", "scored"))


def summary(instance, outcome: PipelineOutcome, settings: PipelineSettings, workspace: Path, home: Path) -> str:
    """The block printed at the end: data, training, the gate's decision, test metrics per system, where things are."""
    import json

    samples = latest_metadata(instance, "samples")
    targets = latest_metadata(instance, "reasoning_targets")
    splits = ", ".join(f"{k} {targets[f'n_{k}']}" for k in ("train", "val", "test") if f"n_{k}" in targets)
    lines = ["", "=" * 30 + " HieroAction demo: summary " + "=" * 30]
    lines.append(f"data      {samples.get('good', '?')} dives in {samples.get('videos', '?')} videos ({splits}), "
                 f"{samples.get('quarantined', '?')} quarantined; data version {_short(samples.get('data_dvc_md5'))}")
    t = outcome.times
    lines.append(f"training  SFT {settings.sft_steps} steps ({format_duration(t.get('sft_checkpoint', 0))}), "
                 f"HPL {settings.hpl_steps} steps ({format_duration(t.get('hpl_checkpoint', 0))}), "
                 f"report {format_duration(t.get('benchmark_report', 0))}")
    promoted = (f"{workspace / 'models' / 'promoted'} (release it: python -m orchestration.promote)"
                if outcome.promoted else "nothing promoted")
    lines.append(f"gate      {outcome.gate}")
    lines.append(f"          {promoted}")
    if outcome.report and (outcome.report.parent / "report.json").is_file():
        report = json.loads((outcome.report.parent / "report.json").read_text(encoding="utf-8"))
        n = next(iter(report["systems"].values()), {}).get("metrics", {}).get("n", "?")
        lines.append(f"test      {n} held-out dives")
        lines.append("          " + f"{'system':<10}" + "".join(f"{label:>9}" for _, label in SUMMARY_METRICS))
        for name, system in report["systems"].items():
            metrics = system.get("metrics", {})
            cells = "".join(f"{_cell(metrics.get(key)):>9}" for key, _ in SUMMARY_METRICS)
            lines.append(f"          {name:<10}{cells}")
        lines.append(f"report    {outcome.report}")
    total = sum(t.get(k, 0) for k in ("ingest", "frames", "train"))
    lines.append(f"time      {format_duration(total)} (ingest {format_duration(t.get('ingest', 0))}, frames "
                 f"{format_duration(t.get('frames', 0))}, train and report {format_duration(t.get('train', 0))})")
    lines.append(f"UI        make ui   (runs, metadata and per-step metrics; Dagster home {home})")
    lines.append("=" * 86)
    return "\n".join(lines)


def _cell(value: Any) -> str:
    """At most 8 characters, so the 9-wide columns keep a space between them: a run-on score can make RL2 x 100 read
    in the millions, which ``.3f`` would run into the SRCC beside it."""
    if isinstance(value, bool) or value is None:
        return "—"
    if isinstance(value, float):
        forms = (f"{value:.3f}", f"{value:.1f}", f"{value:.2e}", f"{value:.1e}", f"{value:.0e}")
        return next((form for form in forms if len(form) <= 8), forms[-1])
    return str(value)


def main(argv: list[str] | None = None) -> int:
    from orchestration.config import PromotionConfig

    parser = argparse.ArgumentParser(prog="python -m orchestration.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 videos of 2 dives, a few training steps")
    parser.add_argument("--no-train", action="store_true", help="ingest and frames only")
    defaults = PipelineSettings()
    parser.add_argument("--videos", type=int, default=defaults.num_videos, help="rendered videos (default %(default)s)")
    parser.add_argument("--dives-per-video", type=int, default=defaults.dives_per_video, help="default %(default)s")
    parser.add_argument("--test-videos", type=int, default=defaults.test_videos, help="default %(default)s")
    parser.add_argument("--val-videos", type=int, default=defaults.val_videos, help="default %(default)s")
    parser.add_argument("--sft-steps", type=int, default=defaults.sft_steps, help="default %(default)s")
    parser.add_argument("--hpl-steps", type=int, default=defaults.hpl_steps, help="default %(default)s")
    parser.add_argument("--promotion-metric", dest="promotion_metric", default=defaults.promotion_metric,
                        choices=get_args(PromotionConfig.model_fields["metric"].annotation),
                        help="the validation metric HPL must improve significantly to be promoted (default %(default)s)")
    parser.add_argument("--promote-sft-when-gate-fails", dest="when_gate_fails", action="store_const", const="sft",
                        default="keep", help="promote the SFT model when HPL does not pass the gate (default: "
                        "promote nothing)")
    args = parser.parse_args(argv)
    os.environ.setdefault("DVC_NO_ANALYTICS", "1")
    os.environ.setdefault("TQDM_DISABLE", "1")  # per-stage lines instead of progress bars from every library
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("HIEROACTION_EXECUTOR", "in_process")
    from orchestration.ui import prepare_home

    home = prepare_home(Path(os.environ.setdefault("DAGSTER_HOME", str(REPO_ROOT / "dagster_home"))))

    import dagster as dg

    from orchestration.definitions import defs

    settings = PipelineSettings(
        num_videos=args.videos,
        dives_per_video=args.dives_per_video,
        test_videos=args.test_videos,
        val_videos=args.val_videos,
        sft_steps=args.sft_steps,
        hpl_steps=args.hpl_steps,
        promotion_metric=args.promotion_metric,
        when_gate_fails=args.when_gate_fails,
    )
    if args.quick:
        settings = PipelineSettings(num_videos=3, dives_per_video=2, test_videos=1, val_videos=0, sft_steps=4,
                                    hpl_steps=2, promotion_metric=args.promotion_metric,
                                    when_gate_fails=args.when_gate_fails)
    workspace = defs.resources["storage"].root
    print(f"HieroAction demo: {settings.num_videos} rendered videos x {settings.dives_per_video} dives, "
          f"SFT {settings.sft_steps} + HPL {settings.hpl_steps} steps")
    print(f"workspace {workspace} (data, checkpoints, DVC cache and remote); Dagster home {home}")
    with dg.DagsterInstance.get() as instance:
        outcome = run_pipeline(defs, instance, settings, train=not args.no_train)
        if not args.no_train:
            print(summary(instance, outcome, settings, Path(str(workspace)), home))
    if not outcome.success:
        failed = [name for name, run in outcome.runs.items() if not run.success]
        print(f"FAILED: {', '.join(failed) or 'no report'}; details in the Dagster UI (make ui)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
