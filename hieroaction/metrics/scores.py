"""Score metrics, exactly as every public AQA codebase computes them (see docs/METRICS.md).

Why no own variants: the numbers go next to published ones (TSA, CoRe, MUSDL), so rho is scipy's Spearman over the
whole evaluated set, RL2 uses the evaluated set's own ground-truth range, and classes are combined with Fisher z.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import NamedTuple

import numpy as np
from scipy import stats


def _pair(pred, true) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(pred, dtype=float).ravel()
    t = np.asarray(true, dtype=float).ravel()
    if p.shape != t.shape:
        raise ValueError(f"pred and true differ in length: {p.size} vs {t.size}")
    if p.size == 0:
        raise ValueError("no scores to evaluate")
    if not (np.isfinite(p).all() and np.isfinite(t).all()):
        raise ValueError("scores must be finite (map unparsable predictions to a number first)")
    return p, t


def spearman(pred, true) -> float:
    """Spearman's rho, ``scipy.stats.spearmanr(pred, true)`` (NaN when either side is constant)."""
    p, t = _pair(pred, true)
    if p.size < 2 or np.ptp(p) == 0 or np.ptp(t) == 0:
        return float("nan")
    return float(stats.spearmanr(p, t).statistic)


def l2(pred, true) -> float:
    """Mean squared error."""
    p, t = _pair(pred, true)
    return float(np.mean((p - t) ** 2))


def rl2(pred, true) -> float:
    """Relative L2: ``mean(((pred - true) / (true.max() - true.min()))**2)`` over the evaluated set."""
    p, t = _pair(pred, true)
    span = t.max() - t.min()
    if span <= 0:
        raise ValueError("RL2 needs ground-truth scores that are not all equal")
    return float(np.mean(((p - t) / span) ** 2))


def rl2_x100(pred, true) -> float:
    """RL2 as papers print it (× 100)."""
    return 100.0 * rl2(pred, true)


def fisher_z_mean(rhos: Sequence[float]) -> float:
    """Average correlations through Fisher's z: ``tanh(mean(arctanh(rho)))`` (a class with rho = ±1 dominates,
    as arctanh diverges; that is the protocol's behaviour, kept)."""
    r = np.asarray(rhos, dtype=float).ravel()
    if r.size == 0:
        raise ValueError("no correlations to average")
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.tanh(np.mean(np.arctanh(r))))


# A class enters the Fisher-z mean of rho only with at least this many samples: with 2 or 3 samples rho is ±1 or
# ±0.5 by construction, and arctanh(±1) is infinite, so one tiny class would decide the average.
FISHER_Z_MIN_SAMPLES = 5


def per_class_table(pred, true, classes: Sequence[Hashable], *, min_samples: int = FISHER_Z_MIN_SAMPLES) -> list[dict]:
    """One row per class (n, rho, L2, RL2 with the class's own range), then an ``"all"`` row combining the classes
    the way AQA-7 papers do: Fisher-z mean of rho over the classes with at least ``min_samples`` samples and a
    defined rho (``classes_averaged`` and ``samples_averaged`` say how many), arithmetic mean of RL2 and L2
    (classes with an undefined value are left out of that value's combination)."""
    p, t = _pair(pred, true)
    labels = list(classes)
    if len(labels) != p.size:
        raise ValueError(f"classes has {len(labels)} entries for {p.size} scores")
    rows = []
    for cls in sorted(set(labels), key=str):
        idx = np.array([i for i, c in enumerate(labels) if c == cls])
        cp, ct = p[idx], t[idx]
        span = ct.max() - ct.min()
        rows.append(
            {
                "class": cls,
                "n": int(idx.size),
                "spearman": spearman(cp, ct),
                "l2": l2(cp, ct),
                "rl2": float(np.mean(((cp - ct) / span) ** 2)) if span > 0 else float("nan"),
            }
        )
    # Classes where rho or RL2 is undefined (constant scores, a single sample) are left out of the combination.
    averaged = [r for r in rows if r["n"] >= min_samples and np.isfinite(r["spearman"])]
    rhos = [r["spearman"] for r in averaged]
    rl2s = [r["rl2"] for r in rows if np.isfinite(r["rl2"])]
    rows.append(
        {
            "class": "all",
            "n": int(p.size),
            "spearman": fisher_z_mean(rhos) if rhos else float("nan"),
            "l2": float(np.mean([r["l2"] for r in rows])),
            "rl2": float(np.mean(rl2s)) if rl2s else float("nan"),
            "classes_averaged": len(averaged),
            "samples_averaged": sum(r["n"] for r in averaged),
        }
    )
    return rows


class RhoInterval(NamedTuple):
    low: float
    high: float


def bootstrap_rho_ci(pred, true, *, n_boot: int = 2000, confidence: float = 0.95, seed: int = 0) -> RhoInterval:
    """Percentile bootstrap interval for Spearman's rho (resampling samples with replacement, seeded).

    Resamples where either side is constant have no rho and are left out."""
    p, t = _pair(pred, true)
    if p.size < 3:
        raise ValueError("a bootstrap interval needs at least 3 samples")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, p.size, size=(n_boot, p.size))
    rp = stats.rankdata(p[idx], axis=1)
    rt = stats.rankdata(t[idx], axis=1)
    rp -= rp.mean(axis=1, keepdims=True)
    rt -= rt.mean(axis=1, keepdims=True)
    denom = np.sqrt((rp**2).sum(axis=1) * (rt**2).sum(axis=1))
    valid = denom > 0
    rhos = (rp * rt).sum(axis=1)[valid] / denom[valid]
    if rhos.size == 0:
        return RhoInterval(float("nan"), float("nan"))
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(rhos, [alpha, 1.0 - alpha])
    return RhoInterval(float(low), float(high))
