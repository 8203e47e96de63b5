"""The written report: JSON content, Markdown sections, valid PNG plots, predictions, and the regression gate."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from hieroaction.evaluate.benchmark_report import SystemResult, build_report, vlm_result, write_report
from hieroaction.evaluate.gates import GateError, check_gates, parse_gates
from hieroaction.metrics.assessment import records_from_scores
from hieroaction.reasoning import render_target

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def written_report(tmp_path_factory, labelled_sample):
    tmp_path = tmp_path_factory.mktemp("report")
    true = [40.0, 52.0, 61.0, 70.0, 88.0, 47.0]
    codes = ["207c", "207c", "107b", "107b", "207c", "107b"]
    samples = [labelled_sample(i, t, code=c) for i, (t, c) in enumerate(zip(true, codes, strict=True))]
    good = [render_target(s) for s in samples]
    bad = ["no idea"] + good[1:4] + ["<think>x</think>"] + good[5:]
    systems = [
        vlm_result("zero-shot", samples, bad, 60.0, source="preset:tiny", version={"id": "zero"}),
        vlm_result("hpl", samples, good, 60.0, source="runs/hpl/final", version={"id": "weights-sha256:abc"}),
        SystemResult("regressor", "regressor", records_from_scores(samples, [45.0, 50, 60, 75, 80, 50], 60.0)),
    ]
    report = build_report(
        samples, systems, split="test", versions={"code": "deadbeef", "data": "dvc-md5:123"},
        fallback=(60.0, "train-split mean final score"), primary="hpl", generation={"max_new_tokens": 64},
        n_boot=200,
    )
    frames = np.zeros((8, 32, 32, 3), dtype=np.uint8)
    frames[:, 8:24, 8:24] = (200, 80, 40)
    clips = {s.sample_id: (frames, list(range(0, 80, 10)), s.num_frames) for s in samples}
    paths = write_report(report, systems, tmp_path / "report", example_clips=clips)
    return report, paths, tmp_path / "report"


def test_report_files_json_markdown_and_valid_pngs(written_report):
    report, paths, out = written_report
    data = json.loads((out / "report.json").read_text())
    assert data["versions"]["code"] == "deadbeef" and data["versions"]["data"] == "dvc-md5:123"
    assert data["versions"]["grammar"]
    assert data["systems"]["hpl"]["version"]["id"] == "weights-sha256:abc"
    assert set(data["systems"]) == {"zero-shot", "hpl", "regressor"}
    assert data["systems"]["hpl"]["metrics"]["srcc"] == pytest.approx(1.0)
    assert data["systems"]["zero-shot"]["metrics"]["score_coverage"] == pytest.approx(4 / 6)
    assert data["score_fallback"]["value"] == 60.0 and "fallback" in data["score_fallback"]["rule"]
    assert data["published"]["rows"] and "real videos" in data["published"]["title"]
    assert len(data["examples"]) == 3 and "hpl" in data["examples"][0]["answers"]
    examples = {f"assessment_{e['sample_id'].replace('/', '_')}" for e in data["examples"]}
    assert set(data["plots"]) == {"score_scatter", "step_tiou", "part_confusion_zero-shot", "part_confusion_hpl",
                                  *examples}
    for relative in data["plots"].values():
        png = out / relative
        assert png.read_bytes()[:8] == PNG_MAGIC
        with Image.open(png) as image:
            image.verify()
        with Image.open(png) as image:
            assert image.width > 200 and image.height > 200
    lines = (out / "predictions.jsonl").read_text().splitlines()
    assert len(lines) == 3 * 6 and json.loads(lines[0])["system"] == "zero-shot"

    markdown = (out / "report.md").read_text()
    for heading in ("## Versions", "## Results on the evaluated samples", "## Per class", "## Sample assessments",
                    "## Published results on real videos"):
        assert heading in markdown
    published = markdown.index("## Published results on real videos")
    results = markdown.index("## Results on the evaluated samples")
    assert "TSA" in markdown[published:] and "TSA" not in markdown[results:published]
    assert "dvc-md5:123" in markdown and "deadbeef" in markdown
    # two classes of 3 test dives each: too small for the Fisher-z mean, and the table says so
    assert "**Fisher-z mean** (classes with n ≥ 5) | | — |" in markdown
    assert "at least 5 test samples and a defined rho (0 classes and 0 samples)" in markdown


def test_systems_must_share_the_samples(labelled_sample):
    a = [labelled_sample(i, 50.0 + i) for i in range(3)]
    systems = [vlm_result("x", a, ["", "", ""], 50.0), vlm_result("y", a[::-1], ["", "", ""], 50.0)]
    with pytest.raises(ValueError, match="same samples"):
        build_report(a, systems, split="test", versions={}, fallback=(50.0, "test"))


def test_gate_below_bound_fails_above_passes(written_report):
    report, _, _ = written_report
    srcc = report["systems"]["hpl"]["metrics"]["srcc"]
    assert [r.passed for r in check_gates(report, parse_gates([f"srcc={srcc - 0.01}"]))] == [True]
    assert [r.passed for r in check_gates(report, parse_gates([f"srcc={srcc + 0.01}"]))] == [False]
    assert [r.passed for r in check_gates(report, parse_gates(["rho=0.5"]), system="regressor")] == [True]
    assert [r.passed for r in check_gates(report, parse_gates(fail_over=["rl2=0.001"]))] == [True]
    assert [r.passed for r in check_gates(report, parse_gates(fail_over=["rl2=-1"]))] == [False]
    zero = check_gates(report, parse_gates(["format_validity=0.5"]), system="zero-shot")[0]
    assert zero.passed and zero.value == pytest.approx(4 / 6)


def test_gate_on_undefined_metric_fails(written_report, labelled_sample):
    report, _, _ = written_report
    report = json.loads(json.dumps(report))
    report["systems"]["hpl"]["metrics"]["srcc"] = None
    (result,) = check_gates(report, parse_gates(["srcc=-1"]))
    assert not result.passed and "undefined" in result.describe()


@pytest.mark.parametrize("bad", ["srcc", "=0.8", "srcc=high", "srcc=nan"])
def test_gate_syntax_errors(bad):
    with pytest.raises(GateError):
        parse_gates([bad])


def test_gate_unknown_metric_names_the_known_ones(written_report):
    report, _, _ = written_report
    with pytest.raises(GateError, match="known metrics: .*srcc"):
        check_gates(report, parse_gates(["sharpness=1"]))


def test_cli_gate_on_a_report_exit_codes(written_report, evaluate_cli, capsys):
    _, paths, _ = written_report
    report = str(paths["json"])
    assert evaluate_cli(["evaluate", "--report", report, "--fail-under", "srcc=0.99"]) == 0
    assert evaluate_cli(["evaluate", "--report", report, "--fail-under", "srcc=0.5", "--fail-under",
                         "action_accuracy=1.0"]) == 0
    capsys.readouterr()
    assert evaluate_cli(["evaluate", "--report", report, "--name", "zero-shot", "--fail-under", "srcc=0.95"]) == 1
    assert "FAILED: zero-shot srcc" in capsys.readouterr().err
    assert evaluate_cli(["evaluate", "--report", report, "--fail-under", "nonsense=1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and len(err.strip().splitlines()) == 1
    assert evaluate_cli(["evaluate", "--report", str(paths["json"]) + ".missing", "--fail-under", "srcc=0"]) == 2
