"""The fast rollout path changes no math: the same tokens as HF ``generate``, log-probs the training pass reproduces,
the same GRPO loss, and the vision tower run once per clip (real tiny preset, nothing mocked; hooks only observe)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("trl")

from hieroaction.model.fast_generation import (  # noqa: E402
    DecodeSettings,
    UnsupportedGenerationSetting,
    decode_mask_builder,
    generate_from_shared_prompts,
    shared_prompt_groups,
)

FRAMES, SIDE = 4, 56
PROMPT = [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": "Assess the dive."}]}]
OTHER_PROMPT = [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": "Name the dive, then score it."}]}]


def _clips(n, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (FRAMES, SIDE, SIDE, 3), dtype=np.uint8) for _ in range(n)]


def _batch(processor, prompts_and_clips, repeats):
    """Left-padded processor output with every (prompt, clip) pair repeated ``repeats`` times in a row, as GRPO does."""
    texts, videos = [], []
    for prompt, clip in prompts_and_clips:
        text = processor.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)
        texts += [text] * repeats
        videos += [clip] * repeats
    return dict(processor(text=texts, videos=videos, padding=True, padding_side="left", return_tensors="pt",
                          do_sample_frames=False))


def _generation_config(processor, model, **overrides):
    from transformers import GenerationConfig

    from hieroaction.model.tokens import suppressed_token_ids

    settings = dict(max_new_tokens=12, do_sample=False, pad_token_id=processor.tokenizer.pad_token_id,
                    suppress_tokens=suppressed_token_ids(processor.tokenizer, model.config))
    settings.update(overrides)
    return GenerationConfig(**settings)


@pytest.fixture(scope="module")
def model_and_processor(tiny_checkpoint):
    from transformers import AutoModelForImageTextToText, AutoProcessor

    model = AutoModelForImageTextToText.from_pretrained(tiny_checkpoint)
    model.eval()
    return model, AutoProcessor.from_pretrained(tiny_checkpoint)


@pytest.mark.parametrize("sampling", [False, True], ids=["greedy", "sampled"])
def test_same_tokens_as_generate(model_and_processor, sampling):
    """Two clips (with different prompt lengths: real left padding) x 3 answers: each prompt is prefilled once and
    the tokens are generate()'s, greedy and (same seed) sampled with temperature and top-p."""
    model, processor = model_and_processor
    clips = _clips(2)
    batch = _batch(processor, [(PROMPT, clips[0]), (OTHER_PROMPT, clips[1])], repeats=3)
    assert (batch["attention_mask"] == 0).any()  # the shorter prompt is padded
    extra = dict(do_sample=True, temperature=0.7, top_p=0.95) if sampling else {}
    config = _generation_config(processor, model, max_new_tokens=24, **extra)
    torch.manual_seed(7)
    with torch.no_grad():
        reference = model.generate(**batch, generation_config=config)[:, batch["input_ids"].shape[1]:]
    torch.manual_seed(7)
    fast = generate_from_shared_prompts(model, batch, DecodeSettings.for_model(model, config))
    assert fast.prefilled_rows == 2 and fast.preallocated_cache
    assert isinstance(decode_mask_builder(model, batch["attention_mask"])(4), dict)  # SDPA: the mask built once
    assert fast.completion_ids.shape == reference.shape
    assert torch.equal(fast.completion_ids, reference)
    if sampling:  # the 3 answers to one clip differ: the rows do not share their sampling
        assert len({tuple(row.tolist()) for row in reference[:3]}) > 1


def test_eager_attention_takes_the_2d_mask_and_gives_the_same_tokens(tiny_checkpoint, model_and_processor):
    from transformers import AutoModelForImageTextToText

    _, processor = model_and_processor
    model = AutoModelForImageTextToText.from_pretrained(tiny_checkpoint, attn_implementation="eager").eval()
    batch = _batch(processor, [(PROMPT, _clips(1)[0]), (OTHER_PROMPT, _clips(2)[1])], repeats=2)
    assert torch.is_tensor(decode_mask_builder(model, batch["attention_mask"])(4))
    config = _generation_config(processor, model, max_new_tokens=16)
    with torch.no_grad():
        reference = model.generate(**batch, generation_config=config)[:, batch["input_ids"].shape[1]:]
    fast = generate_from_shared_prompts(model, batch, DecodeSettings.for_model(model, config))
    assert torch.equal(fast.completion_ids, reference)


