"""What can be wrong with a sample's media, as one exception type carrying a machine-readable kind.

Why one type with a ``kind``: extraction quarantines every bad-media case the same way (sample id, field, value,
reason) and the counts per kind go into the report, so callers never need to catch FFmpeg's or PIL's own errors.
"""

from __future__ import annotations

MEDIA_ERROR_KINDS = (
    "missing",  # file or frame folder not there
    "zero-byte",  # file exists but is empty
    "not-a-video",  # FFmpeg cannot recognise the data as any container
    "truncated",  # a known container whose data stops early / index missing
    "no-video-stream",  # a media file without a video stream (e.g. audio only)
    "unsupported-codec",  # the container is fine but no decoder exists for its codec
    "corrupt-data",  # decoding failed part-way
    "corrupt-image",  # a frame file of a folder cannot be decoded
    "too-few-frames",  # the media ends before the annotated frames do
    "bad-name",  # frame files whose names are not frame numbers
    "outside-root",  # the media path leaves the media root (absolute, '..', URL, symlink) and was not opened
    "too-large",  # the headers declare more pixels or frames than the configured budget allows
    "unreadable",  # the operating system refused to open or read the file
)


class MediaError(Exception):
    """Bad media for one sample. ``kind`` is one of :data:`MEDIA_ERROR_KINDS`; ``path`` is the offending file."""

    def __init__(self, kind: str, path, detail: str):
        if kind not in MEDIA_ERROR_KINDS:
            raise ValueError(f"unknown media error kind {kind!r}")
        self.kind = kind
        self.path = str(path)
        self.detail = detail
        super().__init__(f"{kind}: {detail} ({self.path})")
