"""Read chosen frames of a clip from a video file (PyAV, threaded) or a frame folder, as one uint8 array.

Why seeking: a whole competition video holds tens of thousands of frames and a sampler wants 16 or 96 of them.
Decoding from the keyframe before each wanted frame makes the cost grow with the frames asked for, not with the
video's length; consecutive wanted frames are decoded straight through (a seek would only go back to re-decode).
Why frame numbers from timestamps: after a seek the decoder does not know how many frames came before, so a frame's
number is ``round((pts - start_time) * time_base * frame_rate)`` (constant frame rate, which AQA footage is).
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from hieroaction.datasets.sample import VideoRef
from hieroaction.video.errors import MediaError
from hieroaction.video.limits import DecodeLimits, LimitError
from hieroaction.video.resize import resize_image
from hieroaction.video.sampling import parse_size

FRAME_SUFFIXES = (".jpg", ".jpeg", ".png")
# Gap (in frames) below which we keep decoding instead of seeking: a seek lands on a keyframe and restarts the
# decoder, which only pays off when the next wanted frame is further away than a typical keyframe distance.
DEFAULT_SEEK_GAP = 48
# Leading bytes of containers we can recognise even when FFmpeg cannot open them (to say "truncated", not "not a video").
_CONTAINER_MAGIC = ((4, b"ftyp"), (0, b"\x1a\x45\xdf\xa3"), (0, b"RIFF"), (0, b"OggS"), (0, b"FLV"), (0, b"\x00\x00\x01\xba"))


def read_frames(
    video,
    indices,
    *,
    media_root=None,
    size=None,
    seek_gap: int = DEFAULT_SEEK_GAP,
    allow_outside_root: bool | None = None,
    limits: DecodeLimits | None = None,
) -> np.ndarray:
    """Frames ``indices`` of a clip as ``(T, H, W, 3)`` uint8, in the order asked (repeats allowed).

    ``video`` is a :class:`VideoRef` (indices relative to its ``start_frame``; relative paths resolved against
    ``media_root``) or a path to a video file / frame folder (indices are then frame numbers from 0). Indices before
    the first available frame are clamped to it (the CoRe window of a short clip). ``size`` is ``(height, width)``,
    an int for a square, or ``None`` to keep the source size. Raises :class:`MediaError` for bad media.
    A :class:`VideoRef` path must stay inside ``media_root`` (symlinks too; frame files of a folder included) unless
    ``allow_outside_root`` (see :func:`hieroaction.datasets.media.confined_path`): else ``MediaError("outside-root")``.
    ``limits`` (default: :meth:`DecodeLimits.from_env`) bound the frame size and count, checked from the headers
    before decoding: over budget is ``MediaError("too-large")``.
    """
    from hieroaction.datasets.media import MediaPathError, confined_path

    indices = np.asarray(indices, dtype=np.int64).reshape(-1)
    if indices.size == 0:
        raise ValueError("no frame indices given")
    target = parse_size(size)
    limits = limits or DecodeLimits.from_env()
    root = None
    if isinstance(video, VideoRef):
        try:
            path = confined_path(video.path, media_root, allow_outside_root=allow_outside_root)
        except MediaPathError as exc:
            raise MediaError("outside-root", exc.path, exc.reason) from None
        root = media_root
        kind, start, needed = video.kind, video.start_frame, video.end_frame - video.start_frame + 1
    else:
        path = Path(video)
        kind = "frames" if path.is_dir() else "video"
        start, needed = 0, None
    try:
        limits.check_frames(indices.size)
    except LimitError as exc:
        raise MediaError("too-large", path, str(exc)) from None
    if kind == "frames":
        return _read_folder(path, indices, target, needed, root, allow_outside_root, limits)
    absolute = np.maximum(indices + start, 0)
    if needed is not None:
        # The annotation promises frames up to end_frame: asking for the last one proves the video is long enough.
        absolute_needed = np.unique(np.append(absolute, start + needed - 1))
    else:
        absolute_needed = np.unique(absolute)
    decoded = _read_video(path, absolute_needed.tolist(), target, seek_gap, limits)
    return np.stack([decoded[int(i)] for i in absolute])


# ----------------------------------------------------------------------------------------------- frame folders


def list_frame_files(folder) -> list[Path]:
    """Frame files of a folder sorted by frame number (``9999.jpg`` before ``10000.jpg``: numeric, not lexical)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise MediaError("missing", folder, "frame folder not found")
    numbered = []
    for entry in os.scandir(folder):
        name, suffix = os.path.splitext(entry.name)
        if suffix.lower() not in FRAME_SUFFIXES or not entry.is_file():
            continue
        if not name.isdigit():
            raise MediaError("bad-name", Path(entry.path), f"frame file name {entry.name!r} is not a frame number")
        if entry.stat().st_size == 0:  # cheap to see for every frame, not only the sampled ones
            raise MediaError("zero-byte", Path(entry.path), f"frame file {entry.name} is empty (0 bytes)")
        numbered.append((int(name), Path(entry.path)))
    numbered.sort()
    return [path for _, path in numbered]


