"""Download the wheels the GPU machine lacks, at the versions pinned in constraints.txt, into ``gpu_wheels/``.

Why: the GPU machine (Python 3.12, torch 2.11, no package index; benchmarks/GPU.md) has no trl or datasets,
and an older transformers; the training code runs there unchanged once these are on PYTHONPATH. Taking the versions
from constraints.txt keeps the GPU run on the same library versions as CI. Run it here, where PyPI is reachable:

    .venv/bin/python benchmarks/gpu_wheels.py            # then benchmarks/gpu_session.sh on the GPU machine
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# What the GPU image lacks (trl, datasets and theirs) or has too old (transformers 5.17 and its tokenizer, peft).
GPU_WHEELS = ("trl", "datasets", "dill", "multiprocess", "xxhash", "transformers", "tokenizers", "regex", "peft")
GPU_PYTHON = "3.12"
GPU_PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64")


def pinned(names: tuple[str, ...], constraints: Path) -> list[str]:
    """``name==version`` of each name as constraints.txt pins it; a name it does not pin is an error."""
    pins: dict[str, str] = {}
    for line in constraints.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            pins[name.strip().lower().replace("_", "-")] = version.strip()
    missing = [name for name in names if name not in pins]
    if missing:
        raise SystemExit(f"{constraints}: no '==' pin for {', '.join(missing)}")
    return [f"{name}=={pins[name]}" for name in names]


def download_command(requirements: list[str], dest: Path) -> list[str]:
    platforms = [arg for platform in GPU_PLATFORMS for arg in ("--platform", platform)]
    return [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
            "--python-version", GPU_PYTHON, "--implementation", "cp", *platforms, "--dest", str(dest), *requirements]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", type=Path, default=REPO / "gpu_wheels")
    parser.add_argument("--constraints", type=Path, default=REPO / "constraints.txt")
    args = parser.parse_args(argv)
    requirements = pinned(GPU_WHEELS, args.constraints)
    args.dest.mkdir(parents=True, exist_ok=True)
    subprocess.run(download_command(requirements, args.dest), check=True)
    wheels = sorted(args.dest.glob("*.whl"))
    size = sum(w.stat().st_size for w in wheels) / 2**20
    print(f"{len(wheels)} wheels, {size:.1f} MiB in {args.dest}: {', '.join(requirements)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
