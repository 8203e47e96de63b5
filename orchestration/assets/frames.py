"""Frame extraction, one dynamic partition per raw video: new videos only extract their own clips."""


import dagster as dg

from orchestration.metadata import markdown_table, quarantine_table
from orchestration.partitions import video_key_of, videos_partitions
from orchestration.resources import FrameSettingsResource, StorageResource

OWNERS = ["team:hieroaction-data"]


@dg.asset(
    group_name="ingest",
    kinds={"python", "video"},
    owners=OWNERS,
    partitions_def=videos_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    description=(
        "Sampled, resized clip frames for the samples of each raw video (PyAV via `hieroaction.video.extract`). "
        "Partitioned by video: the new-video sensor adds partitions and only those are extracted; a backfill of "
        "many partitions runs as one run."
    ),
)
def frames(
    context: dg.AssetExecutionContext,
    samples,
    storage: StorageResource,
    frame_settings: FrameSettingsResource,
) -> dg.MaterializeResult:
    from hieroaction.video.extract import extract_frames

    keys = set(context.partition_keys)
    selected = [s for s in samples if video_key_of(s) in keys]
    orphans = sorted(keys - {video_key_of(s) for s in selected})
    if orphans:
        raise ValueError(
            f"no annotated samples for video partition(s) {orphans[:10]}: the annotations do not cover these videos "
            "(materialize annotations/samples after adding their labels, or remove the videos)"
        )
    out_dir = storage.frames_dir
    settings = frame_settings.settings()
    result = extract_frames(selected, storage.raw_dir, out_dir, settings, workers=frame_settings.workers, progress=False)
    if result.repaired:
        context.log.warning(f"{len(result.repaired)} stored clip(s) failed their checksum and were extracted again: "
                            f"{result.repaired[:5]}")
    if result.quarantined:
        context.log.warning(f"{len(result.quarantined)} clip(s) quarantined: {[str(q) for q in result.quarantined[:5]]}")
    rows = [{"video": k, "samples": sum(1 for s in selected if video_key_of(s) == k)} for k in sorted(keys)][:20]
    return dg.MaterializeResult(
        metadata={
            "partitions": len(keys),
            "samples": len(selected),
            "written": len(result.written),
            "skipped_existing": len(result.skipped),
            "repaired": len(result.repaired),
            "quarantined": len(result.quarantined),
            "quarantine": quarantine_table(result.quarantined),
            "settings": settings.key,
            "per_video": dg.MetadataValue.md(markdown_table(rows)),
            "location": dg.MetadataValue.path(str(out_dir / settings.key)),
        }
    )
