"""``hieroaction train sft|hpl --config FILE [--set key=value ...]``.

Heavy imports (torch, transformers, trl) happen inside the handlers so ``hieroaction --help`` stays instant. For
several processes or GPUs use ``accelerate launch -m hieroaction.train.sft --config FILE`` (same code).
"""

from __future__ import annotations

import argparse

from hieroaction.train.entry import add_stage_arguments


def register(subparsers) -> None:
    train = subparsers.add_parser("train", help="train the model: SFT cold start, then HPL (GRPO)")
    commands = train.add_subparsers(dest="train_command", required=True)
    for name, helptext in (
        ("sft", "supervised fine-tuning on (video, prompt, target) rows"),
        ("hpl", "hierarchical policy learning: GRPO on the hierarchical rewards"),
    ):
        sub = commands.add_parser(name, help=helptext, description=helptext)
        add_stage_arguments(sub, name)
        sub.set_defaults(func=run_train, stage=name)


def run_train(args: argparse.Namespace) -> int:
    from hieroaction.train.entry import run_stage

    if args.stage == "sft":
        from hieroaction.train.sft import run_sft as run
    else:
        from hieroaction.train.hpl import run_hpl as run
    return run_stage(run, args.config, args.overrides)
