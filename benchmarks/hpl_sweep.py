"""HPL settings sweep: GRPO variants trained from one learning-proof seed's SFT model, each measured on the held-out dives.

Why: the learning proof (``learning_proof.py``) trains SFT, then HPL once, per seed. Finding HPL settings that help
needs many HPL runs from the same SFT model, measured the same way; retraining SFT for each would cost most of the
budget. This reuses a finished proof's working folder (its preset, the seed's training dives and frames, its SFT model,
the held-out dives and the SFT model's recorded answers) and, per variant: runs ``run_hpl`` with
``configs/train/hpl_<preset>.yaml`` plus the variant's overrides, answers every held-out dive greedily, and reports the
benchmark report's metrics with the paired-bootstrap interval of variant - SFT (the functions of ``learning_proof.py``).

    .venv/bin/python benchmarks/learning_proof.py --work runs/learning_proof          # once: the SFT models
    .venv/bin/python benchmarks/hpl_sweep.py --work runs/learning_proof --seed 0 --steps 150 --parallel 2 \\
        --variant 'g8:hpl.num_generations=8' --variant 'g8-level:hpl.num_generations=8;hpl.credit=level'

A variant with ``stage=sft`` is a control instead: SFT (``configs/train/sft_<preset>.yaml`` plus its overrides)
continued from the same SFT model for the same steps, answering the same dives: what training on the gold answers
alone does in that time, to set beside a variant that mixes them into HPL (``hpl.sft_weight``).

Writes ``benchmarks/results/hpl_sweep.json`` (``--json``) and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, NamedTuple

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import learning_proof as proof  # noqa: E402  (the proof's data, metric and report functions)

STAGES = ("hpl", "sft")


class Variant(NamedTuple):
    """One sweep row: its name (the run folder), the stage it trains and that stage's config overrides."""

    name: str
    stage: str
    overrides: list[str]

    def described(self) -> list[str]:
        """The overrides as given on the command line (``stage=sft`` included), for the report."""
        return ([f"stage={self.stage}"] if self.stage != "hpl" else []) + self.overrides


def parse_variant(text: str) -> Variant:
    """``name:key=value;key=value`` (``name`` alone: the config as it is; ``stage=sft``: the SFT control)."""
    name, _, rest = text.partition(":")
    parts = [part.strip() for part in rest.split(";") if part.strip()]
    if not name.strip() or any("=" not in part for part in parts):
        raise SystemExit(f"--variant {text!r}: expected NAME or NAME:key=value;key=value")
    stages = [part.split("=", 1)[1] for part in parts if part.startswith("stage=")]
    if any(stage not in STAGES for stage in stages) or len(stages) > 1:
        raise SystemExit(f"--variant {text!r}: stage must be one of {', '.join(STAGES)}, given once")
    overrides = [part for part in parts if not part.startswith("stage=")]
    return Variant(name.strip(), stages[0] if stages else "hpl", overrides)


def run_variant(job: tuple[proof.Plan, Path, Path, int, Variant, Path]) -> dict[str, Any]:
    """Train one variant from the seed's SFT model and answer the held-out dives (runs in its own process)."""
    plan, work, folder, seed, variant, out_root = job

    from hieroaction.train.config import HPLRunConfig, SFTRunConfig, load_config
    from hieroaction.train.entry import setup_logging
    from hieroaction.train.hpl import run_hpl
    from hieroaction.train.sft import run_sft

    setup_logging()
    proof.use_device_threads(plan)
    out = out_root / variant.name
    overrides = proof.overrides(plan, folder, folder / "samples.jsonl", out, plan.hpl_steps,
                                folder / "sft" / "final", seed) + variant.overrides
    train, test, settings, reward_config = proof.scoring_inputs(plan, work, folder)  # every row scored alike
    if variant.stage == "sft":
        final, hpl_time = proof.timed(run_sft, load_config(plan.sft_config, SFTRunConfig, overrides))
    else:
        final, hpl_time = proof.timed(run_hpl, load_config(plan.hpl_config, HPLRunConfig, overrides))
    answers = proof.answers(final, test, train, work / "test", settings, reward_config, plan)
    state = json.loads((final / "hieroaction_run.json").read_text())
    return {"name": variant.name, "overrides": variant.described(), "hpl_time": hpl_time, "answers": answers,
            "training_rewards": state.get("reward_means")}


def sweep(plan: proof.Plan, work: Path, folder: Path, seed: int, variants: list[Variant],
          out_root: Path, parallel: int) -> dict[str, Any]:
    """Every variant from ``folder`` (the seed's folder of the finished proof in ``work``), against its SFT answers."""
    sft = json.loads((folder / "answers.json").read_text())["sft"]
    results = proof.map_jobs(run_variant, [(plan, work, folder, seed, variant, out_root) for variant in variants],
                             parallel)
    report = {"plan": proof.plan_record(plan), "seed": seed,
              "work": str(work), "machine": proof.machine(plan), "sft": proof.system_report(sft, plan.n_boot),
              "variants": []}
    for result in results:
        report["variants"].append({
            "name": result["name"], "overrides": result["overrides"], "hpl_time": result["hpl_time"],
            "training_rewards": result["training_rewards"],
            "metrics": proof.system_report(result["answers"], plan.n_boot),
            "minus_sft": proof.paired_report(sft, result["answers"], plan.n_boot),
        })
    return report


def markdown(report: dict[str, Any]) -> str:
    sft = report["sft"]
    lines = [f"seed {report['seed']}, {report['plan']['hpl_steps']} HPL steps per variant, {sft['n']} held-out dives; "
             f"SFT: reward {proof.fmt(sft['reward_mean'])}, action {proof.fmt(sft['action_accuracy'])}, "
             f"SRCC {proof.fmt(sft['srcc'])}", "",  # SRCC is undefined (None) when every score is the same
             "| variant | overrides | HPL CPU s | reward - SFT | SRCC - SFT | action accuracy - SFT |",
             "|---|---|---|---|---|---|"]
    for v in report["variants"]:
        gains = " | ".join(proof.signed_interval(v["minus_sft"][k]) for k in ("reward_mean", "srcc", "action_accuracy"))
        lines.append(f"| {v['name']} | {'; '.join(v['overrides']) or '—'} | {v['hpl_time']['cpu_s']} | {gains} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    proof.add_reader_arguments(parser, "variants trained")
    parser.add_argument("--variant", action="append", required=True, help="NAME or NAME:key=value;key=value")
    parser.add_argument("--steps", type=int, default=None, help="HPL steps per variant (default: the config's)")
    parser.add_argument("--out", default=None, help="where the variants' runs go (default: WORK/sweep_seedN)")
    parser.add_argument("--json", default=str(REPO / "benchmarks" / "results" / "hpl_sweep.json"), help="or -")
    args = parser.parse_args(argv)
    variants = [parse_variant(v) for v in args.variant]
    if len({variant.name for variant in variants}) != len(variants):
        raise SystemExit("--variant names must be distinct (each names its run folder)")
    plan, work, folder = proof.reader_plan(args, hpl_steps=args.steps)
    out_root = Path(args.out).resolve() if args.out else work / f"sweep_seed{args.seed}"
    report = sweep(plan, work, folder, args.seed, variants, out_root, args.parallel)
    proof.publish(markdown(report), report, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
