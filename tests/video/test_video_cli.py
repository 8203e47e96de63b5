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


def test_user_errors_are_one_line_and_exit_2(media, tmp_path, capsys, monkeypatch):
    samples = [Sample("m/1", "manifest", "train", VideoRef("video", "long.mp4", 0, 9), "107b", 70.0, 3.0)]
    manifest = tmp_path / "samples.jsonl"
    write_jsonl(samples, manifest)
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    base = ["frames", "extract", "manifest", str(manifest)]
    cases = [
        ([*base, "--media-root", str(tmp_path / "nope"), "--out", str(tmp_path / "o")], "--media-root"),
        ([*base, "--media-root", str(media), "--out", str(a_file)], "is a file"),
        ([*base, "--media-root", str(media), "--out", str(tmp_path / "o"), "--count", "0"], "count"),
        (["frames", "extract", "manifest", str(tmp_path), "--media-root", str(media), "--out", str(tmp_path / "o")],
         "manifest"),
        (["datasets", "summary", "manifest", str(tmp_path / "missing.csv")], "not found"),
    ]
    for argv, words in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: ") and words in err[0], err
    monkeypatch.setenv("HIEROACTION_MAX_FRAME_PIXELS", "lots")
    assert main([*base, "--media-root", str(media), "--out", str(tmp_path / "o")]) == 2
    assert "HIEROACTION_MAX_FRAME_PIXELS" in capsys.readouterr().err


def test_an_unwritable_output_is_one_line(media, tmp_path, capsys):
    from hieroaction.cli import main as cli_main

    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    argv = ["synth", "draw", "-n", "1", "--out", str(blocker / "sub"), "--no-validate"]
    code = cli_main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error: ")
