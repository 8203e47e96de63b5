"""A clip that stops loading while a run trains costs that sample, never the run (docs/UNTRUSTED_INPUT.md).

The rows are built from clips that were there; each test breaks one stored clip afterwards, the way a disk, a
rerun of extraction or a person can, and checks the run finishes, names the sample and trains on the others.
"""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
from transformers import AutoProcessor

from hieroaction.model.artifacts import QUARANTINE_FILE, RUN_INFO_FILE, TRAINING_QUARANTINE_FILE
from hieroaction.train.config import FramesConfig, load_config
from hieroaction.train.data import (
    ClipLoader,
    PromptBuilder,
    TrainingDataError,
    TrainingQuarantine,
    VideoSFTCollator,
    build_rows,
    frame_settings,
    read_training_quarantine,
    sample_of,
)
from hieroaction.video.store import clip_path, write_atomic


def break_clip(path, how: str) -> None:
    """Damage a stored clip: gone, cut short after its header, or overwritten with bytes that are no clip."""
    if how == "deleted":
        path.unlink()
    elif how == "truncated":
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 3])
    elif how == "garbage":
        path.write_bytes(b"\x00not a clip" * 100)
    else:
        raise ValueError(how)


@pytest.mark.parametrize("how", ["truncated", "deleted", "garbage"])
def test_sft_run_quarantines_a_clip_broken_after_the_rows_and_trains_on_the_others(
    sft_workspace, monkeypatch, frames_spec, how
):
    from hieroaction.train import sft

    config = load_config(sft_workspace, overrides=["train.max_steps=6", "train.save_steps=6"])
    settings = frame_settings(FramesConfig(**frames_spec))
    real_prepare = sft.prepare_datasets
    broken: dict[str, str] = {}

    def prepare_then_break(cfg):  # the rows are built from whole clips; then one clip breaks
        prepared = real_prepare(cfg)
        row = prepared["train"][3]
        break_clip(clip_path(cfg.data.frames_dir, sample_of(row), settings), how)
        broken["id"] = row["sample_id"]
        return prepared

    loaded: list[str] = []
    real_load = ClipLoader.__call__

    def load_and_note(self, row):
        clip = real_load(self, row)
        loaded.append(row["sample_id"])
        return clip

    monkeypatch.setattr(sft, "prepare_datasets", prepare_then_break)
    monkeypatch.setattr(ClipLoader, "__call__", load_and_note)
    lines: list[str] = []
    logger = logging.getLogger("hieroaction.train.data")
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: lines.append(record.getMessage())
    monkeypatch.setattr(logger, "disabled", False)  # whatever logging set-up an earlier test in this process did
    logger.addHandler(handler)
    try:
        final = sft.run_sft(config)
    finally:
        logger.removeHandler(handler)

    out = final.parent
    info = json.loads((final / RUN_INFO_FILE).read_text())
    assert info["global_step"] == 6 and info["quarantined"] == 0 and info["quarantined_in_training"] == 1
    records = read_training_quarantine(out / TRAINING_QUARANTINE_FILE)
    assert [(r["id"], r["field"], r["split"]) for r in records] == [(broken["id"], "video", "train")]
    assert records[0]["reason"].startswith("unloadable: TrainingClipError: ") and broken["id"] in records[0]["reason"]
    assert not (out / QUARANTINE_FILE).exists()  # nothing was held back before training
    # one epoch of 12 samples in 6 steps of 2: every other sample was trained on, the broken one never
    others = {json.loads(line)["sample_id"] for line in (out.parent / "train.jsonl").read_text().splitlines()}
    others.discard(broken["id"])
    assert set(loaded) == others and len(loaded) == 12
    assert [line for line in lines if line.startswith(f"quarantined {broken['id']} while training:")]


def test_a_clip_failing_in_a_loader_worker_is_recorded_by_that_worker(sft_workspace, monkeypatch, frames_spec):
    """Batches are built in loader processes on a GPU: the quarantine file is appended to from there."""
    from hieroaction.train import sft

    config = load_config(sft_workspace, overrides=["train.max_steps=6", "train.save_steps=6",
                                                   "train.dataloader_num_workers=1"])
    settings = frame_settings(FramesConfig(**frames_spec))
    real_prepare = sft.prepare_datasets
    broken: dict[str, str] = {}

    def prepare_then_break(cfg):
        prepared = real_prepare(cfg)
        row = prepared["train"][5]
        break_clip(clip_path(cfg.data.frames_dir, sample_of(row), settings), "truncated")
        broken["id"] = row["sample_id"]
        return prepared

    monkeypatch.setattr(sft, "prepare_datasets", prepare_then_break)
    final = sft.run_sft(config)
    assert json.loads((final / RUN_INFO_FILE).read_text())["quarantined_in_training"] == 1
    assert [r["id"] for r in read_training_quarantine(final.parent / TRAINING_QUARANTINE_FILE)] == [broken["id"]]


