"""VideoGRPOTrainer: the video reaches every log-prob forward pass and vision tokens are never generated.

These run the real trainer on the real ``tiny`` preset (a Qwen2.5-VL with random weights); nothing is mocked. Hooks only
*observe* the forward calls and gradients.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("trl")

from hieroaction.train.video_grpo import (  # noqa: E402
    VideoGRPOTrainer,
    VideoInputError,
    load_video_value,
    merge_video_fields,
)

FRAMES, SIDE = 4, 56


@pytest.fixture
def tiny_dir(tiny_checkpoint):  # the session's tiny preset (tests/train/conftest.py)
    return tiny_checkpoint


def _rows(n: int, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        rows.append(
            {
                "sample_id": f"synthetic/{i}",
                "prompt": [
                    {"role": "user", "content": [{"type": "video"}, {"type": "text", "text": "Assess the dive."}]}
                ],
                "video": rng.integers(0, 256, (FRAMES, SIDE, SIDE, 3), dtype=np.uint8),
            }
        )
    return rows


def distinct_chars_reward(completions, **_):
    """A real, varying reward (share of distinct characters) so that advantages are non-zero."""
    texts = [c[0]["content"] if isinstance(c, list) else c for c in completions]
    return [len(set(t)) / max(len(t), 1) for t in texts]


def _trainer(model_dir, tmp_path, rows, **overrides):
    from datasets import Dataset
    from transformers import AutoModelForImageTextToText, AutoProcessor
    from trl import GRPOConfig

    videos = {row["sample_id"]: row["video"] for row in rows}
    dataset = Dataset.from_list([{k: v for k, v in row.items() if k != "video"} for row in rows])
    settings = dict(
        output_dir=str(tmp_path / "out"),
        per_device_train_batch_size=4,
        num_generations=4,
        steps_per_generation=2,  # != gradient_accumulation_steps: trl computes the old-policy log-probs too
        max_completion_length=6,
        max_steps=1,
        beta=0.04,  # a reference model and its forward pass
        learning_rate=1e-3,
        logging_steps=1,
        report_to=[],
        use_cpu=True,
        save_strategy="no",
        disable_tqdm=True,
        seed=0,
    )
    own = {k: overrides.pop(k) for k in ("sft_weight",) if k in overrides}
    settings.update(overrides)
    model = AutoModelForImageTextToText.from_pretrained(model_dir)
    processor = AutoProcessor.from_pretrained(model_dir)
    return VideoGRPOTrainer(
        model=model,
        reward_funcs=[distinct_chars_reward],
        args=GRPOConfig(**settings),
        train_dataset=dataset,
        processing_class=processor,
        video_loader=lambda row: videos[row["sample_id"]],
        **own,
    )


def test_video_reaches_policy_old_and_reference_passes_and_trains_the_vision_tower(tiny_dir, tmp_path):
    trainer = _trainer(tiny_dir, tmp_path, _rows(4))
    calls = []

    def spy(name):
        def hook(module, args, kwargs):
            if not kwargs.get("fused_lm_head"):
                return  # generation steps; checked separately below
            calls.append(
                {
                    "model": name,
                    "grad": torch.is_grad_enabled(),
                    "batch": kwargs["input_ids"].shape[0],
                    "video_rows": None
                    if kwargs.get("pixel_values_videos") is None
                    else kwargs["pixel_values_videos"].shape[0],
                    "grid": kwargs.get("video_grid_thw"),
                    "video_tokens": int((kwargs["mm_token_type_ids"] == 2).sum())
                    if "mm_token_type_ids" in kwargs
                    else 0,
                }
            )

        return hook

    generation_calls = []
    trainer.model.register_forward_pre_hook(spy("policy"), with_kwargs=True)
    trainer.model.register_forward_pre_hook(
        lambda m, a, k: generation_calls.append(k) if not k.get("fused_lm_head") else None, with_kwargs=True
    )
    trainer.ref_model.register_forward_pre_hook(spy("reference"), with_kwargs=True)
    vision_grads = []
    trainer.model.model.visual.patch_embed.proj.weight.register_hook(
        lambda g: vision_grads.append(g.abs().sum().item())
    )

    trainer.train()

    kinds = {(c["model"], c["grad"]) for c in calls}
    assert kinds == {("policy", False), ("reference", False), ("policy", True)}  # old, ref, loss
    merge = trainer.processing_class.video_processor.merge_size**2
    for call in calls:
        assert call["video_rows"] is not None, f"{call['model']} pass without video"
        assert call["grid"].shape[0] == call["batch"]  # one clip per sample
        assert call["video_rows"] == int(call["grid"].prod(dim=-1).sum())
        assert call["video_tokens"] == call["video_rows"] // merge  # placeholders match the features
    assert generation_calls and (
        generation_calls[0].get("pixel_values_videos") is not None or generation_calls[0].get("mm_encoder_outputs")
    )
    assert vision_grads and all(g > 0 for g in vision_grads), "the GRPO loss sends no gradient into the vision tower"
    logged = trainer.state.log_history[0]
    assert "rewards/distinct_chars_reward/mean" in logged


def test_old_logprobs_match_the_loss_pass_after_shuffle(tiny_dir, tmp_path):
    """Each sample keeps its own clip through trl's shuffle/split: same weights, same inputs, same log-probs."""
    trainer = _trainer(tiny_dir, tmp_path, _rows(4, seed=1))
    generation_batch = next(iter(trainer.get_train_dataloader()))
    trainer.model.train()  # the train path: generate, shuffle, split into micro-batches (Trainer.train does this)
    with torch.no_grad():
        micro = trainer._prepare_inputs(generation_batch)
        assert "old_per_token_logps" in micro and len(micro["pixel_values_videos"]) == 4
        ids = torch.cat([micro["prompt_ids"], micro["completion_ids"]], dim=1)
        mask = torch.cat([micro["prompt_mask"], micro["completion_mask"]], dim=1)
        keep = micro["completion_ids"].size(1)
        with trainer._video_scope(merge_video_fields(micro)):
            with_video, _, _ = trainer._get_per_token_logps_and_entropies(trainer.model, ids, mask, keep)
        swapped = dict(micro)
        swapped["pixel_values_videos"] = [torch.zeros_like(v) for v in micro["pixel_values_videos"]]
        with trainer._video_scope(merge_video_fields(swapped)):
            other_video, _, _ = trainer._get_per_token_logps_and_entropies(trainer.model, ids, mask, keep)
    completion = micro["completion_mask"].bool()
    old = micro["old_per_token_logps"]
    assert torch.allclose(with_video[completion], old[completion], atol=1e-5)
    assert not torch.allclose(other_video[completion], old[completion], atol=1e-5)  # the clip really matters


