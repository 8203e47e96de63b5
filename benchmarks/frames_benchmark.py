"""Frame extraction speed: hieroaction.video vs the ffmpeg command line vs naive decode-every-frame; clip store formats.

Not a test (timings depend on the machine); prints Markdown tables kept in benchmarks/FRAMES.md.
Needs the ``ffmpeg`` CLI (Debian: ``apt-get install -y ffmpeg``). Run: ``.venv/bin/python benchmarks/frames_benchmark.py``.

Cases, on a short (10 s) and a long (5 min) 640x360 h264 video (GOP 50, 25 fps), output resized to 112x112 RGB:
- dense: every frame of the video (where everything must be decoded: the goal is within 1.2x of ffmpeg);
- sparse: 16 frames spread uniformly (the cost should follow the frames asked for, not the video's length).
Contenders: ``read_frames`` (seeking, threaded PyAV); ``ffmpeg`` with the same sampling (``select`` filter, scale,
raw RGB to a pipe; for sparse also one ``-ss`` seek per frame); naive PyAV (decode and convert every frame, keep
the wanted ones).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from machine_info import cpu_name

from hieroaction.video.decode import read_frames
from hieroaction.video.sampling import uniform_indices

SIZE = (112, 112)


def make_video(path: Path, seconds: int) -> Path:
    """A 640x360 h264 test video with motion and texture (ffmpeg's testsrc2 plus noise)."""
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=size=640x360:rate=25:duration={seconds}",
         "-vf", "noise=alls=6:allf=t", "-c:v", "libx264", "-preset", "veryfast", "-g", "50", "-pix_fmt", "yuv420p",
         str(path)],
        check=True,
    )
    return path


def frame_count(path: Path) -> int:
    import av

    with av.open(str(path)) as container:
        return container.streams.video[0].frames


def ours(path: Path, indices) -> np.ndarray:
    return read_frames(path, indices, size=SIZE)


def naive(path: Path, indices) -> np.ndarray:
    """What a first attempt looks like: decode and convert every frame, then pick."""
    import av

    wanted = set(int(i) for i in indices)
    kept = {}
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for number, frame in enumerate(container.decode(stream)):
            image = frame.to_ndarray(format="rgb24", width=SIZE[1], height=SIZE[0])  # PyAV defaults
            if number in wanted:
                kept[number] = image
    return np.stack([kept[int(i)] for i in indices])


def ffmpeg_select(path: Path, indices) -> np.ndarray:
    """The ffmpeg CLI with the same sampling: select the frame numbers, scale, raw RGB to a pipe."""
    unique = sorted(set(int(i) for i in indices))
    height, width = SIZE
    if len(unique) == frame_count_cache[path]:
        video_filter = f"scale={width}:{height}"
    else:
        chooser = "+".join(f"eq(n\\,{i})" for i in unique)
        video_filter = f"select='{chooser}',scale={width}:{height}"
    raw = subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-i", str(path), "-vf", video_filter, "-fps_mode", "passthrough",
         "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"],
        check=True, capture_output=True,
    ).stdout
    frames = np.frombuffer(raw, np.uint8).reshape(-1, height, width, 3)
    position = {n: k for k, n in enumerate(unique)}
    return frames[[position[int(i)] for i in indices]]


def ffmpeg_seek(path: Path, indices, fps: int = 25) -> np.ndarray:
    """The ffmpeg CLI seeking: one process per frame with ``-ss`` before ``-i`` (keyframe seek + accurate decode)."""
    height, width = SIZE
    frames = []
    for i in indices:
        raw = subprocess.run(
            ["ffmpeg", "-loglevel", "error", "-ss", f"{int(i) / fps:.4f}", "-i", str(path), "-frames:v", "1",
             "-vf", f"scale={width}:{height}", "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"],
            check=True, capture_output=True,
        ).stdout
        frames.append(np.frombuffer(raw, np.uint8).reshape(height, width, 3))
    return np.stack(frames)


frame_count_cache: dict[Path, int] = {}


def timed(fn, *args, repeats: int = 3):
    best, out = float("inf"), None
    for _ in range(repeats):
        started = time.perf_counter()
        out = fn(*args)
        best = min(best, time.perf_counter() - started)
    return best, out


def extraction_table(tmp: Path, long_seconds: int, repeats: int) -> str:
    videos = {"short (10 s)": make_video(tmp / "short.mp4", 10), f"long ({long_seconds // 60} min)":
              make_video(tmp / "long.mp4", long_seconds)}
    rows = ["| video | sampling | frames | method | seconds | frames/s | MB/s (RGB out) | vs ffmpeg |",
            "|---|---|---|---|---|---|---|---|"]
    for name, path in videos.items():
        total = frame_count(path)
        frame_count_cache[path] = total
        cases = {"dense (all)": np.arange(total), "sparse (16)": uniform_indices(total, 16)}
        for sampling, indices in cases.items():
            methods = {"hieroaction read_frames": ours, "ffmpeg CLI select": ffmpeg_select, "naive PyAV": naive}
            if sampling.startswith("sparse"):
                methods["ffmpeg CLI -ss per frame"] = ffmpeg_seek
            # Interleave the methods and keep each one's best time: on a shared machine the load changes from
            # second to second, and interleaving exposes every method to the same conditions.
            reps = repeats if (sampling.startswith("sparse") or total < 1000) else max(2, repeats - 1)
            results = {}
            for _ in range(reps):
                for method, fn in methods.items():
                    seconds, frames = timed(fn, path, indices, repeats=1)
                    if method not in results or seconds < results[method][0]:
                        results[method] = (seconds, frames)
            reference = results["ffmpeg CLI select"][1]
            for method, (seconds, frames) in results.items():
                agree = np.abs(frames.astype(int) - reference.astype(int)).mean()
                if agree > 8:
                    print(f"warning: {method} differs from ffmpeg on {name}/{sampling}: mean abs {agree:.1f}",
                          file=sys.stderr)
                ratio = seconds / results["ffmpeg CLI select"][0]
                megabytes = frames.nbytes / 1e6
                rows.append(f"| {name} | {sampling} | {len(indices)} | {method} | {seconds:.3f} | "
                             f"{len(indices) / seconds:.0f} | {megabytes / seconds:.1f} | {ratio:.2f}x |")
    return "\n".join(rows)


