"""Target rendering and the prompt: deterministic, derived from labels, consistent with the parser."""

from __future__ import annotations

import numpy as np
import pytest

from hieroaction.datasets.sample import Sample, Step, VideoRef
from hieroaction.reasoning import (
    GRAMMAR_VERSION,
    SYSTEM_PROMPT,
    build_messages,
    expected_assessment,
    parse_assessment,
    prompt_for,
    render_target,
)
from hieroaction.reasoning.commentary import award_band, execution_phrase, step_judgement
from hieroaction.reasoning.render import decode_action, score_rule_terms


def _sample(code="5253b", steps=None, judges=(8.5, 8.0, 8.0), score=81.6, dd=3.4, **extra) -> Sample:
    if steps is None:
        steps = (
            Step(2, "Back", 0, 21),
            Step(31, "1.5 Twists", 22, 40),
            Step(15, "2.5 Soms.Pike", 41, 70),
            Step(36, "Entry", 71, 95),
        )
    return Sample(
        "finediving/x/1",
        "finediving",
        "train",
        VideoRef("frames", "x/1", 100, 195),
        code,
        score,
        dd,
        judges,
        steps,
        extra=extra,
    )


def test_target_is_deterministic_and_matches_grammar():
    sample = _sample()
    assert render_target(sample) == render_target(_sample())
    text = render_target(sample)
    assert "<action>5253b | back 2½ somersaults 1½ twists, pike | DD 3.4</action>" in text
    assert "1. Back | frames 000-021 | back take-off, as announced" in text
    assert "4. Entry | frames 071-095 | entry, dive judged good (mean award 8.2)" in text
    assert text.endswith("<score>81.60</score>")
    assert "Score = DD x sum of awards = 3.4 x 24.5 = 83.30." not in text  # the label breaks the rule: no formula
    assert parse_assessment(text).assessment == expected_assessment(sample)


def test_frame_numbers_have_a_fixed_width_and_each_award_its_judge():
    """Fixed-width frames and numbered awards: the two places where small models lost count (GRAMMAR.md, 2.0)."""
    text = render_target(_sample())
    assert "The clip has 96 frames (000-095)." in text
    assert "Awards J1 8.5, J2 8, J3 8: " in text
    long_clip = _sample(steps=(Step(2, "Back", 0, 1020), Step(36, "Entry", 1021, 1099)))
    long_clip = Sample(**{**long_clip.__dict__, "video": VideoRef("frames", "x/1", 0, 1099)})
    long_text = render_target(long_clip)
    assert "frames 000-1020" in long_text and "(000-1099)" in long_text
    assert parse_assessment(long_text).assessment == expected_assessment(long_clip)
    assert "numbered 000 to 1099" in build_messages(1100)[1]["content"][1]["text"]


def test_rule_is_stated_only_when_the_label_follows_it():
    assert "Score = DD x sum of awards = 3.4 x 24.5 = 83.30." in render_target(_sample(score=83.3))
    seven = _sample(judges=(9.5, 9.0, 9.5, 9.0, 8.5, 9.5, 8.5), score=88.0, dd=3.2)
    assert "Score = DD x sum of middle three awards = 3.2 x 27.5 = 88.00." in render_target(seven)
    five = _sample(judges=(7.5, 9.0, 8.0, 8.0, 8.5), score=81.18, dd=3.3)
    assert "= 3.3 x 41 x 0.6 = 81.18." in render_target(five)


def test_the_score_lines_reader_gives_back_the_terms_the_renderer_wrote():
    seven = _sample(judges=(9.5, 9.0, 9.5, 9.0, 8.5, 9.5, 8.5), score=88.0, dd=3.2)
    assert score_rule_terms(render_target(seven)) == (3.2, 27.5, 1.0, 88.0)
    five = _sample(judges=(7.5, 9.0, 8.0, 8.0, 8.5), score=81.18, dd=3.3)
    assert score_rule_terms(render_target(five)) == (3.3, 41.0, 0.6, 81.18)
    # a model's wrong product is read as written; a label that breaks the rule states no rule to read
    assert score_rule_terms("Score = DD x sum of awards = 3.4 x 24 = 81.00.\n</think>") == (3.4, 24.0, 1.0, 81.0)
    assert score_rule_terms(render_target(_sample(score=80.0))) is None


def test_upper_case_mtl_code_is_canonical_and_steps_empty():
    sample = _sample(code="407C", steps=(), judges=())
    text = render_target(sample)
    assert "<action>407c | inward 3½ somersaults, tuck | DD 3.4</action>" in text
    assert "<steps>\n</steps>" in text
    assert "not assessed" in text and "Awards" not in text
    parsed = parse_assessment(text)
    assert parsed.ok and parsed.assessment.steps == []


