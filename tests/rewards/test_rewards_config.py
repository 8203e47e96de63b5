"""Reward configuration, gating, stages, trl's calling convention and the dataset columns."""

from __future__ import annotations

import json
import math

import pytest

from hieroaction.datasets.sample import Sample, Step, VideoRef
from hieroaction.reasoning import expected_assessment, format_answer, render_target
from hieroaction.rewards import (
    COLUMNS,
    HierarchicalReward,
    RewardConfig,
    Stage,
    action_value,
    reward_columns,
    score_range,
    score_value,
    steps_value,
)

SAMPLE = Sample(
    "finediving/x/1",
    "finediving",
    "train",
    VideoRef("frames", "x/1", 100, 195),
    "5253b",
    81.6,
    3.4,
    (8.5, 8.0, 8.0),
    (
        Step(2, "Back", 0, 21),
        Step(31, "1.5 Twists", 22, 40),
        Step(15, "2.5 Soms.Pike", 41, 70),
        Step(36, "Entry", 71, 95),
    ),
)
COLS = {k: [v] for k, v in reward_columns(SAMPLE, (0.0, 100.0)).items()}
GOLD = render_target(SAMPLE)


def _answer(**changes):
    import dataclasses

    return format_answer(dataclasses.replace(expected_assessment(SAMPLE), **changes))


def test_reward_columns_are_json_able():
    cols = reward_columns(SAMPLE, (0.0, 100.0))
    assert set(cols) == set(COLUMNS)
    assert json.loads(json.dumps(cols)) == cols
    assert json.loads(cols["gold_steps"])[1] == ["1.5 Twists", 22, 40]
    assert cols["gold_action"] == "5253b" and cols["gold_score"] == 81.6
    with pytest.raises(ValueError, match="finediving/x/1"):
        reward_columns(SAMPLE, (10.0, 0.0))
    assert score_range([SAMPLE]) == (81.6, 81.6)


def test_missing_columns_name_themselves():
    reward = HierarchicalReward()
    with pytest.raises(KeyError, match="gold_score"):
        reward([GOLD], gold_action=["5253b"], gold_steps=["[]"], score_min=[0], score_max=[1])
    with pytest.raises(ValueError, match="gold_action"):
        reward([GOLD, GOLD], **COLS)


def test_action_partial_credit_by_parts():
    assert action_value("5253b", "5253B") == 1.0
    assert action_value("5255b", "5253b") == pytest.approx(0.8 * 4 / 5)  # twists wrong
    assert action_value("205b", "5253b") == pytest.approx(0.8 * 3 / 5)  # group and twists wrong
    assert action_value("407c", "5253b") == pytest.approx(0.0)
    assert action_value("105b", "115b") == pytest.approx(0.8)  # only the flying flag differs
    assert action_value(None, "5253b") == 0.0 and action_value("knot", "5253b") == 0.0
    assert action_value("knot", "KNOT") == 1.0


def test_steps_value_hand_example():
    gold = [("Back", 0, 9), ("Entry", 10, 19)]
    from hieroaction.reasoning import AssessedStep

    pred = [AssessedStep("Back", 0, 4), AssessedStep("Entry", 5, 19)]
    # labels all right; IoUs 5/10 and 10/15
    assert steps_value(pred, gold) == pytest.approx(0.5 * 1.0 + 0.5 * (0.5 + 10 / 15) / 2)
    assert steps_value([], []) == 1.0 and steps_value([], gold) == 0.0 and steps_value(None, gold) == 0.0


def test_score_value_is_gaussian_of_relative_error():
    assert score_value(81.6, 81.6, 0, 100) == 1.0
    assert score_value(81.604, 81.6, 0, 100) == 1.0  # within the grammar's resolution
    assert score_value(86.605, 81.6, 0, 100) == pytest.approx(math.exp(-0.5))  # 5% of the range
    assert score_value(None, 81.6, 0, 100) == 0.0
    assert score_value(1.0, 1.0, 5, 5) == 1.0  # degenerate range does not divide by zero


def test_explicit_progress_column_selects_the_stage():
    config = RewardConfig(stages=(Stage(0.5, ("format", "action")), Stage(1.0, ("format", "action", "steps", "score"))))
    reward = HierarchicalReward(config)
    off_score = _answer(score=20.0)
    assert reward([off_score], progress=[0.1], **COLS)[0] == 1.0
    assert reward([off_score], progress=0.9, **COLS)[0] < 1.0


