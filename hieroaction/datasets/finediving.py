"""FineDiving adapter: the six public annotation pickles, read as they are, into canonical samples.

Why merge: the coarse file has the frame range and judge scores, the fine-grained file has per-frame sub-action
labels; the ``_aqa`` list variant repeats the fine-grained content and is cross-checked, not trusted blindly.
Steps come from the per-frame labels (``steps_transit_frames`` disagrees with them for a handful of samples:
counted as the warning ``steps_transit_mismatch``). Sub-action names come from ``Sub_action_Types_Table.pkl``.
"""

from __future__ import annotations

import reprlib
from pathlib import Path
from typing import Any, Literal

import numpy as np

from hieroaction.datasets.keyed_pickles import load_keyed_dict, load_split_keys
from hieroaction.datasets.media import missing_media
from hieroaction.datasets.paths import bundled_root
from hieroaction.datasets.records import AnnotationFormatError, LoadResult, Quarantined, WarningTally
from hieroaction.datasets.safe_pickle import load_pickle
from hieroaction.datasets.sample import Sample, VideoRef, steps_from_frame_labels

DATASET = "finediving"
COARSE_FILE = "FineDiving_coarse_annotation.pkl"
FINE_FILE = "FineDiving_fine-grained_annotation.pkl"
FINE_AQA_FILE = "fine-grained_annotation_aqa.pkl"
SUBACTION_TABLE_FILE = "Sub_action_Types_Table.pkl"
SPLIT_FILES = {"train": "train_split.pkl", "test": "test_split.pkl"}

COARSE_FIELDS = ("action_type", "start_frame", "end_frame", "dive_score", "difficulty", "judge_scores")
FINE_FIELDS = ("action_type", "dive_score", "difficulty", "steps_transit_frames", "frames_labels")

Layout = Literal["frames", "video"]


def default_root() -> Path:
    return bundled_root() / "FineDiving" / "Annotations"


def _load_subaction_table(path: Path) -> dict[int, str]:
    table = load_pickle(path)
    if not isinstance(table, dict) or not all(isinstance(v, str) for v in table.values()):
        raise AnnotationFormatError(path, "sub-action table", f"expected dict id -> name, got {type(table).__name__}")
    try:
        return {int(k): v for k, v in table.items()}
    except (TypeError, ValueError) as exc:
        raise AnnotationFormatError(path, "sub-action table", f"non-integer sub-action id ({exc})") from None


FD_KEY = "(video_name, instance_id)"


def _load_annotation_dict(path: Path, value_kinds: tuple[type, ...], what: str) -> dict[tuple[str, int], Any]:
    """Load one per-sample dict; a wrong kind of file (or unusable keys) is a structural error naming the file."""
    return load_keyed_dict(path, _normal_key, FD_KEY, value_kinds, what)


def _load_split(path: Path) -> list[tuple[str, int]]:
    return load_split_keys(path, _normal_key, FD_KEY)


def _normal_key(key: Any) -> tuple[str, int]:
    if not isinstance(key, tuple) or len(key) != 2 or isinstance(key[1], bool) or int(key[1]) != key[1]:
        raise ValueError(f"not a (video_name, instance_id) key: {reprlib.repr(key)}")
    return (str(key[0]), int(key[1]))


def sample_id_for(video_name: str, instance_id: int) -> str:
    return f"{DATASET}/{video_name}/{instance_id}"


def video_ref_for(video_name: str, instance_id: int, start: int, end: int, layout: Layout) -> VideoRef:
    """Frame-folder layout ``<video>/<instance>/<frame>.jpg`` or whole-video layout ``<video>.mp4`` + range."""
    if layout == "frames":
        return VideoRef("frames", f"{video_name}/{instance_id}", start, end)
    if layout == "video":
        return VideoRef("video", f"{video_name}.mp4", start, end)
    raise ValueError(f"layout must be 'frames' or 'video', got {layout!r}")


def _change_points(labels: np.ndarray) -> list[int]:
    """0-based index of the last frame of each step except the final one (what steps_transit_frames should hold)."""
    labels = np.asarray(labels)
    return [int(i) for i in np.flatnonzero(labels[1:] != labels[:-1])]


