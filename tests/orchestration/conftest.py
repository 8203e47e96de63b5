"""Fixtures for the orchestration tests: a temp DAGSTER_HOME, isolated DVC state, temp git+DVC project copies, and a
real S3 API (moto's threaded server) on 127.0.0.1."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
GIT_ENV = {
    "GIT_AUTHOR_NAME": "test",
    "GIT_AUTHOR_EMAIL": "test@example.invalid",
    "GIT_COMMITTER_NAME": "test",
    "GIT_COMMITTER_EMAIL": "test@example.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(cwd: Path, *args: str) -> str:
    """Run git in a test's temporary repository (never in the project checkout)."""
    assert not cwd.resolve().is_relative_to(REPO_ROOT), "tests never run git in the project checkout"
    out = subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True, env={**os.environ, **GIT_ENV}
    )
    return out.stdout


def make_project(path: Path) -> Path:
    """A temp git repo carrying the project's shipped DVC configuration (``.dvc/config``, ``.dvcignore``)."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    (path / ".dvc").mkdir()
    shutil.copy2(REPO_ROOT / ".dvc" / "config", path / ".dvc" / "config")
    shutil.copy2(REPO_ROOT / ".dvc" / ".gitignore", path / ".dvc" / ".gitignore")
    shutil.copy2(REPO_ROOT / ".dvcignore", path / ".dvcignore")
    shutil.copy2(REPO_ROOT / ".gitignore", path / ".gitignore")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "project with DVC config")
    return path


@pytest.fixture(scope="session")
def git_cmd():
    """``git_cmd(cwd, *args)``: git in a test's temporary repository."""
    return git


@pytest.fixture(scope="session")
def new_project():
    """``new_project(path)``: a temp git repo with the project's DVC configuration."""
    return make_project



@pytest.fixture(autouse=True)
def isolated_state(tmp_path_factory, monkeypatch):
    """DVC writes site/global state outside the repo unless told otherwise (docs/STACK.md); Dagster needs a home."""
    state = tmp_path_factory.mktemp("state")
    monkeypatch.setenv("DVC_SITE_CACHE_DIR", str(state / "dvc-site"))
    monkeypatch.setenv("DVC_GLOBAL_CONFIG_DIR", str(state / "dvc-global"))
    monkeypatch.setenv("DVC_SYSTEM_CONFIG_DIR", str(state / "dvc-system"))
    monkeypatch.setenv("DVC_NO_ANALYTICS", "1")
    monkeypatch.setenv("DAGSTER_HOME", str(state / "dagster_home"))
    (state / "dagster_home").mkdir()
    for key, value in GIT_ENV.items():
        monkeypatch.setenv(key, value)
    return state


@pytest.fixture
def project(tmp_path) -> Path:
    return make_project(tmp_path / "project")


@pytest.fixture(scope="session")
def moto_server():
    """moto's S3 on loopback, with fake credentials in the environment for boto/s3fs/dvc-s3."""
    from moto.server import ThreadedMotoServer

    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")}
    os.environ.update(
        {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
    )
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture
def s3_bucket(moto_server) -> str:
    """A fresh bucket per test; returns its name."""
    import boto3

    name = f"test-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1").create_bucket(Bucket=name)
    return name
