"""``hieroaction evaluate`` end to end on rendered dives, and ``hieroaction assess`` on a freshly encoded mp4."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.xdist_group("evaluate-tiny-model")

FAST = ["--count", "8", "--size", "56", "--max-new-tokens", "12", "--regressor-epochs", "3", "--bootstrap", "100",
        "--quiet"]


def test_evaluate_writes_the_report_and_gates(rendered, tiny_checkpoint, evaluate_cli, tmp_path, capsys):
    out = tmp_path / "report"
    argv = ["evaluate", "--checkpoint", str(tiny_checkpoint), "--name", "hpl",
            "--baseline", f"zero-shot={tiny_checkpoint}", "--samples", str(rendered["table"]),
            "--media-root", str(rendered["media"]), "--out", str(out), *FAST]
    assert evaluate_cli([*argv, "--fail-under", "sharpness=1"]) == 2  # refused before any generation
    assert "unknown metric 'sharpness'" in capsys.readouterr().err
    assert not out.exists()
    # the untrained model writes no readable score: SRCC is undefined, so a bound on it fails the run
    assert evaluate_cli([*argv, "--fail-under", "srcc=0.1"]) == 1
    assert "FAILED: hpl srcc = undefined" in capsys.readouterr().err
    report = json.loads((out / "report.json").read_text())
    assert set(report["systems"]) == {"zero-shot", "hpl", "regressor"}
    assert report["primary"] == "hpl" and report["data"]["n_samples"] == 3
    assert report["versions"]["data"].startswith("samples-sha256:") and report["versions"]["code"]
    assert report["systems"]["hpl"]["version"]["hieroaction_preset"]["preset"] == "tiny"
    assert report["generation"]["max_new_tokens"] == 12 and report["generation"]["do_sample"] is False
    assert report["data"]["clips"]["settings"] == {"sampler": "uniform", "count": 8, "size": [56, 56]}
    hpl = report["systems"]["hpl"]["metrics"]
    assert hpl["score_coverage"] == 0.0 and hpl["n_fallback"] == 3 and hpl["format_validity"] == 0.0
    assert report["systems"]["regressor"]["metrics"]["score_coverage"] == 1.0
    assert report["gates"][0]["passed"] is False
    for relative in report["plots"].values():
        assert (out / relative).read_bytes()[:4] == b"\x89PNG"
    assert (out / "report.md").read_text().count("| hpl |") >= 1

    # a bound the run meets passes (and --data-version is recorded as given)
    argv = [a for a in argv if not a.startswith("zero-shot=") and a != "--baseline"]
    assert evaluate_cli([*argv, "--no-regressor", "--data-version", "dvc:abc", "--fail-under", "n=3",
                         "--fail-over", "format_validity=0.5"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["versions"]["data"] == "dvc:abc" and "regressor" not in report["systems"]


def test_evaluate_quarantines_bad_media_for_every_system(rendered, tiny_checkpoint, evaluate_cli, tmp_path):
    from dataclasses import replace

    from hieroaction.datasets.sample import read_jsonl, write_jsonl

    samples = read_jsonl(rendered["table"])
    test = [s for s in samples if s.split == "test"]
    broken = rendered["media"] / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42 this is not really a video")
    samples = [replace(s, video=replace(s.video, path=broken.name)) if s.sample_id == test[0].sample_id else s
               for s in samples]
    table = tmp_path / "samples.jsonl"
    write_jsonl(samples, table)
    out = tmp_path / "report"
    assert evaluate_cli(["evaluate", "--checkpoint", str(tiny_checkpoint), "--samples", str(table), "--media-root",
                         str(rendered["media"]), "--out", str(out), "--no-regressor", *FAST]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["data"]["n_samples"] == 2
    (bad,) = report["data"]["quarantined"]
    assert bad["id"] == test[0].sample_id and bad["field"] == "video" and "truncated" in bad["reason"]


def test_assess_a_fresh_mp4(fresh_mp4, tiny_checkpoint, evaluate_cli, capsys):
    assert evaluate_cli(["assess", str(fresh_mp4), "--checkpoint", str(tiny_checkpoint), "--max-new-tokens", "8",
                         "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["num_frames"] == 40 and result["fps"] == pytest.approx(25.0)
    assert len(result["frames_shown"]) == 16 and result["frames_shown"][-1] == 39
    assert isinstance(result["raw"], str) and result["valid"] is False and result["problems"]
    assert evaluate_cli(["assess", str(fresh_mp4), "--checkpoint", str(tiny_checkpoint), "--max-new-tokens", "8",
                         "--count", "4"]) == 0
    text = capsys.readouterr().out
    assert text.startswith(f"Video: {fresh_mp4} (40 frames, 1.6 s; 4 shown to the model)")


def test_assess_plot_writes_a_readable_png(fresh_mp4, tiny_checkpoint, evaluate_cli, capsys, tmp_path, readable_png):
    out = tmp_path / "plots" / "dive.png"
    assert evaluate_cli(["assess", str(fresh_mp4), "--checkpoint", str(tiny_checkpoint), "--max-new-tokens", "8",
                         "--plot", str(out)]) == 0
    assert f"plot: {out}" in capsys.readouterr().out
    readable_png(out)
    assert evaluate_cli(["assess", str(fresh_mp4), "--checkpoint", str(tiny_checkpoint), "--plot", "x.jpg"]) == 2
    assert "--plot writes a PNG" in one_line_error(capsys)


def test_assess_readable_output_of_a_valid_answer():
    from hieroaction.evaluate.assess import VideoAssessment, format_assessment
    from hieroaction.reasoning import parse_assessment

    text = ("<think>ok</think><action>5253b | back 2½ somersaults 1½ twists, pike | DD 3.4</action>\n<steps>\n"
            "1. Back | frames 0-21 | clean\n2. 1.5 Twists | frames 22-40 | complete\n</steps>\n<score>81.60</score>")
    parsed = parse_assessment(text)
    shown = format_assessment(VideoAssessment("dive.mp4", "ckpt", 50, list(range(16)), text, parsed.assessment,
                                              parsed.problems, fps=25.0))
    assert "Action: 5253b — back 2½ somersaults 1½ twists, pike (DD 3.4)" in shown
    assert "1. Back        frames 0–21  (0.00–0.88 s)  clean" in shown
    assert "Score: 81.60" in shown and "Format problems" not in shown


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith("error: ")
    return err


def test_assess_missing_file(tmp_path, tiny_checkpoint, evaluate_cli, capsys):
    assert evaluate_cli(["assess", str(tmp_path / "nope.mp4"), "--checkpoint", str(tiny_checkpoint)]) == 2
    assert "video not found" in one_line_error(capsys)


@pytest.mark.parametrize("content", [b"", b"definitely not a video" * 50, b"\x00\x00\x00\x18ftypisom" + b"\x00" * 64])
def test_assess_unreadable_video(tmp_path, tiny_checkpoint, evaluate_cli, capsys, content):
    bad = tmp_path / "clip.mp4"
    bad.write_bytes(content)
    assert evaluate_cli(["assess", str(bad), "--checkpoint", str(tiny_checkpoint)]) == 2
    assert f"cannot read video {bad}" in one_line_error(capsys)


def test_assess_not_a_hieroaction_checkpoint(fresh_mp4, tmp_path, tiny_checkpoint, evaluate_cli, capsys):
    import shutil

    empty = tmp_path / "empty"
    empty.mkdir()
    text_model = tmp_path / "gpt"
    text_model.mkdir()
    (text_model / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    foreign = tmp_path / "foreign"  # a real video VLM, but not written by this project (no marker)
    shutil.copytree(tiny_checkpoint, foreign, ignore=shutil.ignore_patterns("hieroaction_*.json"))
    broken = tmp_path / "broken"  # marker and config, but the weights are garbage
    shutil.copytree(tiny_checkpoint, broken)
    (broken / "model.safetensors").write_bytes(b"garbage")
    older = tmp_path / "older"  # a checkpoint that records another answer grammar
    shutil.copytree(tiny_checkpoint, older)
    info = json.loads((older / "hieroaction_preset.json").read_text())
    (older / "hieroaction_preset.json").write_text(json.dumps(dict(info, grammar="1.0")))
    cases = {empty: "has no config.json", text_model: "gpt2 model, not a video VLM",
             older: "was trained on answer grammar 1.0, but this hieroaction prompts and parses grammar 2.0",
             foreign: "has no hieroaction_run.json", fresh_mp4: "is a file", broken: "cannot load checkpoint",
             tmp_path / "missing": "checkpoint not found"}
    for checkpoint, message in cases.items():
        assert evaluate_cli(["assess", str(fresh_mp4), "--checkpoint", str(checkpoint)]) == 2
        assert message in one_line_error(capsys)


def test_evaluate_validates_gold_labels_before_any_model_runs(rendered, tiny_checkpoint, evaluate_cli, tmp_path,
                                                               capsys):
    lines = rendered["table"].read_text().splitlines()
    rows = [json.loads(line) for line in lines]
    test_rows = [i for i, row in enumerate(rows) if row["split"] == "test"]
    rows[test_rows[0]]["final_score"] = float("nan")
    rows[test_rows[1]]["final_score"] = -40.0
    table = tmp_path / "samples.jsonl"
    table.write_text("\n".join([json.dumps(r) for r in rows] + ["{broken"]) + "\n")
    out = tmp_path / "report"
    argv = ["evaluate", "--checkpoint", str(tiny_checkpoint), "--samples", str(table), "--media-root",
            str(rendered["media"]), "--out", str(out), "--no-regressor", *FAST]
    assert evaluate_cli(argv) == 0
    err = capsys.readouterr().err
    for where in (f"samples.jsonl:{test_rows[0] + 1}", f"samples.jsonl:{test_rows[1] + 1}",
                  f"samples.jsonl:{len(rows) + 1}"):
        assert where in err
    assert "final_score" in err
    report = json.loads((out / "report.json").read_text())
    assert report["data"]["n_samples"] == len(test_rows) - 2
    assert len(report["data"]["input_quarantined"]) == 3
    # nothing left to evaluate: refused in one line before a model is loaded
    for i in test_rows[2:]:
        rows[i]["final_score"] = float("inf")
    table.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    assert evaluate_cli([*argv, "--out", str(tmp_path / "none")]) == 2
    assert "no samples in split 'test'" in capsys.readouterr().err.splitlines()[-1]
