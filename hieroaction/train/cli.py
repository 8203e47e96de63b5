"""``hieroaction train sft|hpl --config FILE [--set key=value ...]`` and ``hieroaction model build PRESET OUT``.

Heavy imports (torch, transformers, trl) happen inside the handlers so ``hieroaction --help`` stays instant. For
several processes or GPUs use ``accelerate launch -m hieroaction.train.sft --config FILE`` (same code).
"""

from __future__ import annotations

import argparse
import sys


def register(subparsers) -> None:
    train = subparsers.add_parser("train", help="train the model: SFT cold start, then HPL (GRPO)")
    commands = train.add_subparsers(dest="train_command", required=True)
    for name, helptext in (
        ("sft", "supervised fine-tuning on (video, prompt, target) rows"),
        ("hpl", "hierarchical policy learning: GRPO on the hierarchical rewards"),
    ):
        sub = commands.add_parser(name, help=helptext, description=helptext)
        sub.add_argument("--config", required=True, help=f"YAML config (see configs/train/{name}_*.yaml)")
        sub.add_argument(
            "--set",
            dest="overrides",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="override a config value, e.g. --set train.max_steps=10 (repeatable)",
        )
        sub.set_defaults(func=run_train, stage=name)

    model = subparsers.add_parser("model", help="build offline model presets")
    model_commands = model.add_subparsers(dest="model_command", required=True)
    build = model_commands.add_parser("build", help="build a random-weight Qwen2.5-VL preset with its tokenizer")
    build.add_argument("preset", choices=("tiny", "small"))
    build.add_argument("out_dir")
    build.add_argument("--overwrite", action="store_true")
    build.set_defaults(func=run_build)


def run_train(args: argparse.Namespace) -> int:
    from hieroaction.train.config import ConfigError
    from hieroaction.train.resources import TrainingResourceError

    try:
        if args.stage == "sft":
            from hieroaction.train.sft import run_sft

            final = run_sft(args.config, args.overrides)
        else:
            from hieroaction.train.config import HPLRunConfig, load_config
            from hieroaction.train.hpl import run_hpl

            final = run_hpl(load_config(args.config, HPLRunConfig, args.overrides))
    except (ConfigError, TrainingResourceError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(final)
    return 0


def run_build(args: argparse.Namespace) -> int:
    from hieroaction.model.presets import build_offline_model

    print(build_offline_model(args.preset, args.out_dir, overwrite=args.overwrite))
    return 0
