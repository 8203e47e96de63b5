"""Every real FineDiving and MTL-AQA sample: its target parses back to the same structure and earns full reward."""

from __future__ import annotations

from pathlib import Path

import pytest

from hieroaction.datasets import bundled_root
from hieroaction.datasets.finediving import load_finediving
from hieroaction.datasets.mtl_aqa import load_mtl_aqa
from hieroaction.reasoning import expected_assessment, parse_assessment, render_target
from hieroaction.rewards import (
    LEVELS,
    HierarchicalReward,
    RewardConfig,
    action_reward,
    format_reward,
    reward_columns,
    score_range,
    score_reward,
    steps_reward,
)

EXPECTED_COUNTS = {"finediving": 3000, "mtl-aqa/info": 1412, "mtl-aqa/release": 1412}


@pytest.fixture(scope="module")
def real_samples():
    loaded = {
        "finediving": load_finediving(),
        "mtl-aqa/info": load_mtl_aqa(bundled_root() / "MTL-AQA" / "info"),
        "mtl-aqa/release": load_mtl_aqa(bundled_root() / "MTL-AQA" / "release"),
    }
    return {name: result.samples for name, result in loaded.items()}


def test_every_sample_is_loaded(real_samples):
    assert {name: len(samples) for name, samples in real_samples.items()} == EXPECTED_COUNTS


@pytest.mark.parametrize("dataset", list(EXPECTED_COUNTS))
def test_targets_round_trip_and_earn_full_reward(real_samples, dataset):
    samples = real_samples[dataset]
    texts = [render_target(s) for s in samples]
    failures = []
    for sample, text in zip(samples, texts, strict=True):
        parsed = parse_assessment(text)
        if not parsed.ok or parsed.assessment != expected_assessment(sample):
            failures.append((sample.sample_id, parsed.problems))
        else:
            a = parsed.assessment
            steps = [(s.name, s.first, s.last) for s in a.steps]
            if steps != [(s.name, s.first, s.last) for s in sample.steps] or a.score != round(sample.final_score, 2):
                failures.append((sample.sample_id, "structure differs from the sample"))
    assert failures == []
    if dataset.startswith("mtl-aqa"):
        assert all("<steps>\n</steps>" in t for t in texts)

    scores = score_range(samples)
    rows = [reward_columns(s, scores) for s in samples]
    columns = {key: [row[key] for row in rows] for key in rows[0]}
    for fn in (format_reward, action_reward, steps_reward, score_reward):
        assert min(fn(texts, **columns)) == 1.0, fn.__name__
    for config in (RewardConfig(), RewardConfig.flat()):
        reward = HierarchicalReward(config)
        assert min(reward(texts, prompts=[None] * len(texts), completion_ids=[None] * len(texts), **columns)) == 1.0
        assert all(min(reward.last_components[level]) == 1.0 for level in LEVELS)


def test_documented_example_is_what_the_renderer_writes(real_samples):
    """docs/GRAMMAR.md's example is the real target of one FineDiving sample, so the page cannot drift from code."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "GRAMMAR.md").read_text(encoding="utf-8")
    example = doc.split("Example (FineDiving, 5 judges):", 1)[1].split("```", 2)[1].strip("\n")
    by_id = {s.sample_id: s for s in real_samples["finediving"]}
    sample = by_id["finediving/FINAWorldChampionships2019_Men10mSynchronised_final_r4/1"]
    assert example == render_target(sample)
