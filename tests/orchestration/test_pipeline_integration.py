"""The whole asset graph materialized in-process on a small rendered dataset with the tiny model, in a workspace inside
a git checkout (which it leaves untouched), then: the promotion gate on real checkpoints, the explicit promotion into
the checkout, the evaluate job and the CI gate, and versioning of data and the promoted checkpoint."""

from __future__ import annotations

import filecmp
import json
import os
from pathlib import Path

import dagster as dg
import pytest
import yaml

from orchestration import dvc_ops
from orchestration.definitions import build_definitions, default_resources
from orchestration.demo import PipelineSettings, run_pipeline

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("orchestration_pipeline")]  # one shared run

SMALL = PipelineSettings(
    num_videos=2,
    dives_per_video=3,
    test_videos=1,
    val_videos=0,
    sft_steps=2,
    hpl_steps=1,
    train_extra={
        "hpl": {
            "hpl.num_generations": "2",
            "hpl.max_completion_length": "16",
            "hpl.allow_cut_answers": "true",
            "train.per_device_train_batch_size": "2",
        }
    },
)
FAST_ENV = {"HIEROACTION_EVAL_MAX_NEW_TOKENS": "24", "HIEROACTION_BASELINE_EPOCHS": "2"}


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory, new_project):
    """One run of the whole graph (ingest, frames, train job) shared by this module's tests."""
    base = tmp_path_factory.mktemp("pipeline")
    saved = dict(os.environ)
    os.environ.update(
        DVC_NO_ANALYTICS="1", DVC_SITE_CACHE_DIR=str(base / "dvc-site"), DVC_GLOBAL_CONFIG_DIR=str(base / "dvc-g")
    )
    try:
        project = new_project(base / "project")  # the git checkout, with its committed DVC configuration
        workspace = project / "workspace"  # where the graph works (git-ignored, its own DVC repo)
        env = {**FAST_ENV, "HIEROACTION_PROJECT_ROOT": str(workspace), "HIEROACTION_TRAIN_LAUNCHER": "accelerate"}
        defs = build_definitions(default_resources(env), executor=dg.in_process_executor)
        (base / "dagster_home").mkdir()
        with dg.DagsterInstance.local_temp(str(base / "dagster_home")) as instance:
            outcome = run_pipeline(defs, instance, SMALL)
            yield {"defs": defs, "instance": instance, "outcome": outcome, "project": project,
                   "workspace": workspace, "env": env}
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _latest(instance, key: str) -> dict:
    event = instance.get_latest_materialization_event(dg.AssetKey(key))
    assert event is not None, f"{key} was not materialized"
    return {k: getattr(v, "value", v) for k, v in event.asset_materialization.metadata.items()}


def _check(instance, asset: str, name: str):
    record = instance.event_log_storage.get_latest_asset_check_execution_by_key(
        [dg.AssetCheckKey(dg.AssetKey(asset), name)]
    )[dg.AssetCheckKey(dg.AssetKey(asset), name)]
    return record.event.asset_check_evaluation if record and record.event else None


