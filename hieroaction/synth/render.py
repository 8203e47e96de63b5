"""Render a Sample into frames where every label is visible.

What shows what:
- take-off group/direction: standing (or a handstand, armstand group 6) at the platform edge facing the water
  (forward, reverse) or the board (back, inward), then rotating away from (forward, back) or towards (reverse,
  inward) the board; twisting dives (group 5) swap the chest stripe's side once per half twist;
- somersaults: the total rotation between take-off and entry is ``half_somersaults * 180`` degrees;
- body position: the silhouette during somersault steps (see :mod:`hieroaction.synth.figure`);
- steps: the phase (on the board / airborne somersaulting / twisting / entering the water) changes exactly at
  each annotated step boundary;
- execution (the judges' awards): the worse the awards, the more the entry angle is off vertical (rotation not
  completed or over-done), the bigger the splash, and the looser the body (bent knees, legs apart, wobble).
Everything else (scene, camera, light, noise, colours) is nuisance drawn from the seed (:mod:`~.scene`).
Deterministic: the same (sample id, seed) gives the same pixels, and any frame can be rendered on its own.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from hieroaction.datasets.dive_codes import DiveCode, DiveCodeError, parse_code
from hieroaction.datasets.sample import Sample
from hieroaction.synth import canvas, figure
from hieroaction.synth.scene import Scene, draw_background, fill_water, finish, frame_camera, random_scene
from hieroaction.synth.timeline import FramePhase, default_steps, frame_phases, usable_steps
from hieroaction.video.sampling import parse_size

DEFAULT_SIZE = (128, 128)
# Bump whenever the pixels of a (sample, seed, size, camera) change: renders stamped with another version are redone.
# 1: the first renderer; 2: the broadcast camera.
RENDERER_VERSION = 2
FACING = {"forward": 1, "reverse": 1, "back": -1, "inward": -1}
FLIGHT_ZOOM = 0.5  # broadcast camera: how much closer it frames the diver in the air than on the board
ROTATION_SIGN = {"forward": 1, "back": 1, "reverse": -1, "inward": -1}  # +1: clockwise on screen (away from board)


class RenderError(ValueError):
    """A sample that cannot be rendered, naming the sample and the field."""

    def __init__(self, sample_id: str, field: str, problem: str):
        self.sample_id, self.field = sample_id, field
        super().__init__(f"{sample_id}: field {field!r}: {problem}")


def quality_of(sample: Sample) -> float:
    """Execution quality 0..10 as the judges saw it: their mean award, else the score divided back by DD."""
    if sample.judge_scores:
        return float(np.clip(np.mean(sample.judge_scores), 0, 10))
    if sample.difficulty:
        return float(np.clip(sample.final_score / (3 * sample.difficulty), 0, 10))
    return float(np.clip(sample.final_score / 10.0, 0, 10))


def badness(quality: float) -> float:
    """0 for a perfect dive (9.8 and up) to 1 for a failed one (3.8 and below): the size of every visible fault."""
    return float(np.clip((9.8 - quality) / 6.0, 0.0, 1.0))


def _seed_sequence(sample_id: str, seed: int, *extra: int) -> np.random.SeedSequence:
    digest = int.from_bytes(hashlib.sha256(sample_id.encode("utf-8")).digest()[:8], "little")
    return np.random.SeedSequence([int(seed) & 0xFFFFFFFF, digest, *extra])


@dataclass(frozen=True)
class FrameState:
    """What the diver does at one frame (exposed so tests and users can check labels against pixels)."""

    phase: str
    step: int
    pose_name: str
    theta: float  # body rotation, radians clockwise on screen from head-up
    front: float  # +1 chest stripe on the facing side, -1 swapped (half twists), in between while twisting
    centre: tuple[float, float]  # world position of the centre of mass
    splash: float  # splash size now (frame heights)
    submerged: bool


@dataclass(frozen=True)
class DivePlan:
    """Everything drawn once per sample: the dive's motion parameters, its faults, and the nuisance scene."""

    sample_id: str
    dive: DiveCode
    steps: tuple
    phases: tuple[FramePhase, ...]
    bad: float
    rotation_error: float  # radians of under(-)/over(+) rotation at entry
    wobble: float
    splash_size: float
    drops: np.ndarray  # (K, 3): x offset, height, radius factor of splash drops
    scene: Scene
    seed: int

    @property
    def num_frames(self) -> int:
        return len(self.phases)


