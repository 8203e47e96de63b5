"""FINA dive numbers: parse a code into its parts, build one from parts, and name it.

Why: the action stage of the reasoning grammar, the partial-credit action reward and the renderer all need the same
decoding, and MTL-AQA stores the parts (rotation, somersaults, twists, position) instead of the code.
"""

from __future__ import annotations

from dataclasses import dataclass

ROTATIONS = {1: "forward", 2: "back", 3: "reverse", 4: "inward"}
ARMSTAND_DIRECTIONS = {1: "forward", 2: "back", 3: "reverse"}
POSITIONS = {"a": "straight", "b": "pike", "c": "tuck", "d": "free"}
POSITION_LETTERS = {name: letter for letter, name in POSITIONS.items()}


class DiveCodeError(ValueError):
    """A string that is not a FINA dive number this module understands."""


@dataclass(frozen=True)
class DiveCode:
    """The decoded parts of a dive number such as ``5253b``.

    ``rotation`` is the direction of rotation (forward/back/reverse/inward); for armstand dives it is the armstand
    direction. Somersaults and twists are counted in halves, as the code itself does.
    """

    rotation: str
    armstand: bool
    flying: bool
    half_somersaults: int
    half_twists: int
    position: str

    @property
    def group(self) -> int:
        """FINA group: 1-4 plain rotation, 5 twisting, 6 armstand."""
        if self.armstand:
            return 6
        if self.half_twists:
            return 5
        return {v: k for k, v in ROTATIONS.items()}[self.rotation]

    @property
    def somersaults(self) -> float:
        return self.half_somersaults / 2

    @property
    def twists(self) -> float:
        return self.half_twists / 2

    @property
    def code(self) -> str:
        """The canonical dive number, lower-case position letter (FineDiving style)."""
        return format_code(self)

    def name(self) -> str:
        """Readable name, e.g. ``back 2½ somersaults 1½ twists, pike``."""
        parts = [("armstand " if self.armstand else "") + self.rotation]
        if self.flying:
            parts.append("flying")
        parts.append(_count(self.half_somersaults, "somersault"))
        if self.half_twists:
            parts.append(_count(self.half_twists, "twist"))
        return " ".join(parts) + f", {self.position}"


def _count(halves: int, noun: str) -> str:
    whole, half = divmod(halves, 2)
    if whole == 0 and half:
        number = "½"
    else:
        number = f"{whole}{'½' if half else ''}"
    plural = "" if halves == 2 or (halves == 1) else "s"
    return f"{number} {noun}{plural}"


def parse_code(code: str) -> DiveCode:
    """Decode a FINA dive number (case-insensitive letter). Raises :class:`DiveCodeError` on anything else."""
    if not isinstance(code, str):
        raise DiveCodeError(f"dive code must be a string, got {type(code).__name__}")
    text = code.strip().lower()
    if len(text) < 4 or not text[:-1].isdigit() or text[-1] not in POSITIONS:
        raise DiveCodeError(f"not a dive number: {code!r}")
    digits = [int(c) for c in text[:-1]]
    position = POSITIONS[text[-1]]
    group = digits[0]
    if group in ROTATIONS and len(digits) == 3:
        if digits[1] not in (0, 1):
            raise DiveCodeError(f"flying flag must be 0 or 1 in {code!r}")
        return DiveCode(ROTATIONS[group], False, bool(digits[1]), digits[2], 0, position)
    if group == 5 and len(digits) == 4 and digits[1] in ROTATIONS:
        return DiveCode(ROTATIONS[digits[1]], False, False, digits[2], digits[3], position)
    if group == 6 and len(digits) in (3, 4) and digits[1] in ARMSTAND_DIRECTIONS:
        twists = digits[3] if len(digits) == 4 else 0
        return DiveCode(ARMSTAND_DIRECTIONS[digits[1]], True, False, digits[2], twists, position)
    raise DiveCodeError(f"not a dive number: {code!r}")


def format_code(dive: DiveCode) -> str:
    """Build the canonical code from parts (inverse of :func:`parse_code`)."""
    letter = POSITION_LETTERS[dive.position]
    group_of = {v: k for k, v in ROTATIONS.items()}
    if dive.armstand:
        direction = {v: k for k, v in ARMSTAND_DIRECTIONS.items()}[dive.rotation]
        twist = str(dive.half_twists) if dive.half_twists else ""
        return f"6{direction}{dive.half_somersaults}{twist}{letter}"
    if dive.half_twists:
        return f"5{group_of[dive.rotation]}{dive.half_somersaults}{dive.half_twists}{letter}"
    return f"{group_of[dive.rotation]}{int(dive.flying)}{dive.half_somersaults}{letter}"


# MTL-AQA's numeric encodings of the parts (see docs/DATASETS.md).
MTL_ROTATION = {0: "back", 1: "forward", 2: "inward", 3: "reverse"}
MTL_POSITION = {0: "free", 1: "pike", 2: "tuck"}


def code_from_mtl_parts(position: int, armstand: int, rotation_type: int, ss_no: int, tw_no: int) -> DiveCode:
    """Derive the dive from MTL-AQA's part columns (flying dives cannot be told apart there: assumed not flying)."""
    try:
        rotation = MTL_ROTATION[int(rotation_type)]
        pos = MTL_POSITION[int(position)]
    except KeyError as exc:
        raise DiveCodeError(f"unknown MTL-AQA part value {exc.args[0]!r}") from None
    if int(ss_no) < 0 or int(ss_no) > 9 or int(tw_no) < 0 or int(tw_no) > 9:
        raise DiveCodeError(f"somersault/twist halves out of range: ss_no={ss_no}, tw_no={tw_no}")
    if int(armstand) and rotation not in ARMSTAND_DIRECTIONS.values():
        raise DiveCodeError(f"armstand dives have no {rotation!r} direction")
    return DiveCode(rotation, bool(int(armstand)), False, int(ss_no), int(tw_no), pos)
