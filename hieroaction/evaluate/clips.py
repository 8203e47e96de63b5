"""Where an evaluation gets each sample's frames: extracted clips (fast) or decoding the media on the fly.

Why both: the pipeline extracts frames once (``hieroaction frames``, keyed by the sampling settings) and evaluation
should reuse them; a user evaluating a folder of videos without extracting first can decode directly. Either way the
frames are chosen by the same :class:`~hieroaction.video.FrameSettings`, so the model sees what training showed it.
A sample whose frames cannot be had is quarantined with its reason, never silently skipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hieroaction.datasets.records import Quarantined, quarantine_exception
from hieroaction.datasets.sample import Sample
from hieroaction.video.checks import CLIP_LOAD_ERRORS, ClipError, check_clip

# One quarantine record for datasets, extraction, training and evaluation (``to_dict`` keys: id, field, value, reason).
QuarantinedSample = Quarantined


@dataclass(frozen=True)
class ClipSource:
    """Frames of a sample from ``frames_dir`` (extracted with ``settings``) or else decoded from ``media_root``."""

    settings: object  # hieroaction.video.FrameSettings
    frames_dir: Path | None = None
    media_root: Path | None = None

    def __post_init__(self) -> None:
        if self.frames_dir is None and self.media_root is None:
            raise ValueError("a clip source needs frames_dir (extracted clips) or media_root (decode on the fly)")

    def load(self, sample: Sample, *, mmap: bool = True) -> np.ndarray:
        """The sampled ``(T,H,W,3)`` uint8 frames of ``sample``; raises with the sample id when they cannot be had
        (one of :data:`~hieroaction.video.checks.CLIP_LOAD_ERRORS`). A stored clip that is missing or no longer whole
        is decoded from the media instead when there is a ``media_root``: a broken store costs no good sample."""
        from hieroaction.video import load_clip, read_frames
        from hieroaction.video.limits import check_sampling

        if self.frames_dir is not None:
            try:
                return load_clip(self.frames_dir, sample, self.settings, mmap=mmap)  # mmap: read when used
            except (FileNotFoundError, ClipError):
                if self.media_root is None:
                    raise
        try:
            check_sampling(self.settings, sample.num_frames)
            indices = self.settings.indices(sample.num_frames)
        except ValueError as exc:  # an impossible or over-budget frame range of this sample
            raise ClipError(f"{sample.sample_id}: frames {sample.video.start_frame}..{sample.video.end_frame}: {exc}") from exc
        return read_frames(sample.video, indices, media_root=self.media_root, size=self.settings.size)

    def reread(self, sample: Sample, clip: np.ndarray) -> np.ndarray:
        """``clip`` (from :meth:`load`) ready to hand to a model now: in-memory frames as they are, a memory-mapped
        stored clip read again from its file. Why: a mapped file cut short since it was mapped kills the process
        (SIGBUS) when the missing pages are touched; read again, it raises and the sample is quarantined."""
        if self.frames_dir is not None and memory_mapped(clip):
            return self.load(sample, mmap=False)
        return clip

    def frame_indices(self, sample: Sample) -> list[int]:
        """Clip-relative frame indices the loaded frames show (for the prompt and the reader)."""
        return [int(i) for i in self.settings.indices(sample.num_frames)]

    def describe(self) -> dict:
        return {
            "frames_dir": None if self.frames_dir is None else str(self.frames_dir),
            "media_root": None if self.media_root is None else str(self.media_root),
            "settings": self.settings.to_dict(),
            "settings_key": self.settings.key,
        }


class FreshClips(Sequence):
    """``clips`` (from :func:`load_available`) as a sequence whose items are read again when taken
    (:meth:`ClipSource.reread`). Why: the phases after generation (the regressor baseline, the report's example plots)
    may come hours after the clips were mapped; a stored clip cut short since then raises a clip error for its own
    sample instead of killing the process (SIGBUS) when its missing pages are touched."""

    def __init__(self, source: ClipSource, samples: Sequence[Sample], clips: Sequence[np.ndarray]) -> None:
        if len(samples) != len(clips):
            raise ValueError(f"{len(samples)} samples but {len(clips)} clips")
        self.source, self.samples, self.clips = source, list(samples), list(clips)

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        return self.source.reread(self.samples[index], self.clips[index])


def memory_mapped(array) -> bool:
    """True when ``array`` (or an array it is a view of) reads its bytes from a memory-mapped file."""
    import mmap

    seen = 0
    while array is not None and seen < 32:
        if isinstance(array, np.memmap | mmap.mmap):
            return True
        array, seen = getattr(array, "base", None), seen + 1
    return False


def load_available(
    source: ClipSource, samples: list[Sample], *, progress: bool = False
) -> tuple[list[Sample], list[np.ndarray], list[QuarantinedSample]]:
    """Load every sample's frames once; return the good samples, their clips, and the quarantined ones with reasons.

    Why up front: every system must be scored on exactly the same samples, so a sample whose media is bad is removed
    from all of them before any model runs (and reported), rather than failing one system half-way; and the clips are
    loaded once for all systems (extracted clips stay memory-mapped).
    """
    from tqdm.auto import tqdm

    from hieroaction.video import MediaError

    good: list[Sample] = []
    clips: list[np.ndarray] = []
    bad: list[QuarantinedSample] = []
    for sample in tqdm(samples, desc="loading clips", unit="clip", disable=not progress):
        try:
            clip = check_clip(source.load(sample), sample.sample_id)  # the check training and assess apply
        except MediaError as exc:
            bad.append(Quarantined(sample.sample_id, "video", sample.video.path, f"{exc.kind}: {exc.detail}"))
            continue
        except CLIP_LOAD_ERRORS as exc:  # this clip's bytes, not a bug: the sample only (datasets.records.isolate)
            bad.append(quarantine_exception(sample.sample_id, "video", sample.video.path, exc, "unloadable"))
            continue
        good.append(sample)
        clips.append(clip)
    return good, clips, bad