def plan_dive(sample: Sample, seed: int = 0, *, nuisance: bool = True, camera: str = "broadcast") -> DivePlan:
    """Draw the dive's motion, faults and scene. ``camera``: ``broadcast`` (follows the diver, close, as TV footage
    does) or ``fixed`` (a wide static shot); see :mod:`~.scene`."""
    try:
        dive = parse_code(sample.action_code)
    except DiveCodeError as exc:
        raise RenderError(sample.sample_id, "action_code", str(exc)) from None
    if sample.num_frames < 3:
        raise RenderError(sample.sample_id, "video", f"clip of {sample.num_frames} frames is too short to render")
    steps = sample.steps if usable_steps(sample.steps, sample.num_frames) else default_steps(dive, sample.num_frames)
    phases = tuple(frame_phases(steps, sample.num_frames))
    rng = np.random.default_rng(_seed_sequence(sample.sample_id, seed))
    bad = badness(quality_of(sample))
    scene = random_scene(rng, nuisance=nuisance, camera=camera)
    sign = 1.0 if rng.random() < 0.5 else -1.0
    count = 5 + int(30 * bad)
    drops = np.stack([rng.uniform(-1, 1, count), rng.uniform(0.2, 1.0, count), rng.uniform(0.5, 1.0, count)], axis=1)
    return DivePlan(
        sample_id=sample.sample_id,
        dive=dive,
        steps=tuple(steps),
        phases=phases,
        bad=bad,
        rotation_error=sign * bad * float(rng.uniform(0.8, 1.1)) * 0.9,
        wobble=float(rng.uniform(-1, 1)),
        splash_size=scene.body_height * (0.12 + 2.0 * bad),
        drops=drops,
        scene=scene,
        seed=seed,
    )


def _pose_name(plan: DivePlan, phase: FramePhase) -> str:
    if phase.kind == "somersault":
        return plan.dive.position
    if phase.kind == "twist":
        return "twist"
    if phase.kind == "entry":
        return "entry"
    if phase.kind == "takeoff":
        return "handstand" if plan.dive.armstand else "takeoff"
    return "other"


