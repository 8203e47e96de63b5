"""Media paths stay inside the media root: absolute paths, '..', URLs and symlinks out are refused, not read."""

import json
import os

import pytest
from video_media import encode_video, write_jpeg_folder

from hieroaction.cli import main
from hieroaction.datasets.media import MediaPathError, confined_path, key_problem, path_problem
from hieroaction.datasets.sample import Sample, VideoRef, write_jsonl
from hieroaction.video import MediaError, read_frames
from hieroaction.video.extract import extract_frames
from hieroaction.video.sampling import FrameSettings


@pytest.mark.parametrize(
    "path, words",
    [
        ("/etc/passwd", "absolute"),
        ("../outside/v.mp4", ".."),
        ("a/../../v.mp4", ".."),
        ("a\\..\\..\\v.mp4", ".."),
        ("C:\\videos\\v.mp4", "absolute"),
        ("http://example.com/v.mp4", "URL"),
        ("file:///etc/passwd", "URL"),
        ("file:/etc/passwd", "URL"),
        ("s3://bucket/v.mp4", "URL"),
        ("", "empty"),
        ("a\x00b", "NUL"),
    ],
)
def test_path_rules(path, words):
    assert words in path_problem(path)


@pytest.mark.parametrize("path", ["v.mp4", "a/b/v.mp4", "fd/vid/7", "clip:1.mp4", "a..b.mp4"])
def test_plain_relative_paths_pass(path):
    assert path_problem(path) is None


def test_symlink_out_of_root_is_refused(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "v.mp4").write_bytes(b"x")
    os.symlink(outside / "v.mp4", root / "link.mp4")
    with pytest.raises(MediaPathError, match="outside the media root"):
        confined_path("link.mp4", root)
    assert confined_path("link.mp4", root, allow_outside_root=True) == root / "link.mp4"


def test_s3_keys_stay_under_their_prefix():
    assert key_problem("bucket/raw/v.mp4", "bucket/raw") is None
    assert key_problem("bucket/raw/..", "bucket/raw")
    assert key_problem("bucket/raw/../x.mp4", "bucket/raw")
    assert key_problem("bucket/other/v.mp4", "bucket/raw")
    assert key_problem("bucket/raw", "bucket/raw")


def _sample(sid, path, kind="video", start=0, end=9):
    return Sample(sid, "manifest", "train", VideoRef(kind, path, start, end), "107b", 70.0, 3.0)


@pytest.fixture()
def roots(tmp_path):
    """A media root with one good video, and a folder outside it holding a video and a frame folder."""
    root, outside = tmp_path / "media", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    encode_video(root / "good.mp4", 10, gop=5)
    encode_video(outside / "secret.mp4", 10, gop=5)
    write_jpeg_folder(outside / "frames", range(10))
    write_jpeg_folder(root / "mixed", range(10))
    os.symlink(outside / "secret.mp4", root / "link.mp4")
    os.symlink(outside / "frames", root / "linked_frames")
    (root / "mixed" / "00005.jpg").unlink()
    os.symlink(outside / "frames" / "00005.jpg", root / "mixed" / "00005.jpg")
    return root, outside


def test_read_frames_refuses_escapes(roots):
    root, outside = roots
    for path, kind in [
        (str(outside / "secret.mp4"), "video"),
        ("../outside/secret.mp4", "video"),
        ("link.mp4", "video"),
        ("linked_frames", "frames"),
        ("mixed", "frames"),
        ("file://" + str(outside / "secret.mp4"), "video"),
    ]:
        with pytest.raises(MediaError) as info:
            read_frames(VideoRef(kind, path, 0, 9), [0, 5, 9], media_root=root)
        assert info.value.kind == "outside-root", path
    assert read_frames(VideoRef("video", "good.mp4", 0, 9), [0, 9], media_root=root).shape[0] == 2
    opted_in = read_frames(VideoRef("video", "link.mp4", 0, 9), [0], media_root=root, allow_outside_root=True)
    assert opted_in.shape[0] == 1


def test_frames_extract_quarantines_escapes_and_keeps_good(roots, tmp_path, capsys):
    root, outside = roots
    samples = [
        _sample("ok", "good.mp4"),
        _sample("abs", str(outside / "secret.mp4")),
        _sample("up", "../outside/secret.mp4"),
        _sample("link", "link.mp4"),
        _sample("passwd", "/etc/passwd"),
        _sample("url", "http://127.0.0.1:9/v.mp4"),
    ]
    manifest = tmp_path / "samples.jsonl"
    write_jsonl(samples, manifest)
    out = tmp_path / "clips"
    code = main(["frames", "extract", "manifest", str(manifest), "--media-root", str(root), "--out", str(out),
                 "--count", "3", "--size", "16x16", "--workers", "1"])
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 3
    assert summary["written"] == 1 and summary["quarantined"] == 5
    assert summary["quarantine_reasons"] == {"outside-root": 5}
    assert [p.name.split(".")[0] for p in out.rglob("*.npy")] == ["ok"]


def test_extract_opt_in_reads_outside(roots, tmp_path):
    root, outside = roots
    samples = [_sample("abs", str(outside / "secret.mp4")), _sample("link", "link.mp4")]
    result = extract_frames(samples, root, tmp_path / "clips", FrameSettings("uniform", 3, 16), workers=1,
                            progress=False, allow_outside_root=True)
    assert sorted(result.written) == ["abs", "link"]


def test_dataset_summary_quarantines_escapes(roots, tmp_path, capsys):
    root, outside = roots
    samples = [_sample("ok", "good.mp4"), _sample("abs", str(outside / "secret.mp4")),
               _sample("up", "../outside/secret.mp4"), _sample("link", "link.mp4"), _sample("url", "file:///etc/passwd")]
    manifest = tmp_path / "samples.jsonl"
    write_jsonl(samples, manifest)
    # without a media root: the path text alone is enough to refuse (absolute, '..', URL)
    main(["datasets", "summary", "manifest", str(manifest), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert {q["id"] for q in out["quarantined"]} == {"abs", "up", "url"}
    # with it: the symlink out of the root is caught too
    main(["datasets", "summary", "manifest", str(manifest), "--media-root", str(root), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert {q["id"] for q in out["quarantined"]} == {"abs", "up", "url", "link"}
    assert out["good"] == 1


def test_dataset_summary_quarantines_a_frame_file_linked_out_of_the_root(roots, tmp_path, capsys):
    """Extraction refused the 'mixed' folder (one frame file links out) but validation reported it as good."""
    root, _ = roots
    write_jpeg_folder(root / "plain", range(10))
    samples = [_sample("ok", "plain", "frames"), _sample("mixed", "mixed", "frames"),
               _sample("linked", "linked_frames", "frames")]
    manifest = tmp_path / "samples.jsonl"
    write_jsonl(samples, manifest)
    main(["datasets", "summary", "manifest", str(manifest), "--media-root", str(root), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert {q["id"] for q in out["quarantined"]} == {"mixed", "linked"} and out["good"] == 1
    assert any("00005.jpg" in q["reason"] for q in out["quarantined"] if q["id"] == "mixed")
    main(["datasets", "summary", "manifest", str(manifest), "--media-root", str(root), "--json",
          "--allow-outside-media-root"])
    assert json.loads(capsys.readouterr().out)["good"] == 3
