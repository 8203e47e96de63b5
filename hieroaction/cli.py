"""`hieroaction` command line: one sub-command per library area, each registered by its own module.

Why lazy: every area's ``cli`` module only builds its argparse parser at start-up and imports its heavy
dependencies (torch, transformers, av) inside the handler, so `hieroaction --help` stays instant.
"""

from __future__ import annotations

import argparse
import errno
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


EXIT_USER_ERROR = 2


def main(argv: list[str] | None = None) -> int:
    """Run one command. A user error (a file that cannot be read or written, an input refused as a whole) is one
    line on stderr and exit 2; a traceback means a bug (docs/UNTRUSTED_INPUT.md)."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except user_errors() as exc:
        if isinstance(exc, OSError) and not is_user_os_error(exc):
            raise  # e.g. a connection reset or a device error inside a library: a bug to see, not a bad path
        print(f"error: {describe_user_error(exc)}", file=sys.stderr)
        return EXIT_USER_ERROR


def user_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that are the input's or the environment's fault, whichever command raises them (an ``OSError``
    only when :func:`is_user_os_error` says so)."""
    from hieroaction.datasets.media import MediaPathError
    from hieroaction.datasets.records import DatasetReadError
    from hieroaction.video.limits import LimitError

    return (DatasetReadError, MediaPathError, LimitError, OSError)


# A path the user gave that is missing, unreadable, the wrong kind of file or not writable; a full or read-only disk.
USER_OS_ERRORS = (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError, FileExistsError)
USER_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.ENAMETOOLONG, errno.ELOOP})


def is_user_os_error(exc: OSError) -> bool:
    """Only the path and disk errors a user can fix are one-line errors; any other ``OSError`` (a broken pipe, a
    connection reset, an I/O error in a library) keeps its traceback, so a real bug cannot hide behind exit 2."""
    return isinstance(exc, USER_OS_ERRORS) or exc.errno in USER_ERRNOS


def describe_user_error(exc: BaseException) -> str:
    """One line: an ``OSError`` names its file (``[Errno 21] Is a directory: 'out'``), the rest say it themselves."""
    return " ".join(str(exc).split()) or type(exc).__name__


if __name__ == "__main__":
    sys.exit(main())
