"""Metrics of the report from known predictions: parsed answers, the missing-score fallback, per class, confusion."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from scipy import stats

from hieroaction.metrics.assessment import (
    part_confusions,
    per_class_rows,
    records_from_completions,
    records_from_scores,
    step_tiou_by_label,
    system_metrics,
)
from hieroaction.reasoning import AssessedStep, expected_assessment, format_answer, render_target


def answer(sample, *, score=None, code=None, steps=None) -> str:
    """The gold answer of ``sample`` with some fields replaced (what a model might write)."""
    gold = expected_assessment(sample)
    return format_answer(
        replace(
            gold,
            score=gold.score if score is None else score,
            action_code=gold.action_code if code is None else code,
            steps=gold.steps if steps is None else steps,
        )
    )


def test_perfect_answers_score_perfectly(labelled_sample):
    samples = [labelled_sample(i, s) for i, s in enumerate([40.0, 55.5, 61.0, 70.25, 88.0])]
    records = records_from_completions(samples, [render_target(s) for s in samples], fallback_score=60.0)
    m = system_metrics(records, answers=True, n_boot=200)
    assert m["n"] == 5 and m["score_coverage"] == 1.0 and m["n_fallback"] == 0
    assert m["srcc"] == pytest.approx(1.0)
    assert m["rl2_x100"] == pytest.approx(0.0, abs=1e-12)
    assert m["format_validity"] == 1.0
    assert m["action_accuracy"] == 1.0
    assert all(m[f"part_accuracy_{p}"] == 1.0 for p in ("group", "rotation", "somersaults", "twists", "position"))
    assert m["tiou@0.5"] == 1.0 and m["tiou@0.75"] == 1.0 and m["step_edit_distance"] == 0.0


def test_score_metrics_match_the_protocol_by_hand(labelled_sample):
    true = [40.0, 55.5, 61.0, 70.25, 88.0, 47.0]
    pred = [45.0, 50.0, 66.0, 69.0, 80.0, 52.0]
    samples = [labelled_sample(i, t) for i, t in enumerate(true)]
    records = records_from_completions(samples, [answer(s, score=p) for s, p in zip(samples, pred, strict=True)], 0.0)
    m = system_metrics(records, answers=True, n_boot=500)
    t, p = np.array(true), np.array(pred)
    assert m["srcc"] == pytest.approx(stats.spearmanr(p, t).statistic, abs=1e-12)
    assert m["rl2_x100"] == pytest.approx(100 * np.mean(((p - t) / (t.max() - t.min())) ** 2), abs=1e-9)
    assert m["l2"] == pytest.approx(np.mean((p - t) ** 2), abs=1e-9)
    low, high = m["srcc_ci95"]
    assert -1.0 <= low <= m["srcc"] <= high <= 1.0


def test_missing_scores_use_the_reported_fallback_and_count_as_invalid(labelled_sample):
    true = [40.0, 55.0, 70.0, 85.0]
    samples = [labelled_sample(i, t) for i, t in enumerate(true)]
    completions = [
        answer(samples[0], score=42.0),
        "I think it was a nice dive.",  # garbage: nothing parses
        answer(samples[2], score=71.0).replace("<score>71.00</score>", "<score>high</score>"),  # unreadable score
        answer(samples[3], score=80.0),
    ]
    records = records_from_completions(samples, completions, fallback_score=60.0)
    assert [r.score_valid for r in records] == [True, False, False, True]
    assert [r.score for r in records] == [42.0, 60.0, 60.0, 80.0]
    assert records[1].format_ok is False and records[1].problems
    assert records[1].predicted_code is None and records[1].tiou == 0.0 and records[1].step_edit == 1.0
    assert records[2].predicted_code == "207c"  # a broken score does not hide a correct action
    m = system_metrics(records, answers=True, n_boot=200)
    assert m["score_coverage"] == 0.5 and m["n_fallback"] == 2
    assert m["format_validity"] == 0.5
    assert m["action_accuracy"] == 0.75
    assert m["srcc"] == pytest.approx(stats.spearmanr([42, 60, 60, 80], true).statistic)
    assert m["srcc_parsed"] == pytest.approx(1.0)  # the two parsed scores alone are ranked right


def test_metric_names_cover_every_numeric_metric(labelled_sample):
    from hieroaction.metrics.assessment import METRIC_NAMES

    samples = [labelled_sample(i, 40.0 + i) for i in range(3)]
    m = system_metrics(records_from_completions(samples, [render_target(s) for s in samples], 0.0), answers=True,
                       n_boot=50)
    numeric = {k for k, v in m.items() if isinstance(v, int | float)}
    assert numeric == set(METRIC_NAMES)


def test_all_fallback_gives_undefined_rho_not_a_number(labelled_sample):
    samples = [labelled_sample(i, t) for i, t in enumerate([40.0, 50.0, 60.0])]
    records = records_from_completions(samples, ["", "???", "<score>"], fallback_score=50.0)
    m = system_metrics(records, answers=True, n_boot=100)
    assert m["srcc"] is None and m["srcc_ci95"] is None and m["score_coverage"] == 0.0
    assert m["rl2_x100"] is not None  # RL2 of the constant fallback is defined and reported


def test_wrong_steps_lower_tiou_and_raise_edit_distance(labelled_sample):
    sample = labelled_sample(0, 60.0)
    gold_steps = expected_assessment(sample).steps
    shifted = [AssessedStep(s.name, s.first + 12, s.last + 12, s.judgement) for s in gold_steps]
    missing = gold_steps[:2]
    records = records_from_completions(
        [sample] * 3, [answer(sample), answer(sample, steps=shifted), answer(sample, steps=missing)], 60.0
    )
    assert records[0].tiou == 1.0
    assert 0.0 < records[1].tiou < 1.0 and records[1].step_edit == 0.0
    assert records[2].step_edit == pytest.approx(1 / 3) and records[2].tiou == pytest.approx(2 / 3)
    by_label = step_tiou_by_label(records)
    assert by_label["Back"] > 0 and by_label["Entry"] < by_label["Back"]


def test_per_class_rows_and_fisher_z(labelled_sample):
    codes = ["207c"] * 5 + ["107b"] * 6 + ["5253b"] + ["305c"] * 2
    true = [40.0, 50.0, 60.0, 70.0, 80.0, 45.0, 65.0, 85.0, 55.0, 75.0, 60.0, 77.0, 50.0, 60.0]
    pred = [41.0, 52.0, 58.0, 71.0, 79.0, 60.0, 50.0, 80.0, 57.0, 70.0, 66.0, 70.0, 60.0, 50.0]
    samples = [labelled_sample(i, t, code=c) for i, (t, c) in enumerate(zip(true, codes, strict=True))]
    records = records_from_scores(samples, pred, fallback_score=0.0)
    table = per_class_rows(records, answers=False)
    rows = {r["class"]: r for r in table["rows"]}
    assert rows["207c"]["n"] == 5 and rows["207c"]["srcc"] == pytest.approx(1.0)
    rho_107 = stats.spearmanr(pred[5:11], true[5:11]).statistic
    assert rows["107b"]["srcc"] == pytest.approx(rho_107)
    assert rows["5253b"]["srcc"] is None  # one sample: no rho
    assert rows["305c"]["srcc"] == pytest.approx(-1.0)  # two samples: rho is ±1 by construction
    assert table["classes_with_rho"] == 3
    # only the classes with at least 5 samples enter the Fisher-z mean, and the table says which
    assert (table["fisher_z_classes"], table["fisher_z_samples"], table["fisher_z_min_samples"]) == (2, 11, 5)
    with np.errstate(divide="ignore"):
        expected = math.tanh(np.mean(np.arctanh([1.0, rho_107])))
    assert table["fisher_z_srcc"] == pytest.approx(expected)


def test_part_confusion_counts_gold_against_predicted(labelled_sample):
    samples = [labelled_sample(i, 50.0 + i, code="207c") for i in range(3)]
    completions = [answer(samples[0]), answer(samples[1], code="205c"), "garbage"]
    confusions = part_confusions(records_from_completions(samples, completions, 50.0))
    rows, columns, matrix = confusions["somersaults"]
    assert rows == ["7"] and columns == ["5", "7", "none"]
    assert matrix.tolist() == [[1, 1, 1]]  # predicted 5 half somersaults once, 7 once, nothing readable once
    rows, columns, matrix = confusions["position"]
    assert rows == ["tuck"] and matrix[0, columns.index("tuck")] == 2 and matrix.sum() == 3
