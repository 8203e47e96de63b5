"""Which clip frames to read: the samplers of the public AQA protocols, and the settings that name an extraction.

All indices are clip-relative (0 == ``VideoRef.start_frame``), matching :mod:`hieroaction.datasets.sample`.
Why protocols as functions: the TSA/FineDiving and CoRe/MTL-AQA codebases each pick frames their own way; a model
compared against published numbers must see the same frames.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from hieroaction.video.limits import DecodeLimits

SamplerName = Literal["uniform", "tsa", "core", "all"]
SAMPLERS: tuple[str, ...] = ("uniform", "tsa", "core", "all")
TSA_LENGTH = 96
UNIFORM_LENGTH = 16
CORE_LENGTH = 103


def uniform_indices(num_frames: int, count: int) -> np.ndarray:
    """``count`` frames spread evenly over the clip, first and last included (repeats when the clip is shorter)."""
    _check(num_frames, count)
    return np.rint(np.linspace(0, num_frames - 1, count)).astype(np.int64)


def tsa_indices(num_frames: int, count: int = TSA_LENGTH) -> np.ndarray:
    """The TSA/FineDiving protocol: ``np.linspace(start, end, 96).astype(int)`` relative to the clip start (floors)."""
    _check(num_frames, count)
    return np.linspace(0, num_frames - 1, count).astype(np.int64)


def core_window(num_frames: int, length: int = CORE_LENGTH) -> np.ndarray:
    """The CoRe/MTL-AQA protocol: the ``length`` consecutive frames that end at ``end_frame``.

    A clip shorter than the window yields negative indices: frames *before* ``start_frame`` in the whole video, as
    the protocol reads them. Readers clamp at the first frame that exists (a frame folder holds only the clip).
    """
    _check(num_frames, length)
    return np.arange(num_frames - length, num_frames, dtype=np.int64)


def all_indices(num_frames: int) -> np.ndarray:
    """Every frame of the clip (dense sampling)."""
    _check(num_frames, 1)
    return np.arange(num_frames, dtype=np.int64)


def _check(num_frames: int, count: int) -> None:
    if int(num_frames) < 1:
        raise ValueError(f"a clip needs at least one frame, got num_frames={num_frames}")
    if int(count) < 1:
        raise ValueError(f"need at least one frame to sample, got count={count}")


def parse_size(size) -> tuple[int, int] | None:
    """Normalise a size to ``(height, width)``: ``None`` keeps the source size, an int means a square, ``"HxW"`` text.

    Why (height, width): numpy frames are ``(H, W, 3)``; PIL and FFmpeg take ``(W, H)``. Everything in this package
    takes and returns (H, W) and converts only at the call into PIL/FFmpeg.
    """
    if size is None:
        return None
    if isinstance(size, str):
        text = size.lower().strip()
        if "x" in text:
            height, width = text.split("x", 1)
            size = (int(height), int(width))
        else:
            size = int(text)
    if isinstance(size, int | np.integer):
        size = (int(size), int(size))
    height, width = (int(v) for v in size)
    if height < 1 or width < 1:
        raise ValueError(f"size must be positive (height, width), got {size!r}")
    return height, width


@dataclass(frozen=True)
class FrameSettings:
    """How frames are sampled and sized; ``key`` names the extraction folder so different settings never mix.

    THE frame settings type: extraction, training (its config's ``data.frames`` section), evaluation, ``assess`` and
    the orchestration's frame-settings resource all build this one, through :meth:`from_mapping` when they start from
    plain data (YAML, JSON, a checkpoint's ``config.yaml``).

    ``count`` is the number of frames for ``uniform`` (default 16), ``tsa`` (default 96) and ``core`` (window
    length, default 103); ``all`` ignores it. ``size`` is ``(height, width)`` or ``None`` for the source size.
    """

    sampler: SamplerName = "uniform"
    count: int | None = None
    size: tuple[int, int] | None = (112, 112)

    def __post_init__(self) -> None:
        if self.sampler not in SAMPLERS:
            raise ValueError(f"unknown sampler {self.sampler!r}; choose one of {', '.join(SAMPLERS)}")
        object.__setattr__(self, "size", parse_size(self.size))
        count = self.count
        if self.sampler == "all":
            count = None
        elif count is None:
            count = {"uniform": UNIFORM_LENGTH, "tsa": TSA_LENGTH, "core": CORE_LENGTH}[self.sampler]
        if count is not None and int(count) < 1:
            raise ValueError(f"count must be >= 1, got {count}")
        object.__setattr__(self, "count", None if count is None else int(count))
        if self.count is not None:  # a count or size over the decode budget is a settings error, not N quarantines
            limits = DecodeLimits.from_env()
            limits.check_frames(self.count)
            if self.size is not None:
                limits.check_clip(self.count, self.size[1], self.size[0])

    @property
    def key(self) -> str:
        """Stable, readable folder name, e.g. ``uniform16_112x112`` or ``all_native``."""
        frames = self.sampler if self.count is None else f"{self.sampler}{self.count}"
        size = "native" if self.size is None else f"{self.size[0]}x{self.size[1]}"
        return f"{frames}_{size}"

    def indices(self, num_frames: int) -> np.ndarray:
        """Clip-relative frame indices for a clip of ``num_frames`` frames."""
        if self.sampler == "uniform":
            return uniform_indices(num_frames, self.count)
        if self.sampler == "tsa":
            return tsa_indices(num_frames, self.count)
        if self.sampler == "core":
            return core_window(num_frames, self.count)
        return all_indices(num_frames)

    def to_dict(self) -> dict:
        return {"sampler": self.sampler, "count": self.count, "size": None if self.size is None else list(self.size)}

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> FrameSettings:
        """The settings from their plain-data form (``{sampler, count, size}``, as :meth:`to_dict` writes them; any
        may be left out); an unknown key or value is a ``ValueError`` naming it."""
        unknown = sorted(set(values) - {"sampler", "count", "size"})
        if unknown:
            raise ValueError(f"unknown frame setting(s) {', '.join(map(repr, unknown))}; known: sampler, count, size")
        return cls(**dict(values))
