"""FINA dive numbers: every real code round-trips; parts <-> code agree; bad codes are refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hieroaction.datasets import bundled_root, load_pickle
from hieroaction.datasets.dive_codes import (
    ARMSTAND_DIRECTIONS,
    POSITIONS,
    ROTATIONS,
    DiveCode,
    DiveCodeError,
    code_from_mtl_parts,
    format_code,
    parse_code,
)


def _real_codes() -> set[str]:
    coarse = load_pickle(bundled_root() / "FineDiving" / "Annotations" / "FineDiving_coarse_annotation.pkl")
    mtl = load_pickle(bundled_root() / "MTL-AQA" / "info" / "final_annotations_dict_with_dive_number.pkl")
    return {e["action_type"] for e in coarse.values()} | {e["dive_number"] for e in mtl.values()}


REAL_CODES = sorted(_real_codes())


def test_every_real_code_round_trips():
    assert len(REAL_CODES) == 52 + 58  # FineDiving lower case, MTL-AQA upper case
    for code in REAL_CODES:
        dive = parse_code(code)
        assert dive.code == code.lower(), code
        assert format_code(dive) == code.lower()
        assert parse_code(dive.code) == dive
        assert dive.group == int(code[0]), code
        assert dive.name()


@pytest.mark.parametrize(
    "code, name, group",
    [
        ("107b", "forward 3½ somersaults, pike", 1),
        ("5253B", "back 2½ somersaults 1½ twists, pike", 5),
        ("626c", "armstand back 3 somersaults, tuck", 6),
        ("6243d", "armstand back 2 somersaults 1½ twists, free", 6),
        ("112b", "forward flying 1 somersault, pike", 1),
        ("401b", "inward ½ somersault, pike", 4),
    ],
)
def test_known_names(code, name, group):
    dive = parse_code(code)
    assert dive.name() == name and dive.group == group


def test_parts():
    dive = parse_code("5253b")
    assert (dive.rotation, dive.half_somersaults, dive.half_twists, dive.somersaults, dive.twists) == (
        "back",
        5,
        3,
        2.5,
        1.5,
    )
    assert parse_code("112b").flying and not parse_code("107b").flying


@pytest.mark.parametrize("bad", ["", "107", "107x", "1x7b", "127b", "8001b", "5853b", "643b", "12b", "51234b", 107])
def test_bad_codes_refused(bad):
    with pytest.raises(DiveCodeError):
        parse_code(bad)


def test_code_from_mtl_parts():
    # MTL-AQA: position 0 free / 1 pike / 2 tuck; rotation 0 back, 1 forward, 2 inward, 3 reverse
    assert code_from_mtl_parts(2, 0, 2, 7, 0).code == "407c"
    assert code_from_mtl_parts(1, 0, 0, 5, 3).code == "5253b"
    assert code_from_mtl_parts(0, 1, 0, 4, 3).code == "6243d"
    for args in [(3, 0, 0, 1, 0), (0, 0, 7, 1, 0), (0, 1, 2, 4, 0), (0, 0, 0, 12, 0)]:
        with pytest.raises(DiveCodeError):
            code_from_mtl_parts(*args)


@st.composite
def dives(draw) -> DiveCode:
    position = draw(st.sampled_from(sorted(POSITIONS.values())))
    kind = draw(st.sampled_from(["plain", "twist", "armstand"]))
    if kind == "armstand":
        return DiveCode(
            draw(st.sampled_from(sorted(ARMSTAND_DIRECTIONS.values()))),
            True,
            False,
            draw(st.integers(0, 9)),
            draw(st.integers(0, 9)),
            position,
        )
    rotation = draw(st.sampled_from(sorted(ROTATIONS.values())))
    if kind == "twist":
        return DiveCode(rotation, False, False, draw(st.integers(0, 9)), draw(st.integers(1, 9)), position)
    return DiveCode(rotation, False, draw(st.booleans()), draw(st.integers(0, 9)), 0, position)


@given(dives())
def test_parse_format_round_trip(dive):
    assert parse_code(format_code(dive)) == dive
    assert parse_code(format_code(dive).upper()) == dive
