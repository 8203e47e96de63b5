"""One dynamic partition per raw video, so new videos add new partitions and only new work runs."""

from __future__ import annotations

from pathlib import PurePosixPath

import dagster as dg

from orchestration.resources import partition_key

VIDEOS_PARTITION = "videos"
videos_partitions = dg.DynamicPartitionsDefinition(name=VIDEOS_PARTITION)


def video_key_of(sample) -> str:
    """Partition key of the raw video a sample's clip comes from (file stem, or top folder of a frame layout)."""
    path = PurePosixPath(sample.video.path.split("://", 1)[-1])
    if sample.video.kind == "video":
        return partition_key(path.stem)
    return partition_key(path.parts[0] if len(path.parts) > 1 else path.name)


def add_new_partitions(instance: dg.DagsterInstance, keys) -> list[str]:
    """Register the keys not yet known (Dagster refuses runs on unknown dynamic partitions); returns the new ones."""
    known = set(instance.get_dynamic_partitions(VIDEOS_PARTITION))
    new = sorted({k for k in keys if k not in known})
    if new:
        instance.add_dynamic_partitions(VIDEOS_PARTITION, new)
    return new


def drop_missing_partitions(instance: dg.DagsterInstance, keys) -> list[str]:
    """Delete partitions whose video is no longer in ``data/raw`` (the partition set mirrors the local videos)."""
    present = set(keys)
    gone = sorted(k for k in instance.get_dynamic_partitions(VIDEOS_PARTITION) if k not in present)
    for key in gone:
        instance.delete_dynamic_partition(VIDEOS_PARTITION, key)
    return gone