@pytest.fixture
def collator_parts(tmp_path, real_samples, tiny_checkpoint, clip_writer):
    samples = real_samples[:4]
    settings = clip_writer(samples, tmp_path / "frames")
    processor = AutoProcessor.from_pretrained(tiny_checkpoint)
    rows = build_rows(samples, settings=settings).rows
    return processor, ClipLoader(tmp_path / "frames", settings), PromptBuilder(settings), rows, settings, tmp_path


@pytest.mark.parametrize("how", ["truncated", "deleted", "garbage"])
def test_the_collator_replaces_a_broken_clip_from_the_same_split(collator_parts, how):
    processor, loader, prompts, rows, settings, tmp_path = collator_parts
    break_clip(clip_path(tmp_path / "frames", sample_of(rows[0]), settings), how)
    plain = VideoSFTCollator(processor, loader, prompts)
    with pytest.raises(TrainingDataError, match=f"sample '{rows[0]['sample_id']}': field 'video'"):
        plain(rows[:2])  # without a quarantine the old contract holds: the error names the sample and field

    quarantine = TrainingQuarantine(tmp_path / "q.jsonl", {"train": rows[:3], "eval": rows[3:]})
    collator = VideoSFTCollator(processor, loader, prompts, quarantine=quarantine)
    batch = collator(rows[:2])
    assert batch["input_ids"].shape[0] == 2  # the batch keeps its size
    assert batch["video_grid_thw"].shape[0] == 2
    assert [r["id"] for r in read_training_quarantine(tmp_path / "q.jsonl")] == [rows[0]["sample_id"]]
    # the replacement comes from the broken sample's own split (never the held-out eval rows), the same every time
    used, _ = quarantine.load_many(rows[:2], loader)
    assert used[0]["sample_id"] in {rows[1]["sample_id"], rows[2]["sample_id"]}
    again, _ = TrainingQuarantine(None, {"train": rows[:3]}).load_many(rows[:2], loader)
    assert again[0]["sample_id"] == used[0]["sample_id"]


def test_every_repeat_of_a_broken_sample_gets_the_same_replacement(collator_parts):
    """GRPO's generation batch holds each prompt num_generations times: the group must stay one sample."""
    processor, loader, prompts, rows, settings, tmp_path = collator_parts
    break_clip(clip_path(tmp_path / "frames", sample_of(rows[1]), settings), "truncated")
    batch = [rows[0], rows[0], rows[1], rows[1], rows[2], rows[2]]
    used, clips = TrainingQuarantine(None, {"train": rows}).load_many(batch, loader)
    ids = [r["sample_id"] for r in used]
    assert ids[0] == ids[1] == rows[0]["sample_id"] and ids[4] == ids[5] == rows[2]["sample_id"]
    assert ids[2] == ids[3] != rows[1]["sample_id"]
    assert all(c.shape == clips[0].shape for c in clips)


def test_a_bug_is_not_quarantined(collator_parts):
    processor, loader, prompts, rows, settings, tmp_path = collator_parts

    def buggy(row):
        raise TypeError("unsupported operand type(s)")  # our own code failing, not the clip

    collator = VideoSFTCollator(processor, buggy, prompts, quarantine=TrainingQuarantine(tmp_path / "q.jsonl",
                                                                                         {"train": rows}))
    with pytest.raises(TypeError):
        collator(rows[:2])
    assert not (tmp_path / "q.jsonl").exists()


def test_a_store_where_nothing_loads_stops_the_run_in_one_line(collator_parts):
    processor, loader, prompts, rows, settings, tmp_path = collator_parts
    for row in rows:
        break_clip(clip_path(tmp_path / "frames", sample_of(row), settings), "deleted")
    collator = VideoSFTCollator(processor, loader, prompts, quarantine=TrainingQuarantine(tmp_path / "q.jsonl",
                                                                                         {"train": rows}))
    with pytest.raises(TrainingDataError, match="could not be loaded") as info:
        collator(rows[:2])
    assert "\n" not in str(info.value)
    assert len(read_training_quarantine(tmp_path / "q.jsonl")) == len(rows)


