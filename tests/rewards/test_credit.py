"""Level credit: which text decides which reward level, and what each part of an answer earned."""

from __future__ import annotations

import pytest

from hieroaction.datasets.finediving import load_finediving
from hieroaction.reasoning.render import REASONING_LINES, render_target
from hieroaction.rewards import HierarchicalReward, RewardConfig, reward_columns, score_range
from hieroaction.rewards.credit import CREDIT_CLASSES, char_credit_classes, class_returns, token_credit_classes


@pytest.fixture(scope="module")
def sample():
    samples = [s for s in load_finediving().samples if s.split == "train" and s.judge_scores and s.steps]
    return samples[0], score_range(samples)


def _classed(text: str) -> dict[str, str]:
    """The text of each class, concatenated."""
    out = {name: "" for name in CREDIT_CLASSES}
    for char, index in zip(text, char_credit_classes(text), strict=True):
        out[CREDIT_CLASSES[index]] += char
    return out


def test_every_reasoning_line_the_renderer_writes_is_credited_to_its_level(sample):
    target = render_target(sample[0])
    think = target[target.index("<think>") + len("<think>") : target.index("</think>")]
    lines = [line for line in think.splitlines() if line.strip()]
    assert len(lines) == len(REASONING_LINES)  # the renderer writes one line per owned prefix, in order
    classed = _classed(target)
    for line, (prefix, level) in zip(lines, REASONING_LINES, strict=True):
        assert line.startswith(prefix)
        assert line in classed[level]
    assert "<action>" in classed["action"] and "</action>" in classed["action"]
    assert "<steps>" in classed["steps"] and "<score>" in classed["score"]
    assert classed["format"].replace("\n", "") == "<think></think>"


def test_a_truncated_or_broken_answer_never_raises_and_credits_what_it_can():
    assert _classed("<action>101b | forward")["action"] == "<action>101b | forward"
    assert set(char_credit_classes("no tags at all")) == {0}
    assert char_credit_classes("") == []
    # an unclosed section ends where the next one opens
    classed = _classed("<action>101b<steps>\n1. Back</steps>")
    assert classed["action"] == "<action>101b" and classed["steps"] == "<steps>\n1. Back</steps>"


def test_each_token_takes_the_class_of_its_first_character_and_empty_pieces_the_previous_one():
    pieces = ["<think>\n", "Action", " 101b", ".\n", "", "</think>", "<score>", "5", "</score>"]
    classes = [CREDIT_CLASSES[i] for i in token_credit_classes(pieces)]
    assert classes == ["format", "action", "action", "action", "action", "format", "score", "score", "score"]


def test_class_returns_separate_what_each_part_earned(sample):
    gold, low_high = sample
    target = render_target(gold)
    wrong_score = target[: target.index("<score>")] + "<score>0.00</score>"
    columns = {k: [v, v] for k, v in reward_columns(gold, low_high).items()}
    reward = HierarchicalReward(RewardConfig())
    components = reward.components([target, wrong_score], **columns)
    right, wrong = class_returns(components, reward.config)
    index = {name: i for i, name in enumerate(CREDIT_CLASSES)}
    assert right[index["score"]] == pytest.approx(1.0) and wrong[index["score"]] < 0.5
    for level in ("format", "action", "steps"):  # the score's error does not reach the other parts
        assert wrong[index[level]] == pytest.approx(right[index[level]]) == pytest.approx(1.0)
    assert components["total"][1] < components["total"][0]


def test_a_level_outside_the_current_stage_earns_only_the_format(sample):
    gold, low_high = sample
    target = render_target(gold)
    wrong_score = target[: target.index("<score>")] + "<score>0.00</score>"
    columns = {k: [v] for k, v in reward_columns(gold, low_high).items()}
    config = RewardConfig.from_dict(
        {"stages": [{"until": 0.5, "levels": ["format", "action"]}, {"until": 1.0, "levels": list(CREDIT_CLASSES)}]}
    )
    reward = HierarchicalReward(config)
    score = CREDIT_CLASSES.index("score")
    (early,) = class_returns(reward.components([wrong_score], progress=[0.1], **columns), config)
    (late,) = class_returns(reward.components([wrong_score], progress=[0.9], **columns), config)
    assert early[score] == pytest.approx(1.0)  # score not in use yet: its tokens earn the (perfect) format alone
    assert late[score] < 0.5
    assert early[CREDIT_CLASSES.index("action")] == late[CREDIT_CLASSES.index("action")] == pytest.approx(1.0)


def test_a_closed_gate_is_credited_as_the_total_credits_it(sample):
    gold, low_high = sample
    target = render_target(gold)
    broken = target.replace("</think>", "")  # format 0.375 < the action gate's 0.5: action earns nothing
    columns = {k: [v] for k, v in reward_columns(gold, low_high).items()}
    reward = HierarchicalReward(RewardConfig())
    components = reward.components([broken], **columns)
    (row,) = class_returns(components, reward.config)
    assert components["gate_action"][0] == 0.0
    assert row[CREDIT_CLASSES.index("action")] < components["action"][0]