def test_vision_tokens_are_never_generated(tiny_dir, tmp_path):
    trainer = _trainer(tiny_dir, tmp_path, _rows(2, seed=2), max_completion_length=12)
    config = trainer.model.config
    vision_ids = [
        config.image_token_id,
        config.video_token_id,
        config.vision_start_token_id,
        config.vision_end_token_id,
    ]
    assert set(vision_ids) <= set(trainer.suppressed_token_ids)

    # Rig the LM head so that a vision token wins every step unless it is suppressed.
    with torch.no_grad():
        head = trainer.model.lm_head.weight
        direction = torch.randn(head.shape[1])
        head.zero_()
        head[config.video_token_id] = 1000 * direction
        head[config.image_token_id] = -1000 * direction

    # Control: plain generation now emits vision tokens, so the check below can fail.
    processor = trainer.processing_class
    row = _rows(1, seed=3)[0]
    text = processor.apply_chat_template(row["prompt"], tokenize=False, add_generation_prompt=True)
    enc = processor(text=[text], videos=[row["video"]], return_tensors="pt", do_sample_frames=False)
    plain = trainer.model.generate(**enc, max_new_tokens=5, do_sample=False)
    assert set(plain[0, enc["input_ids"].shape[1] :].tolist()) & set(vision_ids)

    batch = next(iter(trainer.get_train_dataloader()))
    out = trainer._generate_and_score_completions(batch)
    generated = out["completion_ids"][out["completion_mask"].bool()].tolist()
    assert generated, "no tokens were generated"
    assert not set(generated) & set(vision_ids)


def test_a_bad_clip_names_the_sample_and_field(tiny_dir, tmp_path):
    rows = _rows(4, seed=4)
    rows[1]["video"] = np.zeros((FRAMES, SIDE, SIDE), dtype=np.uint8)  # no channel axis
    trainer = _trainer(tiny_dir, tmp_path, rows, shuffle_dataset=False)
    batch = next(iter(trainer.get_train_dataloader()))  # the first two samples, each repeated num_generations times
    with pytest.raises(VideoInputError, match=r"synthetic/1.*'video'.*\(T, H, W, 3\)"):
        trainer._generate_and_score_completions(batch)


