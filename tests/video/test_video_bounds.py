"""Decoding is bounded: frame size and count are checked from the headers and the annotation before decoding."""

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from video_media import declared_huge_mjpeg, encode_video

from hieroaction.datasets.sample import Sample, VideoRef
from hieroaction.video import MediaError, read_frames
from hieroaction.video.extract import extract_frames
from hieroaction.video.limits import CLIP_FRAMES_ENV, CLIP_PIXELS_ENV, FRAME_PIXELS_ENV, LimitError
from hieroaction.video.sampling import FrameSettings


def png_header(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares ``width`` x ``height`` (the pixel data is one empty row)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00")) + chunk(b"IEND", b"")


def _frames_folder(folder, sizes):
    folder.mkdir(parents=True)
    for i, size in enumerate(sizes):
        if isinstance(size, bytes):
            (folder / f"{i}.png").write_bytes(size)
        else:
            Image.fromarray(np.zeros((*size, 3), np.uint8)).save(folder / f"{i}.png")
    return folder


@pytest.mark.parametrize("declared", [(100_000, 100_000), (5000, 5000)])  # PIL's bomb error / our own budget
def test_image_headers_over_budget_are_refused_before_decoding(tmp_path, declared):
    folder = _frames_folder(tmp_path / "f", [(8, 8), png_header(*declared), (8, 8)])
    with pytest.raises(MediaError) as info:
        read_frames(folder, [0, 1, 2], size=16)
    assert info.value.kind == "too-large"


def test_extraction_quarantines_a_bomb_and_keeps_the_rest(tmp_path):
    _frames_folder(tmp_path / "media" / "bomb", [(8, 8), png_header(100_000, 100_000), (8, 8)])
    _frames_folder(tmp_path / "media" / "good", [(8, 8)] * 3)
    samples = [Sample(n, "manifest", "train", VideoRef("frames", n, 0, 2), "107b", 70.0, 3.0) for n in ("bomb", "good")]
    result = extract_frames(samples, tmp_path / "media", tmp_path / "clips", FrameSettings("all", size=8), workers=1,
                            progress=False)
    assert result.written == ["good"] and result.quarantined[0].reason.startswith("too-large")


def test_video_frame_size_budget_from_the_stream_header(tmp_path, monkeypatch):
    encode_video(tmp_path / "v.mp4", 10, gop=5)  # 64x136 frames
    assert read_frames(tmp_path / "v.mp4", [0]).shape == (1, 64, 136, 3)
    monkeypatch.setenv(FRAME_PIXELS_ENV, str(64 * 136 - 1))
    with pytest.raises(MediaError, match="per-frame budget") as info:
        read_frames(tmp_path / "v.mp4", [0], size=8)
    assert info.value.kind == "too-large"


def test_video_clip_budget_counts_the_frames_kept(tmp_path, monkeypatch):
    encode_video(tmp_path / "v.mp4", 10, gop=5)
    monkeypatch.setenv(CLIP_PIXELS_ENV, str(3 * 64 * 136))
    assert read_frames(tmp_path / "v.mp4", [0, 1, 2]).shape[0] == 3
    assert read_frames(tmp_path / "v.mp4", list(range(10)), size=8).shape[0] == 10  # small once resized
    with pytest.raises(MediaError, match="per-clip budget"):
        read_frames(tmp_path / "v.mp4", [0, 1, 2, 3])  # native size: 4 frames are over


def test_sampler_all_over_a_huge_range_is_quarantined_not_allocated(tmp_path, monkeypatch):
    encode_video(tmp_path / "v.mp4", 10, gop=5)
    huge = Sample("huge", "manifest", "train", VideoRef("video", "v.mp4", 0, 9_999_999), "107b", 70.0, 3.0)
    absurd = Sample("absurd", "manifest", "train", VideoRef("video", "v.mp4", 0, 10**12 - 1), "107b", 70.0, 3.0)
    many = Sample("many", "manifest", "train", VideoRef("video", "v.mp4", 0, 9), "107b", 70.0, 3.0)
    good = Sample("good", "manifest", "train", VideoRef("video", "v.mp4", 0, 9), "107b", 70.0, 3.0)
    result = extract_frames([huge, absurd, good], tmp_path, tmp_path / "clips", FrameSettings("all", size=8),
                            workers=1, progress=False)
    assert result.written == ["good"]
    reasons = {q.sample_id: q.reason for q in result.quarantined}
    assert "budget" in reasons["huge"]  # 10^7 frames asked for: over the frame budget, never allocated
    assert reasons["absurd"].startswith("bad-range: video.end_frame")  # past any real video's frame numbers
    monkeypatch.setenv(CLIP_FRAMES_ENV, "5")
    result = extract_frames([many], tmp_path, tmp_path / "clips2", FrameSettings("all", size=8), workers=1,
                            progress=False)
    assert not result.written and CLIP_FRAMES_ENV in result.quarantined[0].reason


@pytest.mark.parametrize(
    ("settings", "budget"),
    [({"count": 10**9}, CLIP_FRAMES_ENV), ({"count": 16, "size": 100_000}, CLIP_PIXELS_ENV)],
)
def test_a_count_or_size_over_budget_is_a_settings_error_before_any_sample(tmp_path, settings, budget):
    """A count or size no clip can meet is refused when the settings are made (``frames extract`` and training
    configs exit 2 with one line), not found out sample by sample as N quarantines after the run started."""
    with pytest.raises(LimitError, match=budget):
        FrameSettings("uniform", **settings)
    assert FrameSettings("uniform", 100_000, 8).count == 100_000  # at the budget is fine


def test_a_few_kb_video_declaring_16000x16000_is_refused_from_its_header(tmp_path):
    huge = declared_huge_mjpeg(tmp_path / "huge.avi")
    assert huge.stat().st_size < 20_000
    with pytest.raises(MediaError, match="16000x16000.*per-frame budget") as info:
        read_frames(huge, [0], size=16)  # at the default budget; decoding would allocate ~1 GB for one frame
    assert info.value.kind == "too-large"
    assert read_frames(declared_huge_mjpeg(tmp_path / "fine.avi", 32, 32), [0, 1, 2], size=8).shape == (3, 8, 8, 3)


@pytest.mark.parametrize("size", ["16", "native"])
def test_assess_refuses_a_video_declaring_16000x16000_in_one_line(tmp_path, tiny_checkpoint, capsys, size):
    from hieroaction.cli import main

    huge = declared_huge_mjpeg(tmp_path / "huge.avi")
    assert main(["assess", str(huge), "--checkpoint", str(tiny_checkpoint), "--size", size]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "16000x16000" in err[0] and "per-frame budget" in err[0], err


def test_frames_extract_quarantines_a_video_declaring_16000x16000_and_extracts_the_rest(tmp_path, capsys):
    import json

    from hieroaction.cli import main
    from hieroaction.datasets.sample import write_jsonl

    media = tmp_path / "media"
    media.mkdir()
    declared_huge_mjpeg(media / "huge.avi")
    encode_video(media / "good.mp4", 10, gop=5)
    samples = [Sample(n, "manifest", "train", VideoRef("video", f"{n}.{ext}", 0, 2), "107b", 70.0, 3.0)
               for n, ext in (("huge", "avi"), ("good", "mp4"))]
    write_jsonl(samples, tmp_path / "m.jsonl")
    argv = ["frames", "extract", "manifest", str(tmp_path / "m.jsonl"), "--media-root", str(media),
            "--out", str(tmp_path / "clips"), "--sampler", "all", "--size", "8"]
    assert main(argv) == 3  # finished, one sample quarantined
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["written"] == 1 and summary["quarantine_reasons"] == {"too-large": 1}
    record = json.loads(Path(summary["quarantine_file"]).read_text().splitlines()[0])
    assert record["id"] == "huge" and "16000x16000" in record["reason"]
