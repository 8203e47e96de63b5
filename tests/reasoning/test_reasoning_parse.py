"""The parser: strict structure, lenient whitespace/case, never raises (hypothesis proves the last)."""

from __future__ import annotations

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sample_strategies import samples

from hieroaction.reasoning import AssessedStep, completion_text, expected_assessment, parse_assessment, render_target

GOOD = """<think>
Back take-off, then twists.
</think>
<action>5253b | back 2½ somersaults 1½ twists, pike | DD 3.4</action>
<steps>
1. Back | frames 0-21 | back take-off, as announced
2. 1.5 Twists | frames 22-40 | 1½ twists, as announced
3. Entry | frames 41-85 | entry
</steps>
<score>81.60</score>"""


def _clean(result):
    """The parser's last-resort handler must never have fired: every input is handled by the grammar code itself."""
    assert not any(p.startswith("parser error") for p in result.problems), result.problems
    return result


PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_valid_answer_parses_fully():
    result = parse_assessment(GOOD)
    assert result.ok and result.problems == []
    a = result.assessment
    assert (a.action_code, a.action_name, a.difficulty, a.score) == (
        "5253b",
        "back 2½ somersaults 1½ twists, pike",
        3.4,
        81.6,
    )
    assert a.steps == [
        AssessedStep("Back", 0, 21, "back take-off, as announced"),
        AssessedStep("1.5 Twists", 22, 40, "1½ twists, as announced"),
        AssessedStep("Entry", 41, 85, "entry"),
    ]
    assert a.reasoning == "Back take-off, then twists."


def test_lenient_about_whitespace_case_and_dashes():
    messy = (
        "  <THINK>ok</Think>\n\n< action >5253B|back 2½ somersaults 1½ twists, pike|dd 3.4</ACTION>"
        "<Steps>\n\n  1)  Back|FRAMES 0 – 21|fine  \n2. Entry | frame 22—40 | x\n</steps>\t<score> 81.6 </score>  "
    )
    result = parse_assessment(messy)
    assert result.ok, result.problems
    assert result.assessment.action_code == "5253b"
    assert [(s.name, s.first, s.last) for s in result.assessment.steps] == [("Back", 0, 21), ("Entry", 22, 40)]
    assert result.assessment.score == 81.6


def test_empty_steps_section_is_valid():
    text = "<think>x</think><action>407c | inward | DD 3.2</action><steps>\n</steps><score>88.00</score>"
    result = parse_assessment(text)
    assert result.ok and result.assessment.steps == []


def test_unknown_difficulty_and_non_dive_code():
    text = "<think>x</think><action>knot_tying | Knot tying | DD n/a</action><steps></steps><score>12</score>"
    result = parse_assessment(text)
    assert result.ok
    assert (result.assessment.action_code, result.assessment.difficulty) == ("knot_tying", None)


def _problems(text: str) -> list[str]:
    result = parse_assessment(text)
    assert not result.ok
    return result.problems


def test_structural_problems_are_named():
    assert "missing <score>" in _problems(GOOD.replace("<score>81.60</score>", ""))
    assert any("unclosed" in p for p in _problems(GOOD[:-8]))
    assert any("repeated <action>" in p for p in _problems(GOOD + "<action>107b | x | DD 3.0</action>"))
    assert any("inside <think>" in p for p in _problems(GOOD.replace("<think>", "<think><score>1</score>", 1)))
    assert any(
        "out of order" in p
        for p in _problems(GOOD.replace("<score>81.60</score>", "").replace("<think>", "<score>81.60</score><think>"))
    )
    assert "text outside tags" in _problems("Sure! " + GOOD)
    assert any("stray closing" in p for p in _problems("</steps>" + GOOD))
    assert "empty <think>" in _problems(GOOD.replace("Back take-off, then twists.", " "))