def _same_array(a: Any, b: Any) -> bool:
    try:
        return bool(np.array_equal(np.asarray(a), np.asarray(b)))
    except Exception:
        return False


def load_finediving(
    root: str | Path | None = None, *, media_root: str | Path | None = None, layout: Layout = "frames"
) -> LoadResult:
    """Read FineDiving's annotation folder (default: the bundled copy) into canonical samples.

    ``layout`` says how the user's media are stored (frame folders or whole videos); with ``media_root`` given,
    samples whose media are missing are quarantined (field ``video.path``).
    Raises :class:`~hieroaction.datasets.records.DatasetReadError` when a file is missing, unsafe or of the wrong kind.
    """
    if layout not in ("frames", "video"):
        raise ValueError(f"layout must be 'frames' or 'video', got {layout!r}")
    root = Path(root) if root is not None else default_root()
    table = _load_subaction_table(root / SUBACTION_TABLE_FILE)
    coarse_n = _load_annotation_dict(root / COARSE_FILE, (dict,), "a dict")
    fine_n = _load_annotation_dict(root / FINE_FILE, (dict,), "a dict")
    fine_aqa_path = root / FINE_AQA_FILE  # optional: older copies of the release lack it
    aqa_n = _load_annotation_dict(fine_aqa_path, (list, tuple), "a 5-element list") if fine_aqa_path.exists() else None
    split_of: dict[tuple[str, int], list[str]] = {}
    for split, name in SPLIT_FILES.items():
        for key in _load_split(root / name):
            split_of.setdefault(key, []).append(split)

    samples: list[Sample] = []
    quarantined: list[Quarantined] = []
    tally = WarningTally()
    all_keys = sorted(set(coarse_n) | set(fine_n) | set(split_of), key=lambda k: (k[0], k[1]))
    for key in all_keys:
        sid = sample_id_for(*key)
        problem = _key_problem(key, coarse_n, fine_n, split_of)
        if problem:
            quarantined.append(Quarantined(sid, *problem))
            continue
        try:
            sample = _build_sample(key, coarse_n[key], fine_n[key], split_of[key][0], table, layout, tally)
        except _FieldProblem as exc:
            quarantined.append(Quarantined(sid, exc.field, exc.value, exc.reason))
            continue
        if aqa_n is not None:
            _cross_check_aqa(sid, fine_n[key], aqa_n.get(key), tally)
        if media_root is not None:
            reason = missing_media(sample, media_root)
            if reason:
                quarantined.append(Quarantined(sid, "video.path", sample.video.path, reason))
                continue
        samples.append(sample)
    return LoadResult(samples, quarantined, tally.counts, tally.samples, source=str(root))


class _FieldProblem(Exception):
    def __init__(self, field: str, value: Any, reason: str):
        super().__init__(reason)
        self.field, self.value, self.reason = field, value, reason


def _key_problem(key, coarse, fine, split_of) -> tuple[str, Any, str] | None:
    if key not in coarse:
        return ("annotation", key, f"no entry in {COARSE_FILE}")
    if key not in fine:
        return ("annotation", key, f"no entry in {FINE_FILE}")
    splits = split_of.get(key, [])
    if not splits:
        return ("split", None, "listed in neither train_split.pkl nor test_split.pkl")
    if len(splits) > 1:
        return ("split", splits, "listed in more than one split")
    return None


def _require(entry: dict, fields: tuple[str, ...], where: str) -> None:
    for name in fields:
        if name not in entry:
            raise _FieldProblem(name, None, f"missing from {where}")


def _number(entry: dict, name: str, kind: type) -> Any:
    value = entry[name]
    try:
        if isinstance(value, bool) or (kind is int and float(value) != int(value)):
            raise ValueError
        return kind(value)
    except (TypeError, ValueError):
        raise _FieldProblem(name, value, f"expected a number ({kind.__name__})") from None


