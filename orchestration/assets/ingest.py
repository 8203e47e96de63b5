"""Ingestion assets: raw videos, their annotations, and the canonical samples table.

``data/`` (raw videos + annotations) is what DVC versions; everything after ``samples`` is derived and reproducible.
The embedded default draws dives from the real FineDiving label distribution and renders them with
``hieroaction.synth`` (stand-in videos with exact labels); a real deployment points ``storage.raw_videos_uri`` at a
local folder or an ``s3://`` prefix and ``storage.annotations_uri`` at FineDiving/MTL-AQA files or a manifest.
"""


import json
import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg

from orchestration.config import EmbeddedDataConfig
from orchestration.metadata import counts_table, markdown_table, quarantine_table
from orchestration.partitions import add_new_partitions, drop_missing_partitions, video_key_of
from orchestration.resources import DvcResource, StorageResource, is_remote

OWNERS = ["team:hieroaction-data"]
EMBEDDED_MANIFEST = "manifest.jsonl"
RENDER_STAMP = ".render-settings.json"  # what the embedded default rendered into data/raw


@dg.asset(
    group_name="ingest",
    kinds={"python", "s3", "video"},
    owners=OWNERS,
    description=(
        "Raw videos under `data/raw/` (DVC-tracked). Synced from `storage.raw_videos_uri` (local folder or "
        "`s3://` prefix, only new files are copied), or on the embedded default rendered by `hieroaction.synth` "
        "from dives drawn from the real FineDiving labels (the renderer also writes their exact annotations)."
    ),
)
def raw_videos(
    context: dg.AssetExecutionContext, config: EmbeddedDataConfig, storage: StorageResource
) -> dg.MaterializeResult:
    storage.raw_dir.mkdir(parents=True, exist_ok=True)
    if storage.embedded:
        rendered = _render_embedded(context, config, storage)
        meta: dict[str, object] = {"source": "embedded: rendered dives", "rendered_samples": rendered}
    else:
        copied = _sync_raw(context, storage)
        meta = {"source": storage.raw_videos_uri, "copied_new": copied}
    videos = storage.list_raw_videos() if storage.embedded else _local_videos(storage)
    new_keys = add_new_partitions(context.instance, [v.name for v in videos])
    gone = drop_missing_partitions(context.instance, [v.name for v in videos])
    if gone:
        context.log.info(f"removed partitions of videos no longer in {storage.raw_dir}: {gone}")
    size = sum(f.stat().st_size for f in storage.raw_dir.rglob("*") if f.is_file())
    return dg.MaterializeResult(
        metadata={
            **meta,
            "videos": len(videos),
            "new_partitions": len(new_keys),
            "removed_partitions": len(gone),
            "bytes": size,
            "location": dg.MetadataValue.path(str(storage.raw_dir)),
        }
    )


def _local_videos(storage: StorageResource):
    local = storage.model_copy(update={"raw_videos_uri": ""})
    return local.list_raw_videos()


