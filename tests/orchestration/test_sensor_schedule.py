"""The new-video sensor (local folder and S3 prefix) and the weekly retraining schedule's skip."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from orchestration import dvc_ops
from orchestration.partitions import VIDEOS_PARTITION
from orchestration.resources import DvcResource, StorageResource
from orchestration.schedules import DATA_VERSION_TAG, weekly_retrain_schedule
from orchestration.sensors import RANGE_END, RANGE_START, new_video_run


def _tick(sensor, instance, storage):
    """One sensor evaluation, then apply its partition requests the way the daemon does."""
    with dg.build_sensor_context(instance=instance, resources={"storage": storage}) as context:
        result = sensor(context)
    if isinstance(result, dg.SensorResult):
        for request in result.dynamic_partitions_requests or []:
            instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    return result


def _assert_requests(result, new_keys):
    assert isinstance(result, dg.SensorResult)
    (request,) = result.dynamic_partitions_requests
    assert sorted(request.partition_keys) == new_keys
    (run,) = result.run_requests
    assert (run.tags[RANGE_START], run.tags[RANGE_END]) == (new_keys[0], new_keys[-1])


def test_sensor_adds_partitions_only_for_new_local_videos(tmp_path):
    raw = tmp_path / "incoming"
    raw.mkdir()
    for name in ("dive_a.mp4", "dive b.MKV", "notes.txt", ".hidden.mp4"):
        (raw / name).write_bytes(b"x")
    (raw / "01").mkdir()  # a FineDiving-style frame folder
    storage = StorageResource(project_root=str(tmp_path), raw_videos_uri=str(raw))
    sensor = new_video_run("ingest")
    with dg.instance_for_test() as instance:
        _assert_requests(_tick(sensor, instance, storage), ["01", "dive_a", "dive_b"])
        assert sorted(instance.get_dynamic_partitions(VIDEOS_PARTITION)) == ["01", "dive_a", "dive_b"]
        skipped = _tick(sensor, instance, storage)
        assert isinstance(skipped, dg.SkipReason) and "no new videos" in skipped.skip_message
        (raw / "dive_c.mp4").write_bytes(b"y")
        _assert_requests(_tick(sensor, instance, storage), ["dive_c"])
        assert len(instance.get_dynamic_partitions(VIDEOS_PARTITION)) == 4


def test_sensor_watches_an_s3_prefix(tmp_path, moto_server, s3_bucket):
    import boto3

    s3 = boto3.client("s3", endpoint_url=moto_server)
    for key in ("raw/x1.mp4", "raw/x2.mp4", "raw/nested/0001.jpg", "other/x3.mp4"):
        s3.put_object(Bucket=s3_bucket, Key=key, Body=b"v")
    storage = StorageResource(
        project_root=str(tmp_path), raw_videos_uri=f"s3://{s3_bucket}/raw", s3_endpoint_url=moto_server
    )
    sensor = new_video_run("ingest")
    with dg.instance_for_test() as instance:
        _assert_requests(_tick(sensor, instance, storage), ["nested", "x1", "x2"])
        s3.put_object(Bucket=s3_bucket, Key="raw/x4.mp4", Body=b"v")
        _assert_requests(_tick(sensor, instance, storage), ["x4"])


def _evaluate(schedule, instance, project: Path):
    with dg.build_schedule_context(instance=instance, resources={"dvc": DvcResource(repo_root=str(project))}) as ctx:
        return schedule(ctx)


def test_weekly_retrain_skips_when_the_data_version_did_not_change(project):
    schedule = weekly_retrain_schedule("train")
    with dg.instance_for_test() as instance:
        first = _evaluate(schedule, instance, project)
        assert isinstance(first, dg.SkipReason) and "not tracked" in first.skip_message

        (project / "data").mkdir()
        (project / "data" / "a.bin").write_bytes(b"version one")
        v1 = dvc_ops.add(project, "data").md5
        request = _evaluate(schedule, instance, project)
        assert isinstance(request, dg.RunRequest) and request.tags[DATA_VERSION_TAG] == v1

        # a training run recorded that it trained on v1 (as sft_checkpoint's materialization does)
        instance.report_runless_asset_event(
            dg.AssetMaterialization("sft_checkpoint", metadata={"data_dvc_md5": v1})
        )
        skip = _evaluate(schedule, instance, project)
        assert isinstance(skip, dg.SkipReason)
        assert v1 in skip.skip_message and "unchanged" in skip.skip_message

        (project / "data" / "b.bin").write_bytes(b"new data")
        v2 = dvc_ops.add(project, "data").md5
        again = _evaluate(schedule, instance, project)
        assert isinstance(again, dg.RunRequest) and again.tags[DATA_VERSION_TAG] == v2 != v1
        assert again.tags["hieroaction/previous_data_md5"] == v1


@pytest.mark.parametrize("name", ["dive 1.mp4", "a/b"])
def test_partition_keys_are_sanitised(name):
    from orchestration.resources import partition_key

    key = partition_key(name)
    assert all(ch.isalnum() or ch in "-_." for ch in key)
