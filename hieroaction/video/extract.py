"""Extract sampled frames for many samples into the clip store: parallel, resumable, atomic, bad media quarantined.

Why this shape: extraction is the one step that touches every video; it must survive being killed (files appear
whole or not at all), be cheap to rerun (finished clips are skipped, unless their video changed since or they no
longer match the checksum written beside them, then they are extracted again), and never let one broken file stop
the rest (each failure becomes a quarantine record naming the sample, the field and what was wrong).
Counts always add up: ``len(samples) == len(written) + len(skipped) + len(quarantined)``; ``repaired`` is the part
of ``written`` that replaced a stored clip which failed its checksum.
"""

from __future__ import annotations

import json
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np

from hieroaction.datasets.records import Quarantined, isolate, one_line, quarantine_exception
from hieroaction.datasets.sample import Sample
from hieroaction.video.checks import ClipError
from hieroaction.video.decode import read_frames
from hieroaction.video.errors import MediaError
from hieroaction.video.limits import check_sampling
from hieroaction.video.sampling import FrameSettings
from hieroaction.video.store import (
    clip_path,
    inside_store,
    is_complete,
    remove_stale_partials,
    settings_dir,
    verify_clip,
    write_atomic,
    write_text_atomic,
)

QUARANTINE_FILE = "quarantine.jsonl"
SUMMARY_FILE = "summary.json"


@dataclass
class ExtractResult:
    """What one extraction run did. ``paths`` maps every good sample id (written or skipped) to its clip file."""

    out_dir: Path
    settings: FrameSettings
    written: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    quarantined: list[Quarantined] = field(default_factory=list)
    # written again because the stored clip no longer matched its checksum (or had none): a subset of ``written``
    repaired: list[str] = field(default_factory=list)
    paths: dict[str, Path] = field(default_factory=dict)

    @property
    def count_in(self) -> int:
        return len(self.written) + len(self.skipped) + len(self.quarantined)

    @property
    def quarantine_file(self) -> Path:
        return settings_dir(self.out_dir, self.settings) / QUARANTINE_FILE

    def reasons(self) -> dict[str, int]:
        """Quarantine counts per kind of problem (``missing``, ``truncated``, ...)."""
        return dict(sorted(Counter(q.reason.split(":", 1)[0] for q in self.quarantined).items()))

    def to_dict(self) -> dict:
        return {
            "settings": self.settings.to_dict(),
            "key": self.settings.key,
            "in": self.count_in,
            "written": len(self.written),
            "skipped": len(self.skipped),
            "repaired": len(self.repaired),
            "quarantined": len(self.quarantined),
            "quarantine_reasons": self.reasons(),
        }


def extract_frames(
    samples,
    media_root,
    out_dir,
    settings: FrameSettings | None = None,
    workers: int = 2,
    *,
    progress: bool = True,
    overwrite: bool = False,
    allow_outside_root: bool | None = None,
) -> ExtractResult:
    """Sample, resize and store the frames of every sample; see :class:`ExtractResult` for what comes back.

    Runs ``workers`` samples at a time in threads (PyAV and PIL decode without holding the GIL). The quarantine
    record ``<out>/<settings.key>/quarantine.jsonl`` is rewritten at the end of each run: it lists what this run
    could not extract (a rerun retries earlier failures). Media paths must stay inside ``media_root`` unless
    ``allow_outside_root`` (see :mod:`hieroaction.datasets.media`).
    """
    from tqdm.auto import tqdm

    settings = settings or FrameSettings()
    out_dir = Path(out_dir)
    folder = settings_dir(out_dir, settings)
    folder.mkdir(parents=True, exist_ok=True)
    remove_stale_partials(folder)
    result = ExtractResult(out_dir=out_dir, settings=settings)

    try:
        todo: list[tuple[Sample, Path]] = []
        seen: set[str] = set()
        repair: set[str] = set()
        for sample in samples:
            sid = getattr(sample, "sample_id", None)
            if sid in seen:
                result.quarantined.append(Quarantined(sid, "sample_id", sid, "duplicate: sample id appears twice"))
                continue
            seen.add(sid)
            plan, problem = isolate(sid, "sample_id", sid, _plan, sample, out_dir, settings, media_root,
                                    overwrite, allow_outside_root)
            if problem is not None:
                result.quarantined.append(problem)
            elif plan.done:
                result.skipped.append(sid)
                result.paths[sid] = plan.path
            else:
                todo.append((sample, plan.path))
                if plan.repair:
                    repair.add(sid)

        def work(item: tuple[Sample, Path]):
            sample, path = item
            return sample, path, _extract_one(sample, path, media_root, settings, allow_outside_root)

        with tqdm(total=len(todo), desc=f"frames {settings.key}", unit="clip", disable=not progress) as bar:
            if workers <= 1 or len(todo) <= 1:
                _collect(map(work, todo), result, bar)
            else:
                with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="extract") as pool:
                    _collect(pool.map(work, todo), result, bar)
        result.repaired = [sid for sid in result.written if sid in repair]
    finally:  # the summary and the quarantine record are written whatever happened (even on Ctrl-C)
        _write_records(folder, result)
    return result


class Plan(NamedTuple):
    """What extraction does with one sample: ``done`` skips it; ``repair`` marks a stored clip that failed its check."""

    path: Path
    done: bool
    repair: bool


