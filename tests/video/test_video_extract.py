import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from video_media import encode_video, read_number, write_jpeg_folder

from hieroaction.datasets.sample import Sample, VideoRef
from hieroaction.video.extract import QUARANTINE_FILE, extract_frames, load_clip
from hieroaction.video.sampling import FrameSettings
from hieroaction.video.store import TMP_MARK, clip_path


def sample(sid: str, kind: str, path: str, start: int, end: int) -> Sample:
    return Sample(sid, "test", "train", VideoRef(kind, path, start, end), "107b", 80.0)


@pytest.fixture
def bad_media_root(media, tmp_path):
    """One good video, one good folder, and every kind of bad media the extractor must quarantine."""
    root = tmp_path / "root"
    root.mkdir()
    data = (media / "short.mp4").read_bytes()
    (root / "good.mp4").write_bytes(data)
    (root / "empty.mp4").write_bytes(b"")
    (root / "truncated.mp4").write_bytes(data[: len(data) // 2])
    (root / "notes.mp4").write_bytes(b"this is a text file, not a video\n" * 30)
    (root / "weird.mp4").write_bytes(data.replace(b"avc1", b"zzz9"))  # codec tag no decoder knows
    encode_video(root / "cut.mkv", 30, gop=10)  # mkv cut mid-stream: opens, then runs out of frames
    mkv = (root / "cut.mkv").read_bytes()
    (root / "cut.mkv").write_bytes(mkv[: len(mkv) * 2 // 3])
    write_jpeg_folder(root / "frames" / "good", range(100, 130))
    write_jpeg_folder(root / "frames" / "short", range(100, 110))
    write_jpeg_folder(root / "frames" / "broken", range(100, 130))
    (root / "frames" / "broken" / "00117.jpg").write_bytes(b"\xff\xd8\xff garbage")  # a sampled frame
    write_jpeg_folder(root / "frames" / "hole", range(100, 130))
    (root / "frames" / "hole" / "00103.jpg").write_bytes(b"")  # an empty frame file, even if not sampled
    samples = [
        sample("ok/video", "video", "good.mp4", 10, 49),
        sample("ok/frames", "frames", "frames/good", 100, 129),
        sample("bad/missing", "video", "nowhere.mp4", 0, 9),
        sample("bad/zero", "video", "empty.mp4", 0, 9),
        sample("bad/truncated", "video", "truncated.mp4", 0, 9),
        sample("bad/notvideo", "video", "notes.mp4", 0, 9),
        sample("bad/codec", "video", "weird.mp4", 0, 9),
        sample("bad/short-video", "video", "good.mp4", 30, 99),  # annotation runs past the end (60 frames)
        sample("bad/cut", "video", "cut.mkv", 0, 29),
        sample("bad/short-folder", "frames", "frames/short", 100, 129),
        sample("bad/missing-folder", "frames", "frames/none", 0, 9),
        sample("bad/corrupt-jpeg", "frames", "frames/broken", 100, 129),
        sample("bad/empty-jpeg", "frames", "frames/hole", 100, 129),
    ]
    return root, samples


EXPECTED_KINDS = {
    "bad/missing": "missing",
    "bad/zero": "zero-byte",
    "bad/truncated": "truncated",
    "bad/notvideo": "not-a-video",
    "bad/codec": "unsupported-codec",
    "bad/short-video": "too-few-frames",
    "bad/cut": "too-few-frames",
    "bad/short-folder": "too-few-frames",
    "bad/missing-folder": "missing",
    "bad/corrupt-jpeg": "corrupt-image",
    "bad/empty-jpeg": "zero-byte",
}


def test_bad_media_is_quarantined_with_reason_and_good_media_passes(bad_media_root, tmp_path):
    root, samples = bad_media_root
    settings = FrameSettings("uniform", 8, (32, 68))
    result = extract_frames(samples, root, tmp_path / "out", settings, workers=2, progress=False)
    assert sorted(result.written) == ["ok/frames", "ok/video"]
    got = {q.sample_id: q.reason.split(":", 1)[0] for q in result.quarantined}
    assert got == EXPECTED_KINDS
    assert result.count_in == len(samples) == len(result.written) + len(result.skipped) + len(result.quarantined)
    for q in result.quarantined:
        assert q.field == "video" and q.value and q.reason
    records = [json.loads(line) for line in result.quarantine_file.read_text().splitlines()]
    assert result.quarantine_file.name == QUARANTINE_FILE
    assert {r["id"] for r in records} == set(EXPECTED_KINDS)
    clip = load_clip(tmp_path / "out", samples[0], settings)
    assert clip.shape == (8, 32, 68, 3)
    assert [read_number(f) for f in clip] == np.rint(np.linspace(10, 49, 8)).astype(int).tolist()
    folder_clip = load_clip(tmp_path / "out", samples[1], settings)
    assert [read_number(f) for f in folder_clip] == np.rint(np.linspace(100, 129, 8)).astype(int).tolist()
    with pytest.raises(FileNotFoundError, match="bad/zero"):
        load_clip(tmp_path / "out", samples[3], settings)


def test_rerun_skips_finished_and_settings_keep_outputs_apart(media, tmp_path):
    samples = [sample(f"s/{i}", "video", "long.mp4", 100 * i, 100 * i + 79) for i in range(4)]
    out = tmp_path / "out"
    tsa = FrameSettings("tsa", None, (24, 34))
    first = extract_frames(samples, media, out, tsa, progress=False)
    assert len(first.written) == 4 and not first.skipped
    mtimes = {p: p.stat().st_mtime_ns for p in first.paths.values()}
    again = extract_frames(samples, media, out, tsa, progress=False)
    assert again.written == [] and sorted(again.skipped) == sorted(s.sample_id for s in samples)
    assert {p: p.stat().st_mtime_ns for p in again.paths.values()} == mtimes
    uniform = extract_frames(samples[:1], media, out, FrameSettings("uniform", 4, (24, 34)), progress=False)
    assert uniform.written == ["s/0"]
    assert load_clip(out, samples[0], tsa).shape == (96, 24, 34, 3)
    assert load_clip(out, samples[0], FrameSettings("uniform", 4, (24, 34))).shape == (4, 24, 34, 3)
    # a changed frame range is a different clip: never served from the old file
    moved = sample("s/0", "video", "long.mp4", 500, 579)
    assert clip_path(out, moved, tsa) != clip_path(out, samples[0], tsa)
    rerun = extract_frames([moved], media, out, tsa, progress=False)
    assert rerun.written == ["s/0"]
    assert read_number(load_clip(out, moved, tsa)[0]) == 500


def test_a_video_replaced_under_the_same_name_is_extracted_again(tmp_path):
    # Why: a re-rendered or re-encoded video keeps its name; serving the clip cut from the old file would be stale data.
    root = tmp_path / "media"
    root.mkdir()
    encode_video(root / "v.mp4", 30, gop=10)
    clip = sample("r/0", "video", "v.mp4", 0, 9)
    out = tmp_path / "out"
    settings = FrameSettings("all", None, (64, 136))
    assert extract_frames([clip], root, out, settings, progress=False).written == ["r/0"]
    assert extract_frames([clip], root, out, settings, progress=False).skipped == ["r/0"]
    assert read_number(load_clip(out, clip, settings)[0]) == 0
    encode_video(root / "v.mp4", 30, gop=10, first=200)  # same name, other pixels
    stored = clip_path(out, clip, settings).stat().st_mtime_ns
    os.utime(root / "v.mp4", ns=(stored + 10**9, stored + 10**9))  # a coarse-clock file system must not hide it
    again = extract_frames([clip], root, out, settings, progress=False)
    assert again.written == ["r/0"] and not again.skipped
    assert read_number(load_clip(out, clip, settings)[0]) == 200


def test_duplicate_ids_and_impossible_ranges_are_quarantined(media, tmp_path):
    samples = [
        sample("dup", "video", "short.mp4", 0, 9),
        sample("dup", "video", "short.mp4", 0, 9),
        sample("backwards", "video", "short.mp4", 20, 10),
    ]
    result = extract_frames(samples, media, tmp_path, FrameSettings("uniform", 2, 16), progress=False)
    assert result.written == ["dup"]
    assert sorted(q.field for q in result.quarantined) == ["sample_id", "video.frames"]
    assert result.count_in == 3


def test_core_window_of_a_short_clip_clamps_in_a_folder_and_reads_before_start_in_a_video(media, tmp_path):
    settings = FrameSettings("core", 103, (32, 68))
    in_video = sample("v", "video", "long.mp4", 200, 259)  # 60 frames: the window starts 43 before start_frame
    in_folder = sample("f", "frames", "fd/vid/7", 99_990, 100_009)
    result = extract_frames([in_video, in_folder], media, tmp_path, settings, progress=False)
    assert sorted(result.written) == ["f", "v"]
    video_clip = load_clip(tmp_path, in_video, settings)
    assert [read_number(video_clip[i]) for i in (0, 42, 43, 102)] == [157, 199, 200, 259]
    folder_clip = load_clip(tmp_path, in_folder, settings)
    assert read_number(folder_clip[0]) == 99_990 and read_number(folder_clip[-1]) == 100_009


KILL_SCRIPT = """
import sys
from hieroaction.datasets.sample import read_jsonl
from hieroaction.video.extract import extract_frames
from hieroaction.video.sampling import FrameSettings
samples = read_jsonl(sys.argv[1])
extract_frames(samples, sys.argv[2], sys.argv[3], FrameSettings("all", None, (64, 136)), workers=2, progress=False)
"""


def test_a_killed_run_leaves_only_whole_files_and_a_rerun_finishes(media, tmp_path):
    from hieroaction.datasets.sample import write_jsonl

    samples = [sample(f"k/{i}", "video", "long.mp4", 37 * i, 37 * i + 199) for i in range(14)]
    manifest = tmp_path / "samples.jsonl"
    write_jsonl(samples, manifest)
    out = tmp_path / "out"
    settings = FrameSettings("all", None, (64, 136))
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(manifest), str(media), str(out)])
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None:
        if any(not p.name.startswith(TMP_MARK) for p in out.rglob("*.npy")):
            break  # at least one clip finished: kill mid-way through the others
        time.sleep(0.05)
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    for path in out.rglob("*.npy"):  # whatever finished is whole; half-written data only under temp names
        assert not path.name.startswith(TMP_MARK)
        assert np.load(path, mmap_mode="r").shape == (200, 64, 136, 3)
    finished_before = {p.name for p in out.rglob("*.npy") if not p.name.startswith(TMP_MARK)}
    result = extract_frames(samples, media, out, settings, workers=2, progress=False)
    assert len(result.written) + len(result.skipped) == 14 and not result.quarantined
    assert len(result.skipped) == len(finished_before)
    assert not list(out.rglob(f"{TMP_MARK}*"))  # leftovers of the killed writer are cleaned up
    clip = load_clip(out, samples[13], settings)
    assert read_number(clip[0]) == 37 * 13 and read_number(clip[-1]) == 37 * 13 + 199
