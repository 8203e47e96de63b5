"""Refuse an install that would not fit, before it starts: one line naming the disk, the need and what is free.

Runs with the system Python before the environment exists (standard library only), so it cannot use
``hieroaction.train.capacity``, which checks the disk of training runs.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

GIB = 1024**3


def nearest_existing(path: Path) -> Path:
    """``path`` or its nearest existing parent: the folder to be created lives on that parent's file system."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path, help="where the files will be written")
    parser.add_argument("--gib", type=float, required=True, help="GiB the step needs free")
    parser.add_argument("--for", dest="what", default="this step", help="what needs the space (for the message)")
    args = parser.parse_args(argv)
    probe = nearest_existing(args.path.resolve())
    free = shutil.disk_usage(probe).free
    if free < args.gib * GIB:
        print(f"not enough disk space for {args.what} on {probe}: need about {args.gib:g} GiB, "
              f"{free / GIB:.1f} GiB free; free some space or put the environment on a larger disk (make VENV=PATH)",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