def test_whole_graph_materializes(pipeline, git_cmd):
    outcome, instance, project = pipeline["outcome"], pipeline["instance"], pipeline["workspace"]
    failed = {n: [str(e.event_specific_data)[:800] for e in r.all_events if e.event_type_value == "STEP_FAILURE"]
              for n, r in outcome.runs.items() if not r.success}
    assert outcome.success, failed
    for key in ("raw_videos", "annotations", "samples", "reasoning_targets", "sft_checkpoint", "hpl_checkpoint",
                "benchmark_report"):
        _latest(instance, key)
    assert sorted(instance.get_materialized_partitions(dg.AssetKey("frames"))) == sorted(
        instance.get_dynamic_partitions("videos")
    )
    assert len(instance.get_dynamic_partitions("videos")) == SMALL.num_videos
    assert _check(instance, "annotations", "annotation_contract").passed
    assert _check(instance, "frames", "frame_integrity").passed

    samples = _latest(instance, "samples")
    assert samples["good"] == SMALL.num_videos * SMALL.dives_per_video and samples["quarantined"] == 0
    data_md5 = dvc_ops.read_version(project, "data").md5
    assert samples["data_dvc_md5"] == data_md5

    sft = _latest(instance, "sft_checkpoint")
    assert sft["data_dvc_md5"] == data_md5 and len(sft["git_rev"]) == 40
    assert sft["logged_steps"] >= 1 and "final_train_loss" in sft  # metrics streamed back through Pipes
    assert "loss" in sft["metrics_log"]
    assert "val_n" in sft and "val_metrics" in sft
    assert (project / "runs" / "pipeline" / "sft" / "final" / "config.json").is_file()
    assert (project / "runs" / "pipeline" / "hpl" / "final" / "config.json").is_file()

    report = _latest(instance, "benchmark_report")
    assert Path(report["report"]).is_file() and outcome.report == Path(report["report"])
    # plots as images the asset page shows inline: short Markdown pointing at the plot server of `make ui`
    assert report["score_scatter"] == "![score scatter](http://127.0.0.1:3001/runs/pipeline/report/plots/score_scatter.png)"
    examples = [k for k in report if k.startswith("assessment_")]
    assert examples and all(len(report[k]) < 1000 and report[k].endswith(".png)") for k in examples)
    assert "sample_assessment" in report and report["dvc_data_md5"] == data_md5
    written = json.loads((Path(report["report"]).parent / "report.json").read_text())
    train_rows = (project / "runs" / "pipeline" / "splits" / "train.jsonl").read_text().splitlines()
    expected = {"zero-shot", "sft", "hpl"} | ({"regressor"} if len(train_rows) >= 2 else set())  # the baseline needs 2 clips
    assert set(written["systems"]) == expected
    # the run versioned everything in its workspace: the checkout's tracked files are as committed, nothing new
    assert (project / ".dvc" / "cache").is_dir() and (project / "dvc-store").is_dir()
    assert git_cmd(pipeline["project"], "status", "--porcelain", "--untracked-files=all") == ""


def test_rematerializing_frames_repairs_a_clip_altered_in_the_store(pipeline):
    from orchestration.demo import QUIET, RANGE_END, RANGE_START

    instance, defs = pipeline["instance"], pipeline["defs"]
    folder = Path(_latest(instance, "frames")["location"])
    target, other = sorted(folder.rglob("*.npy"))[:2]
    original = target.read_bytes()
    target.write_bytes(other.read_bytes())  # another dive's pixels, same shape: only the checksum tells
    keys = instance.get_dynamic_partitions("videos")
    result = defs.resolve_job_def("ingest").execute_in_process(
        instance=instance, asset_selection=[dg.AssetKey("frames")], run_config=QUIET,
        tags={RANGE_START: keys[0], RANGE_END: keys[-1]},
    )
    assert result.success
    frames = _latest(instance, "frames")
    assert frames["repaired"] == 1 and frames["written"] == 1 and frames["quarantined"] == 0
    assert target.read_bytes() == original
    assert _check(instance, "frames", "frame_integrity").passed


def _promote(pipeline, metric: str = "srcc", when_gate_fails: str = "keep"):
    job = pipeline["defs"].resolve_job_def("train")
    return job.execute_in_process(
        instance=pipeline["instance"],
        asset_selection=[dg.AssetKey("promoted_checkpoint")],
        run_config={"ops": {"promoted_checkpoint": {"config": {"metric": metric,
                                                                 "when_gate_fails": when_gate_fails}}}},
    )


