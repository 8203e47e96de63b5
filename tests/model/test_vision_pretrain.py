"""Vision pretraining of the offline presets: trains the vision tower only, on renderer ground truth, and it learns."""

import json
from dataclasses import replace

import numpy as np
import pytest

from hieroaction.model.presets import PRESET_INFO_FILE, PRESETS, build_offline_model
from hieroaction.model.vision_pretrain import (
    BODY_STATES,
    ORIENTATION,
    VisionPretrainConfig,
    pretrain_vision,
    render_clips,
)
from hieroaction.synth.render import FACING, frame_state, plan_dive
from hieroaction.video.sampling import uniform_indices

SMALL_RUN = VisionPretrainConfig(steps=40, clips_per_step=4, train_dives=24, heldout_dives=6, frames=4, size=56)


def test_clips_carry_the_renderers_body_state_and_orientation_of_each_sampled_frame():
    clips, states, orientation = render_clips(3, SMALL_RUN, seed=SMALL_RUN.seed)
    assert clips.shape == (3, 4, 56, 56, 3) and clips.dtype == np.uint8
    assert orientation.shape == (3, 4, len(ORIENTATION)) and np.all(np.abs(orientation) <= 1.0 + 1e-6)
    from hieroaction.synth.draw import draw_samples

    for sample, row, targets in zip(draw_samples(3, seed=SMALL_RUN.seed, split="pretrain"), states, orientation,
                                    strict=True):
        assert sample.sample_id.startswith(f"synth/{SMALL_RUN.seed}/")  # a seed no training or test draw uses
        plan = plan_dive(sample, SMALL_RUN.seed)
        frames = [frame_state(plan, int(t))[0] for t in uniform_indices(plan.num_frames, 4)]
        assert [BODY_STATES[i] for i in row] == [f.pose_name for f in frames]
        np.testing.assert_allclose(targets[:, 0], np.sin([f.theta for f in frames]), atol=1e-5)
        np.testing.assert_allclose(targets[:, 1], np.cos([f.theta for f in frames]), atol=1e-5)
        np.testing.assert_allclose(targets[:, 2], [f.front for f in frames], atol=1e-5)
        assert set(targets[:, 3]) == {FACING[plan.dive.rotation]}
        assert all(spin == 0 for spin, f in zip(targets[:, 4], frames, strict=True) if f.phase not in ("somersault", "twist"))


def test_clips_are_the_same_whatever_the_number_of_rendering_processes():
    serial = render_clips(32, replace(SMALL_RUN, workers=1), seed=5)
    parallel = render_clips(32, replace(SMALL_RUN, workers=2), seed=5)
    for one, two in zip(serial, parallel, strict=True):
        np.testing.assert_array_equal(one, two)


def test_pretraining_changes_only_the_vision_tower_and_lowers_its_loss(tiny_checkpoint):
    import torch

    from hieroaction.model.loading import load_model

    torch.manual_seed(0)
    model, processor = load_model(tiny_checkpoint, device="cpu")
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    result = pretrain_vision(model, processor, SMALL_RUN)
    changed = {name for name, p in model.named_parameters() if not torch.equal(p, before[name])}
    assert changed and all(".visual." in f".{name}" for name in changed)
    assert any("merger" in name for name in changed) and any("patch_embed" in name for name in changed)
    assert result.final_loss < result.first_loss
    assert 0 < result.heldout_majority <= 1 and 0 <= result.heldout_accuracy <= 1
    assert all(p.grad is None for p in model.parameters())


def test_bad_settings_are_refused(tiny_checkpoint):
    from hieroaction.model.loading import load_model

    model, processor = load_model(tiny_checkpoint, device="cpu")
    with pytest.raises(ValueError, match="frames must be even"):
        pretrain_vision(model, processor, replace(SMALL_RUN, frames=3))
    with pytest.raises(ValueError, match="steps"):
        pretrain_vision(model, processor, replace(SMALL_RUN, steps=0))


def test_a_preset_with_pretraining_records_it_and_differs_from_the_random_tower(tmp_path, monkeypatch):
    from safetensors.torch import load_file

    monkeypatch.setitem(PRESETS, "tiny", replace(PRESETS["tiny"], vision_pretrain_steps=5))
    pretrained = build_offline_model("tiny", tmp_path / "pretrained")
    monkeypatch.setitem(PRESETS, "tiny", replace(PRESETS["tiny"], vision_pretrain_steps=0))
    plain = build_offline_model("tiny", tmp_path / "plain")
    info = json.loads((pretrained / PRESET_INFO_FILE).read_text())["vision_pretraining"]
    assert info["settings"]["steps"] == 5 and info["result"]["steps"] == 5
    assert json.loads((plain / PRESET_INFO_FILE).read_text())["vision_pretraining"] is None
    a, b = load_file(pretrained / "model.safetensors"), load_file(plain / "model.safetensors")
    vision = [k for k in a if "visual" in k]
    text = [k for k in a if "visual" not in k]
    assert any(not a[k].equal(b[k]) for k in vision)
    assert all(a[k].equal(b[k]) for k in text)  # same seed: the text model is the same random init
