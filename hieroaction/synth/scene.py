"""The nuisance: everything about a rendered video that must NOT carry the labels.

Why: a model must learn the dive from the diver, not from a background colour or a camera position that happens to
correlate with the label. Backgrounds, platform and water placement, camera offset/zoom/drift/shake, lighting,
flicker, sensor noise and the diver's colours are drawn independently of the labels, per sample, from its seed.
World coordinates are in frame heights, origin at the nominal frame centre, y down.

Two camera styles: ``broadcast`` follows the diver with a close zoom, as the TV footage of FineDiving and MTL-AQA
does (the diver fills a good part of the frame); ``fixed`` is a wide static shot of the whole tower (the
background-subtraction baseline of :mod:`~.learnability` needs it). Where the camera points depends on the diver's
path only, never on the labels beyond what the path itself shows.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from hieroaction.synth import canvas


@dataclass(frozen=True)
class Scene:
    sky_top: np.ndarray
    sky_bottom: np.ndarray
    stands: tuple[tuple[float, float, float, float, tuple[float, float, float]], ...]
    platform_color: tuple[float, float, float]
    water_color: np.ndarray
    platform_top: float
    platform_edge: float
    water_level: float
    body_height: float
    zoom: float
    camera: tuple[float, float]
    drift: tuple[float, float]
    shake: float
    gain: np.ndarray
    bias: float
    flicker: tuple[float, float, float]
    noise: float
    suit: tuple[float, float, float]
    skin: tuple[float, float, float]
    tracking_zoom: float | None = None  # broadcast camera: zoom while following the diver; None: fixed wide shot
    tracking_offset: tuple[float, float] = (0.0, 0.0)  # where the diver sits off the frame centre (frame heights)

    def to_pixels(self, point, frame_camera, height: int, width: int) -> np.ndarray:
        """World point -> pixel (x, y) for this frame's camera."""
        cx, cy, zoom = frame_camera
        x = ((point[0] - cx) * zoom) * height + width / 2
        y = ((point[1] - cy) * zoom + 0.5) * height
        return np.array([x, y])


CAMERAS = ("broadcast", "fixed")


def random_scene(rng: np.random.Generator, *, nuisance: bool = True, camera: str = "broadcast") -> Scene:
    """Draw one scene. ``nuisance=False`` gives a neutral scene (tests that isolate the diver); ``camera`` is
    ``broadcast`` (follows the diver, close) or ``fixed`` (wide, static)."""
    if camera not in CAMERAS:
        raise ValueError(f"camera must be one of {CAMERAS}, got {camera!r}")
    scene = _draw_scene(rng, nuisance)
    # drawn in both styles, so a seed gives the same scene and the same later draws whatever the camera
    zoom, offset = 2.0, (0.0, 0.0)
    if nuisance:
        zoom = float(rng.uniform(1.7, 2.3))
        offset = (float(rng.uniform(-0.06, 0.06)), float(rng.uniform(-0.05, 0.05)))
    if camera == "fixed":
        return scene
    return replace(scene, tracking_zoom=zoom, tracking_offset=offset)


def _draw_scene(rng: np.random.Generator, nuisance: bool) -> Scene:
    if not nuisance:
        return Scene(
            sky_top=np.array([70.0, 80.0, 95.0]), sky_bottom=np.array([120.0, 125.0, 135.0]), stands=(),
            platform_color=(150.0, 140.0, 120.0), water_color=np.array([40.0, 95.0, 150.0]),
            platform_top=0.0, platform_edge=-0.18, water_level=0.42, body_height=0.33, zoom=1.0,
            camera=(0.0, 0.0), drift=(0.0, 0.0), shake=0.0, gain=np.ones(3), bias=0.0, flicker=(0.0, 1.0, 0.0),
            noise=0.0, suit=(200.0, 40.0, 40.0), skin=(235.0, 190.0, 150.0),
        )
    base = rng.uniform(30, 150, size=3)
    stands = []
    for _ in range(int(rng.integers(2, 7))):
        x0 = rng.uniform(-1.0, 0.8)
        y0 = rng.uniform(-0.55, 0.1)
        stands.append((x0, y0, x0 + rng.uniform(0.1, 0.5), y0 + rng.uniform(0.03, 0.2), tuple(rng.uniform(20, 200, 3))))
    suit_hue = rng.uniform(0, 1)
    suit = tuple(float(v) for v in 255 * np.clip(np.abs((suit_hue * 6 + np.array([0, 4, 2])) % 6 - 3) - 1, 0.15, 1))
    return Scene(
        sky_top=base * rng.uniform(0.6, 1.0, size=3),
        sky_bottom=np.clip(base * rng.uniform(0.9, 1.5, size=3), 0, 220),
        stands=tuple(stands),
        platform_color=tuple(rng.uniform(90, 200, 3)),
        water_color=np.array([rng.uniform(10, 70), rng.uniform(60, 140), rng.uniform(110, 200)]),
        platform_top=float(rng.uniform(-0.04, 0.04)),
        platform_edge=float(rng.uniform(-0.22, -0.14)),
        water_level=float(rng.uniform(0.40, 0.45)),
        body_height=float(rng.uniform(0.30, 0.36)),
        zoom=float(rng.uniform(0.85, 1.12)),
        camera=(float(rng.uniform(-0.05, 0.05)), float(rng.uniform(-0.04, 0.04))),
        drift=(float(rng.uniform(-0.04, 0.04)), float(rng.uniform(-0.02, 0.02))),
        shake=float(rng.uniform(0.0, 0.004)),
        gain=rng.uniform(0.75, 1.2) * rng.uniform(0.92, 1.08, size=3),
        bias=float(rng.uniform(-12, 12)),
        flicker=(float(rng.uniform(0, 0.05)), float(rng.uniform(0.02, 0.2)), float(rng.uniform(0, 2 * np.pi))),
        noise=float(rng.uniform(1.0, 6.0)),
        suit=suit,
        skin=tuple(float(v) for v in np.array([235.0, 190.0, 150.0]) * rng.uniform(0.8, 1.08)),
    )


