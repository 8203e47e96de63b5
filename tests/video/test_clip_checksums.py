"""The clip store's checksums: a stored clip whose bytes are not the ones extraction wrote is refused when loaded and
extracted again when extraction reruns, whatever its shape."""

import hashlib
import subprocess

import numpy as np
import pytest
from video_media import read_number

from hieroaction.datasets.sample import Sample, VideoRef
from hieroaction.evaluate.clips import ClipSource
from hieroaction.video import store
from hieroaction.video.checks import ClipError
from hieroaction.video.extract import extract_frames, load_clip
from hieroaction.video.sampling import FrameSettings
from hieroaction.video.store import checksum_path, clip_path, write_atomic

SETTINGS = FrameSettings("uniform", 4, (24, 34))


def dive(sid: str, start: int) -> Sample:
    return Sample(sid, "test", "train", VideoRef("video", "long.mp4", start, start + 79), "107b", 80.0)


@pytest.fixture
def extracted(media, tmp_path):
    samples = [dive("c/0", 0), dive("c/1", 300)]
    out = tmp_path / "out"
    result = extract_frames(samples, media, out, SETTINGS, progress=False)
    assert sorted(result.written) == ["c/0", "c/1"] and not result.repaired
    return media, out, samples


def test_the_checksum_is_sha256sum_compatible(extracted):
    _, out, samples = extracted
    path = clip_path(out, samples[0], SETTINGS)
    line = checksum_path(path).read_text()
    assert line == f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {path.name}\n"
    check = subprocess.run(["sha256sum", "-c", checksum_path(path).name], cwd=path.parent, capture_output=True,
                           text=True)
    assert check.returncode == 0, check.stdout + check.stderr


def test_a_clip_overwritten_with_another_clip_of_the_same_shape_is_refused_then_repaired(extracted):
    media, out, samples = extracted
    target, other = (clip_path(out, s, SETTINGS) for s in samples)
    first_frame = read_number(load_clip(out, samples[0], SETTINGS)[0])
    target.write_bytes(other.read_bytes())  # a valid array of the right shape, but another dive's pixels
    for mmap in (True, False):
        with pytest.raises(ClipError, match=r"c/0: stored clip .*not the ones extraction wrote") as info:
            load_clip(out, samples[0], SETTINGS, mmap=mmap)
        assert "\n" not in str(info.value)
    rerun = extract_frames(samples, media, out, SETTINGS, progress=False)
    assert rerun.written == ["c/0"] and rerun.repaired == ["c/0"] and rerun.skipped == ["c/1"]
    assert rerun.to_dict()["repaired"] == 1
    assert read_number(load_clip(out, samples[0], SETTINGS)[0]) == first_frame


def test_a_single_flipped_byte_in_the_pixels_is_refused(extracted):
    _, out, samples = extracted
    path = clip_path(out, samples[1], SETTINGS)
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(ClipError, match="not the ones extraction wrote"):
        load_clip(out, samples[1], SETTINGS)


@pytest.mark.parametrize("how", ["deleted", "garbage"])
def test_a_clip_without_a_readable_checksum_is_refused_then_repaired(extracted, how):
    media, out, samples = extracted
    sidecar = checksum_path(clip_path(out, samples[0], SETTINGS))
    if how == "deleted":
        sidecar.unlink()
    else:
        sidecar.write_bytes(b"\xff\xfe not a digest\n")
    with pytest.raises(ClipError, match=r"c/0: .*no checksum .*\.npy\.sha256 beside it"):
        load_clip(out, samples[0], SETTINGS)
    rerun = extract_frames(samples, media, out, SETTINGS, progress=False)
    assert rerun.repaired == ["c/0"] and load_clip(out, samples[0], SETTINGS).shape == (4, 24, 34, 3)


def test_a_crash_between_the_checksum_and_the_clip_leaves_a_clip_that_is_not_taken_as_checked(extracted, monkeypatch):
    media, out, samples = extracted
    path = clip_path(out, samples[0], SETTINGS)
    real = store._write_bytes_atomic

    def killed_after_the_checksum(target, data):
        real(target, data)
        if target.name.endswith(".sha256"):
            raise KeyboardInterrupt

    monkeypatch.setattr(store, "_write_bytes_atomic", killed_after_the_checksum)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(path, np.zeros((4, 24, 34, 3), np.uint8))  # new digest written, old clip still on disk
    monkeypatch.undo()
    with pytest.raises(ClipError, match="not the ones extraction wrote"):
        load_clip(out, samples[0], SETTINGS)
    assert extract_frames(samples, media, out, SETTINGS, progress=False).repaired == ["c/0"]


