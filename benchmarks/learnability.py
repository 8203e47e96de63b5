"""Learnability of the rendered dives: train a tiny video model for ~2 CPU minutes, test on held-out renders.

Prints a Markdown table (kept in benchmarks/FRAMES.md): body-position and take-off-group accuracy against chance
(the most common training class), and the Spearman rho of predicted vs true scores. Held-out dives are drawn with
another seed: new labels, scenes, cameras and lighting.

Run: ``.venv/bin/python benchmarks/learnability.py [--train 800 --test 250 --seconds 120]``.
"""

from __future__ import annotations

import argparse
import json
import sys

from hieroaction.synth.learnability import LearnabilityConfig, format_table, run_learnability


def main(argv=None) -> int:
    defaults = LearnabilityConfig()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=800)
    parser.add_argument("--test", type=int, default=250)
    parser.add_argument("--frames", type=int, default=defaults.frames)
    parser.add_argument("--size", type=int, default=defaults.size)
    parser.add_argument("--seconds", type=float, default=defaults.seconds)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--workers", type=int, default=defaults.workers)
    args = parser.parse_args(argv)
    config = LearnabilityConfig(train=args.train, test=args.test, frames=args.frames, size=args.size,
                                seconds=args.seconds, seed=args.seed, workers=args.workers)
    result = run_learnability(config)
    print(format_table(result))
    print()
    print(json.dumps({k: v for k, v in result.items() if k != "config"}))
    print(json.dumps(result["config"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