def _build_sample(
    key, coarse: dict, fine: dict, split: str, table: dict[int, str], layout: Layout, tally: WarningTally
) -> Sample:
    video_name, instance_id = key
    sid = sample_id_for(video_name, instance_id)
    if not isinstance(coarse, dict):
        raise _FieldProblem("annotation", type(coarse).__name__, f"{COARSE_FILE} entry is not a dict")
    if not isinstance(fine, dict):
        raise _FieldProblem("annotation", type(fine).__name__, f"{FINE_FILE} entry is not a dict")
    _require(coarse, COARSE_FIELDS, COARSE_FILE)
    _require(fine, FINE_FIELDS, FINE_FILE)
    start = _number(coarse, "start_frame", int)
    end = _number(coarse, "end_frame", int)
    score = _number(coarse, "dive_score", float)
    difficulty = _number(coarse, "difficulty", float)
    action = coarse["action_type"]
    if not isinstance(action, str):
        raise _FieldProblem("action_type", action, "expected a dive number string")
    judges_raw = coarse["judge_scores"]
    try:
        judges = tuple(float(j) for j in judges_raw)
    except (TypeError, ValueError):
        raise _FieldProblem("judge_scores", judges_raw, "expected a list of numbers") from None
    labels_raw = fine["frames_labels"]
    try:
        labels = np.asarray(labels_raw)
        if labels.ndim != 1 or labels.size == 0 or not np.issubdtype(labels.dtype, np.integer):
            raise ValueError
    except (TypeError, ValueError):
        raise _FieldProblem("frames_labels", labels_raw, "expected a non-empty 1-D integer array") from None

    if (
        str(fine["action_type"]).lower() != action.lower()
        or not _close(fine["dive_score"], score)
        or not _close(fine["difficulty"], difficulty)
    ):
        tally.add("coarse_fine_mismatch", sid)
    listed = fine.get("sub-action_types")
    if isinstance(listed, dict):
        listed_ids = {int(k) for k in listed}
        if any(table.get(int(k)) != v for k, v in listed.items()):
            tally.add("sub_action_name_mismatch", sid)
        if set(int(x) for x in np.unique(labels)) - listed_ids:
            tally.add("sub_action_types_incomplete", sid)
    transit = fine["steps_transit_frames"]
    if not _same_array(np.asarray(transit).tolist(), _change_points(labels)):
        tally.add("steps_transit_mismatch", sid)

    return Sample(
        sample_id=sid,
        dataset=DATASET,
        split=split,
        video=video_ref_for(video_name, instance_id, start, end, layout),
        action_code=action.lower(),
        final_score=score,
        difficulty=difficulty,
        judge_scores=judges,
        steps=steps_from_frame_labels(labels, table),
        frame_labels=tuple(int(x) for x in labels),
        source_key=(video_name, instance_id),
        extra={"steps_transit_frames": [int(x) for x in np.asarray(transit).ravel()]},
    )


def _close(a: Any, b: float, tol: float = 1e-6) -> bool:
    try:
        return abs(float(a) - float(b)) <= tol
    except (TypeError, ValueError):
        return False


def _cross_check_aqa(sid: str, fine: dict, aqa: Any, tally: WarningTally) -> None:
    """``fine-grained_annotation_aqa.pkl`` holds [action, score, DD, transit, labels] per key: it should agree."""
    if aqa is None:
        tally.add("fine_aqa_missing", sid)
        return
    if not isinstance(aqa, list | tuple) or len(aqa) != 5:
        tally.add("fine_aqa_mismatch", sid)
        return
    action, score, difficulty, transit, labels = aqa
    agrees = (
        str(action).lower() == str(fine["action_type"]).lower()
        and _close(score, fine["dive_score"])
        and _close(difficulty, fine["difficulty"])
        and _same_array(transit, fine["steps_transit_frames"])
        and _same_array(labels, fine["frames_labels"])
    )
    if not agrees:
        tally.add("fine_aqa_mismatch", sid)


def _subaction_table_bundled() -> dict[int, str]:
    return _load_subaction_table(default_root() / SUBACTION_TABLE_FILE)


FINEDIVING_SUBACTIONS: dict[int, str] = _subaction_table_bundled()
"""Sub-action id -> name, from the bundled ``Sub_action_Types_Table.pkl`` (42 entries)."""