def frame_camera(
    scene: Scene, t: int, num_frames: int, rng: np.random.Generator, follow: tuple[float, float, float] | None = None
) -> tuple[float, float, float]:
    """Camera centre (x, y) and zoom for frame ``t``. Fixed camera: a slow drift plus a little shake. Broadcast
    camera: centred on ``follow`` = (x, y, closer): where the operator aims (the diver, a little behind) and how
    much closer than the scene's zoom; never dipping so low that the water surface leaves the lower part of the
    frame; plus the same shake."""
    share = t / max(num_frames - 1, 1)
    shake = rng.normal(0.0, scene.shake, size=2) if scene.shake else np.zeros(2)
    if scene.tracking_zoom is not None and follow is not None:
        zoom = scene.tracking_zoom * follow[2]
        x = follow[0] + scene.tracking_offset[0] / zoom
        y = min(follow[1] + scene.tracking_offset[1] / zoom, scene.water_level - 0.22 / zoom)
        return (x + shake[0] / zoom, y + shake[1] / zoom, zoom)
    return (
        scene.camera[0] + scene.drift[0] * share + shake[0],
        scene.camera[1] + scene.drift[1] * share + shake[1],
        scene.zoom,
    )


def draw_background(img: np.ndarray, scene: Scene, camera, t: int) -> None:
    """Hall gradient, stands, platform and tower, and the water with moving stripes."""
    height, width = img.shape[:2]
    cx, cy, zoom = camera
    rows = (np.arange(height, dtype=np.float32) / height - 0.5) / zoom + cy  # world y of each pixel row
    share = np.clip((rows + 0.6) / 1.1, 0, 1)[:, None]
    img[:] = ((1 - share) * scene.sky_top + share * scene.sky_bottom)[:, None, :]
    for x0, y0, x1, y1, color in scene.stands:
        a = scene.to_pixels((x0, y0), camera, height, width)
        b = scene.to_pixels((x1, y1), camera, height, width)
        canvas.rectangle(img, a[0], a[1], b[0], b[1], color, 0.8)
    top_left = scene.to_pixels((-2.0, scene.platform_top), camera, height, width)
    edge = scene.to_pixels((scene.platform_edge, scene.platform_top + 0.035), camera, height, width)
    canvas.rectangle(img, top_left[0], top_left[1], edge[0], edge[1], scene.platform_color)
    tower = scene.to_pixels((scene.platform_edge - 0.14, scene.water_level), camera, height, width)
    canvas.rectangle(img, tower[0] - 0.05 * height * zoom, edge[1], tower[0], tower[1],
                     tuple(0.7 * c for c in scene.platform_color))
    water_row = scene.to_pixels((0.0, scene.water_level), camera, height, width)[1]
    fill_water(img, scene, water_row, t, alpha=1.0)


def fill_water(img: np.ndarray, scene: Scene, water_row: float, t: int, alpha: float) -> None:
    """Water below ``water_row``; drawn again over the diver with ``alpha`` < 1 so a submerged body fades out."""
    height = img.shape[0]
    first = int(np.clip(np.ceil(water_row), 0, height))
    if first >= height:
        return
    rows = np.arange(first, height, dtype=np.float32)
    stripes = 1.0 + 0.08 * np.sin(rows * 0.9 + t * 0.4)
    water = scene.water_color[None, :] * stripes[:, None]
    region = img[first:]
    region += alpha * (water[:, None, :] - region)


def finish(img: np.ndarray, scene: Scene, t: int, rng: np.random.Generator) -> np.ndarray:
    """Lighting (gain, colour cast, flicker, bias) and sensor noise, then to uint8 (in place on ``img``).

    The noise is uniform with the scene's standard deviation, made from random bytes: drawing Gaussian floats for
    every pixel cost more than the rest of the frame put together."""
    amplitude, frequency, phase = scene.flicker
    gain = (scene.gain * (1.0 + amplitude * np.sin(2 * np.pi * frequency * t + phase))).astype(np.float32)
    img *= gain
    img += np.float32(scene.bias)
    if scene.noise:
        noise = np.frombuffer(rng.bytes(img.size), dtype=np.uint8).reshape(img.shape).astype(np.float32)
        noise -= np.float32(127.5)
        noise *= np.float32(scene.noise * np.sqrt(12.0) / 255.0)
        img += noise
    np.clip(img, 0, 255, out=img)
    return img.astype(np.uint8)