def store_table(tmp: Path, loads: int) -> tuple[str, list[dict]]:
    """Load time and size of one 16x112x112 clip per storage format (what a training loader pays per sample).

    The ``load_clip`` rows are the store as it is used: the checksum check (sha256 of the file) on a clip's first
    load in a process, and the cached check (a ``stat``) on every later load; ``npy, read`` is their baseline.
    """
    from PIL import Image

    from hieroaction.datasets.sample import Sample, VideoRef
    from hieroaction.synth.draw import draw_samples
    from hieroaction.synth.render import render_sample
    from hieroaction.video import store
    from hieroaction.video.extract import load_clip
    from hieroaction.video.sampling import FrameSettings

    sample = draw_samples(1, seed=0)[0]
    clip = render_sample(sample, 0, SIZE, indices=uniform_indices(sample.num_frames, 16))
    npy, npz, folder = tmp / "clip.npy", tmp / "clip.npz", tmp / "jpegs"
    np.save(npy, clip)
    np.savez_compressed(npz, frames=clip)
    folder.mkdir(exist_ok=True)
    for i, frame in enumerate(clip):
        Image.fromarray(frame).save(folder / f"{i:05d}.jpg", quality=90)
    settings = FrameSettings("uniform", 16, SIZE)
    stored = Sample("bench", "bench", "train", VideoRef("video", "bench.mp4", 0, 99), "107b", 80.0)
    stored_path = store.clip_path(tmp / "store", stored, settings)
    store.write_atomic(stored_path, clip)

    def first_load():
        store._VERIFIED.clear()  # as in a new process: the file is hashed
        return load_clip(tmp / "store", stored, settings, mmap=False).sum()

    formats = {
        "npy, memory-mapped": (lambda: np.asarray(np.load(npy, mmap_mode="r")).sum(), npy.stat().st_size),
        "npy, read (baseline)": (lambda: np.load(npy).sum(), npy.stat().st_size),
        "load_clip, first load in a process (checksum hashed)": (first_load, stored_path.stat().st_size),
        "load_clip, later loads (checksum cached; chosen)": (
            lambda: load_clip(tmp / "store", stored, settings, mmap=False).sum(), stored_path.stat().st_size),
        "npz (deflate)": (lambda: np.load(npz)["frames"].sum(), npz.stat().st_size),
        "JPEG folder (q90)": (
            lambda: np.stack([np.asarray(Image.open(p)) for p in sorted(folder.iterdir())]).sum(),
            sum(p.stat().st_size for p in folder.iterdir()),
        ),
    }
    measured = []
    for name, (load, size) in formats.items():
        load()
        started = time.perf_counter()
        for _ in range(loads):
            load()
        measured.append({"format": name, "seconds": (time.perf_counter() - started) / loads, "bytes": size,
                         "lossless": "JPEG" not in name})
    baseline = next(m["seconds"] for m in measured if "baseline" in m["format"])
    rows = ["| format | load ms/clip | x npy read | clips/s | size KB | lossless |", "|---|---|---|---|---|---|"]
    for m in measured:
        m["ratio_to_npy_read"] = m["seconds"] / baseline
        rows.append(f"| {m['format']} | {m['seconds'] * 1000:.2f} | {m['ratio_to_npy_read']:.2f} | "
                    f"{1 / m['seconds']:.0f} | {m['bytes'] / 1000:.0f} | {'yes' if m['lossless'] else 'no'} |")
    return "\n".join(rows), measured


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--long-seconds", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--loads", type=int, default=200)
    parser.add_argument("--store-only", action="store_true", help="only the clip store table (no ffmpeg needed)")
    parser.add_argument("--json", default="benchmarks/results/frames_store.json", help="where the store table goes")
    args = parser.parse_args(argv)
    if args.store_only:
        with tempfile.TemporaryDirectory() as tmp:
            return _store(Path(tmp), args)
    if shutil.which("ffmpeg") is None:
        print("error: the ffmpeg command line is needed (apt-get install -y ffmpeg)", file=sys.stderr)
        return 2
    version = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True).stdout.splitlines()[0]
    import av

    print(f"{version}; PyAV {av.__version__} (FFmpeg {'.'.join(map(str, av.library_versions['libavcodec']))} "
          f"libavcodec)")
    with tempfile.TemporaryDirectory() as tmp:
        print("\n## Extraction\n")
        print(extraction_table(Path(tmp), args.long_seconds, args.repeats))
        return _store(Path(tmp), args)


def _store(tmp: Path, args) -> int:
    import json
    import platform

    table, measured = store_table(tmp, args.loads)
    print("\n## Clip store formats (16 x 112 x 112 x 3 uint8)\n")
    print(table)
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"loads": args.loads, "clip": [16, *SIZE, 3], "machine": platform.platform(),
                               "cpu": cpu_name(), "formats": measured}, indent=2) + "\n")
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
