"""``hieroaction frames extract``: sample, resize and store clip frames for a dataset (resumable, atomic);
``hieroaction frames verify``: check a store's clips against their checksums.

``extract`` writes ``<out>/<settings key>/<sample id>.<source hash>.npy`` (and its ``.npy.sha256``) per good sample
plus ``quarantine.jsonl`` and ``summary.json`` beside them (always, even when samples fail); prints the summary.
Exit codes: 0 every sample extracted; 3 finished, but some samples were quarantined (listed in ``quarantine.jsonl``);
2 a user error (one line on stderr). ``verify`` reads and writes nothing but the store's files and prints a summary;
exit 0 when every clip matches its checksum, 3 when some do not (rerun ``extract`` to extract them again), 2 a user
error.
"""

from __future__ import annotations

import argparse
import json
import sys

EXIT_QUARANTINED = 3


def register(subparsers) -> None:
    parser = subparsers.add_parser("frames", help="extract sampled frames from videos / frame folders")
    commands = parser.add_subparsers(dest="frames_command", required=True)
    extract = commands.add_parser("extract", help="sample, resize and store frames for every sample")
    extract.add_argument("kind", choices=("finediving", "mtl-aqa", "manifest"), help="where the samples come from")
    extract.add_argument("path", nargs="?", help="annotation folder or manifest (e.g. samples.jsonl written by synth)")
    extract.add_argument("--media-root", required=True, help="folder the samples' video paths are relative to")
    extract.add_argument("--out", required=True, help="clip store folder")
    extract.add_argument("--layout", choices=("frames", "video"), default="frames",
                         help="FineDiving media layout (frame folders or whole videos)")
    extract.add_argument("--sampler", choices=("uniform", "tsa", "core", "all"), default="uniform")
    extract.add_argument("--count", type=int, help="frames per clip (default 16 uniform, 96 tsa, 103 core)")
    extract.add_argument("--size", default="112x112", help="HxW, a single number for a square, or 'native'")
    extract.add_argument("--workers", type=int, default=2)
    extract.add_argument("--split", choices=("train", "test"), help="only this split")
    extract.add_argument("--limit", type=int, help="only the first N samples")
    extract.add_argument("--overwrite", action="store_true", help="re-extract clips that already exist")
    extract.add_argument("--allow-outside-media-root", action="store_true",
                         help="also read absolute paths, '..' and links out of --media-root (off: they are quarantined)")

    extract.set_defaults(func=run_extract)

    verify = commands.add_parser("verify", help="check every stored clip against the checksum beside it")
    verify.add_argument("store", help="clip store folder (--out of extract), or one settings folder in it")
    verify.set_defaults(func=run_verify)


def run_verify(args: argparse.Namespace) -> int:
    from pathlib import Path

    from hieroaction.video.verify import verify_store

    if not Path(args.store).is_dir():
        return _fail(f"clip store folder not found: {args.store}")
    result = verify_store(args.store)
    print(json.dumps(result.to_dict(), ensure_ascii=False))
    return 0 if result.ok else EXIT_QUARANTINED


def run_extract(args: argparse.Namespace) -> int:
    from pathlib import Path

    from hieroaction.datasets.records import DatasetReadError
    from hieroaction.datasets.summary import load_dataset
    from hieroaction.video.extract import extract_frames
    from hieroaction.video.limits import DecodeLimits, LimitError
    from hieroaction.video.sampling import FrameSettings

    if not Path(args.media_root).is_dir():
        return _fail(f"--media-root folder not found: {args.media_root}")
    if Path(args.out).exists() and not Path(args.out).is_dir():
        return _fail(f"--out {args.out} is a file, expected a folder for the clip store")
    try:
        DecodeLimits.from_env()  # a bad budget setting is the user's error, said once, not once per sample
        loaded = load_dataset(args.kind, args.path, layout=args.layout)
    except (DatasetReadError, LimitError) as exc:
        return _fail(exc)
    samples = loaded.samples
    if args.split:
        samples = [s for s in samples if s.split == args.split]
    if args.limit is not None:
        samples = samples[: args.limit]
    count = args.count
    size = None if args.size in ("native", "none") else args.size
    try:
        settings = FrameSettings(args.sampler, count, size)
    except ValueError as exc:
        return _fail(f"--sampler/--count/--size: {exc}")
    result = extract_frames(samples, args.media_root, args.out, settings, workers=args.workers,
                            overwrite=args.overwrite, allow_outside_root=args.allow_outside_media_root or None)
    summary = result.to_dict()
    summary["quarantine_file"] = str(result.quarantine_file)
    summary["annotation_quarantined"] = len(loaded.quarantined)
    print(json.dumps(summary, ensure_ascii=False))
    return EXIT_QUARANTINED if result.quarantined or loaded.quarantined else 0


def _fail(message) -> int:
    print(f"error: {' '.join(str(message).split())}", file=sys.stderr)
    return 2
