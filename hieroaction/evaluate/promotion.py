"""The promotion rule: a candidate checkpoint replaces the baseline only on a significant paired gain.

Why: on a validation split of a few dozen dives, "HPL's metric is higher than SFT's" flips from run to run with the
dives drawn. Both checkpoints answer the same validation dives, so the rule resamples those dives (paired
bootstrap, :mod:`hieroaction.metrics.bootstrap`) and promotes only when the lower end of the 95% interval of the
gain is above zero. Inputs are the per-sample records the evaluation writes (``predictions.jsonl``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hieroaction.metrics.bootstrap import Interval, Statistic, mean_statistic, paired_interval, spearman_statistic

# Metrics the rule can compare on, and whether higher is better.
HIGHER_IS_BETTER = {
    "srcc": True,
    "rl2_x100": False,
    "action_accuracy": True,
    "format_validity": True,
    "tiou_mean": True,
}


@dataclass(frozen=True)
class PromotionDecision:
    promote: bool
    metric: str
    reason: str
    gain: Interval | None  # paired interval of the gain (candidate better: positive), None when not computable

    def to_dict(self) -> dict[str, Any]:
        return {"promote": self.promote, "metric": self.metric, "reason": self.reason,
                "gain": None if self.gain is None else self.gain.to_dict()}


def read_predictions(path: str | Path, system: str | None = None) -> list[dict]:
    """Per-sample records of ``system`` (all when None) from an evaluation's ``predictions.jsonl``."""
    records = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                record = json.loads(line)
                if system is None or record.get("system") == system:
                    records.append(record)
    return records


def _field(record: Any, name: str):
    return record.get(name) if isinstance(record, Mapping) else getattr(record, name, None)


def metric_statistic(records: Sequence[Any], metric: str) -> Statistic:
    """``metric`` over resampled ``records`` (dicts or :class:`~hieroaction.evaluate.scoring.SampleRecord`)."""
    from hieroaction.metrics.actions import same_code
    from hieroaction.metrics.scores import rl2_x100

    if metric == "srcc":
        return spearman_statistic([_field(r, "score") for r in records], [_field(r, "gold_score") for r in records])
    if metric == "rl2_x100":
        pred = np.asarray([_field(r, "score") for r in records], dtype=float)
        gold = np.asarray([_field(r, "gold_score") for r in records], dtype=float)

        def rl2(idx: np.ndarray) -> float:
            return rl2_x100(pred[idx], gold[idx]) if np.ptp(gold[idx]) > 0 else float("nan")

        return rl2
    if metric == "action_accuracy":
        return mean_statistic([same_code(_field(r, "predicted_code"), _field(r, "action_code")) for r in records])
    if metric == "format_validity":
        return mean_statistic([bool(_field(r, "format_ok")) for r in records])
    if metric == "tiou_mean":
        return mean_statistic([_field(r, "tiou") or 0.0 for r in records])
    raise ValueError(f"unknown promotion metric {metric!r}; choose one of {', '.join(HIGHER_IS_BETTER)}")


def promotion_decision(
    baseline: Sequence[Any],
    candidate: Sequence[Any],
    metric: str = "srcc",
    *,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    min_samples: int = 30,
) -> PromotionDecision:
    """Promote ``candidate`` over ``baseline`` only if the paired ``level`` interval of its gain in ``metric`` lies
    above zero. Both are per-sample records of the same samples (paired by ``sample_id``)."""
    if metric not in HIGHER_IS_BETTER:
        raise ValueError(f"unknown promotion metric {metric!r}; choose one of {', '.join(HIGHER_IS_BETTER)}")
    by_id = {_field(r, "sample_id"): r for r in candidate}
    ids = [_field(r, "sample_id") for r in baseline]
    if set(ids) != set(by_id) or len(ids) != len(by_id):
        return PromotionDecision(False, metric, "baseline and candidate were not evaluated on the same samples: "
                                 "not promoted", None)
    if len(ids) < min_samples:
        return PromotionDecision(False, metric, f"only {len(ids)} validation samples (a paired test needs "
                                 f">= {min_samples}): not promoted", None)
    paired = [by_id[i] for i in ids]
    base, cand = metric_statistic(baseline, metric), metric_statistic(paired, metric)
    sign = 1.0 if HIGHER_IS_BETTER[metric] else -1.0
    gain = paired_interval(len(ids), lambda idx: sign * base(idx), lambda idx: sign * cand(idx),
                           n_boot=n_boot, level=level, seed=seed)
    everything = np.arange(len(ids))
    values = f"candidate {cand(everything):.4f} vs baseline {base(everything):.4f}"
    if not math.isfinite(gain.estimate) or gain.n_boot == 0:
        return PromotionDecision(False, metric, f"{metric} undefined on these samples ({values}): not promoted", gain)
    direction = "higher" if HIGHER_IS_BETTER[metric] else "lower"
    promote = gain.excludes_zero_above()
    verdict = "promoted" if promote else "not promoted (the interval reaches zero or below)"
    reason = (f"{metric} ({direction} is better) on {len(ids)} paired samples: {values}, gain {gain.estimate:+.4f} "
              f"[{gain.low:+.4f}, {gain.high:+.4f}] ({level:.0%} paired bootstrap): {verdict}")
    return PromotionDecision(promote, metric, reason, gain)
