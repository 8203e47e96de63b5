"""Anti-aliased shape drawing on float RGB canvases, in plain numpy.

Why hand-rolled: the renderer needs only capsules (limbs, torso), discs (head, splash drops) and rectangles, and
drawing each inside its own bounding box keeps a 128-pixel frame at about a millisecond with no extra dependency.
Coordinates are pixels, x to the right, y down; colours are RGB floats 0..255.
"""

from __future__ import annotations

import numpy as np


def _box(canvas: np.ndarray, x0: float, y0: float, x1: float, y1: float):
    height, width = canvas.shape[:2]
    left, top = max(int(np.floor(x0)), 0), max(int(np.floor(y0)), 0)
    right, bottom = min(int(np.ceil(x1)) + 1, width), min(int(np.ceil(y1)) + 1, height)
    if left >= right or top >= bottom:
        return None
    return left, top, right, bottom


def _blend(canvas: np.ndarray, box, coverage: np.ndarray, color) -> None:
    left, top, right, bottom = box
    region = canvas[top:bottom, left:right]
    region += coverage[..., None] * (np.asarray(color, dtype=np.float32) - region)


def capsule(canvas: np.ndarray, a, b, radius: float, color, alpha: float = 1.0) -> None:
    """A thick segment from ``a`` to ``b`` with round ends (a limb)."""
    (ax, ay), (bx, by) = a, b
    radius = max(float(radius), 0.5)
    box = _box(canvas, min(ax, bx) - radius - 1, min(ay, by) - radius - 1, max(ax, bx) + radius + 1, max(ay, by) + radius + 1)
    if box is None:
        return
    left, top, right, bottom = box
    ys, xs = np.mgrid[top:bottom, left:right].astype(np.float32)
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy
    if length2 < 1e-9:
        t = 0.0
    else:
        t = np.clip(((xs - ax) * dx + (ys - ay) * dy) / length2, 0.0, 1.0)
    dist = np.hypot(xs - (ax + t * dx), ys - (ay + t * dy))
    coverage = np.clip(radius + 0.5 - dist, 0.0, 1.0) * alpha
    _blend(canvas, box, coverage, color)


def disc(canvas: np.ndarray, center, radius: float, color, alpha: float = 1.0) -> None:
    capsule(canvas, center, center, radius, color, alpha)


def ellipse(canvas: np.ndarray, center, rx: float, ry: float, color, alpha: float = 1.0) -> None:
    """An axis-aligned filled ellipse (splash plume, ripples)."""
    cx, cy = center
    rx, ry = max(float(rx), 0.5), max(float(ry), 0.5)
    box = _box(canvas, cx - rx - 1, cy - ry - 1, cx + rx + 1, cy + ry + 1)
    if box is None:
        return
    left, top, right, bottom = box
    ys, xs = np.mgrid[top:bottom, left:right].astype(np.float32)
    norm = np.hypot((xs - cx) / rx, (ys - cy) / ry)
    coverage = np.clip((1.0 - norm) * min(rx, ry) + 0.5, 0.0, 1.0) * alpha
    _blend(canvas, box, coverage, color)


def rectangle(canvas: np.ndarray, x0: float, y0: float, x1: float, y1: float, color, alpha: float = 1.0) -> None:
    box = _box(canvas, x0, y0, x1 - 1, y1 - 1)
    if box is None:
        return
    left, top, right, bottom = box
    coverage = np.full((bottom - top, right - left), alpha, dtype=np.float32)
    _blend(canvas, box, coverage, color)