def _render_embedded(context, config: EmbeddedDataConfig, storage: StorageResource) -> int:
    """Draw labels from the bundled real FineDiving annotations, render them, write the rendered manifest."""
    from hieroaction.datasets import write_manifest
    from hieroaction.synth.dataset import RENDER_SETTINGS_FILE, render_dataset
    from hieroaction.synth.draw import bundled_reference, draw_samples
    from hieroaction.synth.render import RENDERER_VERSION

    if not 0 < config.test_videos < config.num_videos:
        raise ValueError(f"test_videos must be between 1 and num_videos - 1, got {config.test_videos}")
    if not 0 <= config.val_videos < config.num_videos - config.test_videos:
        raise ValueError(f"val_videos must leave at least one training video, got {config.val_videos}")
    stamp = storage.raw_dir / RENDER_STAMP
    wanted = json.dumps({**config.model_dump(), "renderer": RENDERER_VERSION}, sort_keys=True)
    present = {p.name for p in storage.raw_dir.iterdir() if p.name not in (RENDER_STAMP, RENDER_SETTINGS_FILE)}
    ours = stamp.exists() or present == _manifest_media(storage)
    cached = stamp.exists() and stamp.read_text(encoding="utf-8") == wanted and present == _manifest_media(storage)
    if present and not cached:
        if not ours:
            raise FileExistsError(
                f"{storage.raw_dir} holds files the embedded default did not render ({sorted(present)[:3]}...): set "
                "HIEROACTION_RAW_VIDEOS_URI (storage.raw_videos_uri) to ingest them, or empty the folder"
            )
        # another configuration rendered here: start over, or stale videos would mix with the new labels
        context.log.info(f"render settings changed; clearing {storage.raw_dir}")
        shutil.rmtree(storage.raw_dir)
        storage.raw_dir.mkdir(parents=True)
    reference = bundled_reference()
    drawn = []
    for video in range(config.num_videos):
        split = "test" if video >= config.num_videos - config.test_videos else "train"
        if split == "train" and video >= config.num_videos - config.test_videos - config.val_videos:
            split = "val"
        drawn += draw_samples(config.dives_per_video, config.seed * 1000 + video, reference, split=split)
    rendered = render_dataset(drawn, storage.raw_dir, layout=config.layout, seed=config.seed, workers=2,
                              progress=False, camera=config.camera)
    write_manifest(rendered, storage.annotations_dir / EMBEDDED_MANIFEST)
    stamp.write_text(wanted, encoding="utf-8")
    context.log.info(f"rendered {len(rendered)} dives in {config.num_videos} videos into {storage.raw_dir}")
    return len(rendered)


def _manifest_media(storage: StorageResource) -> set[str]:
    """Top-level names under data/raw that the current embedded manifest points at."""
    manifest = storage.annotations_dir / EMBEDDED_MANIFEST
    if not manifest.exists():
        return set()
    names = set()
    for line in manifest.read_text(encoding="utf-8").splitlines():
        if line.strip():
            names.add(json.loads(line)["video_path"].split("/", 1)[0])
    return names


def _sync_raw(context, storage: StorageResource) -> int:
    """Copy videos not yet in ``data/raw`` from the raw location (local folder or S3 prefix)."""
    storage.filesystem(storage.raw_videos_uri).invalidate_cache()
    copied = 0
    for video in storage.list_raw_videos():
        name = video.uri.rstrip("/").rsplit("/", 1)[-1]
        dest = storage.raw_dir / name
        if dest.exists():
            continue
        if is_remote(video.uri):
            storage.fetch(video.uri, dest)
        elif video.is_dir:
            shutil.copytree(video.uri, dest)
        else:
            shutil.copy2(video.uri, dest)
        copied += 1
        context.log.info(f"ingested {video.uri} -> {dest}")
    return copied


@dataclass(frozen=True)
class ValidatedAnnotations:
    """The annotations as read and as checked against the data contract (Great Expectations), once per run: the
    blocking check and the samples table both read this."""

    loaded: Any  # hieroaction.datasets.LoadResult: count_in, rows the reader quarantined
    report: Any  # hieroaction.datasets.validate.ValidationReport: good rows, rule failures, warnings

    @property
    def count_in(self) -> int:
        return self.loaded.count_in

    @property
    def good(self) -> list:
        return self.report.good

    @property
    def quarantined(self) -> list:
        return [*self.loaded.quarantined, *self.report.quarantined]


