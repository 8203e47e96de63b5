"""CI evaluation gate: run the Dagster ``evaluate`` job on the committed promoted checkpoint and fail on a regression.

    python -m orchestration.ci_evaluate                       # bounds from regression_bounds.yaml
    python -m orchestration.ci_evaluate --no-pull --bounds my_bounds.yaml

Steps: ``dvc pull`` the data (``data.dvc``) and the checkpoint (``models/promoted.dvc``) from the default remote,
run the ``evaluate`` job in-process (the same asset the UI runs), print each bound's verdict and the report path.
Exit status 0: every bound holds; 1: a metric regressed; 2: the gate could not run (missing checkpoint, bad bounds).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_BOUNDS = REPO_ROOT / "regression_bounds.yaml"
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}  # the gate prints its own verdict lines


def load_bounds(path: Path) -> dict[str, Any]:
    """``regression_bounds.yaml``: checkpoint, split, ``fail_under`` (metric >= bound), ``fail_over`` (<= bound)."""
    spec = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    unknown = sorted(set(spec) - {"checkpoint", "split", "max_samples", "fail_under", "fail_over", "measured"})
    if unknown:
        raise ValueError(f"{path}: unknown key(s) {unknown}")
    for key in ("fail_under", "fail_over"):
        for metric, bound in (spec.get(key) or {}).items():
            if not isinstance(bound, int | float) or isinstance(bound, bool):
                raise ValueError(f"{path}: {key}.{metric} must be a number, got {bound!r}")
    if not (spec.get("fail_under") or spec.get("fail_over")):
        raise ValueError(f"{path}: no bounds (fail_under / fail_over) to enforce")
    return spec


def evaluate_config(spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "checkpoint": spec.get("checkpoint", "models/promoted"),
        "split": spec.get("split", "test"),
        "max_samples": int(spec.get("max_samples", 0)),
        "fail_under": {k: float(v) for k, v in (spec.get("fail_under") or {}).items()},
        "fail_over": {k: float(v) for k, v in (spec.get("fail_over") or {}).items()},
    }


def pull(root: Path, checkpoint: str) -> None:
    from orchestration import dvc_ops

    pointer = f"{checkpoint.rstrip('/')}.dvc"
    if not (root / pointer).exists() and not (root / checkpoint).is_dir():
        raise FileNotFoundError(
            f"no promoted checkpoint: {pointer} is not in {root} (train until the promotion gate passes, commit it)"
        )
    dvc_ops.pull(root, [t for t in ("data.dvc", pointer) if (root / t).exists()])


def run_gate(root: Path, spec: dict[str, Any], *, log=print) -> tuple[int, dict[str, Any]]:
    """Run the evaluate job on ``root``; returns (exit status, the checkpoint_report materialization metadata)."""
    import dagster as dg

    from orchestration.definitions import build_definitions, default_resources

    env = dict(os.environ, HIEROACTION_PROJECT_ROOT=str(root), HIEROACTION_DVC_PUSH="0")
    defs = build_definitions(default_resources(env), executor=dg.in_process_executor)
    config = evaluate_config(spec)
    with tempfile.TemporaryDirectory(prefix="dagster-ci-") as home, dg.DagsterInstance.local_temp(home) as instance:
        result = defs.resolve_job_def("evaluate").execute_in_process(
            run_config={"ops": {"checkpoint_report": {"config": config}}, **QUIET},
            instance=instance,
            raise_on_error=False,
        )
        metadata: dict[str, Any] = {}
        for event in result.all_events:
            if event.event_type_value == "ASSET_MATERIALIZATION":
                materialization = event.event_specific_data.materialization
                metadata = {k: getattr(v, "value", v) for k, v in materialization.metadata.items()}
            if event.event_type_value == "STEP_FAILURE":
                error = event.event_specific_data.error
                info = event.event_specific_data.user_failure_data
                if info is not None:  # a regression: dg.Failure raised by checkpoint_report
                    log(info.description)
                    gates = info.metadata.get("gates")
                    log(getattr(gates, "value", gates) or "")
                    return 1, metadata
                cause = error.cause if error and error.cause else error
                log(f"evaluate job failed: {cause.message.strip() if cause else 'unknown error'}")
                return 2, metadata
    log(str(metadata.get("gates", "")))
    log(f"report: {metadata.get('report', '?')}")
    return (0 if result.success else 2), metadata


# Metrics the recorded bounds cover, with their direction and the slack allowed below (or above) the measurement.
RECORDED = {"srcc": (">=", 0.05), "format_validity": (">=", 0.05), "action_accuracy": (">=", 0.05),
            "tiou_mean": (">=", 0.05), "rl2_x100": ("<=", 1.0)}


def record_bounds(root: Path, path: Path, checkpoint: str = "models/promoted", split: str = "test") -> dict:
    """Evaluate the checkpoint once and write bounds = measurement minus slack (only metrics that are defined)."""
    from orchestration import dvc_ops

    status, metadata = run_gate(root, {"checkpoint": checkpoint, "split": split, "fail_under": {"n": 1}})
    if status != 0:
        raise RuntimeError("the evaluation itself failed; see the log above")
    measured = {k: float(metadata[k]) for k in RECORDED if isinstance(metadata.get(k), int | float)}
    version = dvc_ops.read_version(root, checkpoint)
    spec = {
        "checkpoint": checkpoint,
        "split": split,
        "fail_under": {k: round(v - RECORDED[k][1], 4) for k, v in measured.items() if RECORDED[k][0] == ">="},
        "fail_over": {k: round(v + RECORDED[k][1], 4) for k, v in measured.items() if RECORDED[k][0] == "<="},
        "measured": {
            **measured,
            "samples": int(metadata.get("n", 0)),
            "checkpoint_dvc_md5": version.md5 if version else "untracked",
            "data_dvc_md5": str(metadata.get("dvc_data_md5")),
        },
    }
    header = (
        "# Regression bounds the CI evaluation gate enforces (python -m orchestration.ci_evaluate).\n"
        "# Written by `python -m orchestration.promote` (or `python -m orchestration.ci_evaluate --record`) from a\n"
        "# measurement of the promoted checkpoint: each bound is the measured value minus (plus, for fail_over) a\n"
        "# fixed slack.\n"
    )
    path.write_text(header + yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return spec


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m orchestration.ci_evaluate", description=__doc__.splitlines()[0])
    parser.add_argument("--bounds", type=Path, default=DEFAULT_BOUNDS)
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help="project checkout (default: this one)")
    parser.add_argument("--no-pull", action="store_true", help="data and checkpoint are already in place")
    parser.add_argument("--record", action="store_true", help="measure the promoted checkpoint and write --bounds")
    args = parser.parse_args(argv)
    os.environ.setdefault("DVC_NO_ANALYTICS", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # the verdict lines, not a bar per checkpoint load
    if args.record:
        print(yaml.safe_dump(record_bounds(args.root.resolve(), args.bounds), sort_keys=False))
        return 0
    try:
        spec = load_bounds(args.bounds)
        if not args.no_pull:
            pull(args.root.resolve(), spec.get("checkpoint", "models/promoted"))
    except (ValueError, FileNotFoundError) as exc:
        print(f"evaluation gate cannot run: {exc}", file=sys.stderr)
        return 2
    status, _ = run_gate(args.root.resolve(), spec)
    print({0: "evaluation gate: PASSED", 1: "evaluation gate: REGRESSION", 2: "evaluation gate: ERROR"}[status])
    return status


if __name__ == "__main__":
    sys.exit(main())
