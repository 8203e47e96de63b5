"""The Dagster ``Definitions`` of HieroAction, loaded by ``workspace.yaml`` (``dagster dev -w workspace.yaml``).

Resources are built from environment variables so one code location serves a laptop (embedded default: rendered
dives, local DVC remote, tiny model), a team (S3 raw videos and DVC remote) or a cluster (Kubernetes executor and
Pipes client): see ``docs/`` and ``orchestration/k8s.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from orchestration import checks
from orchestration.assets import frames as frames_assets
from orchestration.assets import ingest, reasoning, report, training
from orchestration.console import compact_console_logger
from orchestration.jobs import build_jobs
from orchestration.resources import DvcResource, FrameSettingsResource, StorageResource, TrainingResource
from orchestration.schedules import weekly_retrain_schedule
from orchestration.sensors import new_video_run

REPO_ROOT = Path(__file__).resolve().parents[1]
# Where the graph works by default: the repository's layout (data/, models/, runs/) with its own DVC repository,
# cache and remote, ignored by git. Promoting its checkpoint into the checkout is `python -m orchestration.promote`.
DEFAULT_WORKSPACE = REPO_ROOT / "workspace"


def default_resources(env: dict[str, str] | None = None) -> dict[str, dg.ConfigurableResource]:
    """Resources from ``HIEROACTION_*`` / ``AWS_*`` environment variables (embedded defaults when unset)."""
    env = dict(os.environ if env is None else env)
    root = env.get("HIEROACTION_PROJECT_ROOT", str(DEFAULT_WORKSPACE))
    return {
        "storage": StorageResource(
            project_root=root,
            raw_videos_uri=env.get("HIEROACTION_RAW_VIDEOS_URI", ""),
            annotations_uri=env.get("HIEROACTION_ANNOTATIONS_URI", ""),
            work_dir=env.get("HIEROACTION_WORK_DIR", "runs/pipeline"),
            s3_endpoint_url=env.get("AWS_ENDPOINT_URL", ""),
        ),
        "dvc": DvcResource(
            repo_root=root,
            remote=env.get("HIEROACTION_DVC_REMOTE", ""),
            push=env.get("HIEROACTION_DVC_PUSH", "1") != "0",
        ),
        "training": TrainingResource(
            preset=env.get("HIEROACTION_PRESET", "tiny"),
            device=env.get("HIEROACTION_DEVICE", "cpu"),
            launcher=env.get("HIEROACTION_TRAIN_LAUNCHER", "accelerate"),
            num_processes=int(env.get("HIEROACTION_NUM_PROCESSES", "1")),
            accelerate_config=env.get("HIEROACTION_ACCELERATE_CONFIG", ""),
            eval_max_new_tokens=int(env.get("HIEROACTION_EVAL_MAX_NEW_TOKENS", "384")),
            baseline_epochs=int(env.get("HIEROACTION_BASELINE_EPOCHS", "60")),
        ),
        "frame_settings": FrameSettingsResource(
            count=int(env.get("HIEROACTION_FRAME_COUNT", "8")),
            size=int(env.get("HIEROACTION_FRAME_SIZE", "64")),
        ),
    }


def all_assets() -> list:
    return [
        ingest.raw_videos,
        ingest.annotations,
        ingest.samples,
        frames_assets.frames,
        reasoning.reasoning_targets,
        training.sft_checkpoint,
        training.hpl_checkpoint,
        training.promoted_checkpoint,
        report.benchmark_report,
        report.checkpoint_report,
    ]


def all_checks() -> list:
    return [checks.annotation_contract, checks.frame_integrity]


def executor_from_env(env: dict[str, str] | None = None):
    """``HIEROACTION_EXECUTOR``: ``multiprocess`` (default), ``in_process`` (small machines, tests) or ``k8s``."""
    env = dict(os.environ if env is None else env)
    name = env.get("HIEROACTION_EXECUTOR", "multiprocess")
    if name == "k8s":
        from orchestration.k8s import k8s_executor

        return k8s_executor()
    if name == "in_process":
        return dg.in_process_executor
    if name == "multiprocess":
        return dg.multiprocess_executor.configured({"max_concurrent": 2})
    raise ValueError(f"HIEROACTION_EXECUTOR={name!r}: choose multiprocess, in_process or k8s")


def build_definitions(resources: dict | None = None, executor=None) -> dg.Definitions:
    """Everything in one ``Definitions``; tests pass their own resources (temp project root, moto endpoint)."""
    resources = resources or default_resources()
    executor = executor if executor is not None else executor_from_env()
    assets = all_assets()
    names = {a.key.to_user_string() for a in assets}
    max_runtime = resources["training"].max_runtime_s if "training" in resources else 6 * 3600
    return dg.Definitions(
        assets=assets,
        asset_checks=all_checks(),
        jobs=build_jobs(names, max_runtime),
        schedules=[weekly_retrain_schedule("train")] if "sft_checkpoint" in names else [],
        sensors=[new_video_run("ingest")],
        resources=resources,
        executor=executor,
        loggers={"console": compact_console_logger},
    )


defs = build_definitions()