@dg.asset(
    group_name="ingest",
    kinds={"python", "pandas"},
    owners=OWNERS,
    deps=[raw_videos],
    description=(
        "Annotations under `data/annotations/`: the real FineDiving / MTL-AQA pickles or a manifest from "
        "`storage.annotations_uri` (copied in), or the rendered manifest on the embedded default. Read with the "
        "library's safe adapters (the kind found from the file names) and validated against the data contract "
        "(Great Expectations); bad rows are quarantined with sample, field and reason."
    ),
)
def annotations(context: dg.AssetExecutionContext, storage: StorageResource) -> ValidatedAnnotations:
    from hieroaction.datasets.summary import load_source
    from hieroaction.datasets.validate import validate_samples

    source = _annotation_path(storage)
    layout = "frames" if any(p.is_dir() for p in storage.raw_dir.iterdir()) else "video"
    loaded = load_source(source, media_root=storage.raw_dir, layout=layout)
    result = ValidatedAnnotations(loaded, validate_samples(loaded.samples, media_root=storage.raw_dir))
    context.add_output_metadata(
        {
            "source": str(source.relative_to(storage.root)) if source.is_relative_to(storage.root) else str(source),
            "count_in": result.count_in,
            "good": len(result.good),
            "quarantined": len(result.quarantined),
            "splits": dg.MetadataValue.md(counts_table(loaded.splits(), "split")),
            "warnings": dg.MetadataValue.md(counts_table({**loaded.warnings, **result.report.warnings}, "warning")),
            "quarantine": quarantine_table(result.quarantined),
        }
    )
    return result


def _annotation_path(storage: StorageResource) -> Path:
    if not storage.annotations_uri:
        path = storage.annotations_dir / EMBEDDED_MANIFEST
        if not path.exists():
            raise FileNotFoundError(
                f"{path} is missing: with no storage.annotations_uri the rendered manifest is used; "
                "materialize raw_videos on the embedded default first"
            )
        return path
    uri = storage.annotations_uri
    name = uri.rstrip("/").rsplit("/", 1)[-1]
    dest = storage.annotations_dir / name
    if is_remote(uri):
        storage.filesystem(uri).invalidate_cache()
        return storage.fetch(uri, dest, always=True)
    src = Path(uri)
    if src.resolve() != dest.resolve():
        if src.is_dir():
            shutil.copytree(src, dest, dirs_exist_ok=True)
        else:
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest)
    return dest


@dg.asset(
    group_name="ingest",
    kinds={"python", "dvc", "great_expectations"},
    owners=OWNERS,
    description=(
        "The canonical samples table (`samples.jsonl`): annotations validated against the data contract "
        "(Great Expectations), good rows kept, the rest quarantined with reasons (`quarantine.jsonl`). "
        "Versions `data/` with DVC (`data.dvc`, pushed to the configured remote) and records its hash."
    ),
)
def samples(context: dg.AssetExecutionContext, annotations: ValidatedAnnotations, storage: StorageResource,
            dvc: DvcResource):
    from hieroaction.datasets import write_jsonl

    report = annotations.report
    storage.work.mkdir(parents=True, exist_ok=True)
    table = storage.work / "samples.jsonl"
    write_jsonl(report.good, table)
    quarantined = annotations.quarantined
    with open(storage.work / "quarantine.jsonl", "w", encoding="utf-8") as fh:
        for q in quarantined:
            fh.write(json.dumps(q.to_dict(), ensure_ascii=False) + "\n")
    new_keys = add_new_partitions(context.instance, [video_key_of(s) for s in report.good])
    version = dvc.track(storage.data_dir)
    splits = Counter(s.split for s in report.good)
    preview = [
        {"sample_id": s.sample_id, "split": s.split, "action": s.action_code, "score": s.final_score,
         "steps": len(s.steps), "frames": s.num_frames}
        for s in report.good[:8]
    ]
    context.add_output_metadata(
        {
            "count_in": annotations.count_in,
            "good": len(report.good),
            "quarantined": len(quarantined),
            "splits": dg.MetadataValue.md(counts_table(dict(sorted(splits.items())), "split")),
            "videos": len({video_key_of(s) for s in report.good}),
            "new_partitions": len(new_keys),
            "data_dvc_md5": version.md5,
            "data_nfiles": version.nfiles or 0,
            **dvc.provenance(),
            "preview": dg.MetadataValue.md(markdown_table(preview)),
            "quarantine": quarantine_table(quarantined),
            "table": dg.MetadataValue.path(str(table)),
        }
    )
    return report.good