def _record_validation(instance, folder: Path, better: str, n: int = 48) -> None:
    """Validation answers as the training assets record them (per-sample predictions plus the headline value; the
    real checkpoints stay in place): the ``better`` stage ranks the scores almost perfectly, the other at random."""
    import numpy as np

    rng = np.random.default_rng(7)
    gold = np.linspace(20.0, 90.0, n)
    for stage in ("sft", "hpl"):
        scores = gold + rng.normal(0, 2, n) if stage == better else rng.permutation(gold)
        path = folder / f"{stage}_val_predictions.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps({"system": stage, "sample_id": f"val/{i}", "action_code": "107b",
                                            "gold_score": float(g), "score": float(p), "score_valid": True}) + "\n"
                                for i, (g, p) in enumerate(zip(gold, scores, strict=True))))
        metadata = {"val_srcc": float(np.corrcoef(np.argsort(np.argsort(scores)), np.arange(n))[0, 1]),
                    "val_predictions": dg.MetadataValue.path(str(path))}
        instance.report_runless_asset_event(dg.AssetMaterialization(f"{stage}_checkpoint", metadata=metadata))


@pytest.fixture(scope="module")
def promoted(pipeline):
    """The HPL checkpoint promoted through the gate (validation recorded as better), once per module."""
    target = pipeline["project"] / "models" / "promoted"
    if not target.exists():
        _record_validation(pipeline["instance"], pipeline["project"].parent / "validation", better="hpl")
        assert _promote(pipeline).success
        _release(pipeline)
    return target


def _release(pipeline) -> list:
    """`python -m orchestration.promote`: the workspace's promoted checkpoint into the checkout (bounds kept)."""
    from orchestration.promote import promote

    os.environ.update(pipeline["env"])
    return promote(pipeline["workspace"], pipeline["project"], record=False, log=lambda *_: None)


def test_promotion_gate_blocks_a_worse_checkpoint(pipeline):
    instance, project = pipeline["instance"], pipeline["workspace"]
    pointer = project / "models" / "promoted.dvc"
    before = pointer.read_text() if pointer.exists() else None
    count = len(instance.fetch_materializations(dg.AssetKey("promoted_checkpoint"), limit=100).records)

    _record_validation(instance, pipeline["project"].parent / "validation", better="sft")
    blocked = _promote(pipeline)
    assert blocked.success  # a gate that says no is an answer, not a crash
    gate = _check(instance, "promoted_checkpoint", "promotion_gate")
    assert gate.passed is False and "48 paired samples" in gate.description and "not promoted" in gate.description
    assert (pointer.read_text() if pointer.exists() else None) == before  # nothing new versioned
    assert len(instance.fetch_materializations(dg.AssetKey("promoted_checkpoint"), limit=100).records) == count


def test_a_failed_gate_can_promote_the_sft_model_instead(pipeline):
    """``when_gate_fails: sft``: the gate still fails, and the SFT model HPL did not beat becomes the one in use."""
    instance, workspace = pipeline["instance"], pipeline["workspace"]
    _record_validation(instance, pipeline["project"].parent / "validation", better="sft")
    result = _promote(pipeline, when_gate_fails="sft")
    assert result.success and _check(instance, "promoted_checkpoint", "promotion_gate").passed is False
    target = workspace / "models" / "promoted"
    sft_final = workspace / "runs" / "pipeline" / "sft" / "final"
    assert filecmp.cmp(target / "model.safetensors", sft_final / "model.safetensors", shallow=False)
    provenance = yaml.safe_load((target / "hieroaction_provenance.yaml").read_text())
    assert provenance["stage"] == "sft" and "SFT promoted instead" in provenance["gate"]
    assert _latest(instance, "promoted_checkpoint")["checkpoint_dvc_md5"] == dvc_ops.read_version(
        workspace, "models/promoted").md5


