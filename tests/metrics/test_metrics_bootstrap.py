"""Bootstrap intervals: seeded, cover the estimate, and the paired interval sees a gain that separate ones miss."""

import numpy as np
import pytest

from hieroaction.metrics.bootstrap import (
    bootstrap_interval,
    mean_interval,
    paired_interval,
    paired_mean_interval,
    spearman_statistic,
)


def test_mean_interval_brackets_the_mean_and_is_reproducible():
    values = np.random.default_rng(0).random(200)
    a, b = mean_interval(values, n_boot=300, seed=3), mean_interval(values, n_boot=300, seed=3)
    assert a == b
    assert a.low < a.estimate < a.high and a.estimate == pytest.approx(values.mean())
    assert a.n == 200 and a.n_boot == 300 and a.level == 0.95


def test_paired_interval_finds_a_small_consistent_gain_that_unpaired_intervals_cannot_separate():
    rng = np.random.default_rng(1)
    difficulty = rng.random(256)  # most of the spread is the sample, shared by both systems
    baseline = difficulty + rng.normal(0, 0.02, 256)
    candidate = baseline + 0.02 + rng.normal(0, 0.02, 256)
    separate = mean_interval(baseline), mean_interval(candidate)
    assert separate[1].low < separate[0].high  # the two intervals overlap
    gain = paired_mean_interval(baseline, candidate)
    assert gain.low > 0 and gain.excludes_zero_above()
    assert gain.estimate == pytest.approx(candidate.mean() - baseline.mean())


def test_paired_interval_of_noise_reaches_zero():
    rng = np.random.default_rng(2)
    baseline = rng.random(256)
    candidate = baseline + rng.normal(0, 0.2, 256)
    gain = paired_mean_interval(baseline, candidate)
    assert gain.low < 0 < gain.high and not gain.excludes_zero_above()


def test_statistics_undefined_on_some_resamples_are_left_out():
    gold = np.array([1.0, 2.0, 3.0])
    rho = bootstrap_interval(3, spearman_statistic(gold, gold), n_boot=200, seed=0)
    assert rho.estimate == pytest.approx(1.0) and 0 < rho.n_boot < 200  # constant resamples (1 in 9) have no rho
    assert paired_interval(3, spearman_statistic(gold, gold), spearman_statistic(gold, gold), n_boot=50).high == 0.0


def test_spearman_statistic_matches_the_metric():
    from hieroaction.metrics.scores import spearman

    rng = np.random.default_rng(4)
    gold, pred = rng.random(50), np.round(rng.random(50), 1)  # ties in the predictions
    idx = rng.integers(0, 50, 50)
    assert spearman_statistic(pred, gold)(idx) == pytest.approx(spearman(pred[idx], gold[idx]))


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="at least 2"):
        mean_interval([1.0])
    with pytest.raises(ValueError, match="differ in length"):
        paired_mean_interval([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="level"):
        mean_interval([1.0, 2.0], level=1.5)