def _read_folder(
    folder: Path,
    indices: np.ndarray,
    target,
    needed: int | None,
    root=None,
    allow_outside_root: bool | None = None,
    limits: DecodeLimits | None = None,
) -> np.ndarray:
    from hieroaction.datasets.media import inside_root

    files = list_frame_files(folder)
    if needed is not None and len(files) < needed:
        raise MediaError("too-few-frames", folder, f"folder has {len(files)} frames, the annotation needs {needed}")
    positions = np.maximum(indices, 0)
    if len(files) == 0 or positions.max() >= len(files):
        raise MediaError(
            "too-few-frames", folder, f"folder has {len(files)} frames, frame {int(positions.max())} was asked for"
        )
    limits = limits or DecodeLimits.from_env()
    cache: dict[int, np.ndarray] = {}
    unique = np.unique(positions).tolist()
    for position in unique:
        if root is not None and not inside_root(files[position], root, allow_outside_root=allow_outside_root):
            raise MediaError("outside-root", files[position], "frame file is a link leading out of the media root")
        image = _load_image(files[position], target, limits, len(unique))
        if target is None:
            target = (image.shape[0], image.shape[1])  # later frames of another size are resized to the first's
        cache[position] = image
    return np.stack([cache[int(p)] for p in positions])


def _load_image(path: Path, target, limits: DecodeLimits | None = None, frames: int = 1) -> np.ndarray:
    """Decode one frame file; its header's size is checked against ``limits`` before the pixels are decoded."""
    limits = limits or DecodeLimits.from_env()
    try:
        with Image.open(path) as image:  # reads the header only
            limits.check_frame(image.width, image.height)
            kept = target or (image.height, image.width)
            limits.check_clip(frames, kept[1], kept[0])
            image = resize_image(image, target)
            return np.asarray(image, dtype=np.uint8)
    except LimitError as exc:
        raise MediaError("too-large", path, str(exc)) from None
    except Image.DecompressionBombError as exc:
        raise MediaError("too-large", path, f"image header declares a decompression bomb: {exc}") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        kind = "zero-byte" if path.exists() and path.stat().st_size == 0 else "corrupt-image"
        raise MediaError(kind, path, f"cannot decode frame image: {exc}") from None


# ----------------------------------------------------------------------------------------------- video files


def _open_container(path: Path):
    import av

    if not path.exists():
        raise MediaError("missing", path, "video file not found")
    if path.is_dir():
        raise MediaError("not-a-video", path, "expected a video file, found a folder")
    if path.stat().st_size == 0:
        raise MediaError("zero-byte", path, "video file is empty (0 bytes)")
    try:
        return av.open(str(path), mode="r")
    except av.error.FileNotFoundError:
        raise MediaError("missing", path, "video file not found") from None
    except av.error.FFmpegError as exc:
        with open(path, "rb") as fh:
            head = fh.read(16)
        if any(head[offset : offset + len(magic)] == magic for offset, magic in _CONTAINER_MAGIC):
            raise MediaError("truncated", path, f"container is recognisable but cannot be opened: {exc}") from None
        raise MediaError("not-a-video", path, f"FFmpeg does not recognise the data as a video: {exc}") from None


def probe_frame_count(path) -> int | None:
    """The frame count the container declares (``None`` when it does not say); cheap, no decoding."""
    container = _open_container(Path(path))
    try:
        if not container.streams.video:
            return None
        return int(container.streams.video[0].frames) or None
    finally:
        container.close()


def _read_video(
    path: Path, wanted: list[int], target, seek_gap: int, limits: DecodeLimits | None = None
) -> dict[int, np.ndarray]:
    """Decode the sorted, unique absolute frame numbers ``wanted``; returns number -> (H, W, 3) uint8.

    The frame size the stream header declares is checked against ``limits`` before the first frame is decoded."""
    import av

    limits = limits or DecodeLimits.from_env()
    container = _open_container(path)
    try:
        if not container.streams.video:
            raise MediaError("no-video-stream", path, "the file has no video stream")
        stream = container.streams.video[0]
        codec = stream.codec_context
        if codec is None or codec.codec is None or not codec.codec.is_decoder:
            raise MediaError("unsupported-codec", path, "no decoder for the video stream's codec")
        try:
            width, height = int(codec.width or stream.width or 0), int(codec.height or stream.height or 0)
            limits.check_frame(width, height)
            kept = target or (height, width)
            limits.check_clip(len(wanted), kept[1], kept[0])
        except LimitError as exc:
            raise MediaError("too-large", path, str(exc)) from None
        stream.thread_type = "AUTO"  # frame + slice threads: what makes full decodes competitive with the CLI
        reader = _FrameReader(container, stream, target, seek_gap)
        try:
            return reader.read(wanted)
        except av.error.FFmpegError as exc:
            if isinstance(exc, av.error.DecoderNotFoundError) or "decoder" in str(exc).lower():
                raise MediaError("unsupported-codec", path, f"cannot decode the video stream: {exc}") from None
            raise MediaError("corrupt-data", path, f"decoding failed: {exc}") from None
    finally:
        container.close()