def test_promotion_gate_promotes_a_better_checkpoint_and_dvc_restores_it(pipeline, git_cmd):
    instance, workspace, project = pipeline["instance"], pipeline["workspace"], pipeline["project"]
    target = workspace / "models" / "promoted"
    _record_validation(instance, project.parent / "validation", better="hpl")
    promoted = _promote(pipeline)
    assert promoted.success and _check(instance, "promoted_checkpoint", "promotion_gate").passed
    meta = _latest(instance, "promoted_checkpoint")
    hpl_final = workspace / "runs" / "pipeline" / "hpl" / "final"
    assert filecmp.cmp(target / "model.safetensors", hpl_final / "model.safetensors", shallow=False)
    provenance = yaml.safe_load((target / "hieroaction_provenance.yaml").read_text())
    assert provenance["dvc_data_md5"] == dvc_ops.read_version(workspace, "data").md5
    assert meta["checkpoint_dvc_md5"] == dvc_ops.read_version(workspace, "models/promoted").md5
    # the gate versions the checkpoint in the workspace only; the checkout changes on the explicit promotion
    assert git_cmd(project, "status", "--porcelain", "--untracked-files=all") == ""
    changes = {c.what: c for c in _release(pipeline)}
    assert changes["models/promoted.dvc"].after == meta["checkpoint_dvc_md5"][:12]
    assert changes["data.dvc"].after == provenance["dvc_data_md5"][:12]
    changed = {line[3:] for line in git_cmd(project, "status", "--porcelain", "--untracked-files=all").splitlines()}
    assert {"data.dvc", "models/promoted.dvc"} <= changed and any(p.startswith("dvc-store/") for p in changed)
    assert all(p.startswith("dvc-store/") or p.endswith((".dvc", ".gitignore")) for p in changed), changed
    # pushed to the checkout's default (in-repo) remote: a fresh clone restores data and checkpoint byte for byte
    git_cmd(project, "add", "-A")
    git_cmd(project, "commit", "-q", "-m", "promoted")
    clone = project.parent / "clone"
    git_cmd(project.parent, "clone", "-q", str(project), str(clone))
    dvc_ops.pull(clone)
    assert filecmp.cmp(clone / "models" / "promoted" / "model.safetensors", target / "model.safetensors", False)
    assert not filecmp.dircmp(clone / "data", workspace / "data").diff_files


def test_promote_refuses_a_workspace_without_a_promoted_checkpoint(tmp_path, project):
    from orchestration.promote import main

    assert main([str(tmp_path / "empty"), "--root", str(project)]) == 2


def test_ci_gate_passes_within_bounds_and_fails_on_regression(pipeline, promoted):
    from orchestration.ci_evaluate import run_gate

    project = pipeline["project"]
    os.environ.update(pipeline["env"])
    status, meta = run_gate(project, {"checkpoint": "models/promoted", "split": "test",
                                      "fail_under": {"n": 1, "format_validity": 0.0}}, log=lambda *_: None)
    assert status == 0, meta
    assert meta["n"] == SMALL.dives_per_video and Path(meta["report"]).is_file()
    assert meta["dvc_checkpoint_md5"] == dvc_ops.read_version(project, "models/promoted").md5
    lines: list[str] = []
    status, _ = run_gate(project, {"checkpoint": "models/promoted", "fail_under": {"format_validity": 1.01}},
                         log=lines.append)
    assert status == 1
    assert any("FAILED" in line and "format_validity" in line for line in lines)


def test_recorded_bounds_hold_for_the_measured_checkpoint(pipeline, promoted, tmp_path):
    from orchestration.ci_evaluate import load_bounds, main, record_bounds

    project = pipeline["project"]
    os.environ.update(pipeline["env"])
    bounds = tmp_path / "bounds.yaml"
    spec = record_bounds(project, bounds)
    assert spec["measured"]["checkpoint_dvc_md5"] == dvc_ops.read_version(project, "models/promoted").md5
    assert "format_validity" in spec["fail_under"]  # defined even for an untrained model (it is 0.0 then)
    assert load_bounds(bounds)["fail_under"] == spec["fail_under"]
    assert main(["--bounds", str(bounds), "--root", str(project)]) == 0  # pulls with DVC, then passes
