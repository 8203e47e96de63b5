"""assessment_metrics: the whole report from answers and gold samples."""

from __future__ import annotations

import dataclasses

import pytest

from hieroaction.datasets.sample import Sample, Step, VideoRef
from hieroaction.metrics import assessment_metrics, spearman
from hieroaction.reasoning import expected_assessment, format_answer, render_target


def _sample(i: int, score: float, steps=True) -> Sample:
    spans = (Step(2, "Back", 0, 9), Step(15, "2.5 Soms.Pike", 10, 29), Step(36, "Entry", 30, 39)) if steps else ()
    return Sample(
        f"finediving/v/{i}",
        "finediving",
        "test",
        VideoRef("frames", f"v/{i}", 0, 39),
        "205b",
        score,
        3.0,
        (8.0, 8.0, 8.0),
        spans,
    )


SAMPLES = [_sample(0, 50.0), _sample(1, 60.0), _sample(2, 70.0), _sample(3, 80.0, steps=False)]


def test_gold_answers_are_perfect():
    report = assessment_metrics([render_target(s) for s in SAMPLES], SAMPLES, n_boot=50)
    assert report["format_validity"] == 1.0 and report["score"]["missing"] == 0
    assert report["score"]["spearman"] == pytest.approx(1.0) and report["score"]["rl2"] == 0.0
    assert report["action"] == {"n": 4, "accuracy": 1.0, "parts": dict.fromkeys(report["action"]["parts"], 1.0)}
    assert report["steps"]["n"] == 3 and report["steps"]["tiou@0.75"] == 1.0 and report["steps"]["edit_distance"] == 0


def test_broken_answers_are_counted_not_dropped():
    wrong = format_answer(
        dataclasses.replace(expected_assessment(SAMPLES[1]), action_code="207b", score=75.0, steps=[])
    )
    answers = [render_target(SAMPLES[0]), wrong, "garbage", render_target(SAMPLES[3])]
    report = assessment_metrics(answers, SAMPLES, n_boot=50, classes=["a", "a", "b", "b"])
    assert report["format_validity"] == 0.75
    assert report["score"]["missing"] == 1 and report["score"]["fallback_score"] == 75.0  # median of 50, 75, 80
    assert report["score"]["spearman"] == pytest.approx(spearman([50, 75, 75, 80], [50, 60, 70, 80]))
    assert report["action"]["accuracy"] == 0.5
    assert report["steps"]["tiou@0.5"] == pytest.approx(1 / 3)
    assert [row["class"] for row in report["per_class"]] == ["a", "b", "all"]
    with pytest.raises(ValueError):
        assessment_metrics(answers[:2], SAMPLES)
