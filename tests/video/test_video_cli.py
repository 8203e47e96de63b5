import json

from video_media import read_number

from hieroaction.cli import main
from hieroaction.datasets.sample import Sample, VideoRef, read_jsonl, write_jsonl
from hieroaction.video.extract import load_clip
from hieroaction.video.sampling import FrameSettings


def test_frames_extract_cli_reports_counts_and_writes_clips(media, tmp_path, capsys):
    samples = [
        Sample("m/1", "manifest", "train", VideoRef("video", "long.mp4", 300, 399), "107b", 70.0, 3.0),
        Sample("m/2", "manifest", "test", VideoRef("video", "missing.mp4", 0, 99), "107b", 70.0, 3.0),
    ]
    manifest = tmp_path / "samples.jsonl"
    write_jsonl(samples, manifest)
    out = tmp_path / "clips"
    argv = ["frames", "extract", "manifest", str(manifest), "--media-root", str(media), "--out", str(out),
            "--sampler", "uniform", "--count", "5", "--size", "40x68"]
    assert main(argv) == 3  # finished, one sample quarantined
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["in"] == 2 and summary["written"] == 1 and summary["quarantined"] == 1
    assert summary["quarantine_reasons"] == {"missing": 1}
    loaded = read_jsonl(manifest)
    clip = load_clip(out, loaded[0], FrameSettings("uniform", 5, (40, 68)))
    assert [read_number(f) for f in clip] == [300, 325, 350, 374, 399]
    assert main(argv) == 3  # rerun: the good clip is skipped, the missing one still fails
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["skipped"] == 1
