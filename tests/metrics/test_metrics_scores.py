"""Score metrics against scipy and hand-computed values (to 1e-9)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from hieroaction.metrics import (
    FISHER_Z_MIN_SAMPLES,
    bootstrap_rho_ci,
    fisher_z_mean,
    l2,
    per_class_table,
    rl2,
    rl2_x100,
    spearman,
)

TOL = 1e-9


def test_spearman_matches_scipy_and_hand_formula():
    rng = np.random.default_rng(1)
    true = rng.uniform(0, 100, 200)
    pred = true + rng.normal(0, 15, 200)
    assert spearman(pred, true) == pytest.approx(stats.spearmanr(pred, true).statistic, abs=TOL)
    # no ties: rho = 1 - 6 sum d^2 / (n (n^2 - 1)); ranks of pred = 1,2,3,4,5, of true = 2,1,4,3,5
    assert spearman([1, 2, 3, 4, 5], [20, 10, 40, 30, 50]) == pytest.approx(1 - 6 * 4 / (5 * 24), abs=TOL)
    # ties take average ranks, as scipy does
    assert spearman([1, 2, 3, 4], [1, 2, 2, 3]) == pytest.approx(
        stats.spearmanr([1, 2, 3, 4], [1, 2, 2, 3]).statistic, abs=TOL
    )
    assert math.isnan(spearman([1, 2, 3], [5, 5, 5]))


def test_l2_and_rl2_hand_examples():
    pred, true = [1.0, 2.0, 3.0], [1.0, 3.0, 5.0]
    assert l2(pred, true) == pytest.approx(5 / 3, abs=TOL)
    assert rl2(pred, true) == pytest.approx(5 / 48, abs=TOL)  # range 4: (0 + 1 + 4) / 16 / 3
    assert rl2_x100(pred, true) == pytest.approx(500 / 48, abs=TOL)
    rng = np.random.default_rng(2)
    t, p = rng.uniform(0, 104.4, 300), rng.uniform(0, 104.4, 300)
    assert rl2(p, t) == pytest.approx(np.power((p - t) / (t.max() - t.min()), 2).sum() / t.shape[0], abs=TOL)


def test_bad_inputs_are_rejected_clearly():
    with pytest.raises(ValueError, match="length"):
        l2([1, 2], [1])
    with pytest.raises(ValueError, match="not all equal"):
        rl2([1, 2], [3, 3])
    with pytest.raises(ValueError, match="finite"):
        spearman([1, float("nan")], [1, 2])
    with pytest.raises(ValueError):
        fisher_z_mean([])


def test_fisher_z_mean_hand_example():
    # arctanh(0.5) = ln(3)/2, arctanh(0.8) = ln(9)/2 = ln 3; mean = 3 ln(3) / 4; tanh of it = (3^1.5 - 1) / (3^1.5 + 1)
    expected = (3 * math.sqrt(3) - 1) / (3 * math.sqrt(3) + 1)
    assert fisher_z_mean([0.5, 0.8]) == pytest.approx(expected, abs=TOL)
    assert fisher_z_mean([0.3]) == pytest.approx(0.3, abs=TOL)
    assert fisher_z_mean([0.4, -0.4]) == pytest.approx(0.0, abs=TOL)
    assert fisher_z_mean([1.0, 0.5]) == 1.0


def test_per_class_table():
    pred = [1, 3, 2, 1, 2, 3, 4]
    true = [1, 2, 4, 1, 3, 2, 4]
    classes = ["a", "a", "a", "b", "b", "b", "b"]
    rows = {r["class"]: r for r in per_class_table(pred, true, classes, min_samples=2)}
    assert (rows["a"]["n"], rows["b"]["n"], rows["all"]["n"]) == (3, 4, 7)
    assert rows["a"]["spearman"] == pytest.approx(0.5, abs=TOL)
    assert rows["b"]["spearman"] == pytest.approx(0.8, abs=TOL)  # d = 0,1,1,0: 1 - 6*2/(4*15)
    assert rows["a"]["rl2"] == pytest.approx(5 / 27, abs=TOL)  # range 3, errors 0, 1, 2
    assert rows["b"]["rl2"] == pytest.approx(1 / 18, abs=TOL)  # range 3, errors 0, 1, 1, 0
    assert rows["all"]["spearman"] == pytest.approx((3 * math.sqrt(3) - 1) / (3 * math.sqrt(3) + 1), abs=TOL)
    assert rows["all"]["rl2"] == pytest.approx((5 / 27 + 1 / 18) / 2, abs=TOL)
    assert rows["all"]["l2"] == pytest.approx((5 / 3 + 2 / 4) / 2, abs=TOL)
    with pytest.raises(ValueError, match="classes"):
        per_class_table(pred, true, classes[:-1])
    # a one-sample class has no rho or RL2 and does not spoil the combination
    rows = {r["class"]: r for r in per_class_table([*pred, 5], [*true, 6], [*classes, "c"], min_samples=1)}
    assert math.isnan(rows["c"]["spearman"]) and math.isnan(rows["c"]["rl2"])
    assert rows["all"]["spearman"] == pytest.approx((3 * math.sqrt(3) - 1) / (3 * math.sqrt(3) + 1), abs=TOL)
    assert rows["all"]["rl2"] == pytest.approx((5 / 27 + 1 / 18) / 2, abs=TOL)
    assert (rows["all"]["classes_averaged"], rows["all"]["samples_averaged"]) == (2, 7)


def test_fisher_z_mean_leaves_out_classes_below_the_minimum():
    # class "a": 6 samples, rho 0.8857...; class "b": 2 samples, rho -1 by construction (it would dominate)
    pred = [1, 2, 3, 5, 4, 6, 2, 1]
    true = [1, 2, 3, 4, 6, 5, 1, 2]
    classes = ["a"] * 6 + ["b"] * 2
    rows = {r["class"]: r for r in per_class_table(pred, true, classes)}
    assert FISHER_Z_MIN_SAMPLES == 5
    assert rows["b"]["spearman"] == pytest.approx(-1.0)
    assert rows["all"]["spearman"] == pytest.approx(rows["a"]["spearman"], abs=TOL)
    assert (rows["all"]["classes_averaged"], rows["all"]["samples_averaged"]) == (1, 6)
    loose = {r["class"]: r for r in per_class_table(pred, true, classes, min_samples=2)}
    assert loose["all"]["spearman"] == pytest.approx(-1.0)  # what the table used to print
    tiny = {r["class"]: r for r in per_class_table(pred[6:], true[6:], classes[6:])}
    assert math.isnan(tiny["all"]["spearman"]) and tiny["all"]["classes_averaged"] == 0


def test_bootstrap_interval_matches_a_plain_loop_and_is_seeded():
    rng = np.random.default_rng(3)
    true = rng.uniform(0, 100, 60)
    pred = true + rng.normal(0, 20, 60)
    low, high = bootstrap_rho_ci(pred, true, n_boot=300, seed=7)
    assert (low, high) == bootstrap_rho_ci(pred, true, n_boot=300, seed=7)
    assert bootstrap_rho_ci(pred, true, n_boot=300, seed=8) != (low, high)
    # the same resamples through scipy one by one
    idx = np.random.default_rng(7).integers(0, 60, size=(300, 60))
    rhos = [stats.spearmanr(pred[i], true[i]).statistic for i in idx]
    assert low == pytest.approx(np.quantile(rhos, 0.025), abs=TOL)
    assert high == pytest.approx(np.quantile(rhos, 0.975), abs=TOL)
    assert low < spearman(pred, true) < high
