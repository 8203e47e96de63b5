"""`hieroaction` command line: one sub-command per library area, each registered by its own module.

Why lazy: every area's ``cli`` module only builds its argparse parser at start-up and imports its heavy
dependencies (torch, transformers, av) inside the handler, so `hieroaction --help` stays instant.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# sub-command area -> module exposing ``register(subparsers)``; each registered parser sets ``func(args) -> int``.
COMMAND_MODULES = (
    "hieroaction.datasets.cli",
    "hieroaction.synth.cli",
    "hieroaction.video.cli",
    "hieroaction.train.cli",
    "hieroaction.model.cli",
    "hieroaction.evaluate.cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hieroaction", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
