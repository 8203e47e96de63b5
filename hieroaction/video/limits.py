"""How much decoding one clip may cost, checked from headers before any pixel is decoded.

Why: a 2 MB file can declare 16000x16000 frames or 10^12 of them; decoding what it declares would take gigabytes
before anything failed. The stream/image header says the frame size, the annotation and the sampler say how many
frames; both are checked against these budgets first, and a clip over budget is refused as ``too-large``.
Defaults fit every real AQA source (4K frames, whole competition videos) with room to spare; each is an
environment variable (docs/UNTRUSTED_INPUT.md).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

FRAME_PIXELS_ENV = "HIEROACTION_MAX_FRAME_PIXELS"
CLIP_PIXELS_ENV = "HIEROACTION_MAX_CLIP_PIXELS"
CLIP_FRAMES_ENV = "HIEROACTION_MAX_CLIP_FRAMES"
DEFAULT_MAX_FRAME_PIXELS = 4096 * 4096  # 16.8 Mpx: DCI 4K with room (a decoded frame of this size is ~50 MB)
DEFAULT_MAX_CLIP_PIXELS = 1 << 29  # 537 Mpx: ~1.6 GB of uint8 RGB for the frames one clip keeps
DEFAULT_MAX_CLIP_FRAMES = 100_000  # frames one clip may ask for (about an hour at 25 fps)


class LimitError(ValueError):
    """A clip asks for more than the configured budget; the message names the budget and how to raise it."""


def _env_int(name: str, default: int) -> int:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(float(text))
    except ValueError:
        raise LimitError(f"{name}={text!r} is not a number") from None
    if value < 1:
        raise LimitError(f"{name}={text!r} must be at least 1")
    return value


@dataclass(frozen=True)
class DecodeLimits:
    """Budgets for one clip: pixels of any one source frame, pixels of the frames kept, frames asked for."""

    max_frame_pixels: int = DEFAULT_MAX_FRAME_PIXELS
    max_clip_pixels: int = DEFAULT_MAX_CLIP_PIXELS
    max_clip_frames: int = DEFAULT_MAX_CLIP_FRAMES

    @classmethod
    def from_env(cls) -> DecodeLimits:
        return cls(
            _env_int(FRAME_PIXELS_ENV, DEFAULT_MAX_FRAME_PIXELS),
            _env_int(CLIP_PIXELS_ENV, DEFAULT_MAX_CLIP_PIXELS),
            _env_int(CLIP_FRAMES_ENV, DEFAULT_MAX_CLIP_FRAMES),
        )

    def check_frame(self, width: int, height: int) -> None:
        """The source frame size a header declares (before decoding it)."""
        pixels = int(width) * int(height)
        if pixels > self.max_frame_pixels:
            raise LimitError(
                f"frames of {width}x{height} ({pixels:,} px) exceed the per-frame budget of "
                f"{self.max_frame_pixels:,} px ({FRAME_PIXELS_ENV})"
            )

    def check_clip(self, frames: int, width: int, height: int) -> None:
        """``frames`` kept frames of ``width`` x ``height`` (after resizing)."""
        self.check_frames(frames)
        pixels = int(frames) * int(width) * int(height)
        if pixels > self.max_clip_pixels:
            raise LimitError(
                f"{frames} frames of {width}x{height} ({pixels:,} px) exceed the per-clip budget of "
                f"{self.max_clip_pixels:,} px ({CLIP_PIXELS_ENV})"
            )

    def check_frames(self, frames: int) -> None:
        """How many frames a clip asks for (checked before the sampler allocates its index array)."""
        if int(frames) > self.max_clip_frames:
            raise LimitError(
                f"{int(frames):,} frames asked for, more than the budget of {self.max_clip_frames:,} "
                f"({CLIP_FRAMES_ENV})"
            )


def sampled_frame_count(settings, num_frames: int) -> int:
    """How many indices ``settings.indices(num_frames)`` would return, without building them."""
    return int(num_frames) if settings.count is None else int(settings.count)


def check_sampling(settings, num_frames: int, limits: DecodeLimits | None = None) -> None:
    """Refuse (``LimitError``) a sampler asking for more frames than the budget, before any index is computed."""
    (limits or DecodeLimits.from_env()).check_frames(sampled_frame_count(settings, num_frames))
