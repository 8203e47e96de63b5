"""Decode, sample, resize and store video frames (PyAV), safely and fast enough to feed training.

Public API: :func:`read_frames`, :func:`extract_frames`, :func:`load_clip`, :class:`FrameSettings`, the samplers
:func:`uniform_indices`, :func:`tsa_indices`, :func:`core_window`, and :class:`MediaError`.
"""

from hieroaction.video.decode import list_frame_files, read_frames
from hieroaction.video.errors import MEDIA_ERROR_KINDS, MediaError
from hieroaction.video.extract import ExtractResult, extract_frames, load_clip
from hieroaction.video.resize import resize_frames
from hieroaction.video.sampling import FrameSettings, all_indices, core_window, parse_size, tsa_indices, uniform_indices
from hieroaction.video.store import clip_path

__all__ = [
    "MEDIA_ERROR_KINDS",
    "ExtractResult",
    "FrameSettings",
    "MediaError",
    "all_indices",
    "clip_path",
    "core_window",
    "extract_frames",
    "list_frame_files",
    "load_clip",
    "parse_size",
    "read_frames",
    "resize_frames",
    "tsa_indices",
    "uniform_indices",
]
