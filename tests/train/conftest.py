"""Shared fixtures for the training tests: real FineDiving samples, their clips in the frame store, a tiny model."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from hieroaction.datasets.sample import write_jsonl

FRAMES = {"sampler": "uniform", "count": 4, "size": 28}

@pytest.fixture(autouse=True)
def _one_torch_thread(one_torch_thread):
    """Every test here runs a model: one torch thread (tests/conftest.py says why)."""


@pytest.fixture(scope="session")
def real_samples():
    """A few real FineDiving training samples (bundled annotations)."""
    from hieroaction.datasets.finediving import load_finediving

    result = load_finediving()
    return [s for s in result.samples if s.split == "train"][:12]


def store_clips(samples, frames_dir, frames=FRAMES, seed=0):
    """Put a clip for each sample into the frame store, in the layout ``extract_frames`` writes."""
    from hieroaction.train.config import FramesConfig
    from hieroaction.train.data import frame_settings
    from hieroaction.video.store import clip_path, write_atomic

    settings = frame_settings(FramesConfig(**frames))
    rng = np.random.default_rng(seed)
    height, width = settings.size
    for sample in samples:
        clip = rng.integers(0, 256, (settings.count, height, width, 3), dtype=np.uint8)
        path = clip_path(frames_dir, sample, settings)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, clip)
    return settings


@pytest.fixture(scope="session")
def clip_writer():
    """``store_clips(samples, frames_dir, frames=FRAMES) -> FrameSettings``."""
    return store_clips


@pytest.fixture(scope="session")
def frames_spec():
    return dict(FRAMES)


@pytest.fixture
def sft_workspace(tmp_path, real_samples, tiny_checkpoint):
    """A sample table, its stored clips and an SFT config file for the tiny model; returns the config path."""
    table = tmp_path / "train.jsonl"
    write_jsonl(real_samples, table)
    store_clips(real_samples, tmp_path / "frames")
    config = {
        "model": {"path": str(tiny_checkpoint)},
        "data": {"train": str(table), "frames_dir": str(tmp_path / "frames"), "frames": FRAMES, "media_root": None},
        "train": {
            "output_dir": str(tmp_path / "out"),
            "max_steps": 4,
            "per_device_train_batch_size": 2,
            "learning_rate": 1e-3,
            "save_steps": 2,
            "logging_steps": 1,
            "disable_tqdm": True,
        },
    }
    path = tmp_path / "sft.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture
def captured_trainer(monkeypatch):
    """Runs train as usual and keeps the trainer it built: ``captured_trainer["trainer"]`` after the run (its
    collator and datasets are what a test then reads)."""
    import hieroaction.train.runner as runner

    seen = {}
    original = runner.train_and_save

    def capture(trainer, run, config, stage, plan, *args, **kwargs):
        seen["trainer"] = trainer
        return original(trainer, run, config, stage, plan, *args, **kwargs)

    monkeypatch.setattr(runner, "train_and_save", capture)
    return seen