def test_field_problems_are_named_and_other_sections_still_read():
    broken_score = parse_assessment(GOOD.replace("81.60", "eighty"))
    assert "<score> is not a number" in broken_score.problems
    assert broken_score.assessment.score is None and broken_score.assessment.action_code == "5253b"
    assert any("3 fields" in p for p in _problems(GOOD.replace(" | DD 3.4", "")))
    assert any("numbered" in p for p in _problems(GOOD.replace("2. 1.5", "3. 1.5")))
    assert any("ends before" in p for p in _problems(GOOD.replace("0-21", "21-0")))
    # a broken line keeps its place: the lines after it are not reported as misnumbered
    assert _problems(GOOD.replace("0-21", "21-0")) == ["step 1: span ends before it starts"]
    assert any("span" in p for p in _problems(GOOD.replace("frames 0-21", "0 to 21")))
    bad_steps = parse_assessment(GOOD.replace("frames 0-21", "frames x"))
    assert bad_steps.assessment.steps is None and bad_steps.assessment.score == 81.6


def test_numbers_out_of_range_or_not_ascii():
    for score in ("nan", "inf", "1e400", "9" * 5000, "2000000", "٨١.٦", "-"):
        result = _clean(parse_assessment(GOOD.replace("81.60", score)))
        assert not result.ok and result.assessment.score is None, score
    huge_frames = parse_assessment(GOOD.replace("0-21", "0-" + "9" * 40))
    assert huge_frames.assessment.steps is None
    assert parse_assessment(GOOD.replace("DD 3.4", "DD 1e999")).problems


def test_completion_text_accepts_trl_shapes():
    assert completion_text("abc") == "abc"
    assert completion_text([{"role": "assistant", "content": "abc"}]) == "abc"
    assert (
        completion_text(
            [{"role": "assistant", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}]
        )
        == "ab"
    )
    assert completion_text([{"role": "user", "content": "no"}, {"role": "assistant", "content": "yes"}]) == "yes"
    assert completion_text({"role": "assistant", "content": "x"}) == "x"
    for odd in (None, 3, [None, 5], [{"content": None}], {"content": 7}, object()):
        assert completion_text(odd) == ""
    assert parse_assessment([{"role": "assistant", "content": GOOD}]).ok


def test_garbage_gives_no_assessment():
    for text in ("", "hello", "<think>", "</think></action>", None, 42, "<<<>>>"):
        result = _clean(parse_assessment(text))
        assert result.assessment is None and result.problems


@PROPERTY
@given(st.text())
def test_never_raises_on_arbitrary_text(text):
    result = _clean(parse_assessment(text))
    assert result.ok == (result.assessment is not None and not result.problems)
    if result.assessment is not None and result.assessment.score is not None:
        assert math.isfinite(result.assessment.score)


TAGS = ["<think>", "</think>", "<action>", "</action>", "<steps>", "</steps>", "<score>", "</score>"]
PIECES = st.one_of(
    st.sampled_from(TAGS),
    st.sampled_from(
        ["1. Back | frames 0-21 | ok\n", "5253b | x | DD 3.4", "81.60", "nan", "1e999", "|", "\n", "½", "٣"]
    ),
    st.text(max_size=12),
)


@PROPERTY
@given(st.lists(PIECES, max_size=30))
def test_never_raises_on_tag_soup(pieces):
    result = _clean(parse_assessment("".join(pieces)))
    assert result.ok == (result.assessment is not None and not result.problems)


@PROPERTY
@given(samples(), st.data())
def test_never_raises_on_corrupted_targets(sample, data):
    """Cut, duplicate, insert or delete pieces of a real target: never raises, and any structural damage is named."""
    text = render_target(sample)
    i = data.draw(st.integers(0, len(text)))
    j = data.draw(st.integers(i, len(text)))
    operation = data.draw(st.sampled_from(["truncate", "delete", "duplicate", "insert_tag"]))
    if operation == "truncate":
        corrupted = text[:i]
    elif operation == "delete":
        corrupted = text[:i] + text[j:]
    elif operation == "duplicate":
        corrupted = text[:j] + text[i:j] + text[j:]
    else:
        corrupted = text[:i] + data.draw(st.sampled_from(TAGS)) + text[i:]
    result = _clean(parse_assessment(corrupted))
    if result.ok:
        # whatever survived intact must still be a well-formed record
        assert result.assessment.steps is not None and result.assessment.score is not None


@PROPERTY
@given(samples(odd_names=True))
def test_round_trip_of_generated_samples(sample):
    result = parse_assessment(render_target(sample))
    assert result.ok, result.problems
    assert result.assessment == expected_assessment(sample)
