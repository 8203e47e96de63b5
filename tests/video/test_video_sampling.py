import numpy as np
import pytest

from hieroaction.video.sampling import (
    FrameSettings,
    all_indices,
    core_window,
    parse_size,
    tsa_indices,
    uniform_indices,
)


def test_uniform_covers_span_first_and_last():
    idx = uniform_indices(100, 16)
    assert len(idx) == 16 and idx[0] == 0 and idx[-1] == 99
    assert np.all(np.diff(idx) > 0)
    assert np.all(np.abs(np.diff(idx) - 99 / 15) <= 1)


def test_uniform_repeats_frames_of_a_short_clip():
    idx = uniform_indices(5, 9)
    assert len(idx) == 9 and set(idx.tolist()) == {0, 1, 2, 3, 4}
    assert np.all(np.diff(idx) >= 0)


def test_tsa_matches_the_public_protocol():
    start, end = 3095, 3195  # a real FineDiving clip
    expected = np.linspace(start, end, 96).astype(int) - start
    assert np.array_equal(tsa_indices(end - start + 1), expected)


def test_core_window_ends_at_end_frame():
    idx = core_window(150)
    assert len(idx) == 103 and idx[-1] == 149 and idx[0] == 47
    assert np.all(np.diff(idx) == 1)
    short = core_window(80)
    assert short[-1] == 79 and short[0] == -23  # reaches before start_frame, as the protocol does


def test_all_and_bad_arguments():
    assert np.array_equal(all_indices(4), [0, 1, 2, 3])
    with pytest.raises(ValueError):
        uniform_indices(0, 4)
    with pytest.raises(ValueError):
        uniform_indices(10, 0)


def test_parse_size_is_height_width():
    assert parse_size(None) is None
    assert parse_size(112) == (112, 112)
    assert parse_size("256x456") == (256, 456)
    assert parse_size((48, 80)) == (48, 80)
    with pytest.raises(ValueError):
        parse_size((0, 10))


def test_settings_key_is_stable_and_distinct():
    a = FrameSettings("uniform", 16, (112, 112))
    assert a.key == "uniform16_112x112"
    assert FrameSettings("uniform", 16, 112).key == a.key
    keys = {
        a.key,
        FrameSettings("uniform", 32, (112, 112)).key,
        FrameSettings("uniform", 16, (112, 128)).key,
        FrameSettings("tsa").key,
        FrameSettings("core").key,
        FrameSettings("all", None, None).key,
    }
    assert len(keys) == 6
    assert FrameSettings("tsa").count == 96 and FrameSettings("core").count == 103
    with pytest.raises(ValueError):
        FrameSettings("random", 4)
    assert FrameSettings().count == 16 and FrameSettings().key == "uniform16_112x112"
    with pytest.raises(ValueError):
        FrameSettings("uniform", 0)