def test_min_new_tokens_and_the_end_of_answer_as_generate(model_and_processor):
    """A hook that makes the end-of-turn token every step's greedy choice: both paths end at once, and both hold it
    back for exactly ``min_new_tokens`` steps, also when the loop checks for the end only every few steps."""
    model, processor = model_and_processor
    eos = processor.tokenizer.convert_tokens_to_ids("<|im_end|>")

    def favour_eos(module, args, output):
        output = output.clone()
        output[..., eos] += 1e4
        return output

    hook = model.lm_head.register_forward_hook(favour_eos)
    try:
        batch = _batch(processor, [(PROMPT, _clips(1)[0]), (OTHER_PROMPT, _clips(2)[1])], repeats=2)
        lengths = {}
        for minimum in (0, 5):
            config = _generation_config(processor, model, max_new_tokens=12, min_new_tokens=minimum or None)
            with torch.no_grad():
                reference = model.generate(**batch, generation_config=config)[:, batch["input_ids"].shape[1]:]
            for every in (1, 4):  # checking for the end every 4 steps (a GPU's default is 8) decodes past it
                fast = generate_from_shared_prompts(model, batch, DecodeSettings.for_model(model, config),
                                                    stop_check_every=every)
                assert torch.equal(fast.completion_ids, reference), every  # ... and cuts those steps off
            lengths[minimum] = fast.completion_ids.shape[1]
        assert lengths == {0: 1, 5: 6}
        assert (fast.completion_ids[:, 5] == eos).all() and not (fast.completion_ids[:, :5] == eos).any()
    finally:
        hook.remove()


def test_rows_that_end_at_different_steps_are_cut_where_the_last_one_ended(model_and_processor):
    """Rows 0-1 end at step 1 and rows 2-3 at step 3 (a hook on the head's calls: call 0 is the prefill in both paths);
    checking for the end every 3 steps decodes to step 5, and the output is cut back to generate()'s 4 columns."""
    model, processor = model_and_processor
    eos = processor.tokenizer.convert_tokens_to_ids("<|im_end|>")
    calls = []

    def end_rows(module, args, output):
        calls.append(1)
        rows = {1: [0, 1], 3: [2, 3]}.get(len(calls) - 1, [])
        output = output.clone()
        output[rows, ..., eos] += 1e4
        return output

    batch = _batch(processor, [(PROMPT, _clips(1)[0]), (OTHER_PROMPT, _clips(2)[1])], repeats=2)
    config = _generation_config(processor, model, max_new_tokens=12)
    hook = model.lm_head.register_forward_hook(end_rows)
    try:
        with torch.no_grad():
            reference = model.generate(**batch, generation_config=config)[:, batch["input_ids"].shape[1]:]
        calls.clear()
        fast = generate_from_shared_prompts(model, batch, DecodeSettings.for_model(model, config), stop_check_every=3)
    finally:
        hook.remove()
    assert len(calls) == 6  # the prefill and 5 decode steps: two past the end
    assert reference.shape[1] == 4 and (reference[:2, 1] == eos).all() and (reference[2:, 3] == eos).all()
    assert torch.equal(fast.completion_ids, reference)


def test_unset_sampling_fields_resolve_as_generate_does(model_and_processor):
    """generate() fills an unset top_k from transformers' defaults (50): the fast path decodes with the same value."""
    model, processor = model_and_processor
    config = _generation_config(processor, model, do_sample=True, top_k=None)
    assert DecodeSettings.for_model(model, config).top_k == 50
    assert DecodeSettings.for_model(model, _generation_config(processor, model, do_sample=True, top_k=0)).top_k is None