def test_a_clip_of_the_wrong_shape_in_the_store_is_quarantined(collator_parts):
    processor, loader, prompts, rows, settings, tmp_path = collator_parts
    path = clip_path(tmp_path / "frames", sample_of(rows[2]), settings)
    write_atomic(path, np.zeros((4, 8, 8), np.uint8))  # a readable .npy with a matching checksum that is no clip
    quarantine = TrainingQuarantine(tmp_path / "q.jsonl", {"train": rows})
    used, _ = quarantine.load_many(rows[2:3], loader)
    assert used[0]["sample_id"] != rows[2]["sample_id"]
    record = read_training_quarantine(tmp_path / "q.jsonl")[0]
    assert record["id"] == rows[2]["sample_id"] and "(T, H, W, 3)" in record["reason"]


def test_a_clip_overwritten_with_other_pixels_of_the_same_shape_is_quarantined(collator_parts):
    processor, loader, prompts, rows, settings, tmp_path = collator_parts
    path = clip_path(tmp_path / "frames", sample_of(rows[2]), settings)
    np.save(path, np.load(clip_path(tmp_path / "frames", sample_of(rows[3]), settings)))  # another dive's pixels
    quarantine = TrainingQuarantine(tmp_path / "q.jsonl", {"train": rows})
    used, _ = quarantine.load_many(rows[2:3], loader)
    assert used[0]["sample_id"] != rows[2]["sample_id"]
    record = read_training_quarantine(tmp_path / "q.jsonl")[0]
    assert record["id"] == rows[2]["sample_id"] and "not the ones extraction wrote" in record["reason"]


def test_hpl_run_replaces_the_whole_group_of_a_broken_clip(tmp_path, real_samples, tiny_checkpoint, clip_writer,
                                                           frames_spec, monkeypatch):
    import yaml

    from hieroaction.datasets.sample import write_jsonl
    from hieroaction.train import hpl

    samples = real_samples[:2]  # 2 steps of one prompt x 4 generations: both samples are drawn
    settings = clip_writer(samples, tmp_path / "frames")
    write_jsonl(samples, tmp_path / "train.jsonl")
    config = {
        "model": {"path": str(tiny_checkpoint)},
        "data": {"train": str(tmp_path / "train.jsonl"), "frames_dir": str(tmp_path / "frames"),
                 "frames": frames_spec, "media_root": None},
        "train": {"output_dir": str(tmp_path / "hpl"), "max_steps": 2, "per_device_train_batch_size": 4,
                  "save_steps": 2, "logging_steps": 1, "disable_tqdm": True},
        "hpl": {"num_generations": 4, "max_completion_length": 6, "allow_cut_answers": True},
    }
    (tmp_path / "hpl.yaml").write_text(yaml.safe_dump(config))
    real_prepare = hpl.prepare_hpl_datasets

    def prepare_then_break(cfg):
        prepared = real_prepare(cfg)
        break_clip(clip_path(cfg.data.frames_dir, samples[0], settings), "truncated")
        return prepared

    groups: list[list[str]] = []
    from hieroaction.train.video_grpo import VideoGRPOTrainer

    real_generate = VideoGRPOTrainer._generate_and_score_completions

    def generate_and_note(self, inputs):
        output = real_generate(self, inputs)
        groups.append([row["sample_id"] for row in inputs])  # after the replacement, what was trained on
        return output

    monkeypatch.setattr(hpl, "prepare_hpl_datasets", prepare_then_break)
    monkeypatch.setattr(VideoGRPOTrainer, "_generate_and_score_completions", generate_and_note)
    final = hpl.run_hpl(tmp_path / "hpl.yaml")

    info = json.loads((final / RUN_INFO_FILE).read_text())
    assert info["global_step"] == 2 and info["quarantined_in_training"] == 1
    records = read_training_quarantine(tmp_path / "hpl" / TRAINING_QUARANTINE_FILE)
    assert [r["id"] for r in records] == [samples[0].sample_id]
    assert groups == [[samples[1].sample_id] * 4] * 2  # the broken sample's group became the good one's, whole
