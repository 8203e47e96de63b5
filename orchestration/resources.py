"""Dagster resources: where data lives (local or S3), how DVC versions it, and how training is launched.

Why resources: the same assets run against a laptop folder, an S3 prefix or a Kubernetes cluster; only these three
objects change (in ``definitions.py`` from environment variables, or per run in the launchpad).
"""

from __future__ import annotations

import os
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import dagster as dg
import psutil

from hieroaction.datasets.media import key_problem
from orchestration import dvc_ops

VIDEO_SUFFIXES = (".mp4", ".mkv", ".avi", ".webm", ".mov", ".m4v")


@dataclass(frozen=True)
class RawVideo:
    """One video (a file) or one frame folder (FineDiving layout) in the raw-video location."""

    name: str  # partition key: the file stem or the top-level folder name
    uri: str  # full local path or s3:// URI
    is_dir: bool


def is_remote(uri: str) -> bool:
    return "://" in uri and not uri.startswith("file://")


class StorageResource(dg.ConfigurableResource):
    """Project layout and the raw-video source.

    ``raw_videos_uri`` empty means the embedded default: dives rendered by ``hieroaction.synth`` into ``data/raw``.
    Otherwise a local folder or an ``s3://bucket/prefix``; S3 credentials come from the usual ``AWS_*`` environment
    variables and the endpoint from ``s3_endpoint_url`` or ``AWS_ENDPOINT_URL`` (MinIO, moto, ...).
    """

    project_root: str = "."
    raw_videos_uri: str = ""
    annotations_uri: str = ""
    work_dir: str = "runs/pipeline"
    s3_endpoint_url: str = ""

    # --- layout -------------------------------------------------------------------------------------------------
    @property
    def root(self) -> Path:
        return Path(self.project_root).resolve()

    @property
    def data_dir(self) -> Path:
        """DVC-tracked (``data.dvc``): raw videos and annotations, nothing derived."""
        return self.root / "data"

    @property
    def raw_dir(self) -> Path:
        return self.data_dir / "raw"

    @property
    def annotations_dir(self) -> Path:
        return self.data_dir / "annotations"

    @property
    def work(self) -> Path:
        """Derived outputs (samples table, frames, targets, checkpoints, reports): reproducible from data + code."""
        path = Path(self.work_dir)
        return path if path.is_absolute() else self.root / path

    @property
    def frames_dir(self) -> Path:
        """Extracted clips; the library keeps each sampling setting in its own ``<settings.key>/`` folder."""
        return self.work / "frames"

    @property
    def splits_dir(self) -> Path:
        """The train / val / test sample tables training and evaluation read (``<split>.jsonl``)."""
        return self.work / "splits"

    def split_table(self, split: str) -> Path:
        return self.splits_dir / f"{split}.jsonl"

    def stage_dir(self, stage: str) -> Path:
        """A training stage's output folder (checkpoints, ``final/``, logs, validation report)."""
        return self.work / stage

    @property
    def report_dir(self) -> Path:
        return self.work / "report"

    @property
    def presets_dir(self) -> Path:
        """Offline base models built from presets (the zero-shot reference)."""
        return self.work / "presets"

    @property
    def models_dir(self) -> Path:
        """Promoted checkpoints, each tracked by its own ``.dvc`` file."""
        return self.root / "models"

    @property
    def embedded(self) -> bool:
        return not self.raw_videos_uri

    # --- remote access ------------------------------------------------------------------------------------------
    def filesystem(self, uri: str):
        """An fsspec filesystem for ``uri`` (s3fs for ``s3://``; credentials from the environment)."""
        import fsspec

        if uri.startswith("s3://"):
            endpoint = self.s3_endpoint_url or os.environ.get("AWS_ENDPOINT_URL", "")
            kwargs = {"client_kwargs": {"endpoint_url": endpoint}} if endpoint else {}
            return fsspec.filesystem("s3", **kwargs)
        return fsspec.filesystem("file")

    def list_raw_videos(self) -> list[RawVideo]:
        """Videos (files) and frame folders directly under the raw-video location, sorted by name."""
        uri = self.raw_videos_uri or str(self.raw_dir)
        fs = self.filesystem(uri)
        fs.invalidate_cache()  # s3fs caches listings per instance; a sensor must see new uploads
        base = uri.rstrip("/")
        if not fs.exists(base):
            return []
        found: list[RawVideo] = []
        for entry in fs.ls(base, detail=True):
            name = entry["name"].rstrip("/").rsplit("/", 1)[-1]
            if name.startswith("."):
                continue
            if key_problem(entry["name"].rstrip("/"), fs._strip_protocol(base).rstrip("/")):
                continue  # a key that would land outside data/raw (``..``, another prefix): never copied
            full = entry["name"] if not uri.startswith("s3://") else "s3://" + entry["name"].lstrip("/")
            if entry["type"] == "directory":
                found.append(RawVideo(partition_key(name), full, True))
            elif name.lower().endswith(VIDEO_SUFFIXES):
                found.append(RawVideo(partition_key(Path(name).stem), full, False))
        return sorted(found, key=lambda v: v.name)

    def fetch(self, uri: str, dest: Path, *, always: bool = False) -> Path:
        """Copy a remote file or folder to ``dest`` (a file already there with the same size is kept unless
        ``always``: videos are immutable, annotation files are not)."""
        fs = self.filesystem(uri)
        dest.parent.mkdir(parents=True, exist_ok=True)
        if fs.isdir(uri):
            fs.get(uri.rstrip("/") + "/", str(dest), recursive=True)
        elif always or not dest.exists() or dest.stat().st_size != fs.size(uri):
            fs.get(uri, str(dest))
        return dest


