"""The real Dagster webserver on 127.0.0.1: the code location loads from workspace.yaml, a materialization launched
through the GraphQL API runs to success, and headless Chromium renders the asset graph page."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("orchestration_webserver")]  # one server
REPO_ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(url: str, process: subprocess.Popen, timeout: float = 180) -> None:
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"webserver exited with {process.returncode}")
        try:
            if requests.get(url, timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(1)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


@pytest.fixture(scope="module")
def webserver(tmp_path_factory, new_project):
    """``dagster-webserver -w workspace.yaml`` with a temp DAGSTER_HOME and a temp project (data, DVC) root."""
    base = tmp_path_factory.mktemp("web")
    home = base / "dagster_home"
    home.mkdir()
    instance = yaml.safe_load((REPO_ROOT / "dagster.yaml").read_text())
    instance.pop("concurrency", None)  # no daemon here: launch runs directly instead of queueing them
    instance["run_coordinator"] = {"module": "dagster.core.run_coordinator", "class": "DefaultRunCoordinator"}
    (home / "dagster.yaml").write_text(yaml.safe_dump(instance))
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "HIEROACTION_PROJECT_ROOT": str(new_project(base / "project")),
        "HIEROACTION_EXECUTOR": "in_process",
        "DVC_NO_ANALYTICS": "1",
        "DVC_SITE_CACHE_DIR": str(base / "dvc-site"),
        "DVC_GLOBAL_CONFIG_DIR": str(base / "dvc-global"),
    }
    port = _free_port()
    log = open(base / "webserver.log", "w")
    command = [str(Path(sys.executable).with_name("dagster-webserver")), "-w", str(REPO_ROOT / "workspace.yaml"),
               "-h", "127.0.0.1", "-p", str(port)]
    process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_for(f"http://127.0.0.1:{port}/server_info", process)
        yield {"port": port, "home": home, "project": Path(env["HIEROACTION_PROJECT_ROOT"]), "log": base / "webserver.log"}
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def _wait_for_run(client, run_id: str, timeout: float = 300):
    from dagster import DagsterRunStatus

    deadline = time.monotonic() + timeout
    status = None
    while time.monotonic() < deadline:
        status = client.get_run_status(run_id)
        if status in (DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED):
            return status
        time.sleep(2)
    raise TimeoutError(f"run {run_id} still {status} after {timeout} s")


def test_materialization_launched_through_graphql_succeeds(webserver):
    from dagster import DagsterRunStatus
    from dagster_graphql import DagsterGraphQLClient

    client = DagsterGraphQLClient("127.0.0.1", port_number=webserver["port"], timeout=60)
    run_id = client.submit_job_execution(
        "ingest",
        repository_location_name="hieroaction",
        run_config={"ops": {"raw_videos": {"config": {"num_videos": 2, "dives_per_video": 1, "test_videos": 1}}}},
        asset_selection=[["raw_videos"]],
    )
    status = _wait_for_run(client, run_id)
    assert status == DagsterRunStatus.SUCCESS, webserver["log"].read_text()[-3000:]
    rendered = sorted(p.name for p in (webserver["project"] / "data" / "raw").glob("*.mp4"))
    assert len(rendered) == 2

    # the materialization and the new partitions are visible through the same API
    query = """
    query { assetNodes(assetKeys: [{path: ["raw_videos"]}]) {
      assetMaterializations(limit: 1) { runId metadataEntries { label ... on IntMetadataEntry { intValue } } } } }
    """
    data = client._execute(query)
    (node,) = data["assetNodes"]
    (materialization,) = node["assetMaterializations"]
    assert materialization["runId"] == run_id
    entries = {e["label"]: e.get("intValue") for e in materialization["metadataEntries"]}
    assert entries["videos"] == 2 and entries["new_partitions"] == 2


def test_asset_graph_screenshot(webserver, tmp_path):
    from orchestration.ui import find_chromium, screenshot

    if find_chromium() is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install -y chromium); the screenshot needs it")
    import numpy as np
    from PIL import Image

    out = screenshot(f"http://127.0.0.1:{webserver['port']}/asset-groups", tmp_path / "graph.png")
    image = np.asarray(Image.open(out).convert("L"))
    assert image.shape == (1000, 1600)
    assert image.std() > 5, "the page rendered blank"
    if os.environ.get("HIEROACTION_UPDATE_UI_DOCS") == "1":  # refresh the committed picture on purpose only
        target = REPO_ROOT / "docs" / "ui" / "asset_graph.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(out.read_bytes())


def test_report_plot_shows_inside_the_asset_page(webserver, tmp_path, monkeypatch):
    """A report plot recorded as asset metadata (as benchmark_report records it) renders as an image in the page."""
    from orchestration.ui import find_chromium, screenshot, serve_plots

    if find_chromium() is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install -y chromium); the screenshot needs it")
    import dagster as dg
    import numpy as np
    from PIL import Image

    from hieroaction.evaluate.plots import STEP_COLOURS, plot_assessment
    from hieroaction.reasoning import parse_assessment
    from orchestration.metadata import image_markdown

    project = webserver["project"]
    answer = parse_assessment("<think>ok</think><action>207c | back 3½ somersaults, tuck | DD 3.0</action>\n<steps>\n"
                              "1. Back | frames 0-19 | clean\n2. 3.5 Soms.Tuck | frames 20-59 | tight\n"
                              "3. Entry | frames 60-79 | small splash\n</steps>\n<score>72.00</score>").assessment
    frames = np.zeros((8, 48, 48, 3), dtype=np.uint8)
    frames[:, 12:36, 12:36] = (230, 230, 230)
    png = plot_assessment(project / "runs" / "pipeline" / "report" / "plots" / "assessment_demo.png", frames,
                          list(range(0, 80, 10)), 80, answer, gold=answer, title="demo dive")
    port = _free_port()
    monkeypatch.setenv("HIEROACTION_PLOTS_URL", f"http://127.0.0.1:{port}")
    server = serve_plots(project, "127.0.0.1", port)
    try:
        instance = dg.DagsterInstance.from_config(str(webserver["home"]))
        instance.report_runless_asset_event(
            dg.AssetMaterialization("benchmark_report", metadata={"assessment_demo": image_markdown(png, "demo", project)})
        )
        shot = screenshot(f"http://127.0.0.1:{webserver['port']}/assets/benchmark_report", tmp_path / "asset.png",
                          height=1400)
    finally:
        server.shutdown()
    pixels = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    orange = np.array([int(STEP_COLOURS[1][i: i + 2], 16) for i in (1, 3, 5)])  # the second step's bar
    drawn = 0.9 * orange + 0.1 * 255  # the model's bars are drawn at alpha 0.9 on white
    assert (np.abs(pixels - drawn).sum(axis=2) < 30).sum() > 500, "the plot is not drawn in the asset page"
    if os.environ.get("HIEROACTION_UPDATE_UI_DOCS") == "1":
        (REPO_ROOT / "docs" / "ui" / "benchmark_report_plot.png").write_bytes(shot.read_bytes())
