"""Whatever one sample raises while being read, decoded, resized or written, only that sample is quarantined."""

import json

import pytest
from video_media import encode_video

import hieroaction.video.extract as extract_module
from hieroaction.cli import main
from hieroaction.datasets.records import isolate
from hieroaction.datasets.sample import Sample, VideoRef, write_jsonl
from hieroaction.video.extract import QUARANTINE_FILE, SUMMARY_FILE, extract_frames
from hieroaction.video.sampling import FrameSettings
from hieroaction.video.store import clip_path, id_parts

SETTINGS = FrameSettings("uniform", 3, 16)


def _sample(sid, path="v.mp4"):
    return Sample(sid, "manifest", "train", VideoRef("video", path, 0, 9), "107b", 70.0, 3.0)


@pytest.fixture()
def root(tmp_path):
    root = tmp_path / "media"
    root.mkdir()
    encode_video(root / "v.mp4", 10, gop=5)
    return root


def _records(out):
    folder = out / SETTINGS.key
    lines = (folder / QUARANTINE_FILE).read_text().splitlines()
    return [json.loads(line) for line in lines], json.loads((folder / SUMMARY_FILE).read_text())


@pytest.mark.parametrize("error", [RuntimeError("decoder exploded"), MemoryError(), KeyError("x"), OSError(13, "denied")])
def test_any_read_error_quarantines_only_that_sample(root, tmp_path, monkeypatch, error):
    real = extract_module.read_frames

    def flaky(video, *args, **kwargs):
        if video.path == "bad.mp4":
            raise error
        return real(video, *args, **kwargs)

    monkeypatch.setattr(extract_module, "read_frames", flaky)
    samples = [_sample("a"), _sample("b", "bad.mp4"), _sample("c")]
    result = extract_frames(samples, root, tmp_path / "clips", SETTINGS, workers=1, progress=False)
    assert result.written == ["a", "c"]
    (bad,) = result.quarantined
    assert bad.sample_id == "b" and type(error).__name__ in bad.reason and "\n" not in bad.reason
    records, summary = _records(tmp_path / "clips")
    assert [r["id"] for r in records] == ["b"] and summary["written"] == 2


def test_write_failure_quarantines_only_that_clip(root, tmp_path, monkeypatch):
    real = extract_module.write_atomic

    def full_disk(path, frames):
        if path.name.startswith("b."):
            raise OSError(28, "No space left on device")
        return real(path, frames)

    monkeypatch.setattr(extract_module, "write_atomic", full_disk)
    result = extract_frames([_sample("a"), _sample("b"), _sample("c")], root, tmp_path / "clips", SETTINGS,
                            workers=2, progress=False)
    assert sorted(result.written) == ["a", "c"]
    assert result.quarantined[0].reason.startswith("write-failed: OSError")


def test_records_written_even_when_the_run_is_interrupted(root, tmp_path, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(extract_module, "read_frames", interrupted)
    with pytest.raises(KeyboardInterrupt):
        extract_frames([_sample("a")], root, tmp_path / "clips", SETTINGS, workers=1, progress=False)
    assert (tmp_path / "clips" / SETTINGS.key / SUMMARY_FILE).is_file()


@pytest.mark.parametrize("sid", ["x" * 300, "a/" * 40 + "b", "../../etc/passwd", "a b/c", "", ".", "a//b", "é/ü"])
def test_ids_that_cannot_be_file_names_get_safe_unique_names(root, tmp_path, sid):
    result = extract_frames([_sample(sid)], root, tmp_path / "clips", SETTINGS, workers=1, progress=False)
    assert result.written == [sid]
    path = result.paths[sid]
    assert path.resolve().is_relative_to((tmp_path / "clips").resolve())
    assert all(len(part.encode()) < 255 for part in path.parts)


def test_id_mapping_is_unique_and_keeps_plain_ids():
    assert id_parts("finediving/01/1") == ["finediving", "01", "1"]
    ids = ["a/b", "a//b", "a/./b", "a/../a/b", "a b", "a_b", "a?b", ".a", "x" * 300, "x" * 301]
    names = {"/".join(id_parts(i)) for i in ids}
    assert len(names) == len(ids)
    sample = _sample("a b")
    assert clip_path("out", sample, SETTINGS) != clip_path("out", _sample("a_b"), SETTINGS)


def test_cli_exit_code_says_whether_anything_was_quarantined(root, tmp_path, capsys):
    manifest = tmp_path / "samples.jsonl"
    out = tmp_path / "clips"
    argv = ["frames", "extract", "manifest", str(manifest), "--media-root", str(root), "--out", str(out),
            "--count", "3", "--size", "16x16"]
    write_jsonl([_sample("a"), _sample("x" * 400)], manifest)
    assert main(argv) == 0
    write_jsonl([_sample("a"), _sample("b", "gone.mp4")], manifest)
    assert main(argv) == 3
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["quarantined"] == 1


def test_isolate_hook_for_loaders():
    assert isolate("s", "video", "v", lambda x: x + 1, 1) == (2, None)
    value, problem = isolate("s", "video", "v", lambda: [][1])
    assert value is None and problem.sample_id == "s" and problem.reason.startswith("error: IndexError")


@pytest.mark.parametrize("start, end", [(-3, 4), (5, 2)])
def test_extraction_refuses_a_range_validation_refuses_instead_of_reading_frame_0(root, tmp_path, start, end):
    """Samples of any adapter reach extraction unvalidated: a negative start is not silently read from frame 0."""
    bad = Sample("bad", "manifest", "train", VideoRef("video", "v.mp4", start, end), "107b", 70.0, 3.0)
    good = Sample("good", "manifest", "train", VideoRef("video", "v.mp4", 0, 4), "107b", 70.0, 3.0)
    result = extract_frames([bad, good], root, tmp_path / "out", FrameSettings("all", size=8), workers=1,
                            progress=False)
    assert result.written == ["good"]
    (q,) = result.quarantined
    assert q.sample_id == "bad" and q.reason.startswith("bad-range: video.")
    assert ("frame numbers start at 0" if start < 0 else "before start_frame") in q.reason