def test_a_verified_clip_is_hashed_once_per_process_until_it_changes(extracted, monkeypatch):
    _, out, samples = extracted
    path = clip_path(out, samples[0], SETTINGS)
    store._VERIFIED.clear()
    calls = []
    real = hashlib.file_digest
    monkeypatch.setattr(store.hashlib, "file_digest", lambda *a, **k: calls.append(1) or real(*a, **k))
    for _ in range(3):
        load_clip(out, samples[0], SETTINGS, mmap=False)
    assert len(calls) == 1
    path.write_bytes(clip_path(out, samples[1], SETTINGS).read_bytes())  # same size, new contents and mtime
    with pytest.raises(ClipError, match="not the ones extraction wrote"):
        load_clip(out, samples[0], SETTINGS)
    assert len(calls) == 2


def test_evaluation_decodes_the_media_again_instead_of_serving_an_altered_clip(extracted):
    media, out, samples = extracted
    expected = read_number(load_clip(out, samples[0], SETTINGS)[0])
    target = clip_path(out, samples[0], SETTINGS)
    target.write_bytes(clip_path(out, samples[1], SETTINGS).read_bytes())
    source = ClipSource(SETTINGS, frames_dir=out, media_root=media)
    assert read_number(np.asarray(source.load(samples[0]))[0]) == expected
    with pytest.raises(ClipError, match="not the ones extraction wrote"):
        ClipSource(SETTINGS, frames_dir=out).load(samples[0])



def test_a_stored_clip_larger_than_the_decode_budget_allows_is_refused_without_being_read(extracted, monkeypatch):
    _, out, samples = extracted
    path = clip_path(out, samples[0], SETTINGS)
    monkeypatch.setenv("HIEROACTION_MAX_CLIP_PIXELS", "100")  # 300 bytes of pixels: smaller than this clip
    store._VERIFIED.clear()
    monkeypatch.setattr(store.hashlib, "file_digest", lambda *a, **k: pytest.fail("an oversized clip was hashed"))
    with pytest.raises(ClipError, match=r"c/0: .* bytes, more than any clip the decode budget allows .*MAX_CLIP_PIXELS"):
        load_clip(out, samples[0], SETTINGS)
    assert path.stat().st_size > store.max_clip_bytes()


def test_only_the_start_of_an_oversized_checksum_file_is_read(extracted):
    _, out, samples = extracted
    path = clip_path(out, samples[0], SETTINGS)
    sidecar = checksum_path(path)
    sidecar.write_text(sidecar.read_text().rstrip("\n") + " " * (10 * store.MAX_CHECKSUM_BYTES) + "\n")
    store._VERIFIED.clear()
    assert load_clip(out, samples[0], SETTINGS).shape == (4, 24, 34, 3)  # its digest is still read, no more


def test_frames_verify_reports_the_altered_clips_of_a_store_and_the_exit_code_says_so(extracted, tmp_path, capsys):
    import json
    import os

    from hieroaction.cli import main

    media, out, samples = extracted
    assert main(["frames", "verify", str(out)]) == 0
    assert json.loads(capsys.readouterr().out) == {"store": str(out), "checked": 2, "bad": 0, "problems": {},
                                                   "orphan_checksums": 0}
    target = clip_path(out, samples[0], SETTINGS)
    target.write_bytes(clip_path(out, samples[1], SETTINGS).read_bytes())
    outside = tmp_path / "elsewhere.npy"
    outside.write_bytes(b"not read")
    os.symlink(outside, target.with_name("linked.npy"))
    checksum_path(clip_path(out, samples[1], SETTINGS)).rename(target.with_name("gone.npy.sha256"))
    assert main(["frames", "verify", str(out / SETTINGS.key)]) == 3
    summary = json.loads(capsys.readouterr().out)
    relative = str(target.relative_to(out / SETTINGS.key))
    assert summary["checked"] == 3 and summary["bad"] == 3 and summary["orphan_checksums"] == 1
    assert "not the ones extraction wrote" in summary["problems"][relative]
    assert summary["problems"]["c/linked.npy"] == "a link out of the store (not read)"
    assert "no checksum" in summary["problems"][str(clip_path(out, samples[1], SETTINGS).relative_to(out / SETTINGS.key))]
    assert main(["frames", "verify", str(tmp_path / "nowhere")]) == 2
    assert capsys.readouterr().err.startswith("error: clip store folder not found")


def test_a_clip_linked_out_of_the_store_is_not_read_and_extraction_replaces_the_link(extracted, tmp_path):
    import os

    media, out, samples = extracted
    path = clip_path(out, samples[0], SETTINGS)
    outside = tmp_path / "outside.npy"
    outside.write_bytes(path.read_bytes())  # even the right bytes, with a matching checksum beside the link
    path.unlink()
    os.symlink(outside, path)
    with pytest.raises(ClipError, match="c/0: stored clip .*a link out of the clip store"):
        load_clip(out, samples[0], SETTINGS)
    rerun = extract_frames(samples, media, out, SETTINGS, progress=False)
    assert rerun.repaired == ["c/0"] and not path.is_symlink() and load_clip(out, samples[0], SETTINGS).shape[0] == 4
    assert outside.read_bytes() == path.read_bytes()  # the file outside was not written through the link
