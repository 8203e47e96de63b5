"""The promotion rule: a significant paired gain promotes, noise and too few samples do not."""

import json

import numpy as np
import pytest

from hieroaction.evaluate.promotion import promotion_decision, read_predictions


def records(gold, scores, *, codes=None, gold_codes=None, formats=None, tious=None):
    n = len(gold)
    return [
        {
            "sample_id": f"val/{i}",
            "gold_score": float(gold[i]),
            "score": float(scores[i]),
            "action_code": (gold_codes or ["107b"] * n)[i],
            "predicted_code": (codes or ["107b"] * n)[i],
            "format_ok": True if formats is None else bool(formats[i]),
            "tiou": None if tious is None else float(tious[i]),
        }
        for i in range(n)
    ]


GOLD = np.linspace(20, 90, 64)


def test_a_significant_score_ranking_gain_promotes():
    rng = np.random.default_rng(0)
    sft = records(GOLD, rng.permutation(GOLD))
    hpl = records(GOLD, GOLD + rng.normal(0, 3, 64))
    decision = promotion_decision(sft, hpl, "srcc", n_boot=300)
    assert decision.promote and decision.gain.low > 0 and "promoted" in decision.reason


def test_noise_does_not_promote_even_when_the_point_estimate_is_higher():
    rng = np.random.default_rng(1)
    base = GOLD + rng.normal(0, 15, 64)
    sft = records(GOLD, base)
    from hieroaction.metrics.scores import spearman

    for seed in range(50):  # a noisy candidate whose point estimate happens to be higher
        noisy = base + np.random.default_rng(seed).normal(0, 3, 64)
        if spearman(noisy, GOLD) > spearman(base, GOLD):
            break
    decision = promotion_decision(sft, records(GOLD, noisy), "srcc", n_boot=300)
    assert decision.gain.estimate > 0 and decision.gain.low <= 0
    assert not decision.promote and "not promoted" in decision.reason


def test_lower_is_better_metrics_count_a_drop_as_a_gain():
    rng = np.random.default_rng(2)
    sft = records(GOLD, GOLD + rng.normal(0, 20, 64))
    hpl = records(GOLD, GOLD + rng.normal(0, 2, 64))
    assert promotion_decision(sft, hpl, "rl2_x100").promote
    assert not promotion_decision(hpl, sft, "rl2_x100").promote


def test_per_sample_metrics_pair_by_sample_id():
    n = 80
    gold_codes = ["107b"] * n
    sft = records(GOLD[:1].repeat(n), GOLD[:1].repeat(n), codes=["105b"] * n, gold_codes=gold_codes)
    hpl = records(GOLD[:1].repeat(n), GOLD[:1].repeat(n), codes=["107b"] * 40 + ["105b"] * 40, gold_codes=gold_codes)
    decision = promotion_decision(sft, list(reversed(hpl)), "action_accuracy")  # order does not matter
    assert decision.promote and decision.gain.estimate == pytest.approx(0.5)


def test_mismatched_or_too_few_samples_are_not_promoted():
    rng = np.random.default_rng(3)
    sft = records(GOLD, rng.permutation(GOLD))
    hpl = records(GOLD, GOLD)
    assert not promotion_decision(sft, hpl[:-1], "srcc").promote
    few = promotion_decision(sft[:10], hpl[:10], "srcc")
    assert not few.promote and "10 validation samples" in few.reason
    with pytest.raises(ValueError, match="unknown promotion metric"):
        promotion_decision(sft, hpl, "bleu")


def test_read_predictions_filters_by_system(tmp_path):
    path = tmp_path / "predictions.jsonl"
    path.write_text("".join(json.dumps({"system": s, "sample_id": str(i)}) + "\n" for s in ("a", "b") for i in range(3)))
    assert [r["sample_id"] for r in read_predictions(path, "b")] == ["0", "1", "2"]
    assert len(read_predictions(path)) == 6