def _plan(sample: Sample, out_dir: Path, settings, media_root, overwrite: bool, allow_outside_root) -> Plan:
    path = clip_path(out_dir, sample, settings)
    if overwrite or not path.is_file():
        return Plan(path, False, False)
    if not inside_store(path, out_dir) or not is_complete(path):
        return Plan(path, False, True)
    return Plan(path, not _media_is_newer(sample, media_root, path, allow_outside_root), False)


def _extract_one(sample: Sample, path: Path, media_root, settings, allow_outside_root) -> Quarantined | None:
    """Read, decode, resize and write one clip; whatever it raises becomes its quarantine record (one line)."""
    try:
        frames = _sample_frames(sample, media_root, settings, allow_outside_root)
    except MediaError as exc:
        return Quarantined(sample.sample_id, "video", exc.path, f"{exc.kind}: {' '.join(exc.detail.split())}")
    except FrameRangeError as exc:  # an impossible or too long frame range in the annotation
        value = [sample.video.start_frame, sample.video.end_frame]
        return Quarantined(sample.sample_id, "video.frames", value, f"bad-range: {exc}")
    except OSError as exc:
        return quarantine_exception(sample.sample_id, "video", sample.video.path, exc, "unreadable")
    except Exception as exc:  # noqa: BLE001 - one sample's failure never stops the run (see records.isolate)
        return quarantine_exception(sample.sample_id, "video", sample.video.path, exc, "error")
    try:
        write_atomic(path, frames)
    except Exception as exc:  # noqa: BLE001 - disk full, name too long, permission: this clip only
        return quarantine_exception(sample.sample_id, "clip", str(path), exc, "write-failed")
    return None


class FrameRangeError(ValueError):
    """The annotation's frame range cannot be sampled (empty, or longer than the configured cap)."""


def _collect(outcomes, result: ExtractResult, bar) -> None:
    for sample, path, problem in outcomes:
        if problem is None:
            result.written.append(sample.sample_id)
            result.paths[sample.sample_id] = path
        else:
            result.quarantined.append(problem)
        bar.update(1)


def _media_is_newer(sample: Sample, media_root, clip: Path, allow_outside_root: bool | None = None) -> bool:
    """True when the video file (or frame folder) changed after ``clip`` was written: a re-rendered or replaced
    video under the same name must not be served from its stale clip. A path that may not be used counts as
    changed, so extraction runs again and quarantines it with the reason."""
    from hieroaction.datasets.media import MediaPathError, media_path

    try:
        path = media_path(sample.video, media_root, allow_outside_root=allow_outside_root)
        return path.stat().st_mtime_ns > clip.stat().st_mtime_ns
    except (OSError, MediaPathError):
        return True  # gone, unreadable or not allowed: extract again, which quarantines it with the reason


def _sample_frames(sample: Sample, media_root, settings: FrameSettings, allow_outside_root=None) -> np.ndarray:
    from hieroaction.datasets.checks import frame_range_problem

    problem = frame_range_problem(sample.video.start_frame, sample.video.end_frame)
    if problem:  # the validation rule, for samples that were never validated (a negative start is not frame 0)
        raise FrameRangeError(f"{problem[0]} {problem[1]}: {problem[2]}")
    try:
        check_sampling(settings, sample.num_frames)  # before the sampler allocates (``all`` over 10^12 frames)
        indices = settings.indices(sample.num_frames)
    except ValueError as exc:
        raise FrameRangeError(str(exc)) from None
    return read_frames(
        sample.video, indices, media_root=media_root, size=settings.size, allow_outside_root=allow_outside_root
    )


def _write_records(folder: Path, result: ExtractResult) -> None:
    lines = "".join(json.dumps(q.to_dict(), ensure_ascii=False) + "\n" for q in result.quarantined)
    write_text_atomic(folder / QUARANTINE_FILE, lines)
    write_text_atomic(folder / SUMMARY_FILE, json.dumps(result.to_dict(), indent=2) + "\n")


def load_clip(out_dir, sample: Sample, settings: FrameSettings | None = None, *, mmap: bool = True) -> np.ndarray:
    """The stored ``(T, H, W, 3)`` uint8 clip of ``sample`` (memory-mapped by default: no copy until used).

    Raises ``FileNotFoundError`` naming the sample when it was never extracted (or was quarantined), and
    :class:`~hieroaction.video.checks.ClipError` when the file is there but is no longer the clip extraction wrote
    (cut short, or its bytes no longer match the checksum written beside it: :func:`~hieroaction.video.store.verify_clip`).
    """
    settings = settings or FrameSettings()
    path = clip_path(out_dir, sample, settings)
    if not path.is_file():
        raise FileNotFoundError(f"{sample.sample_id}: no extracted clip for settings {settings.key} at {path}")
    problem = verify_clip(path) if inside_store(path, out_dir) else "a link out of the clip store (not read)"
    if problem is not None:
        raise ClipError(f"{sample.sample_id}: stored clip {path}: {problem}")
    try:
        return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (ValueError, EOFError) as exc:  # truncated or overwritten since it was written: this clip only
        raise ClipError(f"{sample.sample_id}: stored clip {path} cannot be read ({one_line(exc)})") from exc
