"""The batched vision window attention gives the stock module's outputs (tiny preset), with windows of equal and of
unequal lengths, forward and backward."""

from __future__ import annotations

import torch

from hieroaction.model.vision_attention import batch_vision_windows, window_layout


def _tower(tiny_checkpoint):
    from transformers import AutoModelForImageTextToText

    return AutoModelForImageTextToText.from_pretrained(tiny_checkpoint, attn_implementation="sdpa").model.visual


def _inputs(tower, grid):
    cfg = tower.config
    rows = int(torch.tensor(grid).prod(dim=-1).sum())
    width = cfg.in_channels * cfg.temporal_patch_size * cfg.patch_size**2
    return torch.randn(rows, width, generator=torch.Generator().manual_seed(0)), torch.tensor(grid)


def test_window_layout_gathers_each_window():
    index, valid = window_layout(torch.tensor([0, 3, 5, 9]))
    assert index[valid].tolist() == list(range(9))
    assert valid.sum(dim=1).tolist() == [3, 2, 4]


def test_batched_windows_match_the_stock_module(tiny_checkpoint):
    # 12 x 20 patches: merged 6 x 10, windows of 4 x 4 merged patches -> windows of unequal size (and two videos)
    for grid in ([[2, 12, 20], [1, 8, 8]], [[2, 8, 8]]):
        stock, batched = _tower(tiny_checkpoint), _tower(tiny_checkpoint)
        assert batch_vision_windows(batched) == len(batched.blocks)
        pixels, grid_thw = _inputs(stock, grid)
        expected = stock(pixels.clone().requires_grad_(), grid_thw=grid_thw).pooler_output
        got = batched(pixels.clone().requires_grad_(), grid_thw=grid_thw).pooler_output
        assert torch.allclose(got, expected, atol=1e-5), (got - expected).abs().max()
        expected.square().sum().backward()
        got.square().sum().backward()
        for (name, a), (_, b) in zip(stock.named_parameters(), batched.named_parameters(), strict=True):
            assert torch.allclose(a.grad, b.grad, atol=1e-5, rtol=1e-4), name


def test_load_model_batches_the_windows(tiny_checkpoint):
    from hieroaction.model.loading import load_model

    model, _ = load_model(tiny_checkpoint, device="cpu")
    attention = model.model.visual.blocks[0].attn
    assert attention.forward.__func__.__name__ == "batched_forward"
    model, _ = load_model(tiny_checkpoint, device="cpu", batch_vision_windows=False)
    assert getattr(model.model.visual.blocks[0].attn.forward, "__func__", None) is None or (
        model.model.visual.blocks[0].attn.forward.__func__.__name__ != "batched_forward"
    )
