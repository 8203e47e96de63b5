"""Rendered datasets in the real layouts: right files, right frame ranges, valid, idempotent, extractable."""

import json
import subprocess

import numpy as np
import pytest
from PIL import Image

from hieroaction.cli import main
from hieroaction.datasets.finediving import load_finediving
from hieroaction.datasets.mtl_aqa import load_mtl_aqa
from hieroaction.datasets.sample import read_jsonl
from hieroaction.datasets.score_rule import breaks_score_rule
from hieroaction.datasets.validate import validate_samples
from hieroaction.synth.dataset import render_dataset
from hieroaction.synth.draw import draw_samples
from hieroaction.synth.render import render_sample
from hieroaction.synth.timeline import usable_steps
from hieroaction.video.decode import read_frames
from hieroaction.video.extract import extract_frames, load_clip
from hieroaction.video.sampling import FrameSettings


@pytest.fixture(scope="module")
def finediving():
    return load_finediving().samples


def test_finediving_frame_folders_at_height_256(finediving, tmp_path):
    # a short real clip whose frame numbers cross from 5 to 6 digits would be ideal; take the shortest 6-digit one
    big = min((s for s in finediving if s.video.end_frame >= 100_000), key=lambda s: s.num_frames)
    rendered = render_dataset([big], tmp_path, layout="frames", workers=1, progress=False)
    assert rendered[0].video.kind == "frames"
    assert rendered[0].video.path == f"{big.source_key[0]}/{big.source_key[1]}"
    assert (rendered[0].video.start_frame, rendered[0].video.end_frame) == (big.video.start_frame, big.video.end_frame)
    folder = tmp_path / rendered[0].video.path
    names = sorted(p.name for p in folder.iterdir())
    assert len(names) == big.num_frames
    assert set(names) == {f"{n:05d}.jpg" for n in range(big.video.start_frame, big.video.end_frame + 1)}
    with Image.open(folder / names[0]) as image:
        assert image.size == (456, 256)
    # the labels are untouched; the pixels are the renderer's (JPEG-close)
    assert rendered[0].steps == big.steps and rendered[0].final_score == big.final_score
    wanted = [0, big.num_frames // 2, big.num_frames - 1]
    decoded = read_frames(rendered[0].video, wanted, media_root=tmp_path).astype(float)
    expected = render_sample(big, 0, (256, 456), indices=wanted).astype(float)
    # compare 8x8 block means: JPEG loses the per-pixel sensor noise, not the picture
    def blocks(x):
        return x.reshape(3, 32, 8, 57, 8, 3).mean(axis=(2, 4))

    assert np.abs(blocks(decoded) - blocks(expected)).mean() < 2


def test_mtl_aqa_whole_videos_with_ranges_that_point_at_the_clips(tmp_path):
    real = [s for s in load_mtl_aqa().samples if s.source_key[0] == 1][:3]
    rendered = render_dataset(real, tmp_path, layout="video", size=(64, 96), workers=1, pad=4, progress=False)
    assert {s.video.path for s in rendered} == {"01.mp4"} and len(list(tmp_path.glob("*.mp4"))) == 1
    ranges = sorted((s.video.start_frame, s.video.end_frame) for s in rendered)
    assert ranges[0][0] == 4 and all(b[0] == a[1] + 9 for a, b in zip(ranges, ranges[1:], strict=False))
    for source, sample in zip(real, rendered, strict=True):
        assert sample.num_frames == source.num_frames and sample.action_code == source.action_code
        k = source.num_frames // 2
        got = read_frames(sample.video, [k], media_root=tmp_path)[0].astype(float)
        truth = render_sample(source, 0, (64, 96), indices=[k - 6, k, k + 6]).astype(float)
        errors = [np.abs(blocks(got) - blocks(t)).mean() for t in truth]  # blocks: h264 drops the sensor noise
        assert errors[1] < 3 and errors[1] < 0.7 * min(errors[0], errors[2])  # exactly this frame, not a neighbour


def blocks(frame: np.ndarray, side: int = 4) -> np.ndarray:
    height, width = frame.shape[:2]
    return frame.reshape(height // side, side, width // side, side, 3).mean(axis=(1, 3))


def test_rendered_data_passes_validation_and_extraction(finediving, tmp_path):
    frames = render_dataset(finediving[:2], tmp_path / "fd", layout="frames", size=(64, 112), progress=False)
    videos = render_dataset(finediving[2:4], tmp_path / "mt", layout="video", size=(64, 112), progress=False)
    for samples, root in ((frames, tmp_path / "fd"), (videos, tmp_path / "mt")):
        report = validate_samples(samples, media_root=root)
        assert report.success and len(report.good) == len(samples) and not report.quarantined
        result = extract_frames(samples, root, tmp_path / "clips", FrameSettings("tsa", 96, (32, 56)), progress=False)
        assert len(result.written) == len(samples) and not result.quarantined
        assert load_clip(tmp_path / "clips", samples[0], FrameSettings("tsa", 96, (32, 56))).shape == (96, 32, 56, 3)


def test_rendering_again_keeps_finished_media(finediving, tmp_path):
    leftover = tmp_path / "01" / f".partial-{dead_pid()}-abcd1234-7"  # its writer process is gone
    leftover.mkdir(parents=True)
    (leftover / "07000.jpg").write_bytes(b"half")
    first = render_dataset(finediving[:1], tmp_path, layout="video", size=(32, 48), progress=False)
    assert not leftover.exists()  # a killed run's half-written folder is cleaned up
    video = tmp_path / first[0].video.path
    stamp = video.stat().st_mtime_ns
    second = render_dataset(finediving[:1], tmp_path, layout="video", size=(32, 48), progress=False)
    assert second == first and video.stat().st_mtime_ns == stamp
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".partial-")]


