"""Each clip is encoded once by the vision tower, and the numbers are those of the plain path (tiny preset)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("trl")

from hieroaction.train.clip_encoding import ClipEncodingCache  # noqa: E402

FRAMES, SIDE = 4, 56


def _batch(processor, clips, repeats):
    prompt = [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": "Assess the dive."}]}]
    text = processor.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True) + "a pike dive"
    videos = [clip for clip in clips for _ in range(repeats)]
    return processor(text=[text] * len(videos), videos=videos, return_tensors="pt", do_sample_frames=False)


def _tower_spy(model, record):
    tower = model.model.visual

    def hook(module, args, kwargs):
        grid = kwargs.get("grid_thw", args[1] if len(args) > 1 else None)
        record.append((torch.is_grad_enabled(), int(grid.shape[0])))

    return tower.register_forward_pre_hook(hook, with_kwargs=True)


def _loss_and_grads(model, batch):
    model.zero_grad()
    out = model(**batch, labels=batch["input_ids"])
    out.loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None and ".visual." in n}
    return out.logits.detach(), out.loss.detach(), grads


def test_repeats_share_one_encoding_with_the_same_logits_and_gradients(tiny_checkpoint):
    from transformers import AutoModelForImageTextToText, AutoProcessor

    model = AutoModelForImageTextToText.from_pretrained(tiny_checkpoint)
    processor = AutoProcessor.from_pretrained(tiny_checkpoint)
    rng = np.random.default_rng(0)
    clips = [rng.integers(0, 256, (FRAMES, SIDE, SIDE, 3), dtype=np.uint8) for _ in range(2)]
    batch = _batch(processor, clips, repeats=3)
    calls: list = []
    spy = _tower_spy(model, calls)

    plain_logits, plain_loss, plain_grads = _loss_and_grads(model, batch)
    assert calls == [(True, 6)]
    cache = ClipEncodingCache(model)
    calls.clear()
    logits, loss, grads = _loss_and_grads(model, batch)
    assert calls == [(True, 2)] and cache.encoded_videos == 2 and cache.requested_videos == 6
    assert torch.allclose(logits, plain_logits, atol=1e-5)
    assert torch.allclose(loss, plain_loss, atol=1e-6)
    assert grads.keys() == plain_grads.keys() and grads
    for name, grad in grads.items():
        assert torch.allclose(grad, plain_grads[name], atol=1e-6, rtol=1e-4), name

    # within a generation batch, passes without gradients reuse the encodings; a pass with gradients re-encodes
    calls.clear()
    with cache.scope():
        with torch.no_grad():
            first = model(**batch).logits
            second = model(**batch).logits
        model(**batch).logits.sum().backward()
    assert calls == [(False, 2), (True, 2)]
    assert torch.equal(first, second) and torch.allclose(first, plain_logits, atol=1e-5)
    spy.remove()
    cache.remove()
    assert "get_video_features" not in model.model.__dict__


def test_a_frozen_tower_is_encoded_once_per_generation_batch(tiny_checkpoint):
    from transformers import AutoModelForImageTextToText, AutoProcessor

    model = AutoModelForImageTextToText.from_pretrained(tiny_checkpoint)
    model.model.visual.requires_grad_(False)
    processor = AutoProcessor.from_pretrained(tiny_checkpoint)
    clips = [np.full((FRAMES, SIDE, SIDE, 3), v, dtype=np.uint8) for v in (10, 200)]
    batch = _batch(processor, clips, repeats=2)
    calls: list = []
    _tower_spy(model, calls)
    cache = ClipEncodingCache(model)
    with cache.scope():
        with torch.no_grad():
            model(**batch)
    model(**batch, labels=batch["input_ids"]).loss.backward()  # the loss pass, after the generation batch
    assert calls == [(False, 2)]  # the frozen tower's embeddings stay valid
    with cache.scope():  # the next generation batch starts afresh
        with torch.no_grad():
            model(**batch)
    assert calls == [(False, 2), (False, 2)]
