"""How a diving score follows from DD and the judges' awards (docs/DATASETS.md), for consistency checks and synthesis.

- 7 judges: DD x sum of the middle three (drop the two highest and two lowest) - individual events, MTL-AQA.
- 3 judges: only the kept awards are stored, so DD x their sum (FineDiving).
- 5 judges: synchronised events as FineDiving stores them, DD x sum x 0.6.
"""

from __future__ import annotations

from collections.abc import Sequence

SCORE_RULE_TOLERANCE = 0.05
JUDGE_COUNTS = (3, 5, 7)
SYNCHRO_FACTOR = 0.6  # five judges: the sum of their awards is scaled by this


def expected_score(difficulty: float | None, judge_scores: Sequence[float]) -> float | None:
    """The score the rule gives, or ``None`` when there is no rule for this number of judges or no DD."""
    if difficulty is None:
        return None
    judges = sorted(float(j) for j in judge_scores)
    if len(judges) == 7:
        return difficulty * sum(judges[2:5])
    if len(judges) == 3:
        return difficulty * sum(judges)
    if len(judges) == 5:
        return difficulty * sum(judges) * SYNCHRO_FACTOR
    return None


def breaks_score_rule(
    final_score: float, difficulty: float | None, judge_scores: Sequence[float], tolerance: float = SCORE_RULE_TOLERANCE
) -> bool:
    """True when a rule applies and the stored score is further than ``tolerance`` from it."""
    expected = expected_score(difficulty, judge_scores)
    return expected is not None and abs(expected - float(final_score)) > tolerance
