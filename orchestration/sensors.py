"""The new-video sensor: watches the raw-video location (local folder or S3 prefix) and ingests only new videos."""


import dagster as dg

from orchestration.partitions import VIDEOS_PARTITION
from orchestration.resources import StorageResource

RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"


def new_video_run(job_name: str):
    """A sensor that adds a dynamic partition per new video and requests one ingest run covering just those.

    Why one run for the batch: dynamic partitions added together are contiguous, so a partition range tags the
    run and the frames asset (single-run backfill policy) extracts all new videos at once instead of N runs.
    """

    @dg.sensor(
        name="new_videos_sensor",
        job_name=job_name,
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.STOPPED,
        description="Adds a `videos` partition for each new file/folder in the raw-video location and ingests them.",
    )
    def new_videos_sensor(context: dg.SensorEvaluationContext, storage: StorageResource):
        found = [v.name for v in storage.list_raw_videos()]
        known = set(context.instance.get_dynamic_partitions(VIDEOS_PARTITION))
        new = sorted(dict.fromkeys(k for k in found if k not in known))
        if not new:
            return dg.SkipReason(f"no new videos in {storage.raw_videos_uri or storage.raw_dir} ({len(found)} known)")
        return dg.SensorResult(
            run_requests=[
                dg.RunRequest(
                    run_key=f"videos:{new[0]}..{new[-1]}:{len(new)}",
                    tags={RANGE_START: new[0], RANGE_END: new[-1]},
                )
            ],
            dynamic_partitions_requests=[dg.AddDynamicPartitionsRequest(VIDEOS_PARTITION, new)],
        )

    return new_videos_sensor
