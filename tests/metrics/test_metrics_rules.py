"""The rules of the one metric path (docs/METRICS.md), through ``answer_metrics`` as benchmarks call it."""

from __future__ import annotations

import dataclasses

import pytest

from hieroaction.datasets.sample import Sample, Step, VideoRef
from hieroaction.metrics import same_code, spearman
from hieroaction.metrics.assessment import answer_metrics, fallback_score
from hieroaction.reasoning import expected_assessment, format_answer, render_target


def _sample(i: int, score: float, steps=True, code="205b", split="test") -> Sample:
    spans = (Step(2, "Back", 0, 9), Step(15, "2.5 Soms.Pike", 10, 29), Step(36, "Entry", 30, 39)) if steps else ()
    return Sample(f"finediving/v/{i}", "finediving", split, VideoRef("frames", f"v/{i}", 0, 39), code, score, 3.0,
                  (8.0, 8.0, 8.0), spans)


SAMPLES = [_sample(0, 50.0), _sample(1, 60.0), _sample(2, 70.0), _sample(3, 80.0, steps=False)]
TRAIN = [_sample(10, 40.0, split="train"), _sample(11, 90.0, split="train")]


def test_gold_answers_are_perfect():
    metrics = answer_metrics([render_target(s) for s in SAMPLES], SAMPLES, TRAIN, n_boot=50)
    assert metrics["format_validity"] == 1.0 and metrics["n_fallback"] == 0
    assert metrics["srcc"] == pytest.approx(1.0) and metrics["rl2_x100"] == 0.0
    assert metrics["action_accuracy"] == 1.0 and metrics["part_accuracy_group"] == 1.0
    assert metrics["n_with_steps"] == 3 and metrics["tiou@0.75"] == 1.0 and metrics["step_edit_distance"] == 0


def test_unreadable_scores_get_the_train_mean_and_are_counted_not_dropped():
    wrong = format_answer(dataclasses.replace(expected_assessment(SAMPLES[1]), action_code="207b", score=75.0, steps=[]))
    answers = [render_target(SAMPLES[0]), wrong, "garbage", render_target(SAMPLES[3])]
    metrics = answer_metrics(answers, SAMPLES, TRAIN, n_boot=50)
    assert fallback_score(TRAIN, SAMPLES)[0] == 65.0
    assert metrics["n_fallback"] == 1 and metrics["score_coverage"] == 0.75
    assert metrics["srcc"] == pytest.approx(spearman([50, 75, 65, 80], [50, 60, 70, 80]))
    assert metrics["format_validity"] == 0.75 and metrics["action_accuracy"] == 0.5
    assert metrics["tiou@0.5"] == pytest.approx(1 / 3)
    with pytest.raises(ValueError):
        answer_metrics(answers[:2], SAMPLES, TRAIN)


def test_step_edit_distance_is_normalised_by_the_longer_sequence():
    sample = SAMPLES[0]
    gold = expected_assessment(sample)
    one_wrong = dataclasses.replace(gold, steps=[dataclasses.replace(gold.steps[0], name="Forward"), *gold.steps[1:]])
    metrics = answer_metrics([format_answer(one_wrong)], [sample], TRAIN, n_boot=0)
    assert metrics["step_edit_distance"] == pytest.approx(1 / 3)  # 1 substitution over 3 steps, not 1.0


def test_action_codes_are_compared_in_the_form_the_grammar_writes():
    assert same_code("205B", "205b") and same_code("5253b", "5253B")
    assert same_code("back_flip", "Back Flip")  # a manifest's own action, as the answer grammar renders it
    assert not same_code("", "unknown") and not same_code(None, "205b") and not same_code("207b", "205b")
    manifest = _sample(5, 60.0, code="Back Flip")
    metrics = answer_metrics([render_target(manifest)], [manifest], TRAIN, n_boot=0)
    assert metrics["action_accuracy"] == 1.0
