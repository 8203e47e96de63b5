"""The renderer: deterministic, and every label visible (checked on the per-frame ground truth and on pixels)."""

from dataclasses import replace

import numpy as np
import pytest

from hieroaction.datasets.finediving import load_finediving
from hieroaction.datasets.sample import Sample, Step, VideoRef
from hieroaction.synth import figure
from hieroaction.synth.render import RenderError, frame_states, plan_dive, render_sample
from hieroaction.synth.timeline import default_steps, step_kind, subaction_table, usable_steps


def dive(code: str, judges=(8.0, 8.0, 8.0), frames: int = 60, sid: str = "t/1", steps=()) -> Sample:
    return Sample(sid, "test", "train", VideoRef("video", "x.mp4", 0, frames - 1), code, 70.0, 3.0, judges,
                  steps=steps)


@pytest.fixture(scope="module")
def finediving():
    return load_finediving().samples


def test_same_seed_same_pixels_and_frames_render_on_their_own():
    sample = dive("5253b")
    a = render_sample(sample, seed=3, size=48)
    assert a.shape == (60, 48, 48, 3) and a.dtype == np.uint8
    assert np.array_equal(a, render_sample(sample, seed=3, size=48))
    assert not np.array_equal(a, render_sample(sample, seed=4, size=48))
    some = render_sample(sample, seed=3, size=48, indices=[59, 0, 31, 31])
    assert np.array_equal(some, a[[59, 0, 31, 31]])
    wide = render_sample(sample, seed=3, size=(40, 72), indices=[10])
    assert wide.shape == (1, 40, 72, 3)


def test_phase_changes_exactly_at_annotated_step_boundaries(finediving):
    # A real FineDiving twisting dive: take-off, somersaults, twists, somersaults, entry.
    sample = next(s for s in finediving if len(s.steps) == 5 and usable_steps(s.steps, s.num_frames))
    states = frame_states(sample, seed=0)
    assert len(states) == sample.num_frames
    for index, step in enumerate(sample.steps):
        for t in range(step.first, step.last + 1):
            assert states[t].phase == step_kind(step.label_id) and states[t].step == index
        if index:
            before, after = states[step.first - 1], states[step.first]
            assert (before.phase, before.pose_name) != (after.phase, after.pose_name)


def test_phase_boundaries_show_in_pixels():
    steps = (Step(1, "Forward", 0, 19), Step(21, "1.5 Soms.Tuck", 20, 39), Step(36, "Entry", 40, 59))
    sample = dive("103c", steps=steps)
    frames = render_sample(sample, size=128, nuisance=False, camera="fixed").astype(int)
    scene = plan_dive(sample, nuisance=False, camera="fixed").scene
    camera = (0.0, 0.0, 1.0)
    # leaving the board (19 -> 20): the feet touch the platform top on the last take-off frame, not after
    left = scene.to_pixels((scene.platform_edge - 0.15, scene.platform_top), camera, 128, 128)
    right = scene.to_pixels((scene.platform_edge + 0.05, scene.platform_top), camera, 128, 128)
    top = int(round(left[1]))
    strip = frames[:, top - 3 : top, int(left[0]) : int(right[0])]
    skin = (strip[..., 0] > 170) & (strip[..., 0] - strip[..., 2] > 50)
    touching = skin.any(axis=(1, 2))
    assert touching[:20].all() and not touching[20:].any()
    # hitting the water (39 -> 40): white water appears just below the surface line at the first entry frame
    water_row = int(np.ceil(scene.to_pixels((0.0, scene.water_level), camera, 128, 128)[1]))
    band = frames[:, water_row : water_row + 3].sum(-1).max(axis=(1, 2))
    assert band[40] > band[:40].max() + 100


def _skin_pixels(frames: np.ndarray, skin=(235.0, 190.0, 150.0)) -> np.ndarray:
    """Per frame, how many pixels show the neutral scene's skin colour (the diver's head and limbs)."""
    close = np.abs(frames.astype(float) - np.array(skin)).max(-1) < 30
    return close.sum(axis=(1, 2))