def test_dataset_cells_load_as_uint8_clips(tmp_path):
    clip = np.arange(2 * 4 * 4 * 3, dtype=np.uint8).reshape(2, 4, 4, 3)
    np.save(tmp_path / "clip.npy", clip)
    assert np.array_equal(load_video_value(str(tmp_path / "clip.npy")), clip)
    as_lists = load_video_value(clip.tolist())  # what `datasets` hands back
    assert as_lists.dtype == np.uint8 and np.array_equal(as_lists, clip)
    assert load_video_value([[[[300, 0, 0]]]]).dtype != np.uint8  # never wrapped silently


def test_scoring_pass_reproduces_the_sampling_distribution(tiny_dir, tmp_path):
    """Log-probs of sampled tokens from ``generate`` equal the trainer's scoring pass (same video, same 3-D rotary
    positions); scoring without the video gives different numbers, so the check can tell."""
    from trl.trainer.utils import pad

    rows = _rows(2, seed=5)
    trainer = _trainer(tiny_dir, tmp_path, rows)
    model, processor = trainer.model, trainer.processing_class
    trainer._batch_videos = [row["video"] for row in rows]
    prompt_ids, _, fields = trainer._tokenize_prompts([row["prompt"] for row in rows])
    video = trainer._tokenized_video
    trainer._batch_videos = None
    pad_id = processor.tokenizer.pad_token_id
    ids = pad([torch.tensor(p) for p in prompt_ids], padding_value=pad_id, padding_side="left")
    mask = pad([torch.ones(len(p), dtype=torch.long) for p in prompt_ids], padding_value=0, padding_side="left")
    types = pad([torch.tensor(t) for t in fields["mm_token_type_ids"]], padding_value=0, padding_side="left")
    torch.manual_seed(0)
    with torch.no_grad():
        out = model.generate(
            input_ids=ids,
            attention_mask=mask,
            mm_token_type_ids=types,
            pixel_values_videos=video["pixel_values_videos"],
            video_grid_thw=video["video_grid_thw"],
            second_per_grid_ts=video["second_per_grid_ts"],
            max_new_tokens=8,
            do_sample=True,
            temperature=1.0,
            top_k=0,
            top_p=1.0,
            output_scores=True,
            return_dict_in_generate=True,
        )
        completion = out.sequences[:, ids.shape[1] :]
        sampled = torch.stack(
            [torch.log_softmax(s, -1).gather(1, completion[:, i : i + 1]).squeeze(1) for i, s in enumerate(out.scores)],
            dim=1,
        )
        full = torch.cat([ids, completion], dim=1)
        full_mask = torch.cat([mask, torch.ones_like(completion)], dim=1)
        with trainer._video_scope(video):
            scored, _, _ = trainer._get_per_token_logps_and_entropies(model, full, full_mask, completion.shape[1])
        blind, _, _ = trainer._get_per_token_logps_and_entropies(model, full, full_mask, completion.shape[1])
    # Up to the first end-of-turn token (generate pads after it; min_new_tokens would mask EOS and shift the softmax).
    eos = torch.tensor(trainer.eos_token_ids)
    live = torch.cumsum(torch.isin(completion, eos).int(), dim=1) - torch.isin(completion, eos).int() == 0
    assert live.sum() >= 2
    # Measured: ~1e-3 apart (cached vs full-sequence kernels) with the video, ~0.25 without it.
    assert (scored[live] - sampled[live]).abs().max() < 1e-2
    assert (blind[live] - sampled[live]).abs().max() > 5e-2