def test_gating_zeroes_higher_levels():
    reward = HierarchicalReward(RewardConfig(gates={"action": 0.5, "steps": 0.9, "score": 0.5}))
    wrong_action = _answer(action_code="407c")
    total = reward([wrong_action], **COLS)[0]
    parts = reward.last_components
    assert parts["gate_steps"] == [0.0] and parts["gate_score"] == [0.0]
    assert parts["steps"] == [1.0] and parts["score"] == [1.0]  # raw values still logged
    assert total == pytest.approx(0.1 * 1.0 / 1.0)  # only format counts: (0.1*1 + 0.3*0 + 0 + 0) / 1.0
    flat = HierarchicalReward(RewardConfig.flat())([wrong_action], **COLS)[0]
    assert flat == pytest.approx(0.1 + 0.3 * 0.0 + 0.3 + 0.3)


def test_stage_schedule_follows_trainer_state():
    from transformers import TrainerState  # the real object trl passes (imported here: transformers is slow to load)

    config = RewardConfig(stages=(Stage(0.5, ("format", "action")), Stage(1.0, ("format", "action", "steps", "score"))))
    reward = HierarchicalReward(config)
    off_score = _answer(score=20.0)
    early, late = TrainerState(), TrainerState()
    early.global_step, early.max_steps = 10, 100
    late.global_step, late.max_steps = 90, 100
    assert reward([off_score], trainer_state=early, **COLS)[0] == 1.0  # score not rewarded yet
    assert reward.last_components["active_score"] == [0.0]
    assert reward([off_score], trainer_state=late, **COLS)[0] < 1.0
    assert reward([off_score], **COLS)[0] < 1.0  # no state: last stage
    by_step = HierarchicalReward(
        RewardConfig(schedule_by="step", stages=(Stage(20, ("format",)), Stage(1e9, ("format", "score"))))
    )
    assert by_step([off_score], trainer_state=early, **COLS)[0] == 1.0


def test_trl_calling_convention_and_logging():
    logged = {}
    reward = HierarchicalReward(name="hpl")
    assert reward.__name__ == "hpl"
    out = reward(
        prompts=[[{"role": "user", "content": "x"}]] * 2,
        completions=[[{"role": "assistant", "content": GOLD}], "garbage"],
        completion_ids=[[1], [2]],
        log_metric=lambda name, value: logged.setdefault(name, value),
        log_extra=lambda column, values: None,
        **{k: v * 2 for k, v in COLS.items()},
    )
    assert out == [1.0, 0.0]
    assert logged["reward/total"] == 0.5 and set(logged) == {
        "reward/format",
        "reward/action",
        "reward/steps",
        "reward/score",
        "reward/total",
    }


def test_config_from_dict_and_yaml(tmp_path):
    data = {
        "mode": "flat",
        "weights": {"format": 1, "action": 1, "steps": 1, "score": 1},
        "stages": [{"until": 1.0, "levels": ["format", "score"]}],
        "score_sigma": 0.1,
    }
    config = RewardConfig.from_dict(data)
    assert config.mode == "flat" and config.stages[0].levels == ("format", "score") and config.score_sigma == 0.1
    assert RewardConfig.from_dict(config.to_dict()) == config
    path = tmp_path / "reward.yaml"
    path.write_text("mode: hierarchical\ngates: {action: 1.0}\n")
    assert RewardConfig.from_yaml(path).gates == {"action": 1.0}
    assert HierarchicalReward({"mode": "flat"}).config.mode == "flat"


@pytest.mark.parametrize(
    "bad",
    [
        {"mode": "sum"},
        {"weights": {"style": 1.0}},
        {"weights": {"format": -1.0}},
        {"gates": {"format": 0.5}},
        {"gates": {"action": 2.0}},
        {"stages": []},
        {"stages": [{"until": 0.5, "levels": ["format"]}, {"until": 0.2, "levels": ["score"]}]},
        {"stages": [{"until": 1.0, "levels": ["bogus"]}]},
        {"score_sigma": 0},
        {"colour": "red"},
    ],
)
def test_config_rejects_nonsense(bad):
    with pytest.raises(ValueError):
        RewardConfig.from_dict(bad)
