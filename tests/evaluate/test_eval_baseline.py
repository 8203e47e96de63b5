"""The classic score regressor learns a score that is visible in the frames, deterministically."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from hieroaction.evaluate.baseline import RegressorConfig, clips_to_tensor, train_score_regressor

FAST = RegressorConfig(frames=6, frame_size=20, channels=6, epochs=15, batch_size=12, threads=1)


def clips_with_visible_score(n: int, seed: int):
    """Noise clips with a bright square whose size grows with the score (a stand-in for 'splash size')."""
    rng = np.random.default_rng(seed)
    scores = rng.uniform(20, 90, n)
    clips = []
    for score in scores:
        clip = rng.integers(0, 60, (8, 32, 32, 3), dtype=np.uint8)
        half = int(3 + score / 10)
        clip[:, 16 - half : 16 + half, 16 - half : 16 + half] = 220
        clips.append(clip)
    return clips, scores


def test_regressor_learns_a_visible_score():
    train_clips, train_scores = clips_with_visible_score(24, seed=0)
    test_clips, test_scores = clips_with_visible_score(16, seed=1)
    model = train_score_regressor(train_clips, train_scores, config=FAST)
    assert not model.uses_difficulty
    rho = stats.spearmanr(model.predict(test_clips), test_scores).statistic
    assert rho > 0.8


def test_regressor_is_deterministic_and_uses_difficulty_when_given():
    clips, scores = clips_with_visible_score(12, seed=2)
    dd = np.full(12, 2.0)
    config = RegressorConfig(**{**FAST.to_dict(), "epochs": 3})
    a = train_score_regressor(clips, scores, dd, config)
    b = train_score_regressor(clips, scores, dd, config)
    assert a.uses_difficulty
    np.testing.assert_array_equal(a.predict(clips, dd), b.predict(clips, dd))
    with pytest.raises(ValueError, match="difficulty"):
        a.predict(clips)


def test_clips_of_any_length_and_size_are_resampled():
    tensor = clips_to_tensor([np.zeros((5, 30, 40, 3), np.uint8), np.full((50, 64, 64, 3), 255, np.uint8)], 4, 16)
    assert tuple(tensor.shape) == (2, 4, 3, 16, 16)
    assert float(tensor[1].min()) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="clip 0"):
        clips_to_tensor([np.zeros((5, 30, 40), np.uint8)], 4, 16)
