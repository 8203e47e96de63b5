"""Step, action and format metrics on hand-computed examples."""

from __future__ import annotations

import pytest

from hieroaction.metrics import (
    action_accuracy,
    align,
    format_validity,
    part_accuracy,
    span_iou,
    step_edit_distance,
    temporal_iou,
    tiou_at,
)

TOL = 1e-9


def test_edit_distance_and_alignment():
    assert step_edit_distance(["Back", "2.5 Soms.Pike", "Entry"], ["back", "2.5  soms.pike", "Entry"]) == 0
    assert step_edit_distance(["A", "B", "C"], ["A", "C"]) == 1
    assert step_edit_distance(["A", "B"], ["B", "A"]) == 2
    assert step_edit_distance(["A", "B"], ["B", "A"], normalize=True) == 1.0
    assert step_edit_distance(["A", "B", "C", "D"], ["A", "X", "C"], normalize=True) == pytest.approx(0.5, abs=TOL)
    assert step_edit_distance([], [], normalize=True) == 0.0
    assert align(["A", "B"], ["B", "A"])[1] == [(0, 0), (1, 1)]  # equal length: step i with step i
    assert align(["A", "B", "C"], ["A", "C"])[1] == [(0, 0), (2, 1)]


def test_span_iou_inclusive_frames():
    assert span_iou((0, 9), (0, 9)) == 1.0
    assert span_iou((0, 9), (5, 14)) == pytest.approx(5 / 15, abs=TOL)
    assert span_iou((0, 9), (10, 19)) == 0.0
    assert span_iou((3, 3), (3, 3)) == 1.0


def test_temporal_iou_and_thresholds():
    gold = [("Back", 0, 9), ("Soms", 10, 29), ("Entry", 30, 39)]
    good = [("Back", 0, 9), ("Soms", 10, 29), ("Entry", 30, 39)]
    shifted = [("Back", 0, 4), ("Soms", 5, 29), ("Entry", 30, 39)]  # IoUs 0.5, 20/25, 1
    missing = [("Back", 0, 9), ("Entry", 10, 39)]  # aligned: Back-Back 1.0, Entry-Entry 10/30; over 3
    assert temporal_iou(good, gold) == 1.0
    assert temporal_iou(shifted, gold) == pytest.approx((0.5 + 0.8 + 1.0) / 3, abs=TOL)
    assert temporal_iou(missing, gold) == pytest.approx((1.0 + 1 / 3) / 3, abs=TOL)
    assert temporal_iou([], []) == 1.0 and temporal_iou([], gold) == 0.0
    assert tiou_at([good, shifted, missing], [gold] * 3, 0.5) == pytest.approx(2 / 3, abs=TOL)
    assert tiou_at([good, shifted, missing], [gold] * 3, 0.75) == pytest.approx(2 / 3, abs=TOL)
    assert tiou_at([shifted], [gold], 0.77) == 0.0
    with pytest.raises(ValueError):
        tiou_at([good], [gold, gold], 0.5)


def test_action_and_part_accuracy():
    gold = ["5253b", "407C", "107b", "626c"]
    pred = ["5253b", "407c", "105b", None]
    assert action_accuracy(pred, gold) == 0.5
    parts = part_accuracy(pred, gold)
    assert parts == {"group": 0.75, "rotation": 0.75, "somersaults": 0.5, "twists": 0.75, "position": 0.75}
    with pytest.raises(ValueError, match="not a dive number"):
        part_accuracy(["107b"], ["hello"])


def test_format_validity():
    ok = "<think>x</think><action>107b | forward | DD 3.0</action><steps></steps><score>1.00</score>"
    assert format_validity([ok, ok + "!", [{"role": "assistant", "content": ok}], None]) == 0.5
    with pytest.raises(ValueError):
        format_validity([])