def frame_state(plan: DivePlan, t: int) -> tuple[FrameState, figure.Pose, dict]:
    """The diver's state, pose and oriented skeleton at clip frame ``t``."""
    dive, scene, phase = plan.dive, plan.scene, plan.phases[t]
    facing = FACING[dive.rotation]
    sign = ROTATION_SIGN[dive.rotation]
    start_theta = np.pi if dive.armstand else 0.0
    entry_theta = start_theta + sign * dive.half_somersaults * np.pi + plan.rotation_error
    kind = phase.kind
    seen_air = any(p.kind in ("somersault", "twist") for p in plan.phases[: t + 1])
    if kind == "other":  # background frames: standing before the dive, gone under water after it
        kind = "entry" if seen_air else "takeoff"
        progress = 1.0 if seen_air else 0.0
    else:
        progress = phase.progress
    front = 1.0
    if dive.half_twists:
        front = float(np.cos(np.pi * dive.half_twists * phase.twist))
    length = scene.body_height
    splash, submerged = 0.0, False

    if kind == "takeoff":
        if dive.armstand:
            pose = figure.blend(figure.HANDSTAND_POSE, figure.Pose(0, 0, ((180.0, 0.0),), 25.0),
                                float(np.sin(np.pi * progress)))
            theta = start_theta + sign * 0.12 * progress**2
            points = figure.orient(figure.skeleton(pose), theta, facing)
            hands = max(points["hand_0"][1], points["head"][1]) * length
            centre = (scene.platform_edge - 0.03, scene.platform_top - hands - 0.004 - 0.02 * progress**3)
        else:
            if progress < 0.45:
                pose = figure.blend(figure.STAND_POSE, figure.ARMS_UP_POSE, progress / 0.45)
            elif progress < 0.8:
                pose = figure.blend(figure.ARMS_UP_POSE, figure.CROUCH_POSE, (progress - 0.45) / 0.35)
            else:
                pose = figure.blend(figure.CROUCH_POSE, figure.ARMS_UP_POSE, (progress - 0.8) / 0.2)
            theta = sign * 0.15 * max(progress - 0.8, 0) / 0.2
            points = figure.orient(figure.skeleton(pose), theta, facing)
            feet = max(points["foot_a"][1], points["foot_b"][1]) * length
            edge_offset = -0.035 if facing > 0 else -0.02
            centre = (scene.platform_edge + edge_offset, scene.platform_top - feet - 0.004)
        front = 1.0
    elif kind in ("somersault", "twist"):
        theta = start_theta + (entry_theta - start_theta) * phase.rotation
        if kind == "somersault":
            pose = figure.faulty(figure.POSITION_POSES[dive.position], plan.bad, plan.wobble)
        else:
            pose = figure.faulty(figure.TWIST_POSE, plan.bad, plan.wobble)
        points = figure.orient(figure.skeleton(pose), theta, facing)
        u = phase.air
        start = (scene.platform_edge - 0.02, scene.platform_top - 0.55 * length)
        end_x = scene.platform_edge + 0.3
        end_y = scene.water_level - figure.lowest_point(points) * length - 0.01
        rise = 0.4 * length
        fall = (end_y - start[1]) + rise
        centre = (start[0] + (end_x - start[0]) * u, start[1] - rise * u + fall * u * u)
    else:  # entry
        theta = entry_theta
        head_first = (dive.half_somersaults + (1 if dive.armstand else 0)) % 2 == 1
        pose = figure.ENTRY_HEAD_FIRST if head_first else figure.ENTRY_FEET_FIRST
        pose = figure.faulty(pose, plan.bad * 0.5, plan.wobble)
        points = figure.orient(figure.skeleton(pose), theta, facing)
        top_y = scene.water_level - figure.lowest_point(points) * length
        depth = min(progress / 0.6, 1.0) * 1.6 * length
        centre = (scene.platform_edge + 0.3, top_y + depth)
        envelope = progress / 0.25 if progress < 0.25 else max(0.15, 1.0 - (progress - 0.25) / 0.75)
        splash = plan.splash_size * envelope
        submerged = progress >= 0.6
    state = FrameState(phase.kind, phase.step, _pose_name(plan, phase), float(theta), front,
                       (float(centre[0]), float(centre[1])), float(splash), submerged)
    return state, pose, points


def render_frame(plan: DivePlan, t: int, size=DEFAULT_SIZE) -> np.ndarray:
    """One ``(H, W, 3)`` uint8 frame; independent of the other frames (own RNG stream)."""
    height, width = parse_size(size)
    scene = plan.scene
    rng = np.random.default_rng(_seed_sequence(plan.sample_id, plan.seed, t + 1))
    state, _, points = frame_state(plan, t)
    camera = frame_camera(scene, t, plan.num_frames, rng, follow=_camera_aim(plan, t, state))
    img = np.empty((height, width, 3), dtype=np.float32)
    draw_background(img, scene, camera, t)
    centre_px = scene.to_pixels(state.centre, camera, height, width)
    scale_px = scene.body_height * camera[2] * height
    if not state.submerged:
        colors = figure.Colors(suit=scene.suit, skin=scene.skin)
        facing = FACING[plan.dive.rotation]
        if state.phase in ("somersault", "twist") and t > 0:
            _draw_trail(img, plan, t, state, camera, colors, height, width, scale_px)
        figure.draw(img, points, centre_px, scale_px, colors, state.front, state.theta, facing)
    water_row = scene.to_pixels((0.0, scene.water_level), camera, height, width)[1]
    fill_water(img, scene, water_row, t, alpha=0.85)
    if state.splash > 0:
        _draw_splash(img, plan, state, camera, height, width)
    return finish(img, scene, t, rng)


