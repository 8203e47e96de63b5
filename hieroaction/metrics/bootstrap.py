"""Bootstrap intervals for any per-sample metric, and the paired bootstrap of a difference between two systems.

Why paired: two checkpoints answered the *same* held-out dives, so most of the spread of each one's metric comes
from which dives were drawn, and that part cancels in their difference. Resampling the dives once and scoring both
systems on the same resample keeps that pairing; two separate intervals that overlap say nothing about the
difference. Percentile intervals, seeded: the same inputs always give the same interval.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

Statistic = Callable[[np.ndarray], float]  # sample indices (a resample) -> the metric on those samples


@dataclass(frozen=True)
class Interval:
    """A point estimate on all samples and its percentile bootstrap interval."""

    estimate: float
    low: float
    high: float
    level: float
    n: int  # samples
    n_boot: int  # resamples that gave a value (those where the metric is undefined are left out)

    def excludes_zero_above(self) -> bool:
        """The whole interval lies above zero (for a difference: a significant gain)."""
        return bool(self.low > 0)

    def to_dict(self) -> dict:
        return asdict(self)


def _resamples(n: int, n_boot: int, seed: int) -> np.ndarray:
    if n < 2:
        raise ValueError(f"a bootstrap needs at least 2 samples, got {n}")
    if n_boot < 1:
        raise ValueError(f"n_boot must be at least 1, got {n_boot}")
    return np.random.default_rng(seed).integers(0, n, size=(n_boot, n))


def _interval(estimate: float, values: Sequence[float], level: float, n: int) -> Interval:
    finite = np.asarray([v for v in values if np.isfinite(v)], dtype=float)
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    if finite.size == 0:
        return Interval(float(estimate), float("nan"), float("nan"), level, n, 0)
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(finite, [tail, 100 - tail])
    return Interval(float(estimate), float(low), float(high), level, n, int(finite.size))


def bootstrap_interval(n: int, statistic: Statistic, *, n_boot: int = 1000, level: float = 0.95, seed: int = 0) -> Interval:
    """Interval of ``statistic`` over ``n`` samples (``statistic(indices)`` scores the samples at ``indices``)."""
    draws = _resamples(n, n_boot, seed)
    return _interval(statistic(np.arange(n)), [statistic(idx) for idx in draws], level, n)


def paired_interval(
    n: int, baseline: Statistic, candidate: Statistic, *, n_boot: int = 1000, level: float = 0.95, seed: int = 0
) -> Interval:
    """Interval of ``candidate - baseline``, both scored on the same resample of the same ``n`` samples."""
    draws = _resamples(n, n_boot, seed)
    everything = np.arange(n)
    return _interval(
        candidate(everything) - baseline(everything), [candidate(idx) - baseline(idx) for idx in draws], level, n
    )


def mean_statistic(values: Sequence[float]) -> Statistic:
    """The mean of per-sample ``values`` (accuracy, validity, reward, tIoU) as a statistic."""
    array = np.asarray(values, dtype=float)
    return lambda idx: float(array[idx].mean())


def spearman_statistic(predicted: Sequence[float], gold: Sequence[float]) -> Statistic:
    """Spearman's rho of ``predicted`` against ``gold`` on the resampled samples (NaN when either is constant): the
    Pearson correlation of average ranks, as :func:`hieroaction.metrics.scores.spearman` (without its overhead,
    since a bootstrap calls it a thousand times)."""
    from scipy.stats import rankdata

    p, g = np.asarray(predicted, dtype=float), np.asarray(gold, dtype=float)

    def rho(idx: np.ndarray) -> float:
        a, b = rankdata(p[idx]), rankdata(g[idx])
        a, b = a - a.mean(), b - b.mean()
        denominator = np.sqrt((a * a).sum() * (b * b).sum())
        return float((a * b).sum() / denominator) if denominator > 0 else float("nan")

    return rho


def mean_interval(values: Sequence[float], **kwargs) -> Interval:
    """:func:`bootstrap_interval` of the mean of per-sample ``values``."""
    return bootstrap_interval(len(values), mean_statistic(values), **kwargs)


def paired_mean_interval(baseline: Sequence[float], candidate: Sequence[float], **kwargs) -> Interval:
    """:func:`paired_interval` of ``mean(candidate) - mean(baseline)``; both lists are per sample, same order."""
    if len(baseline) != len(candidate):
        raise ValueError(f"paired values differ in length: {len(baseline)} vs {len(candidate)}")
    return paired_interval(len(baseline), mean_statistic(baseline), mean_statistic(candidate), **kwargs)
