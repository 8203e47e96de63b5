"""DVC versioning of data/ and checkpoints: a fresh clone restores them byte for byte (local and S3 remotes)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
import yaml

from orchestration import dvc_ops


def _fill(root: Path) -> dict[str, str]:
    """Some data files and a fake-free checkpoint folder (real bytes, nested paths); returns path -> sha256."""
    files = {
        "data/raw/dive_001.mp4": os.urandom(4096),
        "data/raw/dive_002.mp4": os.urandom(1234),
        "data/annotations/manifest.jsonl": b'{"sample_id": "x"}\n',
        "models/promoted/model.safetensors": os.urandom(8192),
        "models/promoted/config.json": b'{"model_type": "qwen2_5_vl"}',
    }
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return {rel: hashlib.sha256(data).hexdigest() for rel, data in files.items()}


def _digests(root: Path, rels) -> dict[str, str]:
    return {rel: hashlib.sha256((root / rel).read_bytes()).hexdigest() for rel in rels}


def _version_and_commit(project: Path, git) -> None:
    data = dvc_ops.add(project, "data")
    model = dvc_ops.add(project, "models/promoted")
    assert data.dvc_file == "data.dvc" and model.dvc_file == "models/promoted.dvc"
    assert data.nfiles == 3 and len(data.md5) == 36 and data.md5.endswith(".dir")
    git(project, "add", "-A")
    assert "data/raw/dive_001.mp4" not in git(project, "ls-files")


def test_fresh_clone_pulls_from_the_in_repo_default_remote(project, tmp_path, git_cmd):
    git = git_cmd
    expected = _fill(project)
    _version_and_commit(project, git)
    pushed = dvc_ops.push(project, ["data.dvc", "models/promoted.dvc"])
    assert pushed == 5 + 2  # five files plus the two directory manifests
    assert (project / "dvc-store" / "files" / "md5").is_dir(), "default remote is dvc-store/ inside the repo"
    git(project, "add", "dvc-store")
    git(project, "commit", "-q", "-m", "data v1 + promoted checkpoint")

    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(project), str(clone))
    assert not (clone / "data").exists()
    dvc_ops.pull(clone)
    assert _digests(clone, expected) == expected
    assert dvc_ops.read_version(clone, "data").md5 == dvc_ops.read_version(project, "data").md5


def test_data_version_changes_with_content_and_provenance_names_the_commit(project, git_cmd):
    git = git_cmd
    _fill(project)
    first = dvc_ops.add(project, "data")
    assert dvc_ops.add(project, "data").md5 == first.md5  # re-adding unchanged data keeps the version
    (project / "data" / "raw" / "dive_003.mp4").write_bytes(b"new video")
    second = dvc_ops.add(project, "data")
    assert second.md5 != first.md5 and second.nfiles == 4
    record = dvc_ops.provenance(project, {"data": "data", "model": "models/promoted"})
    assert record["git_rev"] == git(project, "rev-parse", "HEAD").strip()
    assert record["dvc_data_md5"] == second.md5 and record["dvc_model_md5"] == "untracked"
    assert record["git_dirty"] is False  # data.dvc is new (untracked), tracked files unchanged


def test_missing_target_is_a_clear_error(project):
    with pytest.raises(FileNotFoundError, match="cannot version .*nowhere"):
        dvc_ops.add(project, "nowhere")


def test_push_and_pull_through_an_s3_remote(project, tmp_path, moto_server, s3_bucket, git_cmd):
    """Teams' setting: the S3 remote with a custom endpoint (here moto on 127.0.0.1)."""
    git = git_cmd
    import boto3

    local = project / ".dvc" / "config.local"
    local.write_text(
        "['remote \"s3\"']\n"
        f"    url = s3://{s3_bucket}/store\n"
        f"    endpointurl = {moto_server}\n"
    )
    expected = _fill(project)
    _version_and_commit(project, git)
    assert dvc_ops.push(project, ["data.dvc", "models/promoted.dvc"], remote="s3") == 7
    keys = [o["Key"] for o in boto3.client("s3", endpoint_url=moto_server).list_objects_v2(Bucket=s3_bucket)["Contents"]]
    assert len(keys) == 7 and all(k.startswith("store/files/md5/") for k in keys)
    git(project, "commit", "-q", "-m", "data v1")

    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(project), str(clone))
    (clone / ".dvc" / "config.local").write_text(local.read_text())  # not in git: per-machine endpoint
    dvc_ops.pull(clone, remote="s3")
    assert _digests(clone, expected) == expected
    spec = yaml.safe_load((clone / "data.dvc").read_text())
    assert spec["outs"][0]["path"] == "data"
