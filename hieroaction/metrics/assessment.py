"""THE metric path: one system's answers (or plain scores) on a set of samples -> per-sample records -> the AQA metrics.

The evaluation report, the regression gate (``hieroaction evaluate --fail-under``, ``orchestration.ci_evaluate``) and
``benchmarks/learning_proof.py`` all compute their numbers here, with one set of rules (docs/METRICS.md):

- Unreadable scores: an answer whose ``<score>`` cannot be read still counts. It is marked ``score_valid=False`` and
  scored with :func:`fallback_score` (the train split's mean final score: a constant that carries no ranking
  information and uses no evaluated ground truth), so a model cannot improve its SRCC by refusing to answer the hard
  samples. The headline SRCC / RL2 are over *all* samples with the fallback; ``score_coverage`` and the ``*_parsed``
  metrics (parsed scores only) are reported beside them.
- Action codes are compared in canonical form (:func:`hieroaction.metrics.actions.same_code`): the form the answer
  grammar writes, so a perfect answer about a manifest's own action ("Back Flip" -> ``back_flip``) counts as right.
- Step sequences: the edit distance is normalised by the longer sequence (0 = same labels, 1 = nothing in common),
  so dives with 2 and 4 steps weigh alike; no readable steps count as an empty list (tIoU 0, edit distance 1).
- Format validity is the strict rate of answers with no problem at all.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from hieroaction.datasets.sample import Sample


def fallback_score(train_samples: Sequence[Sample], eval_samples: Sequence[Sample]) -> tuple[float, str]:
    """The score given to answers without one, and how it was chosen (see :data:`FALLBACK_RULE`)."""
    if train_samples:
        return sum(s.final_score for s in train_samples) / len(train_samples), "train-split mean final score"
    if eval_samples:
        return sum(s.final_score for s in eval_samples) / len(eval_samples), "evaluated samples' mean (no train split)"
    return 0.0, "no samples"


FALLBACK_RULE = (
    "An answer without a readable score is counted as invalid (score_valid=false) and scored with the fallback value "
    "(the train split's mean final score; the evaluated gold mean when no train split is given). Headline SRCC/RL2 "
    "include these samples; *_parsed metrics use parsed scores only."
)


# Every numeric key :func:`system_metrics` can report (the names ``--fail-under`` / ``--fail-over`` accept).
METRIC_NAMES = (
    "n", "srcc", "rl2_x100", "l2", "score_coverage", "n_fallback", "srcc_parsed", "rl2_x100_parsed",
    "format_validity", "action_accuracy", "part_accuracy_group", "part_accuracy_rotation",
    "part_accuracy_somersaults", "part_accuracy_twists", "part_accuracy_position", "n_with_steps",
    "step_edit_distance", "tiou_mean", "tiou@0.5", "tiou@0.75",
)


@dataclass
class SampleRecord:
    """What one system said about one sample, parsed and compared with the gold labels."""

    sample_id: str
    action_code: str
    gold_score: float
    score: float  # the score the metrics use: parsed, or the fallback
    score_valid: bool
    parsed_score: float | None = None
    predicted_code: str | None = None
    format_ok: bool | None = None  # None for systems that give a number only
    problems: list[str] = field(default_factory=list)
    predicted_steps: list[tuple[str, int, int]] | None = None
    gold_steps: list[tuple[str, int, int]] = field(default_factory=list)
    tiou: float | None = None
    step_edit: float | None = None
    completion: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def gold_steps(sample: Sample) -> list[tuple[str, int, int]]:
    return [(step.name, step.first, step.last) for step in sample.steps]


def records_from_completions(
    samples: Sequence[Sample], completions: Sequence[str], fallback_score: float
) -> list[SampleRecord]:
    """Parse every completion (never raises on model output) and compare it with its sample."""
    from hieroaction.metrics import step_edit_distance, temporal_iou
    from hieroaction.reasoning import parse_assessment

    if len(samples) != len(completions):
        raise ValueError(f"{len(samples)} samples but {len(completions)} completions")
    records = []
    for sample, text in zip(samples, completions, strict=True):
        parsed = parse_assessment(text)
        assessment = parsed.assessment
        score = None if assessment is None else assessment.score
        if score is not None and not math.isfinite(score):
            score = None
        steps = None
        if assessment is not None and assessment.steps is not None:
            steps = [(s.name, s.first, s.last) for s in assessment.steps]
        gold = gold_steps(sample)
        record = SampleRecord(
            sample_id=sample.sample_id,
            action_code=sample.action_code,
            gold_score=float(sample.final_score),
            score=float(score) if score is not None else float(fallback_score),
            score_valid=score is not None,
            parsed_score=score,
            predicted_code=None if assessment is None else assessment.action_code,
            format_ok=parsed.ok,
            problems=list(parsed.problems),
            predicted_steps=steps,
            gold_steps=gold,
            completion=text,
        )
        if gold:
            record.tiou = temporal_iou(steps or [], gold)
            record.step_edit = step_edit_distance([s[0] for s in steps or []], [s[0] for s in gold], normalize=True)
        records.append(record)
    return records


def records_from_scores(samples: Sequence[Sample], scores: Sequence[float], fallback_score: float) -> list[SampleRecord]:
    """Records for a system that predicts a number only (the classic regressor)."""
    if len(samples) != len(scores):
        raise ValueError(f"{len(samples)} samples but {len(scores)} scores")
    records = []
    for sample, value in zip(samples, scores, strict=True):
        valid = value is not None and math.isfinite(float(value))
        records.append(
            SampleRecord(
                sample_id=sample.sample_id,
                action_code=sample.action_code,
                gold_score=float(sample.final_score),
                score=float(value) if valid else float(fallback_score),
                score_valid=valid,
                parsed_score=float(value) if valid else None,
                gold_steps=gold_steps(sample),
            )
        )
    return records


def _finite_or_none(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def score_metrics(pred: Sequence[float], true: Sequence[float], *, n_boot: int, seed: int) -> dict:
    """SRCC with its bootstrap 95% interval, RL2 × 100 and L2 (None where undefined, e.g. constant predictions)."""
    from hieroaction.metrics import bootstrap_rho_ci, l2, rl2_x100, spearman

    out: dict = {"srcc": None, "srcc_ci95": None, "rl2_x100": None, "l2": None}
    if len(pred) == 0:
        return out
    out["srcc"] = _finite_or_none(spearman(pred, true))
    out["l2"] = _finite_or_none(l2(pred, true))
    if max(true) > min(true):
        out["rl2_x100"] = _finite_or_none(rl2_x100(pred, true))
    if len(pred) >= 3 and out["srcc"] is not None:
        low, high = bootstrap_rho_ci(pred, true, n_boot=n_boot, seed=seed)
        if math.isfinite(low) and math.isfinite(high):
            out["srcc_ci95"] = [float(low), float(high)]
    return out


def system_metrics(records: Sequence[SampleRecord], *, answers: bool, n_boot: int = 1000, seed: int = 0) -> dict:
    """Every headline metric of one system (flat keys, so ``--fail-under NAME=BOUND`` can name any of them)."""
    from hieroaction.metrics import action_accuracy, part_accuracy, tiou_at

    pred = [r.score for r in records]
    true = [r.gold_score for r in records]
    metrics: dict = {"n": len(records)}
    metrics.update(score_metrics(pred, true, n_boot=n_boot, seed=seed))
    valid = [r for r in records if r.score_valid]
    metrics["score_coverage"] = len(valid) / len(records) if records else None
    metrics["n_fallback"] = len(records) - len(valid)
    parsed = score_metrics([r.score for r in valid], [r.gold_score for r in valid], n_boot=n_boot, seed=seed)
    metrics["srcc_parsed"] = parsed["srcc"]
    metrics["rl2_x100_parsed"] = parsed["rl2_x100"]
    if not answers:
        return metrics

    metrics["format_validity"] = sum(bool(r.format_ok) for r in records) / len(records) if records else None
    codes = [r.predicted_code for r in records]
    gold_codes = [r.action_code for r in records]
    metrics["action_accuracy"] = action_accuracy(codes, gold_codes) if records else None
    try:
        for part, value in part_accuracy(codes, gold_codes).items():
            metrics[f"part_accuracy_{part}"] = value
    except ValueError:  # a gold action that is not a dive number (a manifest's own actions): no parts to compare
        pass
    stepped = [r for r in records if r.gold_steps]
    metrics["n_with_steps"] = len(stepped)
    if stepped:
        predicted = [r.predicted_steps or [] for r in stepped]
        gold = [r.gold_steps for r in stepped]
        metrics["step_edit_distance"] = float(np.mean([r.step_edit for r in stepped]))
        metrics["tiou_mean"] = float(np.mean([r.tiou for r in stepped]))
        metrics["tiou@0.5"] = tiou_at(predicted, gold, 0.5)
        metrics["tiou@0.75"] = tiou_at(predicted, gold, 0.75)
    problems = Counter(p for r in records for p in r.problems)
    metrics["top_format_problems"] = [[problem, count] for problem, count in problems.most_common(5)]
    return metrics


def answer_metrics(
    answers: Sequence[str],
    samples: Sequence[Sample],
    train_samples: Sequence[Sample] = (),
    *,
    n_boot: int = 1000,
    seed: int = 0,
) -> dict:
    """:func:`system_metrics` of ``answers`` (one per sample), with the fallback taken from ``train_samples``:
    the whole path in one call, for callers without a report (benchmarks)."""
    fallback, _ = fallback_score(train_samples, samples)
    records = records_from_completions(samples, answers, fallback)
    return system_metrics(records, answers=True, n_boot=n_boot, seed=seed)


def per_class_rows(records: Sequence[SampleRecord], *, answers: bool) -> dict:
    """Per action code: n, SRCC, RL2 × 100, L2 (and action accuracy for answering systems), plus the Fisher-z mean
    of rho over the classes with at least ``FISHER_Z_MIN_SAMPLES`` samples and a defined rho, and how many classes
    and samples that mean covers."""
    from hieroaction.metrics import FISHER_Z_MIN_SAMPLES, per_class_table, same_code

    empty = {"rows": [], "fisher_z_srcc": None, "classes_with_rho": 0, "fisher_z_classes": 0,
             "fisher_z_samples": 0, "fisher_z_min_samples": FISHER_Z_MIN_SAMPLES}
    if not records:
        return empty
    table = per_class_table([r.score for r in records], [r.gold_score for r in records], [r.action_code for r in records])
    by_class: dict[str, list[SampleRecord]] = defaultdict(list)
    for r in records:
        by_class[r.action_code].append(r)
    rows = []
    combined: dict = {}
    for row in table:
        if row["class"] == "all":
            combined = row
            continue
        members = by_class[row["class"]]
        out = {
            "class": row["class"],
            "n": row["n"],
            "srcc": _finite_or_none(row["spearman"]),
            "rl2_x100": None if not math.isfinite(row["rl2"]) else 100.0 * row["rl2"],
            "l2": _finite_or_none(row["l2"]),
            "score_coverage": sum(r.score_valid for r in members) / len(members),
        }
        if answers:
            out["action_accuracy"] = sum(same_code(r.predicted_code, r.action_code) for r in members) / len(members)
        rows.append(out)
    return {
        **empty,
        "rows": rows,
        "fisher_z_srcc": _finite_or_none(combined["spearman"]) if combined["classes_averaged"] else None,
        "classes_with_rho": sum(r["srcc"] is not None for r in rows),
        "fisher_z_classes": combined["classes_averaged"],
        "fisher_z_samples": combined["samples_averaged"],
    }


def step_tiou_by_label(records: Sequence[SampleRecord], top: int = 12) -> dict[str, float]:
    """Mean IoU of the predicted span aligned to each gold step label (0 where no predicted step aligns), for the
    ``top`` most frequent gold labels."""
    from hieroaction.metrics import align, span_iou

    totals: dict[str, list[float]] = defaultdict(list)
    for r in records:
        if not r.gold_steps:
            continue
        predicted = r.predicted_steps or []
        _, pairs = align([s[0] for s in predicted], [s[0] for s in r.gold_steps])
        matched = {j: i for i, j in pairs}
        for j, (label, first, last) in enumerate(r.gold_steps):
            i = matched.get(j)
            iou = 0.0 if i is None else span_iou((predicted[i][1], predicted[i][2]), (first, last))
            totals[label].append(iou)
    ranked = sorted(totals.items(), key=lambda item: (-len(item[1]), item[0]))[:top]
    return {label: float(np.mean(values)) for label, values in ranked}


def part_confusions(records: Sequence[SampleRecord]) -> dict[str, tuple[list[str], list[str], np.ndarray]]:
    """Per decoded part of the dive number: ``(gold values, predicted values, counts[gold, predicted])``; the
    predicted values end with "none" when some answer had no readable dive number."""
    from hieroaction.metrics.actions import PARTS, decode, dive_parts

    pairs: dict[str, list[tuple[str, str]]] = {part: [] for part in PARTS}
    for r in records:
        gold = decode(r.action_code)
        if gold is None:
            continue
        pred = decode(r.predicted_code)
        gp = dive_parts(gold)
        pp = dive_parts(pred) if pred is not None else {}
        for part in PARTS:
            pairs[part].append((str(gp[part]), str(pp.get(part, "none"))))
    out = {}
    for part, values in pairs.items():
        if not values:
            continue
        rows = sorted({g for g, _ in values}, key=_natural)
        columns = sorted({v for pair in values for v in pair if v != "none"}, key=_natural)
        if any(p == "none" for _, p in values):
            columns.append("none")
        matrix = np.zeros((len(rows), len(columns)), dtype=int)
        for g, p in values:
            matrix[rows.index(g), columns.index(p)] += 1
        out[part] = (rows, columns, matrix)
    return out


def _natural(text: str):
    return (0, int(text), "") if text.lstrip("-").isdigit() else (1, 0, text)
