"""MTL-AQA adapter for both public variants, read as they are.

- ``release/``: ``final_annotations_dict.pkl`` - parts of the dive (position, armstand, rotation, halves), no code.
- ``info/``: ``final_annotations_dict_with_dive_number.pkl`` - adds ``dive_number`` ('407C') and 7 ``judge_scores``.

Why derive: where ``dive_number`` is missing the code is rebuilt from the parts; where both exist a disagreement is
counted as the warning ``dive_number_mismatch`` (flying dives cannot be told from the parts). MTL-AQA has no step labels.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from hieroaction.datasets.dive_codes import DiveCodeError, code_from_mtl_parts, parse_code
from hieroaction.datasets.keyed_pickles import load_keyed_dict, load_split_keys
from hieroaction.datasets.media import missing_media
from hieroaction.datasets.paths import bundled_root
from hieroaction.datasets.records import LoadResult, Quarantined, WarningTally
from hieroaction.datasets.safe_pickle import PickleReadError
from hieroaction.datasets.sample import Sample, VideoRef

DATASET = "mtl-aqa"
ANNOTATION_FILES = ("final_annotations_dict_with_dive_number.pkl", "final_annotations_dict.pkl")
SPLIT_FILES = {"train": "train_split_0.pkl", "test": "test_split_0.pkl"}
REQUIRED_FIELDS = (
    "start_frame",
    "end_frame",
    "position",
    "difficulty",
    "armstand",
    "rotation_type",
    "ss_no",
    "tw_no",
    "final_score",
)
PART_FIELDS = ("position", "armstand", "rotation_type", "ss_no", "tw_no")


def default_root() -> Path:
    return bundled_root() / "MTL-AQA" / "release"


def annotation_file(root: Path) -> Path:
    """The variant's annotation dict: the one with dive numbers if present, else the release one."""
    for name in ANNOTATION_FILES:
        if (root / name).is_file():
            return root / name
    raise PickleReadError(f"{root}: no MTL-AQA annotation file (expected one of {', '.join(ANNOTATION_FILES)})")


def sample_id_for(video_id: int, sample_no: int) -> str:
    return f"{DATASET}/{video_id:02d}/{sample_no}"


def video_ref_for(video_id: int, start: int, end: int) -> VideoRef:
    """MTL-AQA ships whole videos ``01.mp4`` ... ``26.mp4``; a sample is a frame range of one."""
    return VideoRef("video", f"{video_id:02d}.mp4", start, end)


def _normal_key(key: Any) -> tuple[int, int]:
    if not isinstance(key, tuple) or len(key) != 2:
        raise ValueError(key)
    video_id, sample_no = key
    if any(isinstance(x, bool) or int(x) != x for x in key):
        raise ValueError(key)
    return int(video_id), int(sample_no)


MTL_KEY = "(video_id, sample_id) integers"


def _load_annotations(path: Path) -> dict[tuple[int, int], Any]:
    return load_keyed_dict(path, _normal_key, MTL_KEY)


def _load_split(path: Path) -> list[tuple[int, int]]:
    return load_split_keys(path, _normal_key, MTL_KEY)


class _FieldProblem(Exception):
    def __init__(self, field: str, value: Any, reason: str):
        super().__init__(reason)
        self.field, self.value, self.reason = field, value, reason


def _int(entry: dict, name: str) -> int:
    value = entry[name]
    try:
        if isinstance(value, bool) or float(value) != int(value):
            raise ValueError
        return int(value)
    except (TypeError, ValueError):
        raise _FieldProblem(name, value, "expected an integer") from None


def _float(entry: dict, name: str) -> float:
    value = entry[name]
    try:
        if isinstance(value, bool):
            raise ValueError
        return float(value)
    except (TypeError, ValueError):
        raise _FieldProblem(name, value, "expected a number") from None


