"""Fixtures several test folders share: the tiny offline model, built once per session, and a one-thread torch."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def one_torch_thread():
    """One intra-op thread: on the shared 2-core CI machine spinning OpenMP threads make tiny models 10x slower.

    Not autouse: the folders that run models switch it on with an autouse fixture of their own."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """The tiny preset, built once per worker (a HieroAction checkpoint: it carries hieroaction_preset.json).

    Tests read it and copy it; none writes into it."""
    from hieroaction.model.presets import build_offline_model

    return build_offline_model("tiny", tmp_path_factory.mktemp("models") / "tiny")


@pytest.fixture(scope="session")
def tiny_model(tiny_checkpoint):
    from hieroaction.evaluate.checkpoint import open_checkpoint

    return open_checkpoint(tiny_checkpoint, device="cpu")