def _camera_aim(plan: DivePlan, t: int, state: FrameState) -> tuple[float, float, float] | None:
    """Where a broadcast camera points at frame ``t`` and how much closer than on the board it is: the diver,
    lagging a little behind (an operator follows, never leads), zooming in by half while the diver is in the air
    and out again for the entry (the same for every dive: it shows the phase, which the picture shows anyway).
    None for a fixed camera."""
    if plan.scene.tracking_zoom is None:
        return None
    earlier = frame_state(plan, max(t - 2, 0))[0].centre if t > 0 else state.centre
    phase = plan.phases[t]
    closer = 1.0
    if state.phase in ("somersault", "twist"):  # the entry is framed wide again, splash and all
        closer = 1.0 + FLIGHT_ZOOM * min(phase.air / 0.15, 1.0)
    return (0.75 * state.centre[0] + 0.25 * earlier[0], 0.75 * state.centre[1] + 0.25 * earlier[1], closer)


def _draw_trail(img, plan: DivePlan, t: int, state: FrameState, camera, colors, height: int, width: int,
                scale_px: float) -> None:
    """Motion blur of the head and feet: faint copies along the way they came since the previous frame.

    Why: a camera's shutter smears a spinning diver along the way it turns, so a single frame shows the direction of
    rotation (forward vs reverse, back vs inward) even when frames are sampled far apart. Only the extremities are
    smeared so the body's silhouette (the position) stays sharp.
    """
    previous, previous_pose, _ = frame_state(plan, t - 1)
    if previous.phase not in ("somersault", "twist"):
        return
    facing = FACING[plan.dive.rotation]
    for share, alpha in ((0.25, 0.55), (0.5, 0.4), (0.75, 0.25)):
        theta = state.theta + (previous.theta - state.theta) * share
        centre = np.array(state.centre) + (np.array(previous.centre) - np.array(state.centre)) * share
        points = figure.orient(figure.skeleton(previous_pose), theta, facing)
        centre_px = plan.scene.to_pixels(centre, camera, height, width)
        canvas.disc(img, centre_px + scale_px * points["head"], scale_px * figure.HEAD_R * 0.8, colors.skin, alpha)
        canvas.disc(img, centre_px + scale_px * points["foot_a"], scale_px * 0.04, colors.skin, alpha)


def _draw_splash(img, plan: DivePlan, state: FrameState, camera, height: int, width: int) -> None:
    scene = plan.scene
    zoom_px = camera[2] * height
    base = scene.to_pixels((state.centre[0], scene.water_level), camera, height, width)
    size = state.splash * zoom_px
    white = (245.0, 248.0, 250.0)
    canvas.ellipse(img, (base[0], base[1] - 0.45 * size), 0.35 * size + 1, 0.55 * size + 1, white, 0.9)
    canvas.ellipse(img, (base[0], base[1]), 0.9 * size + 1.5, 0.12 * size + 1, white, 0.7)
    for dx, dy, r in plan.drops:
        centre = (base[0] + dx * 0.8 * size, base[1] - dy * 1.1 * size)
        canvas.disc(img, centre, max(0.6, r * 0.12 * size), white, 0.85)


def render_sample(
    sample: Sample, seed: int = 0, size=DEFAULT_SIZE, indices=None, *, nuisance: bool = True, camera: str = "broadcast"
) -> np.ndarray:
    """Frames of ``sample`` as ``(T, H, W, 3)`` uint8. ``indices`` (clip-relative) renders only those frames, with
    the same pixels a full render gives them; ``size`` is (height, width) or an int for a square; ``camera`` as in
    :func:`plan_dive`."""
    plan = plan_dive(sample, seed, nuisance=nuisance, camera=camera)
    wanted = range(plan.num_frames) if indices is None else [int(i) for i in np.asarray(indices).reshape(-1)]
    cache: dict[int, np.ndarray] = {}
    frames = []
    for t in wanted:
        t = min(max(t, 0), plan.num_frames - 1)
        if t not in cache:
            cache[t] = render_frame(plan, t, size)
        frames.append(cache[t])
    return np.stack(frames)


def frame_states(sample: Sample, seed: int = 0, *, camera: str = "broadcast") -> list[FrameState]:
    """The per-frame :class:`FrameState` of a sample's render (the ground truth the pixels show)."""
    plan = plan_dive(sample, seed, camera=camera)
    return [frame_state(plan, t)[0] for t in range(plan.num_frames)]
