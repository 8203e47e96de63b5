"""The Kubernetes variant is selected by configuration and builds valid specs; the training command lines."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from orchestration.definitions import build_definitions, default_resources, executor_from_env
from orchestration.k8s import load_k8s_config, training_pod_spec
from orchestration.pipes_train import summary_metrics
from orchestration.resources import TrainingResource


def test_k8s_executor_is_chosen_by_configuration_and_validates():
    executor = executor_from_env({"HIEROACTION_EXECUTOR": "k8s"})
    assert executor.name == "k8s"
    defs = build_definitions(default_resources({}), executor=executor)
    job = defs.resolve_job_def("train")  # resolving applies and validates the executor's config schema
    assert job.executor_def.name == "k8s"
    config = load_k8s_config()
    resolved = dg.validate_run_config(job, {})  # the shipped settings pass dagster-k8s's config schema
    applied = resolved["execution"]["k8s"]
    assert applied["job_namespace"] == config["namespace"]
    assert applied["volumes"][0]["persistentVolumeClaim"]["claimName"] == config["volume_claim"]
    with pytest.raises(ValueError, match="choose multiprocess"):
        executor_from_env({"HIEROACTION_EXECUTOR": "slurm"})


def test_training_pod_spec_requests_gpus_and_mounts_the_project():
    from dagster_k8s.pipes import build_pod_body

    config = load_k8s_config()
    training = TrainingResource(launcher="k8s", device="cuda", num_processes=8, k8s_gpus=8)
    command = training.command("hpl", Path("/workspace/hieroaction/runs/pipeline/hpl.yaml"))
    assert command[:3] == ["accelerate", "launch", "--num_processes"] and "--cpu" not in command
    body = build_pod_body(
        pod_name="hieroaction-train",
        image=config["image"],
        command=command,
        env_vars={"DAGSTER_PIPES_CONTEXT": "x"},
        base_pod_meta=None,
        base_pod_spec=training_pod_spec(config, training.k8s_gpus),
    )
    container = body.spec.containers[0]
    assert container.image == config["image"] and container.command == command
    assert container.resources.limits == {"nvidia.com/gpu": "8"}
    assert {m.mount_path for m in container.volume_mounts} == {config["project_mount"], "/dev/shm"}
    claim = next(v for v in body.spec.volumes if v.name == "project").persistent_volume_claim
    assert claim.claim_name == config["volume_claim"]


def test_local_launch_commands(tmp_path):
    cfg = tmp_path / "sft.yaml"
    accelerate = TrainingResource().command("sft", cfg)
    assert accelerate[1:3] == ["-m", "accelerate.commands.launch"] and "--cpu" in accelerate
    assert accelerate[-5:] == ["-m", "orchestration.pipes_train", "sft", "--config", str(cfg)]
    multi = TrainingResource(accelerate_config="configs/accelerate/ddp.yaml", device="cuda").command("hpl", cfg)
    assert "--config_file" in multi and "--cpu" not in multi
    plain = TrainingResource(launcher="python").command("sft", cfg)
    assert plain[1:] == ["-m", "orchestration.pipes_train", "sft", "--config", str(cfg)]


def test_summary_metrics_keeps_the_last_finite_value():
    history = [{"step": 1, "loss": 2.0, "reward": float("nan")}, {"step": 2, "loss": 1.5, "train_runtime": 3.0}]
    assert summary_metrics(history) == {"final_loss": 1.5, "final_train_runtime": 3.0, "logged_steps": 2}


def test_definitions_load_with_defaults():
    defs = build_definitions(default_resources({}), executor=dg.in_process_executor)
    assert {j.name for j in defs.jobs} == {"ingest", "train", "evaluate"}
    graph = defs.resolve_asset_graph()
    assert graph.get(dg.AssetKey("frames")).partitions_def.name == "videos"
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.description and node.owners and node.group_name, key


def test_shipped_dagster_yaml_enables_run_monitoring_and_retries(tmp_path):
    import shutil

    shutil.copy2(Path(__file__).resolve().parents[2] / "dagster.yaml", tmp_path / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        assert instance.run_monitoring_enabled and instance.run_retries_enabled
        assert instance.run_retries_max_retries == 1
        queue = instance.get_concurrency_config().run_queue_config
        assert queue.max_concurrent_runs == 2
        assert {"key": "hieroaction/kind", "value": "training", "limit": 1} in queue.tag_concurrency_limits