def test_renders_from_other_settings_are_redone_not_reused(finediving, tmp_path):
    # Why: a folder left by another camera, seed or renderer version has the right file count but the wrong pixels.
    from hieroaction.synth.dataset import RENDER_SETTINGS_FILE

    fixed = render_dataset(finediving[:1], tmp_path, layout="frames", size=(32, 48), camera="fixed", progress=False)
    folder = tmp_path / fixed[0].video.path
    wide = sorted(folder.iterdir())[20].read_bytes()
    assert json.loads((tmp_path / RENDER_SETTINGS_FILE).read_text())["camera"] == "fixed"
    render_dataset(finediving[:1], tmp_path, layout="frames", size=(32, 48), camera="broadcast", progress=False)
    assert sorted(folder.iterdir())[20].read_bytes() != wide
    assert json.loads((tmp_path / RENDER_SETTINGS_FILE).read_text())["camera"] == "broadcast"
    stamp = folder.stat().st_mtime_ns
    render_dataset(finediving[:1], tmp_path, layout="frames", size=(32, 48), camera="broadcast", progress=False)
    assert folder.stat().st_mtime_ns == stamp  # same settings: kept


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_drawn_samples_follow_the_reference_and_the_score_rule(finediving):
    reference = [s for s in finediving if s.action_code in ("107b", "5253b")]
    drawn = draw_samples(40, seed=5, reference=reference)
    assert drawn == draw_samples(40, seed=5, reference=reference)
    assert drawn != draw_samples(40, seed=6, reference=reference)
    assert len({s.sample_id for s in drawn}) == 40
    assert {s.action_code for s in drawn} == {"107b", "5253b"}
    for sample in drawn:
        assert usable_steps(sample.steps, sample.num_frames)
        assert len(sample.frame_labels) == sample.num_frames
        assert not breaks_score_rule(sample.final_score, sample.difficulty, sample.judge_scores)
        assert sample.difficulty in {s.difficulty for s in reference if s.action_code == sample.action_code}
    report = validate_samples(drawn)
    assert report.success and not report.quarantined


def test_synth_cli_draws_renders_and_validates(tmp_path, capsys):
    out = tmp_path / "drawn"
    assert main(["synth", "draw", "-n", "3", "--out", str(out), "--size", "32x48", "--seed", "2", "--workers", "1"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["rendered"] == 3 and summary["validation"]["success"]
    samples = read_jsonl(out / "samples.jsonl")
    assert len(samples) == 3 and all((out / s.video.path).is_file() for s in samples)
    assert main(["synth", "render", "finediving", "--ids", "finediving/01/1", "--layout", "frames",
                 "--size", "32x56", "--out", str(tmp_path / "fd"), "--workers", "1"]) == 0
    rendered = read_jsonl(tmp_path / "fd" / "samples.jsonl")
    assert [s.sample_id for s in rendered] == ["finediving/01/1"]
    assert (tmp_path / "fd" / "01" / "1" / f"{rendered[0].video.start_frame:05d}.jpg").is_file()
    assert main(["synth", "render", "finediving", "--ids", "nope", "--out", str(tmp_path / "x")]) == 2
