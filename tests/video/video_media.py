"""Real encoded media for the video tests (helpers): videos and JPEG folders whose frames carry their own frame number.

Each frame shows its number in binary (white/black blocks in the top half) and a fixed colour layout in the bottom
half (left red, right green), so a test can read back *which* frame it got and whether (H, W) stayed the right way
round after resizing — through a real lossy encode/decode, nothing mocked.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
from PIL import Image

BITS = 17


def numbered_frame(number: int, height: int = 64, width: int = 136) -> np.ndarray:
    img = np.zeros((height, width, 3), np.uint8)
    block = width // BITS
    for bit in range(BITS):
        if (number >> bit) & 1:
            img[: height // 2, bit * block : (bit + 1) * block] = 255
    img[height // 2 :, : width // 2] = (255, 0, 0)
    img[height // 2 :, width // 2 :] = (0, 255, 0)
    return img


def read_number(img: np.ndarray) -> int:
    """Decode the frame number from a (possibly resized) numbered frame."""
    height, width = img.shape[:2]
    block = width / BITS
    value = 0
    for bit in range(BITS):
        x0, x1 = int(bit * block + block / 4), int((bit + 1) * block - block / 4)
        if img[: height // 2 - 2, x0 : max(x1, x0 + 1)].mean() > 127:
            value |= 1 << bit
    return value


def encode_video(path: Path, count: int, *, gop: int = 25, codec: str = "libx264", height: int = 64,
                 width: int = 136, fps: int = 25, first: int = 0) -> Path:
    """Encode frames ``first .. first+count-1`` (their numbers drawn in) with PyAV."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt, stream.gop_size = width, height, "yuv420p", gop
        if codec == "libx264":
            stream.options = {"preset": "ultrafast", "crf": "18"}
        for number in range(first, first + count):
            frame = av.VideoFrame.from_ndarray(numbered_frame(number, height, width), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def write_jpeg_folder(folder: Path, numbers, height: int = 64, width: int = 136) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for number in numbers:
        name = f"{number:05d}.jpg"
        Image.fromarray(numbered_frame(number, height, width)).save(folder / name, quality=95)
    return folder


def declared_huge_mjpeg(path: Path, width: int = 16000, height: int = 16000, frames: int = 3) -> Path:
    """A real Motion-JPEG AVI of a few KB whose headers all declare ``width`` x ``height`` frames.

    Encoded at 16x16 with PyAV, then the fixed-size size fields are rewritten: the AVI main header (``avih``), the
    stream format (``strf`` BITMAPINFOHEADER) and every JPEG's start-of-frame marker. FFmpeg reports the declared
    size; decoding one frame would allocate width x height pixels (16000x16000: ~0.4 GB YUV, ~0.8 GB RGB).
    """
    import struct

    with av.open(str(path), "w") as container:
        stream = container.add_stream("mjpeg", rate=25)
        stream.width, stream.height, stream.pix_fmt = 16, 16, "yuvj420p"
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(np.full((16, 16, 3), 40 * i, np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    data = bytearray(Path(path).read_bytes())
    for tag, offsets in ((b"avih", (32, 36)), (b"strf", (4, 8))):
        base = data.index(tag) + 8
        for offset, value in zip(offsets, (width, height), strict=True):
            assert struct.unpack_from("<i", data, base + offset)[0] == 16
            struct.pack_into("<i", data, base + offset, value)
    patched, at = 0, data.find(b"\xff\xc0")
    while at >= 0:
        if struct.unpack_from(">HH", data, at + 5) == (16, 16):
            struct.pack_into(">HH", data, at + 5, height, width)
            patched += 1
        at = data.find(b"\xff\xc0", at + 2)
    assert patched == frames
    Path(path).write_bytes(data)
    return path
