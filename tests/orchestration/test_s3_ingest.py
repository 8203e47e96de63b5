"""Ingestion from ``s3://`` (moto on 127.0.0.1): the sensor sees new videos under the prefix, its run request ingests
them, and only the new video partitions are extracted."""

from __future__ import annotations

import boto3
import dagster as dg
import pytest

from orchestration import dvc_ops
from orchestration.definitions import build_definitions, default_resources
from orchestration.sensors import new_video_run

pytestmark = pytest.mark.integration


def _render(tmp_path, seed: int, dives: int):
    """Real rendered dives (one video file holding ``dives`` clips) and their samples."""
    from hieroaction.synth.dataset import render_dataset
    from hieroaction.synth.draw import draw_samples

    samples = draw_samples(dives, seed)
    return render_dataset(samples, tmp_path / "render", layout="video", seed=0, workers=1, progress=False)


def _upload_manifest(s3, bucket, samples, tmp_path):
    from hieroaction.datasets import write_manifest

    path = write_manifest(samples, tmp_path / "manifest.jsonl")
    s3.upload_file(str(path), bucket, "annotations/manifest.jsonl")


def _materialized_partitions(result) -> set[str]:
    return {
        e.event_specific_data.materialization.partition
        for e in result.all_events
        if e.event_type_value == "ASSET_MATERIALIZATION" and e.asset_key == dg.AssetKey("frames")
    }


def test_s3_videos_are_ingested_incrementally_through_the_sensor(tmp_path, project, moto_server, s3_bucket):
    s3 = boto3.client("s3", endpoint_url=moto_server)
    first = _render(tmp_path, seed=101, dives=2)
    second = _render(tmp_path, seed=102, dives=1)
    video_a, video_b = first[0].video.path, second[0].video.path
    s3.upload_file(str(tmp_path / "render" / video_a), s3_bucket, f"raw/{video_a}")
    _upload_manifest(s3, s3_bucket, first, tmp_path)

    env = {
        "HIEROACTION_PROJECT_ROOT": str(project),
        "HIEROACTION_RAW_VIDEOS_URI": f"s3://{s3_bucket}/raw",
        "HIEROACTION_ANNOTATIONS_URI": f"s3://{s3_bucket}/annotations/manifest.jsonl",
        "AWS_ENDPOINT_URL": moto_server,
    }
    resources = default_resources(env)
    defs = build_definitions(resources, executor=dg.in_process_executor)
    sensor = new_video_run("ingest")
    job = defs.resolve_job_def("ingest")

    def tick_and_run(instance):
        with dg.build_sensor_context(instance=instance, resources={"storage": resources["storage"]}) as context:
            result = sensor(context)
        assert isinstance(result, dg.SensorResult), result
        for request in result.dynamic_partitions_requests:
            instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
        (run_request,) = result.run_requests
        return job.execute_in_process(instance=instance, tags=run_request.tags)

    with dg.instance_for_test() as instance:
        run1 = tick_and_run(instance)
        assert run1.success
        local_a = project / "data" / "raw" / video_a
        assert local_a.read_bytes() == (tmp_path / "render" / video_a).read_bytes()
        assert _materialized_partitions(run1) == {local_a.stem}
        v1 = dvc_ops.read_version(project, "data").md5

        # a new broadcast lands in the bucket with its annotations
        s3.upload_file(str(tmp_path / "render" / video_b), s3_bucket, f"raw/{video_b}")
        _upload_manifest(s3, s3_bucket, first + second, tmp_path)
        run2 = tick_and_run(instance)
        assert run2.success
        assert _materialized_partitions(run2) == {(project / "data" / "raw" / video_b).stem}  # only the new one
        raw = run2.asset_materializations_for_node("raw_videos")[0].metadata
        assert raw["copied_new"].value == 1 and raw["videos"].value == 2
        samples = run2.asset_materializations_for_node("samples")[0].metadata
        assert samples["good"].value == 3 and samples["quarantined"].value == 0
        assert dvc_ops.read_version(project, "data").md5 != v1
        assert sorted(instance.get_materialized_partitions(dg.AssetKey("frames"))) == sorted(
            [local_a.stem, (project / "data" / "raw" / video_b).stem]
        )
