"""``hieroaction synth render|draw``: rendered stand-in dive videos with exact labels, in the real layouts.

- ``render``: render real annotations (bundled FineDiving / MTL-AQA, any subset) or a manifest into frame folders
  (FineDiving layout) or whole mp4 videos (MTL-AQA layout), and write the relocated samples as ``samples.jsonl``.
- ``draw``: draw N new dives from the real label distribution, render them, write ``samples.jsonl``.
The output folder is the media root of the written samples.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(subparsers) -> None:
    parser = subparsers.add_parser("synth", help="render stand-in dive videos carrying real or drawn labels")
    commands = parser.add_subparsers(dest="synth_command", required=True)

    render = commands.add_parser("render", help="render real annotations into their real media layout")
    render.add_argument("kind", choices=("finediving", "mtl-aqa", "manifest"), help="where the labels come from")
    render.add_argument("path", nargs="?", help="annotation folder or manifest (default: the bundled annotations)")
    render.add_argument("--out", required=True, help="output folder (media root of the rendered samples)")
    render.add_argument("--split", choices=("train", "test"), help="only this split")
    render.add_argument("--ids", nargs="+", help="only these sample ids")
    render.add_argument("--limit", type=int, help="only the first N samples (after the filters)")
    _common(render)
    render.set_defaults(func=run_render)

    draw = commands.add_parser("draw", help="draw new labelled dives from the real label distribution and render them")
    draw.add_argument("-n", "--count", type=int, required=True, help="how many dives")
    draw.add_argument("--out", required=True, help="output folder (media root of the rendered samples)")
    draw.add_argument("--split", default="train", help="split name written on the drawn samples (default: train)")
    _common(draw)
    draw.set_defaults(func=run_draw)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--layout", choices=("frames", "video"), default="video",
                        help="frames: <video>/<instance>/<frame>.jpg; video: whole <video>.mp4 files (default)")
    parser.add_argument("--size", help="frame size HxW (default 256x456 for frames, 128x224 for video)")
    parser.add_argument("--camera", choices=("broadcast", "fixed"), default="broadcast",
                        help="broadcast: follows the diver close up, as TV footage does (default); fixed: wide static")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-validate", action="store_true", help="skip the data-layer validation of the output")


def run_render(args: argparse.Namespace) -> int:
    from hieroaction.datasets.records import DatasetReadError
    from hieroaction.datasets.summary import load_dataset

    try:
        loaded = load_dataset(args.kind, args.path)
    except DatasetReadError as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    samples = loaded.samples
    if args.split:
        samples = [s for s in samples if s.split == args.split]
    if args.ids:
        wanted = set(args.ids)
        samples = [s for s in samples if s.sample_id in wanted]
        missing = wanted - {s.sample_id for s in samples}
        if missing:
            print(f"error: unknown sample ids: {', '.join(sorted(missing))}", file=sys.stderr)
            return 2
    if args.limit is not None:
        samples = samples[: args.limit]
    return _render_and_write(samples, args)


def run_draw(args: argparse.Namespace) -> int:
    from hieroaction.synth.draw import draw_samples

    return _render_and_write(draw_samples(args.count, args.seed, split=args.split), args)


def _render_and_write(samples, args: argparse.Namespace) -> int:
    from hieroaction.datasets.sample import write_jsonl
    from hieroaction.synth.dataset import render_dataset
    from hieroaction.synth.render import RenderError

    out = Path(args.out)
    try:
        rendered = render_dataset(samples, out, layout=args.layout, seed=args.seed, workers=args.workers,
                                  size=args.size, camera=args.camera)
    except RenderError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    write_jsonl(rendered, out / "samples.jsonl")
    summary = {"rendered": len(rendered), "layout": args.layout, "out": str(out), "samples": str(out / "samples.jsonl")}
    status = 0
    if not args.no_validate:
        from hieroaction.datasets.validate import validate_samples

        report = validate_samples(rendered, media_root=out)
        summary["validation"] = {"success": report.success, "quarantined": [q.to_dict() for q in report.quarantined],
                                 "warnings": report.warnings}
        status = 0 if report.success else 1
    print(json.dumps(summary, ensure_ascii=False, default=str))
    return status