class _FrameReader:
    """Walks one video stream, seeking forward when the next wanted frame is far away."""

    def __init__(self, container, stream, target, seek_gap: int):
        self.container = container
        self.stream = stream
        self.target = target
        self.seek_gap = max(1, int(seek_gap))
        self.rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        self.time_base = stream.time_base
        self.start_time = stream.start_time or 0
        self.can_seek = bool(self.rate) and bool(self.time_base)
        self.frames = None  # the live decode iterator
        self.last = -1  # number of the last frame decoded
        self.last_key = None  # number of the last keyframe seen
        self.keyframe_gap = None  # observed distance between keyframes
        self.counter = 0  # fallback numbering when frames carry no pts
        self.restarted = False  # a seek just happened: the next frame tells whether it overshot

    def read(self, wanted: list[int]) -> dict[int, np.ndarray]:
        out: dict[int, np.ndarray] = {}
        i = 0
        while i < len(wanted):
            goal = wanted[i]
            if self.frames is None or self._should_seek(goal):
                self._restart_at(goal)
            frame, number = self._next_at_or_after(goal)
            if frame is None:
                declared = int(self.stream.frames or 0)
                total = f"{declared} declared, " if declared else ""
                raise MediaError(
                    "too-few-frames",
                    self.container.name,
                    f"video ends before frame {goal} ({total}last decoded frame {self.last})",
                )
            image = frame.to_ndarray(format="rgb24", **self._size_kwargs())
            # Every wanted frame up to this one gets it (equal, or a frame missing from a variable-rate stream).
            while i < len(wanted) and wanted[i] <= number:
                out[wanted[i]] = image
                i += 1
        return out

    def _size_kwargs(self) -> dict:
        # One swscale thread: for frames this small, slice threads cost more than they save (3x slower measured on
        # 640x360 -> 112x112); AREA averages the source pixels (no aliasing) and was faster than BILINEAR too.
        if self.target is None:
            return {"threads": 1}
        height, width = self.target
        return {"width": width, "height": height, "interpolation": "AREA", "threads": 1}

    def _should_seek(self, goal: int) -> bool:
        if not self.can_seek or goal - self.last <= self.seek_gap:
            return False
        if self.keyframe_gap and self.last_key is not None:
            # Seeking lands on the last keyframe <= goal: useless unless a keyframe lies beyond what we decoded.
            return goal >= self.last_key + self.keyframe_gap and goal - self.last > self.keyframe_gap // 2
        return True

    def _restart_at(self, goal: int) -> None:
        """Start decoding (first call) or seek to the keyframe before ``goal`` (far jumps)."""
        if self.can_seek and goal > self.seek_gap:
            self._seek(goal)
            self.restarted = True
        self.frames = self.container.decode(self.stream)

    def _seek(self, number: int) -> None:
        timestamp = self.start_time + int(Fraction(number) / (Fraction(self.rate) * Fraction(self.time_base)))
        self.container.seek(max(timestamp, self.start_time), stream=self.stream, backward=True, any_frame=False)
        self.frames = None

    def _number(self, frame) -> int:
        if frame.pts is None or not self.can_seek:
            number = self.counter
        else:
            number = round(Fraction(frame.pts - self.start_time) * Fraction(self.time_base) * Fraction(self.rate))
        self.counter = number + 1
        return number

    def _next_at_or_after(self, goal: int):
        """Decode forward to the first frame numbered >= goal; re-seek further back if a seek overshot it."""
        backoff = self.seek_gap
        while True:
            if self.frames is None:
                self.frames = self.container.decode(self.stream)
            frame = next(self.frames, None)
            if frame is None:
                return None, None
            number = self._number(frame)
            if frame.key_frame:
                if self.last_key is not None and number > self.last_key:
                    gap = number - self.last_key
                    self.keyframe_gap = gap if self.keyframe_gap is None else min(self.keyframe_gap, gap)
                self.last_key = number
            if self.restarted and number > goal and number > 0 and backoff < 1 << 20:
                # The demuxer's seek landed after the goal (imprecise index): go back further and try again.
                self._seek(max(goal - backoff, 0))
                backoff *= 4
                continue
            self.restarted = False
            self.last = number
            if number >= goal:
                return frame, number
