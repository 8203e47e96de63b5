"""The assessment picture (``hieroaction assess --plot`` and the report's example dives): a real PNG, readable size,
not blank, with the model's and the gold step spans drawn."""

from __future__ import annotations

import numpy as np
import pytest

from hieroaction.evaluate.plots import plot_assessment
from hieroaction.reasoning import parse_assessment

ANSWER = ("<think>ok</think><action>5253b | back 2½ somersaults 1½ twists, pike | DD 3.4</action>\n<steps>\n"
          "1. Back | frames 0-21 | clean\n2. 1.5 Twists | frames 22-40 | complete\n3. Entry | frames 41-59 | small "
          "splash\n</steps>\n<score>81.60</score>")
GOLD = ANSWER.replace("0-21", "0-18").replace("22-40", "19-44").replace("41-59", "45-59").replace("81.60", "78.00")


@pytest.fixture
def frames() -> np.ndarray:
    clip = np.zeros((8, 48, 48, 3), dtype=np.uint8)
    for t in range(8):
        clip[t, 10:30, 4 + 4 * t: 14 + 4 * t] = (220, 60, 30)  # a moving square
    return clip


def test_assessment_plot_with_gold_spans(tmp_path, frames, readable_png):
    predicted, gold = parse_assessment(ANSWER).assessment, parse_assessment(GOLD).assessment
    out = plot_assessment(tmp_path / "dive.png", frames, list(range(0, 60, 8)), 60, predicted, gold=gold, fps=25.0,
                          title="dive.mp4")
    with_gold = readable_png(out)
    alone = readable_png(plot_assessment(tmp_path / "alone.png", frames, list(range(0, 60, 8)), 60, predicted))
    assert with_gold.shape[0] > alone.shape[0]  # the gold row adds height


def test_assessment_plot_of_an_unreadable_answer(tmp_path, frames, readable_png):
    parsed = parse_assessment("garbage")
    out = plot_assessment(tmp_path / "bad.png", frames, list(range(8)), 8, parsed.assessment,
                          problems=parsed.problems)
    readable_png(out)
