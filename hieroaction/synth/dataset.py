"""Render many samples into the real datasets' on-disk layouts and return samples that point at the renders.

Layouts (relative to ``out_root``, which is the media root of the returned samples):
- ``frames`` (FineDiving): ``<video>/<instance>/<frame_number>.jpg`` for frame numbers ``start_frame..end_frame``,
  256 pixels high by default; the VideoRef keeps the real frame range.
- ``video`` (MTL-AQA): one h264 ``<video>.mp4`` per source video holding each of its samples' clips in order of
  their real start frame, with ``pad`` calm frames before and after each clip (kept short on purpose). The returned
  VideoRef's ``start_frame..end_frame`` is where the clip sits in that file.
Idempotent: finished folders/videos are kept while ``<out_root>/.hieroaction-render.json`` says they were drawn by
this renderer version with the same settings (seed, size, camera, ...); otherwise every job is redone. The returned
samples are the same either way.
"""

from __future__ import annotations

import json
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

from hieroaction.datasets.sample import Sample, VideoRef
from hieroaction.synth.encode import write_frame_folder, write_mp4
from hieroaction.synth.render import RENDERER_VERSION, plan_dive, render_frame
from hieroaction.video.sampling import parse_size
from hieroaction.video.store import remove_stale_partials, write_text_atomic

FRAMES_LAYOUT_SIZE = (256, 456)
VIDEO_LAYOUT_SIZE = (128, 224)
DEFAULT_PAD = 8
RENDER_SETTINGS_FILE = ".hieroaction-render.json"


def media_name(sample: Sample) -> tuple[str, str]:
    """(video name, instance name) of a sample: its source key when it has one, else its id's last two parts."""
    if len(sample.source_key) >= 2:
        video, instance = sample.source_key[0], sample.source_key[1]
        if isinstance(video, int):
            video = f"{video:02d}"  # MTL-AQA video ids are folder names like '01'
        return _safe(str(video)), _safe(str(instance))
    parts = [p for p in sample.sample_id.split("/") if p]
    if len(parts) >= 3:
        return _safe(parts[-2]), _safe(parts[-1])
    return _safe(parts[0] if len(parts) > 1 else "video"), _safe(parts[-1])


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in text) or "_"


def render_dataset(samples, out_root, layout: str = "frames", seed: int = 0, workers: int = 2, *, size=None,
                   pad: int = DEFAULT_PAD, fps: int = 25, progress: bool = True, camera: str = "broadcast") -> list[Sample]:
    """Render ``samples`` under ``out_root`` in ``layout`` (``frames`` or ``video``); returns the relocated samples
    in input order. ``camera``: ``broadcast`` (follows the diver) or ``fixed`` (wide static shot).
    Raises :class:`~hieroaction.synth.render.RenderError` naming a sample that cannot be rendered."""
    from tqdm.auto import tqdm

    if layout not in ("frames", "video"):
        raise ValueError(f"layout must be 'frames' or 'video', got {layout!r}")
    out_root = Path(out_root)
    samples = list(samples)
    for sample in samples:
        plan_dive(sample, seed, camera=camera)  # fail early, naming the sample, before any work starts
    size = parse_size(size) or (FRAMES_LAYOUT_SIZE if layout == "frames" else VIDEO_LAYOUT_SIZE)
    remove_stale_partials(out_root)  # temp files/folders of a killed earlier run
    if layout == "frames":
        jobs, relocated = _frame_jobs(samples, out_root, seed, size)
    else:
        jobs, relocated = _video_jobs(samples, out_root, seed, size, pad, fps)
    settings = {"renderer": RENDERER_VERSION, "layout": layout, "seed": seed, "size": list(size), "camera": camera,
                "pad": pad, "fps": fps}
    stamp = out_root / RENDER_SETTINGS_FILE
    reuse = _stamped_settings(stamp) == settings
    if not reuse:  # other settings or another renderer drew what is here: redo every job, then stamp
        stamp.unlink(missing_ok=True)
    jobs = [(*job, camera, not reuse) for job in jobs]
    with tqdm(total=len(jobs), desc=f"render {layout}", unit="job", disable=not progress) as bar:
        if workers <= 1 or len(jobs) <= 1:
            for job in jobs:
                _run_job(job)
                bar.update(1)
        else:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                for _ in pool.map(_run_job, jobs):
                    bar.update(1)
    write_text_atomic(stamp, json.dumps(settings, sort_keys=True) + "\n")
    return relocated


def _stamped_settings(stamp: Path) -> dict | None:
    try:
        return json.loads(stamp.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _frame_jobs(samples, out_root: Path, seed: int, size):
    jobs, relocated, used = [], [], set()
    for sample in samples:
        video, instance = media_name(sample)
        rel = f"{video}/{instance}"
        if rel in used:
            raise ValueError(f"{sample.sample_id}: two samples map to the same frame folder {rel}")
        used.add(rel)
        relocated.append(replace(sample, video=VideoRef("frames", rel, sample.video.start_frame, sample.video.end_frame)))
        jobs.append(("frames", out_root / rel, [(sample, 0)], seed, size, 0, 0))
    return jobs, relocated


def _video_jobs(samples, out_root: Path, seed: int, size, pad: int, fps: int):
    groups: dict[str, list[int]] = defaultdict(list)
    for i, sample in enumerate(samples):
        groups[media_name(sample)[0]].append(i)
    relocated: list[Sample | None] = [None] * len(samples)
    jobs = []
    for video, members in groups.items():
        members.sort(key=lambda i: (samples[i].video.start_frame, samples[i].sample_id))
        position = 0
        layout = []
        for i in members:
            sample = samples[i]
            start = position + pad
            end = start + sample.num_frames - 1
            relocated[i] = replace(sample, video=VideoRef("video", f"{video}.mp4", start, end))
            layout.append((sample, start))
            position = end + 1 + pad
        jobs.append(("video", out_root / f"{video}.mp4", layout, seed, size, pad, fps))
    return jobs, relocated


def _run_job(job) -> None:
    kind, path, layout, seed, size, pad, fps, camera, redo = job
    if kind == "frames":
        sample = layout[0][0]
        if not redo and _frame_folder_done(path, sample.num_frames):
            return
        plan = plan_dive(sample, seed, camera=camera)
        frames = (render_frame(plan, t, size) for t in range(plan.num_frames))
        write_frame_folder(path, frames, sample.video.start_frame)
        return
    total = sum(sample.num_frames + 2 * pad for sample, _ in layout)
    if not redo and _video_done(path, total):
        return
    write_mp4(path, _video_frames(layout, seed, size, pad, camera), fps=fps)


def _video_frames(layout, seed: int, size, pad: int, camera: str):
    """Each clip with ``pad`` still frames before (its first frame) and after (its last frame)."""
    for sample, _ in layout:
        plan = plan_dive(sample, seed, camera=camera)
        first = render_frame(plan, 0, size)
        for _ in range(pad):
            yield first
        last = first
        for t in range(plan.num_frames):
            last = render_frame(plan, t, size) if t else first
            yield last
        for _ in range(pad):
            yield last


def _frame_folder_done(folder: Path, count: int) -> bool:
    return folder.is_dir() and sum(1 for p in folder.iterdir() if p.suffix == ".jpg") == count


def _video_done(path: Path, frames: int) -> bool:
    if not path.is_file():
        return False
    from hieroaction.video.decode import probe_frame_count
    from hieroaction.video.errors import MediaError

    try:
        return probe_frame_count(path) == frames
    except MediaError:
        return False