def test_unsupported_settings_are_refused_by_name(model_and_processor):
    model, processor = model_and_processor
    with pytest.raises(UnsupportedGenerationSetting, match="repetition_penalty"):
        DecodeSettings.for_model(model, _generation_config(processor, model, repetition_penalty=1.2))
    with pytest.raises(UnsupportedGenerationSetting, match="num_beams"):
        DecodeSettings.for_model(model, _generation_config(processor, model, num_beams=2))


def test_rows_share_a_prefill_only_with_equal_tokens_and_pixels():
    ids = torch.tensor([[0, 5, 6], [0, 5, 6], [0, 5, 6], [7, 5, 6], [0, 5, 6]])
    mask = torch.tensor([[0, 1, 1], [0, 1, 1], [0, 1, 1], [1, 1, 1], [1, 1, 1]])
    a, b = torch.zeros(4, 3), torch.ones(4, 3)
    first, owner = shared_prompt_groups(ids, mask, [a, a, b, a, a])
    # rows 0/1: same tokens, same video; row 2: other pixels; row 3: other tokens; row 4: the pad id 0 is a real token
    assert first == [0, 2, 3, 4] and owner.tolist() == [0, 0, 1, 2, 3]
    assert shared_prompt_groups(ids, mask, None)[0] == [0, 3, 4]


# ---------------------------------------------------------------------------------------------- in the trainer


def _rows(n, seed=0):
    return [{"sample_id": f"synthetic/{i}", "prompt": PROMPT, "video": clip} for i, clip in enumerate(_clips(n, seed))]


def distinct_chars_reward(completions, **_):
    texts = [c[0]["content"] if isinstance(c, list) else c for c in completions]
    return [len(set(t)) / max(len(t), 1) for t in texts]


def _trainer(model_dir, tmp_path, rows, fast, **overrides):
    from datasets import Dataset
    from transformers import AutoModelForImageTextToText, AutoProcessor
    from trl import GRPOConfig

    from hieroaction.train.video_grpo import VideoGRPOTrainer

    videos = {row["sample_id"]: row["video"] for row in rows}
    settings = dict(output_dir=str(tmp_path / f"out_{fast}"), per_device_train_batch_size=8, num_generations=4,
                    max_completion_length=10, max_steps=1, learning_rate=1e-3, logging_steps=1, report_to=[],
                    use_cpu=True, save_strategy="no", disable_tqdm=True, seed=0, temperature=0.9)
    settings.update(overrides)
    return VideoGRPOTrainer(
        model=AutoModelForImageTextToText.from_pretrained(model_dir),
        reward_funcs=[distinct_chars_reward],
        args=GRPOConfig(**settings),
        train_dataset=Dataset.from_list([{k: v for k, v in row.items() if k != "video"} for row in rows]),
        processing_class=AutoProcessor.from_pretrained(model_dir),
        video_loader=lambda row: videos[row["sample_id"]],
        fast_generation=fast,
        encode_clips_once=False,  # so the tower calls counted below are the generation path's own
    )


def _tower_spy(model, record):
    def hook(module, args, kwargs):
        record.append(int(kwargs.get("grid_thw", args[1] if len(args) > 1 else None).shape[0]))

    return model.model.visual.register_forward_pre_hook(hook, with_kwargs=True)


