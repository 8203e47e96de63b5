"""The Kubernetes variant, selected by configuration: ``HIEROACTION_EXECUTOR=k8s`` runs each step in its own pod
(``k8s_job_executor``); ``HIEROACTION_TRAIN_LAUNCHER=k8s`` runs training through ``PipesK8sClient`` in a GPU pod.

Both read ``orchestration/k8s.yaml`` (image, namespace, the shared volume holding the project, GPU count), so a
cluster needs that one file and no code change. Nothing here talks to a cluster until a run is launched.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

DEFAULT_CONFIG = Path(__file__).with_name("k8s.yaml")


def load_k8s_config(path: str | os.PathLike | None = None) -> dict[str, Any]:
    path = Path(path or os.environ.get("HIEROACTION_K8S_CONFIG", DEFAULT_CONFIG))
    config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    for key in ("image", "namespace", "project_mount", "volume_claim"):
        if not config.get(key):
            raise ValueError(f"{path}: key {key!r} is required for the Kubernetes variant")
    return config


def volume_spec(config: dict[str, Any]) -> tuple[list[dict], list[dict]]:
    """The shared project volume (data/, runs/, models/) mounted at ``project_mount`` in every pod."""
    volumes = [{"name": "project", "persistentVolumeClaim": {"claimName": config["volume_claim"]}}]
    mounts = [{"name": "project", "mountPath": config["project_mount"]}]
    return volumes, mounts


def k8s_executor(config: dict[str, Any] | None = None):
    """``k8s_job_executor`` configured from the file: one pod per step, sharing the project volume."""
    from dagster_k8s import k8s_job_executor

    config = config or load_k8s_config()
    volumes, mounts = volume_spec(config)
    return k8s_job_executor.configured(
        {
            "job_namespace": config["namespace"],
            "image_pull_policy": config.get("image_pull_policy", "IfNotPresent"),
            "env_vars": [f"HIEROACTION_PROJECT_ROOT={config['project_mount']}", *config.get("env_vars", [])],
            "volumes": volumes,
            "volume_mounts": mounts,
            "max_concurrent": int(config.get("max_concurrent", 4)),
            "step_k8s_config": {"container_config": {"resources": config.get("step_resources", {})}},
        },
        name="k8s",
    )


def training_pod_spec(config: dict[str, Any], gpus: int) -> dict[str, Any]:
    """Base pod spec for a training run: GPUs requested, project volume mounted, shared memory for loaders."""
    volumes, mounts = volume_spec(config)
    volumes.append({"name": "dshm", "emptyDir": {"medium": "Memory"}})
    mounts.append({"name": "dshm", "mountPath": "/dev/shm"})
    resources = {"limits": {"nvidia.com/gpu": str(gpus)}} if gpus > 0 else {}
    return {
        "containers": [{"name": "training", "volumeMounts": mounts, "resources": resources,
                        "workingDir": config["project_mount"]}],
        "volumes": volumes,
        "restartPolicy": "Never",
        **({"nodeSelector": config["node_selector"]} if config.get("node_selector") else {}),
    }


def run_training_pod(context, command: list[str], gpus: int, env: dict[str, str], extras: dict[str, Any]):
    """Launch the training command in a pod through ``PipesK8sClient`` (logs and metrics stream back)."""
    from dagster_k8s import PipesK8sClient

    config = load_k8s_config()
    client = PipesK8sClient(load_incluster_config=config.get("in_cluster"), poll_interval=5)
    return client.run(
        context=context,
        image=config["image"],
        command=command,
        namespace=config["namespace"],
        env={"HIEROACTION_PROJECT_ROOT": config["project_mount"], **env},
        base_pod_spec=training_pod_spec(config, gpus),
        extras=extras,
    )
