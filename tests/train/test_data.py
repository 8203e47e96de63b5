import dataclasses

import numpy as np
import pytest
from transformers import AutoProcessor

from hieroaction.reasoning.grammar import format_frame
from hieroaction.train.config import FramesConfig
from hieroaction.train.data import (
    IGNORE_INDEX,
    ClipLoader,
    PromptBuilder,
    TrainingDataError,
    VideoSFTCollator,
    build_rows,
    frame_settings,
)


@pytest.fixture
def collator_and_rows(tmp_path, real_samples, tiny_checkpoint, clip_writer):
    settings = clip_writer(real_samples[:3], tmp_path / "frames")
    processor = AutoProcessor.from_pretrained(tiny_checkpoint)
    rows = build_rows(real_samples[:3], settings=settings).rows
    collator = VideoSFTCollator(processor, ClipLoader(tmp_path / "frames", settings), PromptBuilder(settings))
    return processor, collator, rows


def test_labels_cover_only_the_answer(collator_and_rows):
    processor, collator, rows = collator_and_rows
    batch = collator(rows)
    tok = processor.tokenizer
    video_id = tok.convert_tokens_to_ids("<|video_pad|>")
    for i, row in enumerate(rows):
        labels = batch["labels"][i]
        kept = labels[labels != IGNORE_INDEX].tolist()
        assert tok.decode(kept) == row["target"] + "<|im_end|>"
        # everything before the answer is masked, the answer is one contiguous block ending at the sequence's end
        positions = (labels != IGNORE_INDEX).nonzero().flatten()
        assert positions.tolist() == list(range(positions[0], positions[0] + len(kept)))
        length = int(batch["attention_mask"][i].sum())
        assert positions[-1] == length - 1
        prompt = tok.decode(batch["input_ids"][i, : positions[0]])
        assert prompt.endswith("<|im_start|>assistant\n") and "<|video_pad|>" in prompt
        assert (batch["labels"][i] == video_id).sum() == 0


def test_video_goes_in_as_temporal_patches(collator_and_rows, frames_spec):
    processor, collator, rows = collator_and_rows
    batch = collator(rows)
    grid = batch["video_grid_thw"]
    assert grid.shape == (len(rows), 3)
    assert (grid[:, 0] == frames_spec["count"] // 2).all()  # 2 frames per temporal patch
    assert batch["pixel_values_videos"].shape[0] == int(grid.prod(dim=1).sum())
    video_id = processor.tokenizer.convert_tokens_to_ids("<|video_pad|>")
    per_row = (batch["input_ids"] == video_id).sum(dim=1)
    assert per_row.tolist() == (grid.prod(dim=1) // 4).tolist()
    assert "pixel_values" not in batch  # not a bag of images
    if "mm_token_type_ids" in batch:
        assert ((batch["mm_token_type_ids"] != 0) == (batch["input_ids"] == video_id)).all()


def test_prompt_names_the_frames_shown(collator_and_rows, real_samples, frames_spec):
    _, collator, rows = collator_and_rows
    settings = frame_settings(FramesConfig(**frames_spec))
    text = collator.prompt_builder(rows[0])[-1]["content"][-1]["text"]
    indices = settings.indices(real_samples[0].num_frames)
    assert "clip frames " + ", ".join(format_frame(i) for i in indices) in text


def test_bad_clips_name_sample_and_field(tmp_path, real_samples, tiny_checkpoint, frames_spec):
    processor = AutoProcessor.from_pretrained(tiny_checkpoint)
    settings = frame_settings(FramesConfig(**frames_spec))
    rows = build_rows(real_samples[:1], settings=settings).rows
    collator = VideoSFTCollator(processor, ClipLoader(tmp_path / "empty", settings))
    sid = real_samples[0].sample_id
    with pytest.raises(TrainingDataError, match=f"sample '{sid}': field 'video': no extracted frames"):
        collator(rows)
    bad = dict(rows[0], video=np.zeros((4, 28, 28), dtype=np.uint8))
    with pytest.raises(TrainingDataError, match=r"field 'video' must be \(T, H, W, 3\)"):
        collator([bad])
    no_target = {k: v for k, v in rows[0].items() if k != "target"}
    with pytest.raises(TrainingDataError, match="field 'target' is missing"):
        collator([dict(no_target, video=np.zeros((4, 28, 28, 3), dtype=np.uint8))])


def test_rows_for_hpl_carry_prompt_and_reward_columns(real_samples):
    result = build_rows(real_samples[:2], with_target=False, with_prompt=True, score_range=(0.0, 110.0))
    row = result.rows[0]
    assert row["prompt"][1]["content"][0]["type"] == "video"
    assert {"gold_action", "gold_steps", "gold_score", "score_min", "score_max"} <= set(row)
    assert "target" not in row and not result.quarantined


def test_rows_that_cannot_be_built_are_quarantined_with_the_field(real_samples):
    result = build_rows(real_samples[:2], with_prompt=True, score_range=(100.0, 1.0))  # max below min
    assert result.rows == []
    assert [q["id"] for q in result.quarantined] == [s.sample_id for s in real_samples[:2]]
    assert all(q["field"] == "reward_columns" and "score_range" in q["reason"] for q in result.quarantined)


def test_a_sample_raising_anything_is_quarantined_and_the_others_are_kept(real_samples):
    """Not only ValueError/KeyError/TypeError: whatever one sample raises (here an AttributeError from a step that
    is not a step) holds back that sample with its reason, never the run (docs/UNTRUSTED_INPUT.md)."""
    good, bad = real_samples[0], dataclasses.replace(real_samples[1], steps=(None,))
    result = build_rows([bad, good], with_prompt=True, score_range=(0.0, 110.0))
    assert [row["sample_id"] for row in result.rows] == [good.sample_id]
    (record,) = result.quarantined
    assert record["id"] == bad.sample_id and record["field"] == "target"
    assert record["reason"].startswith("error: AttributeError:") and "\n" not in record["reason"]


def test_prompt_asks_for_steps_only_when_the_sample_has_step_labels(real_samples):
    from dataclasses import replace

    from hieroaction.reasoning import prompt_for

    with_steps = real_samples[0]
    without_steps = replace(with_steps, steps=(), frame_labels=None)
    rows = build_rows([with_steps, without_steps], with_prompt=True).rows
    assert rows[0]["prompt"] == prompt_for(with_steps)
    assert rows[1]["prompt"] == prompt_for(without_steps)
    assert rows[0]["prompt"][-1]["content"][-1]["text"] != rows[1]["prompt"][-1]["content"][-1]["text"]


def test_frames_without_media_keep_good_clips_and_name_how_each_bad_one_failed(tmp_path, real_samples, clip_writer,
                                                                                frames_spec):
    from hieroaction.train.config import DataConfig
    from hieroaction.train.data import ensure_frames
    from hieroaction.video.store import clip_path

    samples = real_samples[:3]
    settings = clip_writer(samples[:2], tmp_path / "frames")
    altered = clip_path(tmp_path / "frames", samples[1], settings)
    altered.write_bytes(clip_path(tmp_path / "frames", samples[0], settings).read_bytes())
    config = DataConfig(frames_dir=str(tmp_path / "frames"), media_root=None, frames=FramesConfig(**frames_spec))
    ready, quarantined = ensure_frames(samples, config)
    assert ready == samples[:1]
    reasons = {q["id"]: q["reason"] for q in quarantined}
    assert reasons[samples[2].sample_id] == "missing: no extracted frames"
    assert reasons[samples[1].sample_id].startswith("unloadable: stored clip its bytes are not the ones extraction")
