"""``hieroaction model build PRESET OUT``: build an offline model preset (random weights, trained tokenizer).

torch and transformers are imported inside the handler so ``hieroaction --help`` stays instant.
"""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    model = subparsers.add_parser("model", help="build offline model presets")
    model_commands = model.add_subparsers(dest="model_command", required=True)
    build = model_commands.add_parser("build", help="build a random-weight Qwen2.5-VL preset with its tokenizer")
    build.add_argument("preset", choices=("tiny", "small", "medium"))
    build.add_argument("out_dir")
    build.add_argument("--overwrite", action="store_true")
    build.add_argument("--device", default="cpu", help="where the vision pretraining runs (cuda for medium)")
    build.set_defaults(func=run_build)


def run_build(args: argparse.Namespace) -> int:
    from hieroaction.model.presets import build_offline_model

    print(build_offline_model(args.preset, args.out_dir, overwrite=args.overwrite, device=args.device))
    return 0
