"""Resize frames to an exact ``(height, width)`` without ever swapping the two.

Why a module of its own: PIL and FFmpeg take ``(width, height)`` while numpy arrays are ``(H, W, 3)``; every
conversion between the two conventions lives here and in :mod:`hieroaction.video.decode`, nowhere else.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from hieroaction.video.sampling import parse_size


def resize_image(image: Image.Image, size) -> Image.Image:
    """Resize a PIL image to ``size`` given as (height, width). JPEGs are first DCT-downscaled (``draft``) when much
    larger than the target, which makes loading big frames several times faster at no visible cost."""
    target = parse_size(size)
    if target is None:
        return image if image.mode == "RGB" else image.convert("RGB")
    height, width = target
    if image.format == "JPEG" and (image.width >= 2 * width and image.height >= 2 * height):
        image.draft("RGB", (width, height))
    if image.mode != "RGB":
        image = image.convert("RGB")
    if image.size != (width, height):
        image = image.resize((width, height), Image.Resampling.BILINEAR, reducing_gap=2.0)
    return image


def resize_frames(frames: np.ndarray, size) -> np.ndarray:
    """Resize a ``(T, H, W, 3)`` uint8 stack to ``(T, height, width, 3)``; returns the input when already that size."""
    target = parse_size(size)
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"expected frames of shape (T, H, W, 3), got {frames.shape}")
    if target is None or tuple(frames.shape[1:3]) == target:
        return frames
    height, width = target
    out = np.empty((frames.shape[0], height, width, 3), dtype=np.uint8)
    for i, frame in enumerate(frames):
        out[i] = np.asarray(resize_image(Image.fromarray(frame), target))
    return out
