"""Asset checks: the annotation data contract (blocking) and frame integrity (per video partition).

The promotion gate lives with the promoted checkpoint (``assets/training.py``) because it decides whether that asset
is written at all.
"""


import dagster as dg
import numpy as np

from orchestration.assets.frames import frames
from orchestration.assets.ingest import ValidatedAnnotations, annotations
from orchestration.metadata import counts_table, quarantine_table
from orchestration.partitions import video_key_of, videos_partitions
from orchestration.resources import FrameSettingsResource, StorageResource

# The contract tolerates individual bad rows (they are quarantined by `samples`) but not a broken batch.
MAX_QUARANTINE_FRACTION = 0.25


@dg.asset_check(
    asset=annotations,
    blocking=True,
    description=(
        "Data contract (Great Expectations 1.x via `hieroaction.datasets.validate`): required fields, ranges, "
        "split names, step spans inside the clip, media present. Blocks `samples` when no row passes or more than "
        f"{MAX_QUARANTINE_FRACTION:.0%} of rows break it."
    ),
)
def annotation_contract(annotations: ValidatedAnnotations) -> dg.AssetCheckResult:
    report = annotations.report  # validated once, by the annotations asset
    total = annotations.count_in
    bad = len(annotations.quarantined)
    fraction = bad / total if total else 1.0
    passed = bool(report.good) and fraction <= MAX_QUARANTINE_FRACTION
    return dg.AssetCheckResult(
        passed=passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=None if passed else f"{bad} of {total} annotation rows break the contract ({fraction:.0%})",
        metadata={
            "rows": total,
            "good": len(report.good),
            "quarantined": bad,
            "quarantined_fraction": round(fraction, 4),
            "gx_success": bool(report.gx_success),
            "warnings": dg.MetadataValue.md(counts_table(dict(report.warnings or {}), "warning")),
            "quarantine": quarantine_table(annotations.quarantined),
        },
    )


@dg.asset_check(
    asset=frames,
    partitions_def=videos_partitions,
    additional_ins={"samples": dg.AssetIn("samples")},
    description=(
        "Every clip of the checked video partitions loads back with the configured frame count and size, as "
        "uint8 RGB, and is not blank (a constant image means a failed decode)."
    ),
)
def frame_integrity(
    context: dg.AssetCheckExecutionContext,
    samples,
    storage: StorageResource,
    frame_settings: FrameSettingsResource,
) -> dg.AssetCheckResult:
    from hieroaction.video.extract import load_clip

    keys = _partition_keys(context)
    settings = frame_settings.settings()
    out_dir = storage.frames_dir
    problems: dict[str, str] = {}
    checked = 0
    for sample in samples:
        if keys is not None and video_key_of(sample) not in keys:
            continue
        checked += 1
        try:
            clip = load_clip(out_dir, sample, settings)
        except Exception as exc:  # noqa: BLE001 - any load failure is a finding, reported per sample
            problems[sample.sample_id] = f"cannot load: {exc}"
            continue
        expected = (settings.count, *settings.size, 3)
        if clip.dtype != np.uint8 or tuple(clip.shape) != expected:
            problems[sample.sample_id] = f"shape {tuple(clip.shape)} {clip.dtype}, expected {expected} uint8"
        elif int(clip.max()) == int(clip.min()):
            problems[sample.sample_id] = "blank clip (constant pixels)"
    return dg.AssetCheckResult(
        passed=checked > 0 and not problems,
        metadata={
            "clips_checked": checked,
            "problems": len(problems),
            "details": dg.MetadataValue.md(counts_table(dict(list(problems.items())[:20]), "sample", "problem")),
        },
    )


def _partition_keys(context) -> set[str] | None:
    """The video partitions this check run covers, or None when it was launched without partitions (all)."""
    try:
        return set(context.partition_keys)
    except Exception:  # noqa: BLE001 - dagster raises when the run targets no partition
        return None