def load_mtl_aqa(root: str | Path | None = None, *, media_root: str | Path | None = None) -> LoadResult:
    """Read an MTL-AQA annotation folder (``release/`` or ``info/``; default: the bundled release).

    With ``media_root`` given, samples whose ``<video_id>.mp4`` is missing are quarantined (field ``video.path``).
    Raises :class:`~hieroaction.datasets.records.DatasetReadError` when a file is missing, unsafe or of the wrong kind.
    """
    root = Path(root) if root is not None else default_root()
    path = annotation_file(root)
    annotations = _load_annotations(path)
    split_of: dict[tuple[int, int], list[str]] = {}
    for split, name in SPLIT_FILES.items():
        for key in _load_split(root / name):
            split_of.setdefault(key, []).append(split)

    samples: list[Sample] = []
    quarantined: list[Quarantined] = []
    tally = WarningTally()
    for key in sorted(set(annotations) | set(split_of)):
        sid = sample_id_for(*key)
        splits = split_of.get(key, [])
        if key not in annotations:
            quarantined.append(
                Quarantined(sid, "annotation", list(key), f"listed in a split but absent from {path.name}")
            )
            continue
        if len(splits) != 1:
            reason = "listed in neither split file" if not splits else "listed in more than one split"
            quarantined.append(Quarantined(sid, "split", splits or None, reason))
            continue
        try:
            sample = _build_sample(key, annotations[key], splits[0], tally)
        except _FieldProblem as exc:
            quarantined.append(Quarantined(sid, exc.field, exc.value, exc.reason))
            continue
        if media_root is not None:
            reason = missing_media(sample, media_root)
            if reason:
                quarantined.append(Quarantined(sid, "video.path", sample.video.path, reason))
                continue
        samples.append(sample)
    return LoadResult(samples, quarantined, tally.counts, tally.samples, source=str(path))


def _build_sample(key: tuple[int, int], entry: Any, split: str, tally: WarningTally) -> Sample:
    video_id, sample_no = key
    sid = sample_id_for(video_id, sample_no)
    if not isinstance(entry, dict):
        raise _FieldProblem("annotation", type(entry).__name__, "entry is not a dict")
    for name in REQUIRED_FIELDS:
        if name not in entry:
            raise _FieldProblem(name, None, "missing")
    start, end = _int(entry, "start_frame"), _int(entry, "end_frame")
    parts = {name: _int(entry, name) for name in PART_FIELDS}
    action_code = _action_code(entry, parts, sid, tally)
    judges: tuple[float, ...] = ()
    if entry.get("judge_scores") is not None:
        raw = entry["judge_scores"]
        try:
            judges = tuple(float(j) for j in np.asarray(raw, dtype=float).ravel())
        except (TypeError, ValueError):
            raise _FieldProblem("judge_scores", raw, "expected a list of numbers") from None
    extra: dict[str, Any] = {"mtl_parts": parts}
    if "primary_view" in entry:
        extra["primary_view"] = _int(entry, "primary_view")
    return Sample(
        sample_id=sid,
        dataset=DATASET,
        split=split,
        video=video_ref_for(video_id, start, end),
        action_code=action_code,
        final_score=_float(entry, "final_score"),
        difficulty=_float(entry, "difficulty"),
        judge_scores=judges,
        steps=(),
        frame_labels=None,
        source_key=(video_id, sample_no),
        extra=extra,
    )


def _action_code(entry: dict, parts: dict[str, int], sid: str, tally: WarningTally) -> str:
    """``dive_number`` lower-cased when present (checked against the parts), else the code derived from the parts."""
    derived: str | None
    try:
        derived = code_from_mtl_parts(**parts).code
    except DiveCodeError as exc:
        derived, derive_error = None, str(exc)
    number = entry.get("dive_number")
    if number is None:
        if derived is None:
            raise _FieldProblem(
                "rotation_type/position/ss_no/tw_no", parts, f"cannot derive a dive code: {derive_error}"
            )
        return derived
    try:
        code = parse_code(str(number)).code
    except DiveCodeError as exc:
        raise _FieldProblem("dive_number", number, str(exc)) from None
    if derived != code:
        tally.add("dive_number_mismatch", sid)
    return code
