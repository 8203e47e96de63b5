"""Fixtures for the cross-stage contract tests: one real sample per adapter, the tiny model, the frame settings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hieroaction.video.sampling import FrameSettings

SETTINGS = FrameSettings(sampler="uniform", count=4, size=(28, 28))
EXAMPLE_MANIFEST = Path(__file__).resolve().parents[2] / "examples" / "manifest" / "manifest.jsonl"


@pytest.fixture(autouse=True)
def _one_torch_thread(one_torch_thread):
    """Every test here runs a model: one torch thread (tests/conftest.py says why)."""


@pytest.fixture(scope="session")
def adapter_samples() -> dict:
    """A real sample from each adapter: FineDiving (steps), MTL-AQA (no step labels), a user manifest (steps)."""
    from hieroaction.datasets.finediving import load_finediving
    from hieroaction.datasets.manifest import load_manifest
    from hieroaction.datasets.mtl_aqa import load_mtl_aqa

    finediving = next(s for s in load_finediving().samples if s.split == "train")
    mtl_aqa = next(s for s in load_mtl_aqa().samples if s.split == "train")
    manifest = next(s for s in load_manifest(EXAMPLE_MANIFEST).samples if s.steps)
    assert finediving.steps and not mtl_aqa.steps and manifest.steps  # the three cases the prompt must tell apart
    return {"finediving": finediving, "mtl_aqa": mtl_aqa, "manifest": manifest}


def write_mp4(path: Path, num_frames: int, height: int = 32, width: int = 32) -> Path:
    """An h264 file of ``num_frames`` frames (what a user hands to ``hieroaction assess``)."""
    import av

    rng = np.random.default_rng(num_frames)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.height, stream.width, stream.pix_fmt = height, width, "yuv420p"
        for _ in range(num_frames):
            frame = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


@pytest.fixture(scope="session")
def grpo_trainer(tiny_checkpoint, tmp_path_factory):
    """HPL's real GRPO trainer on the tiny model (its generation settings are what HPL samples with)."""
    from datasets import Dataset
    from transformers import AutoModelForImageTextToText, AutoProcessor
    from trl import GRPOConfig

    from hieroaction.train.video_grpo import VideoGRPOTrainer

    def length_reward(completions, **_):
        return [float(len(str(c))) for c in completions]

    rows = [{"sample_id": f"s{i}", "prompt": [{"role": "user", "content": [{"type": "video"}]}]} for i in range(2)]
    args = GRPOConfig(
        output_dir=str(tmp_path_factory.mktemp("grpo")), per_device_train_batch_size=2, num_generations=2,
        max_completion_length=4, max_steps=1, report_to=[], use_cpu=True, save_strategy="no", disable_tqdm=True,
    )
    return VideoGRPOTrainer(
        model=AutoModelForImageTextToText.from_pretrained(tiny_checkpoint), reward_funcs=[length_reward], args=args,
        train_dataset=Dataset.from_list(rows), processing_class=AutoProcessor.from_pretrained(tiny_checkpoint),
    )
