"""All metrics of a set of answers against their gold Samples, in one JSON-able dict.

Why here: evaluation, the promotion gate and the benchmark report must compute the same numbers the same way.
An answer without a readable score still needs a number for rho and RL2: it gets ``fallback_score`` (default: the
median of the readable predicted scores, which uses no ground truth), and the count is reported.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np

from hieroaction.datasets.sample import Sample
from hieroaction.metrics.actions import action_accuracy, decode, part_accuracy
from hieroaction.metrics.scores import bootstrap_rho_ci, l2, per_class_table, rl2, spearman
from hieroaction.metrics.steps import step_edit_distance, temporal_iou, tiou_at
from hieroaction.reasoning.parse import parse_assessment
from hieroaction.reasoning.render import canonical_code


def assessment_metrics(
    answers: Sequence[Any],
    samples: Sequence[Sample],
    *,
    classes: Sequence[Hashable] | None = None,
    fallback_score: float | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """Score, action, step and format metrics of ``answers`` (strings or trl completions), one per sample."""
    if len(answers) != len(samples):
        raise ValueError(f"{len(answers)} answers for {len(samples)} samples")
    if not samples:
        raise ValueError("no samples to evaluate")
    parsed = [parse_assessment(a) for a in answers]
    assessments = [p.assessment for p in parsed]
    true = np.array([float(s.final_score) for s in samples])

    readable = [a.score for a in assessments if a is not None and a.score is not None]
    if fallback_score is None:
        fallback_score = float(np.median(readable)) if readable else 0.0
    pred = np.array([a.score if a is not None and a.score is not None else fallback_score for a in assessments])
    low, high = bootstrap_rho_ci(pred, true, n_boot=n_boot, seed=seed) if len(samples) >= 3 else (np.nan, np.nan)
    report: dict[str, Any] = {
        "n": len(samples),
        "format_validity": sum(p.ok for p in parsed) / len(parsed),
        "score": {
            "spearman": spearman(pred, true),
            "spearman_ci95": [float(low), float(high)],
            "l2": l2(pred, true),
            "rl2": rl2(pred, true) if np.ptp(true) > 0 else float("nan"),
            "rl2_x100": 100 * rl2(pred, true) if np.ptp(true) > 0 else float("nan"),
            "missing": len(samples) - len(readable),
            "fallback_score": fallback_score,
        },
    }
    if classes is not None:
        report["per_class"] = per_class_table(pred, true, classes)

    dives = [i for i, s in enumerate(samples) if decode(s.action_code) is not None]
    if dives:
        pred_codes = [assessments[i].action_code if assessments[i] else None for i in dives]
        gold_codes = [canonical_code(samples[i].action_code) for i in dives]
        report["action"] = {
            "n": len(dives),
            "accuracy": action_accuracy(pred_codes, gold_codes),
            "parts": part_accuracy(pred_codes, gold_codes),
        }

    stepped = [i for i, s in enumerate(samples) if s.steps]
    if stepped:
        gold_steps = [[(st.name, st.first, st.last) for st in samples[i].steps] for i in stepped]
        pred_steps = [
            [(st.name, st.first, st.last) for st in (assessments[i].steps or [])] if assessments[i] else []
            for i in stepped
        ]
        report["steps"] = {
            "n": len(stepped),
            "edit_distance": float(
                np.mean(
                    [
                        step_edit_distance([x[0] for x in p], [x[0] for x in g])
                        for p, g in zip(pred_steps, gold_steps, strict=True)
                    ]
                )
            ),
            "normalized_edit_distance": float(
                np.mean(
                    [
                        step_edit_distance([x[0] for x in p], [x[0] for x in g], normalize=True)
                        for p, g in zip(pred_steps, gold_steps, strict=True)
                    ]
                )
            ),
            "tiou_mean": float(np.mean([temporal_iou(p, g) for p, g in zip(pred_steps, gold_steps, strict=True)])),
            "tiou@0.5": tiou_at(pred_steps, gold_steps, 0.5),
            "tiou@0.75": tiou_at(pred_steps, gold_steps, 0.75),
        }
    return report