def test_unknown_difficulty_and_non_dive_action():
    sample = _sample(code="Knot Tying", steps=(Step(1, "Throw", 0, 10),), judges=(), dd=None, action_name="Knot tying")
    text = render_target(sample)
    assert "<action>knot_tying | Knot tying | DD n/a</action>" in text
    assert "1. Throw | frames 000-010 | Throw phase" in text
    assert parse_assessment(text).assessment == expected_assessment(sample)


def test_award_bands_follow_fina_scale():
    assert [award_band(x) for x in (10, 9.5, 8.5, 8.0, 7.0, 6.5, 5.0, 4.5, 2.5, 2.0, 0.5, 0)] == [
        "excellent",
        "very good",
        "very good",
        "good",
        "good",
        "satisfactory",
        "satisfactory",
        "deficient",
        "deficient",
        "unsatisfactory",
        "unsatisfactory",
        "completely failed",
    ]
    assert execution_phrase(()) == "no judges' awards given"
    assert execution_phrase((8.0, 45.0, 8.5)) == "judges' awards not on the 0-10 scale"


def test_step_judgements_compare_labels_with_the_dive_number():
    dive = decode_action("5253b")
    assert step_judgement("Back", dive, ()) == "back take-off, as announced"
    assert step_judgement("Inward", dive, ()) == "inward take-off, announced back"
    assert step_judgement("Arm.Back", dive, ()) == "back take-off from armstand, announced back"
    assert step_judgement("2.5 Soms.Tuck", dive, ()) == "2½ somersaults, tuck, announced pike"
    assert step_judgement("1 Som.Pike", dive, ()) == "1 somersault, pike, as announced"
    assert step_judgement("2.5 Twists", dive, ()) == "2½ twists, announced 1½"
    assert step_judgement("0.5 Twist", decode_action("107b"), ()) == "½ twist, none announced"
    assert step_judgement("2 Soms.Pike", decode_action("5337d"), ()) == "2 somersaults, pike, free position announced"
    assert step_judgement("Background", dive, ()) == "not part of the dive"
    assert step_judgement("Entry", dive, (9.5, 10, 10)) == "entry, dive judged excellent (mean award 9.8)"
    assert step_judgement("Back", None, ()) == "back take-off"


def test_judgements_never_claim_unlabelled_faults():
    words = " ".join(render_target(_sample(judges=j)) for j in [(0, 0.5, 1), (5, 5, 5), (10, 10, 10)])
    for claim in ("splash", "short", "over-rotat", "bent", "knees", "rip"):
        assert claim not in words.lower()


def test_build_messages_shape():
    video = np.zeros((4, 8, 8, 3), dtype=np.uint8)
    messages = build_messages(96, video=video)
    assert [m["role"] for m in messages] == ["system", "user"]
    assert messages[0]["content"] == [{"type": "text", "text": SYSTEM_PROMPT}]
    video_part, text_part = messages[1]["content"]
    assert video_part["type"] == "video" and video_part["video"] is video
    assert text_part["type"] == "text" and "96 frames, numbered 000 to 095" in text_part["text"]
    assert build_messages(10)[1]["content"][0] == {"type": "video"}
    assert f"v{GRAMMAR_VERSION}" in SYSTEM_PROMPT
    with pytest.raises(ValueError):
        build_messages(0)


def test_prompt_says_when_steps_are_not_assessed():
    assert "leave <steps> empty" in prompt_for(_sample(steps=()))[1]["content"][1]["text"]
    assert "leave <steps> empty" not in prompt_for(_sample())[1]["content"][1]["text"]
    text = build_messages(20, frame_indices=[0, 10, 19])[1]["content"][1]["text"]
    assert "clip frames 000, 010, 019" in text


def test_free_text_cannot_break_the_structure():
    sample = _sample(
        code="my|action",
        steps=(Step(1, "</steps>", 0, 10), Step(2, "", 11, 20), Step(3, "a|b\nc", 21, 30)),
        action_name="<<score>>1</score> | x",
    )
    text = render_target(sample)
    parsed = parse_assessment(text)
    assert parsed.ok, parsed.problems
    assert parsed.assessment == expected_assessment(sample)
    assert [s.name for s in parsed.assessment.steps] == ["/steps", "sub-action 2", "a/b c"]
    assert parsed.assessment.action_code == "my_action" and parsed.assessment.action_name == "score1/score / x"
