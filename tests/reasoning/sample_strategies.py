"""Hypothesis strategies for Samples shaped like FineDiving's and MTL-AQA's (shared by the rewards tests)."""

from __future__ import annotations

from hypothesis import strategies as st

from hieroaction.datasets.dive_codes import DiveCode, format_code
from hieroaction.datasets.sample import Sample, Step, VideoRef

SUBACTIONS = {
    1: "Forward",
    2: "Back",
    3: "Reverse",
    4: "Inward",
    5: "Arm.Forward",
    6: "Arm.Back",
    7: "Arm.Reverse",
    12: "1 Som.Pike",
    15: "2.5 Soms.Pike",
    17: "3.5 Soms.Pike",
    23: "2.5 Soms.Tuck",
    25: "3.5 Soms.Tuck",
    11: "2.5 Soms.Straight",
    29: "0.5 Twist",
    31: "1.5 Twists",
    33: "2.5 Twists",
    36: "Entry",
    38: "Background",
}


@st.composite
def dives(draw) -> DiveCode:
    armstand = draw(st.booleans())
    rotation = draw(
        st.sampled_from(["forward", "back", "reverse"] if armstand else ["forward", "back", "reverse", "inward"])
    )
    twists = draw(st.integers(0, 9))
    flying = False if (armstand or twists) else draw(st.booleans())
    return DiveCode(
        rotation,
        armstand,
        flying,
        draw(st.integers(0, 9)),
        twists,
        draw(st.sampled_from(["straight", "pike", "tuck", "free"])),
    )


@st.composite
def step_sequences(draw, num_frames: int, odd_names: bool = False) -> tuple[Step, ...]:
    count = draw(st.integers(1, min(5, num_frames)))
    cuts = sorted(draw(st.sets(st.integers(1, num_frames - 1), min_size=count - 1, max_size=count - 1)))
    bounds = [0, *cuts, num_frames]
    steps, previous = [], None
    for i in range(count):
        label = draw(st.sampled_from([k for k in SUBACTIONS if k != previous]))
        # now and then a manifest's own label: any text (pipes, newlines, unicode, empty)
        name = draw(st.one_of(st.just(SUBACTIONS[label]), st.text(max_size=15))) if odd_names else SUBACTIONS[label]
        steps.append(Step(label, name, bounds[i], bounds[i + 1] - 1))
        previous = label
    return tuple(steps)


@st.composite
def samples(draw, with_steps: bool | None = None, odd_names: bool = False) -> Sample:
    num_frames = draw(st.integers(2, 400))
    start = draw(st.integers(0, 100_000))
    dive = draw(dives())
    has_steps = draw(st.booleans()) if with_steps is None else with_steps
    steps = draw(step_sequences(num_frames, odd_names)) if has_steps else ()
    judges = draw(st.sampled_from([0, 3, 5, 7]))
    judge_scores = tuple(draw(st.lists(st.integers(0, 20).map(lambda x: x / 2), min_size=judges, max_size=judges)))
    score = draw(st.integers(0, 12_000)) / 100
    difficulty = draw(st.one_of(st.none(), st.integers(12, 41).map(lambda x: x / 10)))
    code = draw(st.sampled_from([format_code(dive), format_code(dive).upper()]))
    extra = {}
    if odd_names and draw(st.booleans()):  # a non-dive action with a free-text name
        code = draw(st.text(max_size=10))
        extra["action_name"] = draw(st.text(max_size=20))
    return Sample(
        sample_id=f"synthetic/{start}/1",
        dataset="finediving" if has_steps else "mtl-aqa",
        split="train",
        video=VideoRef("frames", f"v/{start}", start, start + num_frames - 1),
        action_code=code,
        final_score=score,
        difficulty=difficulty,
        judge_scores=judge_scores,
        steps=steps,
        extra=extra,
    )