def test_sampled_logprobs_are_what_the_training_pass_scores(tiny_checkpoint, tmp_path):
    """Sampling (temperature 0.9, trl's unset top_k resolved to 50): each sampled token's log-prob under the decode
    loop's cached logits equals the trainer's scoring pass over prompt + completion (which divides by the same
    temperature), and the vision tower ran once per clip while generating 2 clips x 4 answers."""
    from trl.trainer.utils import pad

    rows = _rows(2, seed=3)
    trainer = _trainer(tiny_checkpoint, tmp_path, rows, fast=True, bf16=False)
    model = trainer.model
    model.eval()
    trainer._batch_videos = [row["video"] for row in rows for _ in range(4)]
    prompt_ids, _, fields = trainer._tokenize_prompts([row["prompt"] for row in rows for _ in range(4)])
    video = trainer._tokenized_video
    trainer._batch_videos = None
    pad_id = trainer.processing_class.tokenizer.pad_token_id
    batch = {
        "input_ids": pad([torch.tensor(p) for p in prompt_ids], padding_value=pad_id, padding_side="left"),
        "attention_mask": pad([torch.ones(len(p), dtype=torch.long) for p in prompt_ids], padding_value=0,
                              padding_side="left"),
        "mm_token_type_ids": pad([torch.tensor(t) for t in fields["mm_token_type_ids"]], padding_value=0,
                                 padding_side="left"),
        **{k: video[k] for k in ("pixel_values_videos", "video_grid_thw", "second_per_grid_ts")},
    }
    assert bool(batch["attention_mask"].all())  # one prompt, no padding: SDPA decodes without a mask
    assert decode_mask_builder(model, batch["attention_mask"])(4) == {"full_attention": None}
    calls: list[int] = []
    spy = _tower_spy(model, calls)
    torch.manual_seed(0)
    out = generate_from_shared_prompts(model, batch, DecodeSettings.for_model(model, trainer.generation_config))
    spy.remove()
    assert calls == [2]  # 2 distinct clips encoded once; generate() encodes all 8 rows
    completion = out.completion_ids
    full = torch.cat([batch["input_ids"], completion], dim=1)
    full_mask = torch.cat([batch["attention_mask"], torch.ones_like(completion)], dim=1)
    with torch.no_grad(), trainer._video_scope(video):
        scored, _, _ = trainer._get_per_token_logps_and_entropies(model, full, full_mask, completion.shape[1])
    eos = torch.isin(completion, torch.tensor(trainer.eos_token_ids))
    live = torch.cumsum(eos.int(), dim=1) - eos.int() == 0  # up to and including the end of each answer
    assert live.sum() >= 16
    # float32 both ways (bf16=False): measured 1e-6 apart; a rotary position off by one token is 7e-4 apart
    assert (scored[live] - out.logprobs[live]).abs().max() < 1e-4


def test_a_grpo_step_gives_the_plain_paths_completions_loss_and_update(tiny_checkpoint, tmp_path):
    """One real GRPO step (2 clips x 4 answers), fast path on and off, same seed: the same completions, loss and
    updated weights; the fast path encodes each clip once while generating, generate() once per answer."""
    from transformers import AutoModelForImageTextToText

    start = {n: p.detach().clone() for n, p in AutoModelForImageTextToText.from_pretrained(tiny_checkpoint)
             .named_parameters()}
    results = {}
    for fast in (False, True):
        trainer = _trainer(tiny_checkpoint, tmp_path, _rows(2, seed=4), fast=fast, max_completion_length=40)
        completions: list = []
        original = trainer._generate_single_turn

        def recording(*args, _original=original, _out=completions, **kwargs):
            result = _original(*args, **kwargs)
            _out.append(result[0])
            return result

        trainer._generate_single_turn = recording
        calls: list[int] = []
        _tower_spy(trainer.model, calls)
        trainer.train()
        losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
        weights = {n: p.detach().clone() for n, p in trainer.model.named_parameters()}
        results[fast] = (completions, losses, calls[0], weights)
    plain, fast = results[False], results[True]
    assert fast[0] == plain[0] and len(plain[0][0]) == 8  # the same 8 completions
    assert min(len(c) for c in plain[0][0]) < 40 == max(len(c) for c in plain[0][0])  # some ended early, some not
    assert plain[2] == 8 and fast[2] == 2  # vision-tower rows while generating
    assert len(plain[1]) == len(fast[1]) == 1
    assert fast[1][0] == pytest.approx(plain[1][0], abs=1e-6)
    moved = max((plain[3][n] - start[n]).abs().max().item() for n in start)
    apart = max((fast[3][n] - plain[3][n]).abs().max().item() for n in start)
    assert moved > 1e-4 and apart < 1e-6  # the step changed the weights, identically on both paths


def test_an_unsupported_generation_setting_fails_before_training(tiny_checkpoint, tmp_path):
    with pytest.raises(ValueError, match="repetition_penalty"):
        _trainer(tiny_checkpoint, tmp_path, _rows(2), fast=True, repetition_penalty=1.1)
