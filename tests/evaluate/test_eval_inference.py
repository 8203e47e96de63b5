"""Batched generation with the tiny checkpoint: left padding, determinism, suppressed vision pad tokens."""

from __future__ import annotations

import numpy as np
import pytest

from hieroaction.evaluate.inference import (
    GenerationSettings,
    generate_assessments,
    generate_batch,
)
from hieroaction.model.tokens import suppressed_token_ids
from hieroaction.reasoning import build_messages

pytestmark = pytest.mark.xdist_group("evaluate-tiny-model")


def clips_and_prompts(n: int = 3):
    rng = np.random.default_rng(0)
    # different clip lengths and sizes -> different prompt lengths and vision token counts: padding matters
    shapes = [(8, 56, 56), (4, 56, 84), (6, 84, 56)][:n]
    clips = [rng.integers(0, 255, (t, h, w, 3), dtype=np.uint8) for t, h, w in shapes]
    prompts = [build_messages(n_frames, frame_indices=list(range(0, n_frames, 7))) for n_frames in (40, 123, 9)[:n]]
    return clips, prompts


def test_batched_generation_equals_one_at_a_time(tiny_model):
    model, processor = tiny_model
    clips, prompts = clips_and_prompts()
    settings = GenerationSettings(max_new_tokens=12, batch_size=3)
    batched = generate_assessments(model, processor, clips, prompts, settings, progress=False)
    single = generate_assessments(
        model, processor, clips, prompts, GenerationSettings(max_new_tokens=12, batch_size=1), progress=False
    )
    assert batched.completions == single.completions
    assert len(batched.completions) == 3 and all(batched.completion_tokens)
    again = generate_assessments(model, processor, lambda i: clips[i], prompts, settings, progress=False)
    assert again.completions == batched.completions  # greedy: deterministic, and clips may come from a loader


def test_vision_pad_tokens_are_suppressed(tiny_model):
    import torch

    model, processor = tiny_model
    clips, prompts = clips_and_prompts(1)
    video_pad = processor.tokenizer.convert_tokens_to_ids("<|video_pad|>")
    assert video_pad in suppressed_token_ids(processor.tokenizer)
    head = model.get_output_embeddings()
    original = head.weight.detach().clone()
    try:
        with torch.no_grad():  # make <|video_pad|> the greedy choice at every step
            inputs = processor(text=[processor.apply_chat_template(prompts[0], add_generation_prompt=True, tokenize=False)],
                               videos=clips, return_tensors="pt", do_sample_frames=False)
            hidden = model(**inputs, output_hidden_states=True).hidden_states[-1][0, -1]
            head.weight[video_pad] = 50.0 * original.abs().max() * torch.sign(hidden)
        free = generate_batch(model, processor, clips, prompts, GenerationSettings(max_new_tokens=1, suppress_vision_tokens=False))
        assert free.completion_ids == [[video_pad]]  # the rigged model does want to emit it
        guarded = generate_batch(model, processor, clips, prompts, GenerationSettings(max_new_tokens=4))
        assert guarded.completion_ids[0] and video_pad not in guarded.completion_ids[0]
    finally:
        with torch.no_grad():
            head.weight.copy_(original)


def test_bad_clip_is_named():
    with pytest.raises(ValueError, match="clip 0"):
        generate_batch(None, None, [np.zeros((4, 8, 8), np.float32)], [build_messages(4)], GenerationSettings())


def test_the_shared_decode_loop_gives_generates_text_and_generate_serves_what_it_lacks(tiny_model, monkeypatch):
    """Evaluation decodes with HPL's rollout loop (hieroaction.model.fast_generation): the same text as transformers'
    generate over padded prompts of different lengths; a repetition penalty (which the loop lacks) goes to generate."""
    model, processor = tiny_model
    clips, prompts = clips_and_prompts()
    calls = []
    original = model.generate
    monkeypatch.setattr(model, "generate", lambda *a, **k: calls.append(1) or original(*a, **k))
    fast = generate_batch(model, processor, clips, prompts, GenerationSettings(max_new_tokens=16, min_new_tokens=4))
    assert calls == []
    plain = generate_batch(model, processor, clips, prompts,
                           GenerationSettings(max_new_tokens=16, min_new_tokens=4, fast=False))
    assert calls == [1]
    assert fast.completion_ids == plain.completion_ids and fast.completions == plain.completions
    assert min(fast.completion_tokens) >= 4 and len(set(fast.prompt_tokens)) == 3
    generate_batch(model, processor, clips, prompts, GenerationSettings(max_new_tokens=4, repetition_penalty=1.3))
    assert calls == [1, 1]


def test_sampling_follows_its_settings_and_seed(tiny_model):
    """Sampled answers (the distribution HPL trains) are reproducible from their seed, and the temperature given here
    is the one decoded with: near zero, sampling is greedy; at 1 the random tiny model's samples are not."""
    model, processor = tiny_model
    clips, prompts = clips_and_prompts()
    greedy = generate_assessments(model, processor, clips, prompts, GenerationSettings(max_new_tokens=12),
                                  progress=False)

    def sampled(**kwargs):
        settings = GenerationSettings(max_new_tokens=12, do_sample=True, top_k=0, **kwargs)
        return generate_assessments(model, processor, clips, prompts, settings, progress=False).completion_ids

    assert sampled(seed=3, temperature=1.0) == sampled(seed=3, temperature=1.0)
    assert sampled(seed=3, temperature=1.0) != sampled(seed=4, temperature=1.0)
    assert sampled(seed=3, temperature=1.0) != greedy.completion_ids
    assert sampled(seed=3, temperature=1e-4) == greedy.completion_ids


@pytest.mark.parametrize("kwargs, message", [
    (dict(temperature=0.7), "only apply with do_sample=True"),
    (dict(seed=1), "only apply with do_sample=True"),
    (dict(do_sample=True, temperature=0.0), "temperature must be > 0"),
    (dict(do_sample=True, top_p=1.5), "top_p must be in"),
    (dict(do_sample=True, top_k=-1), "top_k must be >= 0"),
])
def test_sampling_knobs_that_would_be_ignored_or_rejected_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        generate_assessments(None, None, [], [], GenerationSettings(**kwargs), progress=False)
