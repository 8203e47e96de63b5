"""Draw new labelled dives from the real label distribution.

Why resample real records instead of sampling each label independently: the labels of a real dive hang together
(the dive code fixes the DD and the step sequence; step lengths follow the clip length), so each new dive starts
from a random real one — codes come out with their real frequencies — and then varies its clip length, step timing
and judges' awards. Scores follow the 7-judge rule (DD x the middle three awards), so they pass validation.
"""

from __future__ import annotations

import numpy as np

from hieroaction.datasets.dive_codes import DiveCodeError, parse_code
from hieroaction.datasets.sample import Sample, Step, VideoRef
from hieroaction.synth.timeline import default_steps, subaction_table, usable_steps

MIN_FRAMES = 24
DIVES_PER_VIDEO = 8  # drawn dives share whole videos, as MTL-AQA dives do (and render in parallel per video)


def bundled_reference() -> list[Sample]:
    """The real FineDiving annotations shipped with the package (train and test, 3000 dives)."""
    from hieroaction.datasets.finediving import load_finediving

    return load_finediving().samples


def draw_samples(n: int, seed: int = 0, reference=None, *, split: str = "train", dataset: str = "synth") -> list[Sample]:
    """``n`` new samples (ids ``synth/<seed>/<i>``), deterministic per ``seed``. ``reference``: real samples to
    imitate (default: the bundled FineDiving annotations). Their VideoRef is a placeholder until rendered."""
    reference = [s for s in (bundled_reference() if reference is None else reference) if _usable(s)]
    if not reference:
        raise ValueError("no usable reference samples (need a dive code and a clip of at least 3 frames)")
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, 0x5EED])
    names = subaction_table()
    out = []
    for i in range(int(n)):
        base = reference[int(rng.integers(len(reference)))]
        dive = parse_code(base.action_code)
        num_frames = max(MIN_FRAMES, int(round(base.num_frames * rng.uniform(0.9, 1.1))))
        if usable_steps(base.steps, base.num_frames):
            steps = _rescale_steps(base.steps, base.num_frames, num_frames, rng, names)
        else:
            steps = default_steps(dive, num_frames, rng.uniform(0.22, 0.36), rng.uniform(0.28, 0.42))
        judges = _judges(base, rng)
        difficulty = float(base.difficulty) if base.difficulty else _fallback_dd(dive)
        score = round(difficulty * sum(sorted(judges)[2:5]), 2)
        labels = tuple(step.label_id for step in steps for _ in range(step.length))
        out.append(
            Sample(
                sample_id=f"{dataset}/{seed}/{i:05d}",
                dataset=dataset,
                split=split,
                video=VideoRef("video", f"{dataset}{seed}_{i // DIVES_PER_VIDEO:04d}.mp4", 0, num_frames - 1),
                action_code=dive.code,
                final_score=score,
                difficulty=difficulty,
                judge_scores=judges,
                steps=steps,
                frame_labels=labels,
                source_key=(f"{dataset}{seed}_{i // DIVES_PER_VIDEO:04d}", i),
                extra={"reference": base.sample_id},
            )
        )
    return out


def _usable(sample: Sample) -> bool:
    try:
        parse_code(sample.action_code)
    except DiveCodeError:
        return False
    return sample.num_frames >= 3


def _rescale_steps(steps, old_frames: int, new_frames: int, rng, names) -> tuple[Step, ...]:
    """Stretch the real step boundaries to the new clip length, nudging each by up to 2 frames."""
    cuts = []
    for step in steps[:-1]:
        cut = int(round((step.last + 1) * new_frames / old_frames)) + int(rng.integers(-2, 3))
        cuts.append(cut)
    bounds, previous = [], 0
    for j, cut in enumerate(cuts):
        remaining_steps = len(steps) - j - 1
        cut = min(max(cut, previous + 1), new_frames - remaining_steps)
        bounds.append(cut)
        previous = cut
    edges = [0, *bounds, new_frames]
    return tuple(
        Step(step.label_id, names.get(step.label_id, step.name), edges[j], edges[j + 1] - 1)
        for j, step in enumerate(steps)
    )


def _judges(base: Sample, rng) -> tuple[float, ...]:
    """Seven awards around the reference dive's level (its mean award, or its score / DD), in half points."""
    if base.judge_scores:
        level = float(np.mean(base.judge_scores))
    elif base.difficulty:
        level = base.final_score / (3 * base.difficulty)
    else:
        level = 7.0
    level = float(np.clip(level + rng.normal(0.0, 0.6), 0.0, 10.0))
    awards = np.clip(np.round((level + rng.normal(0.0, 0.35, size=7)) * 2) / 2, 0.0, 10.0)
    return tuple(float(a) for a in awards)


def _fallback_dd(dive) -> float:
    """A rough DD when the reference has none: grows with somersaults and twists (1.5 .. 4.1, as in FineDiving)."""
    return float(np.clip(1.2 + 0.35 * dive.half_somersaults + 0.2 * dive.half_twists, 1.5, 4.1))
