"""``hieroaction train sft|hpl --config FILE [--set key=value ...]``.

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
