"""``hieroaction datasets summary KIND [PATH]``: load, validate and report on annotation files."""

from __future__ import annotations

import argparse
import json
import sys

from hieroaction.datasets.summary import DATASET_KINDS


def register(subparsers) -> None:
    parser = subparsers.add_parser("datasets", help="read, validate and summarise annotation files")
    commands = parser.add_subparsers(dest="datasets_command", required=True)
    summary = commands.add_parser(
        "summary",
        help="counts per split, action types, quarantined samples and rule warnings",
        description="Load a dataset (default: the bundled real annotations), validate it and summarise it.",
    )
    summary.add_argument("kind", choices=DATASET_KINDS)
    summary.add_argument("path", nargs="?", help="annotation folder or manifest file (default: bundled files)")
    summary.add_argument("--media-root", help="check that every sample's frames/video exist under this folder")
    summary.add_argument(
        "--layout",
        choices=("frames", "video"),
        default="frames",
        help="FineDiving media layout: frame folders or whole videos (default: frames)",
    )
    summary.add_argument(
        "--allow-outside-media-root",
        action="store_true",
        help="accept absolute paths, '..' and links out of --media-root (off: such samples are quarantined)",
    )
    summary.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    summary.set_defaults(func=run_summary)


def run_summary(args: argparse.Namespace) -> int:
    from hieroaction.datasets.records import DatasetReadError
    from hieroaction.datasets.summary import format_summary, load_dataset, summarize

    try:
        loaded = load_dataset(
            args.kind,
            args.path,
            media_root=args.media_root,
            layout=args.layout,
            allow_outside_root=args.allow_outside_media_root or None,
        )
    except DatasetReadError as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    from hieroaction.datasets.validate import validate_samples

    allow = args.allow_outside_media_root or None
    report = validate_samples(loaded.samples, media_root=args.media_root, allow_outside_root=allow)
    summary = summarize(args.kind, loaded, report)
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
    else:
        print(format_summary(summary))
    return 0
