"""Write rendered frames to disk in the real datasets' media formats, atomically.

Why atomic: a killed render must not leave a half-written video or frame folder that a later run (or the frame
extractor) takes for finished. Files are written under a temp name and moved into place with ``os.replace``.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import numpy as np
from PIL import Image

TMP_MARK = ".partial-"


def write_mp4(path: Path, frames, fps: int = 25, crf: int = 20) -> None:
    """Encode uint8 ``(H, W, 3)`` frames (an iterable) as h264/yuv420p mp4 (even sizes required by yuv420p)."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{TMP_MARK}{os.getpid()}-{uuid.uuid4().hex[:8]}-{path.name}.tmp")
    try:
        with av.open(str(tmp), mode="w", format="mp4") as container:
            stream = None
            for frame in frames:
                frame = np.ascontiguousarray(frame, dtype=np.uint8)
                if stream is None:
                    height, width = frame.shape[:2]
                    if height % 2 or width % 2:
                        raise ValueError(f"h264/yuv420p needs even frame sizes, got {height}x{width}")
                    stream = container.add_stream("libx264", rate=fps)
                    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
                    stream.options = {"crf": str(crf), "preset": "veryfast"}
                for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                    container.mux(packet)
            if stream is None:
                raise ValueError("no frames to encode")
            for packet in stream.encode():
                container.mux(packet)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_frame_folder(folder: Path, frames, first_number: int, quality: int = 90) -> None:
    """Write ``<first_number + i>.jpg`` files (5-digit zero padding, 6+ digits when the number needs them) into a
    temp folder, then rename it into place: the folder appears complete or not at all."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.with_name(f"{TMP_MARK}{os.getpid()}-{uuid.uuid4().hex[:8]}-{folder.name}")
    tmp.mkdir()
    try:
        for i, frame in enumerate(frames):
            Image.fromarray(np.asarray(frame, dtype=np.uint8)).save(tmp / frame_file_name(first_number + i), quality=quality)
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def frame_file_name(number: int) -> str:
    """FineDiving's frame file name for a frame number: ``00123.jpg``, ``123456.jpg``."""
    return f"{number:05d}.jpg"