def test_grpo_step_encodes_each_clip_once_per_pass_and_scores_like_the_plain_path(tiny_checkpoint, tmp_path):
    """One GRPO generation batch (2 clips x 4 generations): generating and the old-policy pass encode 2 videos in all,
    where the plain path encodes 16; the log-probs of a micro-batch are the plain path's."""
    def _tower_spy(model, record):
        def hook(module, args, kwargs):
            record.append((torch.is_grad_enabled(), int(kwargs.get("grid_thw", args[1] if len(args) > 1 else None).shape[0])))

        return model.model.visual.register_forward_pre_hook(hook, with_kwargs=True)

    trainer = _trainer(tiny_checkpoint, tmp_path, _rows(4, seed=1), beta=0.0)
    assert trainer.clip_cache is not None
    calls: list = []
    _tower_spy(trainer.model, calls)
    generation_batch = next(iter(trainer.get_train_dataloader()))
    trainer.model.train()
    with torch.no_grad():
        micro = trainer._prepare_inputs(generation_batch)
    assert "old_per_token_logps" in micro
    assert [c for c in calls if not c[0]] == [(False, 2)]  # generation encoded both clips; the old pass reused them
    assert trainer.clip_cache.requested_videos == 16  # 8 rows generated + 8 rows scored

    ids = torch.cat([micro["prompt_ids"], micro["completion_ids"]], dim=1)
    mask = torch.cat([micro["prompt_mask"], micro["completion_mask"]], dim=1)
    keep = micro["completion_ids"].size(1)
    completion = micro["completion_mask"].bool()
    results = {}
    for once in (True, False):
        trainer.clip_cache.enabled = once
        calls.clear()
        trainer.model.zero_grad()
        with trainer._video_scope(merge_video_fields(micro)):
            logps, _, _ = trainer._get_per_token_logps_and_entropies(trainer.model, ids, mask, keep)
        logps[completion].sum().backward()
        grad = trainer.model.model.visual.patch_embed.proj.weight.grad.clone()
        results[once] = (logps.detach(), grad, calls[0][1])
    distinct = len({v.sum().item() for v in micro["pixel_values_videos"]})
    assert results[True][2] == distinct and results[False][2] == 4  # rows in the micro-batch
    assert torch.allclose(results[True][0][completion], results[False][0][completion], atol=1e-5)
    assert torch.allclose(results[True][0][completion], micro["old_per_token_logps"][completion], atol=1e-5)
    # the trainer's scoring passes run under its bf16 autocast (also on the CPU): gradients agree to bf16 precision,
    # a few of its 2**-8 steps summed in another order (0.019 on an AMD EPYC's AVX2 kernels, under 0.01 where this
    # test was written); a clip shared by two rows and counted for one would be off by about half
    shared, plain = results[True][1], results[False][1]
    assert ((shared - plain).norm() / plain.norm()).item() < 5e-2


def test_sft_term_is_the_sft_collators_loss_once_per_clip(tiny_checkpoint, tmp_path):
    """``sft_weight``: the gold term of a micro-batch is the SFT stage's loss (the SFT collator's tokens, labels and
    video) on the clips of its lead rows, one row per clip; and a training step with it runs."""
    from transformers import AutoModelForImageTextToText

    from hieroaction.train.data import VideoSFTCollator

    rows = [dict(row, target=f"<action>10{i}b</action> gold answer {i}") for i, row in enumerate(_rows(2, seed=3))]
    trainer = _trainer(tiny_checkpoint, tmp_path, rows, beta=0.0, steps_per_generation=1, sft_weight=0.5)
    generation_batch = next(iter(trainer.get_train_dataloader()))
    trainer.model.train()
    with torch.no_grad():
        micro = trainer._prepare_inputs(generation_batch)
    leads = micro["gold_lead"].tolist()
    assert sum(leads) == 1  # 4 rows = 1 clip x 4 answers: its gold answer counted once
    lead = leads.index(True)
    with torch.no_grad():
        ours = trainer._gold_loss(trainer.model, micro)
    sample = next(r for r in rows if torch.equal(
        micro["gold_ids"][lead][:3], torch.tensor(trainer._tokenizer(r["target"], add_special_tokens=False)["input_ids"][:3])))
    videos = {row["sample_id"]: row["video"] for row in rows}
    collator = VideoSFTCollator(trainer.processing_class, clip_loader=lambda row: videos[row["sample_id"]],
                                prompt_builder=lambda row: row["prompt"])
    model = AutoModelForImageTextToText.from_pretrained(tiny_checkpoint).eval()
    with torch.no_grad():
        theirs = model(**collator([{k: v for k, v in sample.items() if k != "video"}])).loss
    assert abs(ours.item() - theirs.item()) < 2e-2 * theirs.item()  # ours under the trainer's bf16 autocast

    trainer.train()
    assert any("sft_loss" in entry for entry in trainer.state.log_history)


def test_sft_term_needs_the_gold_answers(tiny_checkpoint, tmp_path):
    trainer = _trainer(tiny_checkpoint, tmp_path, _rows(2), beta=0.0, steps_per_generation=1, sft_weight=1.0)
    with pytest.raises(VideoInputError, match="field 'target' is missing"):
        trainer._prepare_inputs(next(iter(trainer.get_train_dataloader())))