def test_broadcast_camera_follows_the_diver_close_up():
    # Why: TV footage tracks the diver; a fixed wide shot leaves a few pixels of body to recognise the dive from.
    sample = dive("107b")
    airborne = [t for t, s in enumerate(frame_states(sample)) if s.phase == "somersault"]
    wanted = airborne[:: max(1, len(airborne) // 6)]
    close = render_sample(sample, size=96, indices=wanted, nuisance=False, camera="broadcast")
    wide = render_sample(sample, size=96, indices=wanted, nuisance=False, camera="fixed")
    assert (_skin_pixels(close) > 2.5 * _skin_pixels(wide)).all()
    # the body stays near the frame centre while it flies across the fixed shot
    rows, cols = np.nonzero(np.abs(close[-1].astype(float) - np.array((235.0, 190.0, 150.0))).max(-1) < 30)
    assert abs(cols.mean() - 48) < 20 and abs(rows.mean() - 48) < 25
    with pytest.raises(ValueError, match="camera"):
        render_sample(sample, size=16, camera="drone")


def test_body_positions_have_distinct_silhouettes():
    masks = {}
    for name, pose in figure.POSITION_POSES.items():
        img = np.zeros((96, 96, 3), np.float32)
        points = figure.orient(figure.skeleton(pose), 0.0, 1)
        figure.draw(img, points, (48, 48), 60, figure.Colors((255, 0, 0), (255, 255, 255)), 1.0, 0.0, 1)
        masks[name] = img.sum(-1) > 100
    ys, xs = {}, {}
    for name, mask in masks.items():
        rows, cols = np.nonzero(mask)
        ys[name], xs[name] = rows.max() - rows.min(), cols.max() - cols.min()
    assert ys["straight"] > 1.5 * ys["tuck"] and ys["pike"] < ys["straight"]
    assert xs["free"] > xs["straight"] + 10  # arms spread in a T
    names = list(masks)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            iou = (masks[a] & masks[b]).sum() / (masks[a] | masks[b]).sum()
            assert iou < 0.75, (a, b, iou)


def test_position_is_what_changes_the_pixels_in_somersault_frames():
    steps = (Step(1, "Forward", 0, 19), Step(15, "2.5 Soms.Pike", 20, 39), Step(36, "Entry", 40, 59))
    renders = {}
    for letter in "abcd":
        sample = dive(f"105{letter}", judges=(10.0, 10.0, 10.0), steps=steps)
        states = frame_states(sample)
        assert {s.pose_name for s in states[20:40]} == {figure_name(letter)}
        renders[letter] = render_sample(sample, size=64, indices=[10, 30], nuisance=False).astype(int)
    for a in "abcd":
        for b in "abcd":
            if a < b:
                assert np.array_equal(renders[a][0], renders[b][0])  # same take-off frame
                assert np.abs(renders[a][1] - renders[b][1]).sum() > 2000  # different somersault shape


def figure_name(letter: str) -> str:
    return {"a": "straight", "b": "pike", "c": "tuck", "d": "free"}[letter]


@pytest.mark.parametrize(
    ("code", "clockwise", "handstand"),
    [("105b", True, False), ("205b", True, False), ("305b", False, False), ("405b", False, False),
     ("5253b", True, False), ("626b", True, True), ("636b", False, True)],
)
def test_rotation_direction_count_and_takeoff_show_the_group(code, clockwise, handstand):
    sample = dive(code, judges=(10.0, 10.0, 10.0))
    states = frame_states(sample)
    flight = [s for s in states if s.phase in ("somersault", "twist")]
    start_theta = np.pi if handstand else 0.0
    turned = flight[-1].theta - start_theta
    assert (turned > 0) == clockwise
    assert round(abs(turned) / np.pi) == sample.dive.half_somersaults  # a perfect dive: rotation exactly complete
    assert (states[0].pose_name == "handstand") == handstand


def test_twists_swap_the_front_once_per_half_twist():
    sample = dive("5253b")  # 1.5 twists = 3 half twists
    fronts = np.array([s.front for s in frame_states(sample)])
    signs = np.sign(fronts[np.abs(fronts) > 0.2])
    assert int((np.diff(signs) != 0).sum()) == 3
    assert fronts[0] == 1.0 and fronts[-1] == pytest.approx(-1.0)
    plain = np.array([s.front for s in frame_states(dive("105b"))])
    assert np.all(plain == 1.0)


def test_worse_awards_mean_bigger_faults():
    good, bad = dive("105b", (9.5, 9.5, 9.5)), dive("105b", (4.0, 4.5, 4.0))
    plan_good, plan_bad = plan_dive(good), plan_dive(bad)
    assert plan_bad.bad > plan_good.bad
    assert plan_bad.splash_size > 3 * plan_good.splash_size
    assert abs(plan_bad.rotation_error) > abs(plan_good.rotation_error)
    splash_good = max(s.splash for s in frame_states(good))
    splash_bad = max(s.splash for s in frame_states(bad))
    assert splash_bad > 3 * splash_good
    # and in pixels: the entry frames of the bad dive are much brighter (white water)
    entry = [45, 48, 51]
    pixels_good = render_sample(good, size=64, indices=entry, nuisance=False).astype(float).mean()
    pixels_bad = render_sample(bad, size=64, indices=entry, nuisance=False).astype(float).mean()
    assert pixels_bad > pixels_good + 3


def test_samples_without_steps_get_a_finediving_style_timeline():
    sample = dive("5337d", frames=101)
    steps = default_steps(sample.dive, 101)
    assert usable_steps(steps, 101)
    table = subaction_table()
    # reverse 1.5 somersaults 3.5 twists, free: FineDiving names free-position somersaults "Pike"
    assert [table[s.label_id] for s in steps] == ["Reverse", "3.5 Twists", "1.5 Soms.Pike", "Entry"]
    kinds = [step_kind(s.label_id) for s in steps]
    assert kinds[0] == "takeoff" and kinds[-1] == "entry" and "twist" in kinds and "somersault" in kinds
    phases = {s.phase for s in frame_states(sample)}
    assert phases == {"takeoff", "somersault", "twist", "entry"}
    broken = replace(sample, steps=(Step(1, "Forward", 0, 10),))  # does not tile the clip: replaced, not trusted
    assert len(frame_states(broken)) == 101


def test_unrenderable_samples_name_the_sample_and_field():
    with pytest.raises(RenderError, match=r"t/1.*action_code"):
        render_sample(dive("999z"), size=16)
    with pytest.raises(RenderError, match=r"t/1.*video"):
        render_sample(dive("105b", frames=2), size=16)
