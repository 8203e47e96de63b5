"""HPL step speed: whole GRPO steps of ``run_hpl`` with ``hpl.fast_generation`` on and off, interleaved, same run.

    .venv/bin/python benchmarks/hpl_step_speed.py --config configs/train/hpl_small.yaml \
        --set model.path=runs/sft_small/final --set data.train=runs/synth/samples_train.jsonl ...

``benchmarks/rollout_speed.py`` times generation alone; this times what a training budget buys: the project's own
HPL run (any config, any ``--set`` override), ``--steps`` optimizer steps per run, the first a warm-up, runs with the
fast path and with transformers' ``generate`` alternating for ``--rounds`` rounds (a busy machine slows both alike).
Each step is split as in ``benchmarks/gpu_train.py``: generate (trl's ``_generate``), score (rewards, old/reference
log-probs) and update. Both paths sample the same tokens from the same seed, so the completion tokens per step must
agree; the table says whether they did. Writes ``benchmarks/results/hpl_step_speed.json``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

DEFAULT_OUT = REPO / "benchmarks" / "results" / "hpl_step_speed.json"


def one_run(config: str, overrides: list[str], fast: bool, steps: int, out: Path) -> dict[str, Any]:
    from benchmarks.gpu_train import StepClock, default_callback, grpo_split
    from hieroaction.train.hpl import run_hpl

    clock = StepClock()
    settings = [*overrides, f"train.output_dir={out}", f"train.max_steps={steps}", f"train.save_steps={steps + 1}",
                "train.logging_steps=1", "train.resume=never", "train.disable_tqdm=true",
                f"hpl.fast_generation={'true' if fast else 'false'}"]
    try:
        with default_callback(clock.callback), grpo_split() as split:
            run_hpl(config, settings)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    step = clock.steps[1:]
    generate = split["generate"][1:]
    generate_and_score = split["generate_and_score"][1:]
    step_s, generate_s = statistics.mean(step), statistics.mean(generate)
    score_s = statistics.mean(generate_and_score) - generate_s
    return {"fast_generation": fast, "steps_measured": len(step), "step_s": round(step_s, 3),
            "generate_s": round(generate_s, 3), "score_s": round(score_s, 3),
            "update_s": round(step_s - generate_s - score_s, 3),
            "completion_tokens_per_step": split["completion_tokens"][1:]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(REPO / "configs" / "train" / "hpl_small.yaml"))
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="config override key=value")
    parser.add_argument("--steps", type=int, default=4, help="optimizer steps per run, the first a warm-up")
    parser.add_argument("--rounds", type=int, default=2, help="fast/plain pairs")
    parser.add_argument("--workdir", default=str(REPO / "runs" / "bench_hpl_step_speed"))
    parser.add_argument("--out", default=str(DEFAULT_OUT))
    args = parser.parse_args(argv)
    if args.steps < 2:
        parser.error("--steps must be >= 2 (the first is a warm-up)")

    from hieroaction.train.entry import setup_logging

    setup_logging()
    started = time.perf_counter()
    runs = []
    for index in range(args.rounds):
        for fast in (True, False):
            runs.append(one_run(args.config, args.overrides, fast, args.steps,
                                Path(args.workdir) / f"round{index}_{'fast' if fast else 'plain'}"))
    fast_runs = [r for r in runs if r["fast_generation"]]
    plain_runs = [r for r in runs if not r["fast_generation"]]

    def mean(rows, key):
        return round(statistics.mean(r[key] for r in rows), 3)

    summary = {name: {key: mean(rows, key) for key in ("step_s", "generate_s", "score_s", "update_s")}
               for name, rows in (("fast", fast_runs), ("plain", plain_runs))}
    summary["step_ratio"] = round(summary["plain"]["step_s"] / summary["fast"]["step_s"], 2)
    summary["generate_ratio"] = round(summary["plain"]["generate_s"] / summary["fast"]["generate_s"], 2)
    summary["same_completion_tokens"] = len({tuple(r["completion_tokens_per_step"]) for r in runs}) == 1
    report = {"benchmark": "hpl_step_speed", "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "config": args.config, "overrides": args.overrides, "steps_per_run": args.steps, "runs": runs,
              "summary": summary, "wall_s": round(time.perf_counter() - started, 1)}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print("| generation | s/step | generate s | score s | update s |")
    print("|---|---:|---:|---:|---:|")
    for name in ("plain", "fast"):
        r = summary[name]
        label = "transformers generate" if name == "plain" else "hpl.fast_generation"
        print(f"| {label} | {r['step_s']:.2f} | {r['generate_s']:.2f} | {r['score_s']:.2f} | {r['update_s']:.2f} |")
    print(f"step x{summary['step_ratio']}, generation x{summary['generate_ratio']}, same completion tokens: "
          f"{'yes' if summary['same_completion_tokens'] else 'no'}")
    print(f"wrote {out} ({report['wall_s']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