def partition_key(name: str) -> str:
    """A Dagster-safe dynamic partition key for a video name (letters, digits, ``-``, ``_``, ``.`` only)."""
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)
    if not safe:
        raise ValueError(f"video name {name!r} gives an empty partition key")
    return safe


class DvcResource(dg.ConfigurableResource):
    """The DVC repository of the project root and the remote to push versions to ('' = its default remote).

    A root that is no DVC repository yet (the default workspace) becomes one of its own on first use, cache and
    remote inside it, so running the graph never rewrites the git checkout's ``data.dvc`` or ``models/promoted.dvc``.
    """

    repo_root: str = "."
    remote: str = ""
    push: bool = True

    @property
    def root(self) -> Path:
        return Path(self.repo_root).resolve()

    def version(self, target: str | Path) -> dvc_ops.TrackedVersion | None:
        return dvc_ops.read_version(self.root, target)

    def track(self, target: str | Path) -> dvc_ops.TrackedVersion:
        """``dvc add`` then (if enabled) ``dvc push`` of one output; returns the recorded version."""
        dvc_ops.ensure_repo(self.root)
        version = dvc_ops.add(self.root, target)
        if self.push:
            dvc_ops.push(self.root, [self.root / version.dvc_file], remote=self.remote or None)
        return version

    def provenance(self, **targets: str | Path) -> dict[str, object]:
        return dvc_ops.provenance(self.root, targets)


class TrainingResource(dg.ConfigurableResource):
    """How training runs: model preset, device, and the launcher wrapped by Dagster Pipes.

    ``launcher``: ``accelerate`` (``accelerate launch``: one GPU, several, or several nodes with the same code),
    ``python`` (a plain subprocess), or ``k8s`` (the same command in a pod through ``PipesK8sClient``).
    """

    preset: Literal["tiny", "small"] = "tiny"
    device: str = "cpu"
    launcher: Literal["accelerate", "python", "k8s"] = "accelerate"
    num_processes: int = 1
    accelerate_config: str = ""
    max_runtime_s: int = 6 * 3600
    k8s_image: str = "hieroaction:latest"
    k8s_namespace: str = "default"
    k8s_gpus: int = 1
    # Evaluation after training (validation metrics for the promotion gate) and in the benchmark report.
    eval_max_new_tokens: int = 384
    baseline_epochs: int = 60

    def command(self, stage: Literal["sft", "hpl"], config_path: Path) -> list[str]:
        """The training command line (run inside the Pipes session by ``orchestration.pipes_train``)."""
        entry = ["-m", "orchestration.pipes_train", stage, "--config", str(config_path)]
        if self.launcher == "python":
            return [sys.executable, *entry]
        launch = [sys.executable, "-m", "accelerate.commands.launch"]
        if self.accelerate_config:
            launch += ["--config_file", self.accelerate_config]
        else:
            launch += ["--num_processes", str(self.num_processes), "--num_machines", "1", "--mixed_precision", "no"]
            launch += ["--dynamo_backend", "no"]
            if self.device == "cpu":  # the thread count accelerate would pick, passed so it does not warn about it
                threads = max(1, (psutil.cpu_count(logical=False) or 1) // max(1, self.num_processes))
                launch += ["--cpu", "--num_cpu_threads_per_process", str(threads)]
        if self.launcher == "k8s":  # inside the pod the image's own python and accelerate run the same entry point
            launch = ["accelerate", "launch", *launch[3:]]
        return [*launch, *entry]

    def command_line(self, stage: Literal["sft", "hpl"], config_path: Path) -> str:
        return shlex.join(self.command(stage, config_path))


class FrameSettingsResource(dg.ConfigurableResource):
    """How clips become model input (sampler, frame count, square size); shared by extraction, checks and training.

    Why a resource rather than per-asset run config: every consumer must agree, or training reads frames that
    extraction never wrote.
    """

    sampler: Literal["uniform", "tsa", "core"] = "uniform"
    count: int = 8
    size: int = 64
    workers: int = 2

    def settings(self):
        from hieroaction.video.sampling import FrameSettings

        return FrameSettings(sampler=self.sampler, count=self.count, size=(self.size, self.size))
