"""THE clip check: what every stage accepts as a model's video input, and the one-line refusal for anything else.

Why one check: training (the SFT loader, the GRPO trainer), evaluation (:mod:`hieroaction.evaluate.clips`) and
``hieroaction assess`` all hand clips to the same Qwen-VL processor; a clip one of them accepts and another refuses
would make a sample train but not evaluate (or the reverse). A malformed clip fails here, naming the sample and the
field, instead of as a shape error deep in torch.
"""

from __future__ import annotations

import zipfile
from typing import Any

import numpy as np
from PIL import Image

from hieroaction.video.errors import MediaError
from hieroaction.video.limits import LimitError


class ClipError(ValueError):
    """A clip that cannot be a model input: the wrong shape or type, or a stored clip file that cannot be read."""


# What reading, decoding or resizing one clip may raise because of the clip's bytes, not because of a bug: the one
# list training data loading and evaluation quarantine a sample for (anything else, a TypeError, still raises).
CLIP_LOAD_ERRORS: tuple[type[BaseException], ...] = (
    OSError,  # missing, unreadable or truncated file; PIL's UnidentifiedImageError
    EOFError,
    MediaError,
    LimitError,
    ClipError,
    Image.DecompressionBombError,
    zipfile.BadZipFile,
)


def check_clip(
    clip: Any, sample_id: str, field: str = "video", error: type[Exception] = ClipError, *, writable: bool = False
) -> np.ndarray:
    """``clip`` as a uint8 ``(T, H, W, 3)`` array with ``T >= 1``, or ``error`` naming the sample and field.

    ``writable``: return a writable array (stored clips are read-only memory maps; torch wants to own its input).
    """
    if clip is None:
        raise error(f"sample {sample_id!r}: field {field!r} has no video")
    clip = np.asarray(clip)
    if clip.ndim != 4 or clip.shape[-1] != 3 or clip.shape[0] < 1:
        raise error(f"sample {sample_id!r}: field {field!r} must be (T, H, W, 3), got shape {clip.shape}")
    if clip.dtype != np.uint8:
        raise error(f"sample {sample_id!r}: field {field!r} must be uint8, got {clip.dtype}")
    if writable and not clip.flags.writeable:
        clip = np.array(clip)
    return clip
