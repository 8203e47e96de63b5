"""How a training stage starts from a command line: logging, arguments, and the one error policy.

The policy, the same for ``hieroaction train sft|hpl`` and ``python -m hieroaction.train.sft|hpl``: a user error
(a config value, a missing file, a model that is not there, a run that cannot fit the disk or the GPU) is one line
on stderr naming the file or key, exit code 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path


class _CurrentStderr(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a record is emitted (not the stream of when it was installed, which a
    test harness or a redirect may have closed since)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):
        pass


def setup_logging(level: int = logging.INFO) -> None:
    """One readable line per event, with the process rank when distributed."""
    rank = os.environ.get("RANK")
    prefix = f"[rank {rank}] " if rank is not None and os.environ.get("WORLD_SIZE", "1") != "1" else ""
    root = logging.getLogger()
    if not any(getattr(h, "_hieroaction", False) for h in root.handlers):
        handler = _CurrentStderr()
        handler.setFormatter(logging.Formatter(f"%(asctime)s {prefix}%(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
        handler._hieroaction = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("httpx", "urllib3", "filelock"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def user_errors() -> tuple[type[BaseException], ...]:
    """The exception classes that mean "the input is wrong", not "the code is wrong"."""
    from hieroaction.model.loading import ModelLoadError
    from hieroaction.train.capacity import TrainingResourceError
    from hieroaction.train.config import ConfigError
    from hieroaction.train.data import TrainingDataError

    return (ConfigError, TrainingResourceError, ModelLoadError, TrainingDataError)


def one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"error: {text}"


def run_stage(run: Callable[[str | Path, list[str]], Path], config: str | Path, overrides: list[str]) -> int:
    """Run one stage (``run_sft``/``run_hpl``) under the error policy; prints the final model's folder on success."""
    try:
        final = run(config, overrides)
    except user_errors() as exc:
        print(one_line(exc), file=sys.stderr)
        return 2
    print(final)
    return 0


def add_stage_arguments(parser: argparse.ArgumentParser, stage: str) -> None:
    parser.add_argument("--config", required=True, help=f"YAML config (see configs/train/{stage}_*.yaml)")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value, e.g. --set train.max_steps=10 (repeatable)",
    )


def main(stage: str, description: str, run: Callable[[str | Path, list[str]], Path], argv: list[str] | None = None) -> int:
    """``python -m hieroaction.train.<stage> --config FILE [--set KEY=VALUE ...]``."""
    parser = argparse.ArgumentParser(prog=f"python -m hieroaction.train.{stage}", description=description)
    add_stage_arguments(parser, stage)
    args = parser.parse_args(argv)
    return run_stage(run, args.config, args.overrides)
