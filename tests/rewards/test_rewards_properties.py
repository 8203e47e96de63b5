"""Each kind of corruption strictly lowers its own reward (and the combined one), never raises; gold earns 1.0."""

from __future__ import annotations

import dataclasses

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sample_strategies import dives, samples

from hieroaction.datasets.dive_codes import format_code, parse_code
from hieroaction.reasoning import AssessedStep, expected_assessment, format_answer, render_target
from hieroaction.rewards import (
    HierarchicalReward,
    RewardConfig,
    action_reward,
    format_reward,
    reward_columns,
    score_reward,
    steps_reward,
)

PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
RANGE = (0.0, 120.0)
FLAT = HierarchicalReward(RewardConfig.flat())
HIERARCHICAL = HierarchicalReward(RewardConfig())


def _columns(sample, n=1):
    return {k: [v] * n for k, v in reward_columns(sample, RANGE).items()}


def _rewards(text, sample):
    columns = _columns(sample)
    return {
        "format": format_reward([text], **columns)[0],
        "action": action_reward([text], **columns)[0],
        "steps": steps_reward([text], **columns)[0],
        "score": score_reward([text], **columns)[0],
        "flat": FLAT([text], **columns)[0],
        "hierarchical": HIERARCHICAL([text], **columns)[0],
    }


def _check(corrupted_text, sample, level):
    gold = _rewards(render_target(sample), sample)
    assert all(v == 1.0 for v in gold.values()), gold
    got = _rewards(corrupted_text, sample)
    assert all(0.0 <= v <= 1.0 for v in got.values()), got
    assert got[level] < 1.0, (level, got)
    assert got["flat"] < 1.0 and got["hierarchical"] < 1.0
    return got


def _with(sample, **changes):
    return format_answer(dataclasses.replace(expected_assessment(sample), **changes))


@st.composite
def wrong_part(draw, code: str) -> str:
    """A valid dive number differing from ``code`` in at least one decoded part."""
    dive = parse_code(code)
    part = draw(st.sampled_from(["rotation", "half_somersaults", "half_twists", "position", "other"]))
    if part == "rotation":
        options = ["forward", "back", "reverse"] + ([] if dive.armstand else ["inward"])
        changed = dataclasses.replace(dive, rotation=draw(st.sampled_from([o for o in options if o != dive.rotation])))
    elif part == "half_somersaults":
        changed = dataclasses.replace(dive, half_somersaults=(dive.half_somersaults + draw(st.integers(1, 9))) % 10)
    elif part == "half_twists":
        twists = (dive.half_twists + draw(st.integers(1, 9))) % 10
        changed = dataclasses.replace(dive, half_twists=twists, flying=dive.flying and not twists)
    elif part == "position":
        letters = ["straight", "pike", "tuck", "free"]
        changed = dataclasses.replace(dive, position=draw(st.sampled_from([p for p in letters if p != dive.position])))
    else:
        changed = draw(dives())
    new = format_code(changed)
    assume(new != dive.code)
    return new


@PROPERTY
@given(samples(), st.data())
def test_wrong_action_part_lowers_action_reward(sample, data):
    code = data.draw(wrong_part(sample.dive.code))
    got = _check(_with(sample, action_code=code), sample, "action")
    assert got["format"] == 1.0 and got["steps"] == 1.0 and got["score"] == 1.0


@PROPERTY
@given(samples(with_steps=True), st.data())
def test_swapped_steps_lower_steps_reward(sample, data):
    steps = expected_assessment(sample).steps
    pairs = [(i, j) for i in range(len(steps)) for j in range(i + 1, len(steps)) if steps[i].name != steps[j].name]
    assume(pairs)
    i, j = data.draw(st.sampled_from(pairs))
    swapped = list(steps)
    swapped[i], swapped[j] = swapped[j], swapped[i]
    got = _check(_with(sample, steps=swapped), sample, "steps")
    assert got["action"] == 1.0 and got["score"] == 1.0


@PROPERTY
@given(samples(with_steps=True), st.data())
def test_shifted_spans_lower_steps_reward(sample, data):
    steps = expected_assessment(sample).steps
    k = data.draw(st.integers(0, len(steps) - 1))
    shift = data.draw(st.integers(-50, 50).filter(lambda s: s != 0))
    first, last = steps[k].first + shift, steps[k].last + shift
    assume(first >= 0)
    shifted = list(steps)
    shifted[k] = dataclasses.replace(steps[k], first=first, last=last)
    got = _check(_with(sample, steps=shifted), sample, "steps")
    assert got["action"] == 1.0 and got["score"] == 1.0


@PROPERTY
@given(samples(), st.data())
def test_missing_or_extra_steps_lower_steps_reward(sample, data):
    steps = list(expected_assessment(sample).steps)
    if steps and data.draw(st.booleans()):
        steps.pop(data.draw(st.integers(0, len(steps) - 1)))
    else:
        steps.append(AssessedStep("Entry", sample.num_frames, sample.num_frames + 5, "entry"))
    _check(_with(sample, steps=steps), sample, "steps")


@PROPERTY
@given(samples(), st.integers(-12_000, 12_000).filter(lambda d: d != 0))
def test_off_score_lowers_score_reward(sample, delta_hundredths):
    score = round(sample.final_score + delta_hundredths / 100, 2)
    got = _check(_with(sample, score=score), sample, "score")
    assert got["action"] == 1.0 and got["steps"] == 1.0 and got["format"] == 1.0


TAGS = ("think", "action", "steps", "score")


@PROPERTY
@given(
    samples(),
    st.sampled_from(TAGS),
    st.sampled_from(["drop_close", "drop_open", "repeat", "nest", "rename", "prefix", "truncate"]),
)
def test_broken_tags_lower_format_reward(sample, tag, how):
    text = render_target(sample)
    if how == "drop_close":
        broken = text.replace(f"</{tag}>", "", 1)
    elif how == "drop_open":
        broken = text.replace(f"<{tag}>", "", 1)
    elif how == "repeat":
        start, end = text.index(f"<{tag}>"), text.index(f"</{tag}>") + len(f"</{tag}>")
        broken = text + "\n" + text[start:end]
    elif how == "nest":
        other = TAGS[(TAGS.index(tag) + 1) % len(TAGS)]
        broken = text.replace(f"<{tag}>", f"<{tag}><{other}>", 1)
    elif how == "rename":
        broken = text.replace(f"<{tag}>", f"<{tag}x>", 1)
    elif how == "prefix":
        broken = "Here is my answer:\n" + text
    else:
        broken = text[: text.index(f"</{tag}>")]
    _check(broken, sample, "format")


@PROPERTY
@given(
    st.lists(
        st.one_of(
            st.text(max_size=200),
            st.none(),
            st.lists(
                st.fixed_dictionaries({"role": st.just("assistant"), "content": st.text(max_size=50)}), max_size=2
            ),
        ),
        min_size=1,
        max_size=4,
    ),
    samples(),
)
def test_rewards_in_unit_interval_on_anything(completions, sample):
    columns = _columns(sample, len(completions))
    for fn in (format_reward, action_reward, steps_reward, score_reward, FLAT, HIERARCHICAL):
        values = fn(completions, **columns)
        assert len(values) == len(completions) and all(0.0 <= v <= 1.0 for v in values)
