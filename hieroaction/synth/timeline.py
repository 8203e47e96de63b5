"""From a sample's steps to what the diver is doing at every clip frame.

Why: the renderer's phase (on the board, somersaulting, twisting, entering) must change exactly at the annotated
step boundaries, so the step labels are visible in the pixels. Samples without steps (MTL-AQA) get a FineDiving-style
timeline derived from the dive code with the median FineDiving proportions (take-off 29%, entry 36%).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from hieroaction.datasets.dive_codes import DiveCode
from hieroaction.datasets.sample import Step

TAKEOFF_IDS = {1: "forward", 2: "back", 3: "reverse", 4: "inward"}
ARMSTAND_TAKEOFF_IDS = {5: "forward", 6: "back", 7: "reverse"}
ENTRY_ID = 36
BACKGROUND_ID = 38
TWIST_IDS = frozenset({29, 30, 31, 32, 33, 34, 35, 41, 42})
SOMERSAULT_IDS = frozenset(set(range(8, 29)) | {37, 39, 40})
TAKEOFF_SHARE = 0.29
ENTRY_SHARE = 0.36


def step_kind(label_id: int) -> str:
    """``takeoff``, ``somersault``, ``twist``, ``entry`` or ``other`` for a FineDiving sub-action id."""
    if label_id in TAKEOFF_IDS or label_id in ARMSTAND_TAKEOFF_IDS:
        return "takeoff"
    if label_id in SOMERSAULT_IDS:
        return "somersault"
    if label_id in TWIST_IDS:
        return "twist"
    if label_id == ENTRY_ID:
        return "entry"
    return "other"


@lru_cache(maxsize=1)
def subaction_table() -> dict[int, str]:
    """FineDiving's sub-action id -> name table, read (safely) from the bundled annotation file."""
    from hieroaction.datasets.paths import bundled_root
    from hieroaction.datasets.safe_pickle import load_pickle

    table = load_pickle(bundled_root() / "FineDiving" / "Annotations" / "Sub_action_Types_Table.pkl")
    return {int(k): str(v) for k, v in table.items()}


def _halves(halves: int) -> str:
    return f"{halves // 2}" if halves % 2 == 0 else f"{halves / 2:g}"


def takeoff_label(dive: DiveCode) -> int:
    ids = ARMSTAND_TAKEOFF_IDS if dive.armstand else TAKEOFF_IDS
    return {name: i for i, name in ids.items()}[dive.rotation]


def somersault_label(dive: DiveCode) -> int:
    """The FineDiving id for the dive's somersaults in its position; free dives use Pike, as FineDiving does."""
    table = {name: i for i, name in subaction_table().items()}
    position = {"straight": "Straight", "pike": "Pike", "tuck": "Tuck", "free": "Pike"}[dive.position]
    wanted = dive.half_somersaults
    # Nearest somersault count FineDiving has a label for in this position (its table is not a full grid).
    for delta in sorted(range(-10, 11), key=abs):
        halves = wanted + delta
        if halves < 1:
            continue
        noun = "Som" if halves <= 2 else "Soms"
        name = f"{_halves(halves)} {noun}.{position}"
        if name in table:
            return table[name]
    return table["1 Som.Pike"]


def twist_label(dive: DiveCode) -> int:
    table = {name: i for i, name in subaction_table().items()}
    for delta in sorted(range(-10, 11), key=abs):
        halves = dive.half_twists + delta
        if halves < 1:
            continue
        name = f"{_halves(halves)} {'Twist' if halves <= 2 else 'Twists'}"
        if name in table:
            return table[name]
    return table["1 Twist"]


def default_steps(dive: DiveCode, num_frames: int, takeoff_share: float = TAKEOFF_SHARE, entry_share: float = ENTRY_SHARE):
    """A plausible FineDiving-style step sequence for a clip without step annotations."""
    names = subaction_table()
    takeoff = max(1, round(num_frames * takeoff_share))
    entry = max(1, round(num_frames * entry_share))
    flight = num_frames - takeoff - entry
    if flight < 1:
        takeoff, entry = max(1, num_frames // 3), max(1, num_frames // 3)
        flight = num_frames - takeoff - entry
    soms, twist = somersault_label(dive), (twist_label(dive) if dive.half_twists else None)
    if twist is None or flight < 2:
        parts = [(takeoff_label(dive), takeoff), (soms, flight), (ENTRY_ID, entry)]
    elif dive.rotation in ("forward", "inward") and not dive.armstand and flight >= 3:
        first = max(1, round(flight * 0.3))
        middle = max(1, round(flight * 0.4))
        parts = [(takeoff_label(dive), takeoff), (soms, first), (twist, middle), (soms, flight - first - middle)]
        parts.append((ENTRY_ID, entry))
    else:
        first = max(1, round(flight * 0.55))
        order = [(soms, first), (twist, flight - first)] if dive.armstand else [(twist, first), (soms, flight - first)]
        parts = [(takeoff_label(dive), takeoff), *order, (ENTRY_ID, entry)]
    steps, start = [], 0
    for label, length in parts:
        if length <= 0:
            continue
        steps.append(Step(label, names.get(label, f"sub-action {label}"), start, start + length - 1))
        start += length
    return tuple(steps)


@dataclass(frozen=True)
class FramePhase:
    """What happens at one clip frame. ``progress`` runs over the frames of the same kind (1 at the last one);
    ``air`` over all airborne frames (time); ``rotation`` is the share of the somersault rotation done (twisting
    frames rotate slower); ``twist`` the share of the twist done; ``step`` indexes the step the frame belongs to."""

    kind: str
    step: int
    progress: float
    air: float
    rotation: float
    twist: float


def usable_steps(steps, num_frames: int) -> bool:
    """Steps that tile the clip exactly (no gap, no overlap) can drive the timeline; others are replaced."""
    if not steps:
        return False
    expected = 0
    for step in steps:
        if step.first != expected or step.last < step.first:
            return False
        expected = step.last + 1
    return expected == num_frames


def frame_phases(steps, num_frames: int, *, twist_rotation_share: float = 0.35) -> list[FramePhase]:
    """One :class:`FramePhase` per clip frame. Steps must tile the clip (see :func:`usable_steps`)."""
    kinds = [""] * num_frames
    step_of = [0] * num_frames
    for index, step in enumerate(steps):
        for t in range(max(step.first, 0), min(step.last, num_frames - 1) + 1):
            kinds[t] = step_kind(step.label_id)
            step_of[t] = index
    kinds = [k or "other" for k in kinds]
    counts = {kind: kinds.count(kind) for kind in set(kinds)}
    seen = dict.fromkeys(counts, 0)
    airborne = [k in ("somersault", "twist") for k in kinds]
    # Somersault rotation accrues at full rate in somersault steps, slower while twisting: cumulative weights.
    weights = [1.0 if k == "somersault" else twist_rotation_share if k == "twist" else 0.0 for k in kinds]
    total_weight = sum(weights) or 1.0
    twists_total = counts.get("twist", 0)
    airborne_total = sum(airborne) or 1
    phases, acc, twist_seen, air_seen = [], 0.0, 0, 0
    for t, kind in enumerate(kinds):
        seen[kind] += 1
        acc += weights[t]
        twist_seen += kind == "twist"
        air_seen += airborne[t]
        progress = seen[kind] / counts[kind]
        twist = twist_seen / twists_total if twists_total else 0.0
        phases.append(FramePhase(kind, step_of[t], progress, air_seen / airborne_total, acc / total_weight, twist))
    return phases
