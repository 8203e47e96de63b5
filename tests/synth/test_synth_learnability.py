"""The labels are learnable from the pixels: a tiny model, trained briefly, beats chance on held-out renders."""

import math

import pytest

from hieroaction.synth.learnability import LearnabilityConfig, format_table, run_learnability


@pytest.mark.slow
def test_a_tiny_model_recovers_position_group_and_score_order():
    config = LearnabilityConfig(train=240, test=100, frames=10, size=64, seconds=math.inf, steps=300, batch=16,
                                seed=0, workers=2)
    result = run_learnability(config)
    print(format_table(result))
    assert result["train_steps"] == 300
    assert result["position_accuracy"] >= result["position_chance"] + 0.15
    assert result["group_accuracy"] >= result["group_chance"] + 0.15
    assert result["score_spearman"] > 0.3
