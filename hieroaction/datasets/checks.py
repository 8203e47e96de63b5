"""The one place every numeric and size rule of a sample is checked, whichever adapter or file it came from.

Why before Great Expectations: GX treats NaN as "missing" (so a NaN difficulty passed its range rule) and some
derived columns cannot even be computed from NaN or infinite values (a NaN judge score crashed the table). Each
sample is checked here first, cheaply and without GX: non-numeric or non-finite numbers, absurd values and frame
numbers and frame ranges (negative, or ending before they start), and oversized ids are quarantined with the field
and value; GX then sees only well-formed rows and checks
the ranges (``SCORE_RANGE``...) as named rules.
Validation (:func:`hieroaction.datasets.validate.validate_samples`), evaluation inputs and every manifest read
(:func:`hieroaction.datasets.manifest.load_manifest`: training, ``frames extract``) call :func:`sample_problems`;
extraction applies :func:`frame_range_problem` to samples from any adapter.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

from hieroaction.datasets.records import Quarantined
from hieroaction.datasets.sample import Sample

SCORE_RANGE = (0.0, 130.0)
DIFFICULTY_RANGE = (1.0, 4.5)
JUDGE_RANGE = (0.0, 10.0)
MAX_FRAME_NUMBER = 10_000_000  # a frame number past this (46 h at 60 fps) is an error, not a long video
MAX_ID_CHARS = 512
MAX_JUDGES = 11
MAX_STEPS = 64


def _number_problem(value: Any, low: float, high: float) -> str | None:
    """Type and finiteness here; the ranges ``low..high`` are Great Expectations rules of the same validation
    (reported per rule), except for values so large they are absurd for any field (> 1e6). ``None`` is GX's
    "required field is missing" rule."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return "not a number"
    if not math.isfinite(float(value)):
        return "not a finite number"
    if abs(float(value)) > 1e6:
        return f"absurd value (expected {low:g}..{high:g})"
    return None


def _int_problem(value: Any, low: int, high: int) -> str | None:
    if value is None:
        return None  # reported by GX's required-field rule
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        return "not an integer"
    if not low <= value <= high:
        return f"outside {low:,}..{high:,}"
    return None


def sample_problems(sample: Sample, where: str = "") -> list[Quarantined]:
    """Every numeric/size rule ``sample`` breaks, as quarantine records (empty when it is fine)."""
    sid = sample.sample_id if isinstance(sample.sample_id, str) else repr(sample.sample_id)
    shown = sid if len(sid) <= 80 else sid[:77] + "..."
    out: list[Quarantined] = []

    def add(field: str, value: Any, reason: str) -> None:
        out.append(Quarantined(shown, field, value, reason, where=where))

    if not isinstance(sample.sample_id, str) or len(sample.sample_id) > MAX_ID_CHARS:
        add("sample_id", shown, f"must be text of at most {MAX_ID_CHARS} characters")
    for name, value in vars(sample).items():
        if not_unicode(value):  # JSON "\ud800" decodes to a lone surrogate that no file, table or tokenizer takes
            add(name, repr(value), "text is not valid Unicode (a lone surrogate escape such as \\ud800)")
    problem = _number_problem(sample.final_score, *SCORE_RANGE)
    if problem:
        add("final_score", sample.final_score, problem)
    if sample.difficulty is not None:
        problem = _number_problem(sample.difficulty, *DIFFICULTY_RANGE)
        if problem:
            add("difficulty", sample.difficulty, problem)
    judges = tuple(sample.judge_scores or ())
    if len(judges) > MAX_JUDGES:
        add("judge_scores", judges, f"more than {MAX_JUDGES} judges")
    for i, judge in enumerate(judges[:MAX_JUDGES]):
        problem = _number_problem(judge, *JUDGE_RANGE)
        if problem:
            add(f"judge_scores[{i}]", judge, problem)
            break
    video = sample.video
    frames = frame_range_problem(getattr(video, "start_frame", None), getattr(video, "end_frame", None))
    if frames:
        add(*frames)
    length = _clip_length(sample)
    if sample.frame_labels is not None and length is not None and len(sample.frame_labels) > length:
        add("frame_labels", f"{len(sample.frame_labels)} labels", f"more labels than the clip's {length} frames")
    steps = tuple(sample.steps or ())
    if len(steps) > MAX_STEPS:
        add("steps", f"{len(steps)} steps", f"more than {MAX_STEPS} steps")
    for i, step in enumerate(steps[:MAX_STEPS]):
        for name in ("first", "last"):
            problem = _int_problem(getattr(step, name, None), -MAX_FRAME_NUMBER, MAX_FRAME_NUMBER)
            if problem:
                add(f"steps[{i}].{name}", getattr(step, name, None), problem)
                return out
    return out


def frame_range_problem(start: Any, end: Any) -> tuple[str, Any, str] | None:
    """``(field, value, reason)`` when a clip's frame range is not ``0 <= start_frame <= end_frame <= MAX``, else
    None. The one frame-range rule: validation and every manifest read apply it, and extraction refuses the same
    ranges (a negative start is never silently read from frame 0). ``None`` is the required-field rule's job."""
    for name, value in (("start_frame", start), ("end_frame", end)):
        problem = _int_problem(value, 0, MAX_FRAME_NUMBER)
        if problem:
            reason = "frame numbers start at 0" if problem.startswith("outside") and value < 0 else problem
            return f"video.{name}", value, reason
    if start is not None and end is not None and end < start:
        return "video.end_frame", end, f"end_frame {end} is before start_frame {start} (empty clip)"
    return None


def not_unicode(value: Any, depth: int = 0) -> bool:
    """True when some text in ``value`` (nested lists, tuples, dicts, dataclasses) cannot be written as UTF-8."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if depth > 32:
        return False
    if hasattr(value, "__dataclass_fields__"):
        value = vars(value)
    if isinstance(value, dict):
        return any(not_unicode(k, depth + 1) or not_unicode(v, depth + 1) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(not_unicode(v, depth + 1) for v in value)
    return False


def _clip_length(sample: Sample) -> int | None:
    start, end = sample.video.start_frame, sample.video.end_frame
    if None in (start, end) or frame_range_problem(start, end):
        return None
    return end - start + 1


def split_checked(samples, origins=None) -> tuple[list[Sample], list[str], list[Quarantined]]:
    """``(good samples, their origins, quarantined)``: one record per bad sample, its reasons joined."""
    good, good_origins, bad = [], [], []
    origins = list(origins or [])
    for i, sample in enumerate(samples):
        where = origins[i] if i < len(origins) else ""
        problems = sample_problems(sample, where)
        if not problems:
            good.append(sample)
            good_origins.append(where)
            continue
        first = problems[0]
        reason = "; ".join(f"{p.field}: {p.reason}" for p in problems)
        bad.append(Quarantined(first.sample_id, first.field, first.value, reason, where=where))
    return good, good_origins, bad
