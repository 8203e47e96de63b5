"""Shared fixtures for the evaluation tests: a tiny offline checkpoint, a small rendered dataset, real mp4 files.

Everything is real: the model is the tiny Qwen2.5-VL preset (random weights), the videos are rendered dives encoded
as h264 by the synth module or frames encoded here with PyAV, and decoding goes through hieroaction.video.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pytest

# benchmark_scripts.py (the loader of benchmarks/*.py) importable: pytest runs in importlib mode, folders are no packages
sys.path.insert(0, str(Path(__file__).resolve().parent))

from hieroaction.datasets.sample import Sample, Step, VideoRef


@pytest.fixture(scope="session")
def rendered(tmp_path_factory):
    """4 train + 3 test rendered dives in the MTL-AQA video layout (small frames so rendering stays fast)."""
    from hieroaction.datasets.sample import write_jsonl
    from hieroaction.synth.dataset import render_dataset
    from hieroaction.synth.draw import draw_samples

    root = tmp_path_factory.mktemp("eval-rendered")
    drawn = draw_samples(4, seed=11, split="train") + draw_samples(3, seed=12, split="test")
    samples = render_dataset(drawn, root / "media", layout="video", size=(48, 64), workers=1, progress=False)
    table = root / "samples.jsonl"
    write_jsonl(samples, table)
    return {"samples": samples, "media": root / "media", "table": table}


@pytest.fixture
def fresh_mp4(tmp_path) -> Path:
    return encode_mp4(tmp_path / "my_dive.mp4", moving_square_frames())


def encode_mp4(path: Path, frames: np.ndarray, fps: int = 25) -> Path:
    """Encode uint8 (T,H,W,3) frames as an h264 mp4 with PyAV (how a user's phone video would arrive)."""
    import av

    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = "yuv420p"
        for array in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(array), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def moving_square_frames(count: int = 40, height: int = 64, width: int = 96, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    frames = rng.integers(0, 40, (count, height, width, 3), dtype=np.uint8)
    for t in range(count):
        x = int(t * (width - 16) / max(1, count - 1))
        frames[t, 20:36, x : x + 16] = (230, 200, 40)
    return frames


def evaluate_cli(argv: list[str]) -> int:
    """Run this area's sub-commands exactly as ``hieroaction`` does (register + func), without other areas."""
    from hieroaction.evaluate.cli import register

    parser = argparse.ArgumentParser(prog="hieroaction")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


def labelled_sample(i: int, score: float, code: str = "207c", split: str = "test", steps=True) -> Sample:
    """A hand-made sample with known labels (no media needed for scoring tests)."""
    parts = (Step(2, "Back", 0, 19), Step(18, "3.5 Soms.Tuck", 20, 59), Step(36, "Entry", 60, 79)) if steps else ()
    return Sample(
        sample_id=f"unit/{code}/{i}",
        dataset="unit",
        split=split,
        video=VideoRef("video", f"v{i}.mp4", 0, 79),
        action_code=code,
        final_score=float(score),
        difficulty=3.0,
        judge_scores=(7.0, 7.0, 7.5, 7.0, 7.0, 7.5, 7.0),
        steps=parts,
    )


@pytest.fixture(name="labelled_sample", scope="session")
def labelled_sample_fixture():
    """Factory of hand-made samples with known labels."""
    return labelled_sample


@pytest.fixture(name="evaluate_cli", scope="session")
def evaluate_cli_fixture():
    """Runs ``hieroaction evaluate|assess ARGS`` in-process; returns the exit code."""
    return evaluate_cli


@pytest.fixture(name="encode_mp4", scope="session")
def encode_mp4_fixture():
    return encode_mp4


def assert_readable_png(path, min_width: int = 1000, min_height: int = 400) -> np.ndarray:
    """A PNG of a size a person can read, with real content: many distinct colours, not one flat background."""
    from PIL import Image

    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.width >= min_width and image.height >= min_height, image.size
        pixels = np.asarray(image.convert("RGB"))
    assert pixels.std() > 20
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 50
    return pixels


@pytest.fixture
def readable_png():
    """``readable_png(path)``: assert the PNG is readable-sized and not blank; returns its RGB pixels."""
    return assert_readable_png
