"""Confirmation on fresh held-out dives: a finished learning proof's SFT and HPL models answer dives nothing was
chosen on.

Why: ``configs/train/hpl_small.yaml``'s settings were picked among many measured on the proof's own held-out dives
(``benchmarks/LEARNING.md``), so a gain measured on those dives may be partly the luck of the pick. This script draws
another held-out set with a draw seed that no training, no sweep and no earlier measurement used, answers it with
each seed's SFT and HPL models exactly as the proof does (``learning_proof.answers``: greedy, the benchmark report's
metrics, the hierarchical reward with all levels), and applies the proof's checks (same paired bootstrap).

    .venv/bin/python benchmarks/confirm_heldout.py --work runs/learning_proof --parallel 2 \
        [--also previous=runs/hpl30/seed{seed}/final]     # another model per seed, compared on both sets

Writes ``benchmarks/results/learning_confirm.json`` (``--json``) and prints a Markdown summary (``--out`` writes it).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import learning_proof as proof  # noqa: E402  (the proof's data, answers, metrics, checks and tables)

DEFAULT_DRAW_SEED = 7_100_000
# draw seeds already spent on something a choice was made from (besides the proof's training seeds)
SPENT_DRAW_SEEDS = {proof.TEST_DRAW_SEED: "the proof's own held-out dives",
                    1000: "the sweeps' 600 extra training dives (benchmarks/LEARNING.md)"}


def check_draw_seed(draw_seed: int, training_seeds: list[int]) -> None:
    """Refuse a draw seed whose dives were already trained on or chosen from: they would not be fresh."""
    if draw_seed in training_seeds:
        raise SystemExit(f"--draw-seed {draw_seed}: training seed {draw_seed} draws the proof's training dives with it")
    if draw_seed in SPENT_DRAW_SEEDS:
        raise SystemExit(f"--draw-seed {draw_seed}: already used for {SPENT_DRAW_SEEDS[draw_seed]}")


def finished_models(work: Path, seed: int) -> tuple[Path, dict[str, Path]]:
    """(seed folder, {"sft": model, "hpl": model}) of a finished proof, or one line saying what is missing."""
    folder = proof.seed_folder(work, seed)
    models = {name: folder / name / "final" for name in ("sft", "hpl")}
    missing = proof.unsaved(models.values())
    if missing:
        raise SystemExit(f"{work}: seed {seed} has no saved model at {', '.join(missing)}")
    return folder, models


def pooled(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    """One system's answers on two held-out sets as one set (records, rewards and reward levels concatenated)."""
    return {"records": first["records"] + second["records"], "rewards": first["rewards"] + second["rewards"],
            "reward_levels": {k: first["reward_levels"][k] + second["reward_levels"][k]
                              for k in first["reward_levels"]}}


def parse_also(texts: list[str], seeds: list[int]) -> dict[str, dict[int, Path]]:
    """``NAME=PATH`` (``{seed}`` in PATH stands for the seed) -> {name: {seed: model}}, every model checked before any
    work: another HPL run of the same SFT models, say, compared on both held-out sets."""
    also: dict[str, dict[int, Path]] = {}
    for text in texts:
        name, sep, pattern = text.partition("=")
        if not sep or not name or not pattern:
            raise SystemExit(f"--also {text!r}: expected NAME=PATH (PATH may hold {{seed}})")
        if name in ("sft", "hpl") or name in also:
            raise SystemExit(f"--also {text!r}: the name {name!r} is taken (sft, hpl and earlier --also names)")
        models = {seed: Path(pattern.replace("{seed}", str(seed))).resolve() for seed in seeds}
        missing = proof.unsaved(models.values())
        if missing:
            raise SystemExit(f"--also {text!r}: no saved model at {', '.join(missing)}")
        also[name] = models
    return also


def compared(other: dict[str, Any], systems: dict[str, Any], n_boot: int) -> dict[str, Any]:
    """``other`` against SFT and against HPL on the same dives (paired), for the report's --also rows."""
    return {f"minus_{name}": proof.paired_report(systems[name], other, n_boot) for name in ("sft", "hpl")}


def confirmation_report(seed: int, train_codes: list[str], test, systems: dict[str, Any], n_boot: int,
                        training_times: dict[str, Any], proof_systems: dict[str, Any] | None = None) -> dict[str, Any]:
    """One seed's metrics on the fresh dives, HPL - SFT, and the proof's checks on them; with the proof's own answers
    (``proof_systems``), also HPL - SFT over both held-out sets together, the estimate with the most dives."""
    report = {"seed": seed, "times": training_times, "majority": proof.majority_rates(train_codes, test),
              **{name: proof.system_report(data, n_boot) for name, data in systems.items()},
              "hpl_minus_sft": proof.paired_report(systems["sft"], systems["hpl"], n_boot)}
    report["targets"] = proof.targets(report)
    if proof_systems is not None:
        both = {name: pooled(proof_systems[name], systems[name]) for name in ("sft", "hpl")}
        report["pooled"] = {"n": len(both["sft"]["records"]),
                            "hpl_minus_sft": proof.paired_report(both["sft"], both["hpl"], n_boot)}
    return report


def confirm_seed(job: tuple[proof.Plan, Path, Path, int, dict[str, dict[int, Path]]]) -> dict[str, Any]:
    plan, work, fresh, seed, also = job

    from hieroaction.datasets import read_jsonl
    from hieroaction.train.entry import setup_logging

    setup_logging()
    proof.use_device_threads(plan)
    folder, models = finished_models(work, seed)
    train, _, settings, reward = proof.scoring_inputs(plan, work, folder)
    test = read_jsonl(fresh / "samples.jsonl")
    systems = {name: proof.answers(path, test, train, fresh, settings, reward, plan) for name, path in models.items()}
    (fresh / f"answers_seed{seed}.json").write_text(proof.strict_json(systems))
    training = json.loads((folder / "report.json").read_text()).get("times", {}) if (folder / "report.json").is_file() \
        else {}
    answered = json.loads((folder / "answers.json").read_text())  # the proof's own answers, checked by seed_folder
    times = {"sft": training.get("sft", {"wall_s": None, "cpu_s": None}),
             "hpl": training.get("hpl", {"wall_s": None, "cpu_s": None}),
             **{f"answers_{k}": v["generation"] for k, v in systems.items()}}
    proof_systems = {name: answered[name] for name in ("sft", "hpl")}
    report = confirmation_report(seed, [s.action_code for s in train], test, systems, plan.n_boot, times, proof_systems)
    report["also"] = {}
    if also:
        proof_test = read_jsonl(work / "test" / "samples.jsonl")
        both = {k: pooled(proof_systems[k], systems[k]) for k in ("sft", "hpl")}
    for name, models in also.items():
        on_proof = proof.answers(models[seed], proof_test, train, work / "test", settings, reward, plan)
        on_fresh = proof.answers(models[seed], test, train, fresh, settings, reward, plan)
        report["also"][name] = {"model": str(models[seed]),
                                "proof": compared(on_proof, proof_systems, plan.n_boot),
                                "fresh": compared(on_fresh, systems, plan.n_boot),
                                "both": compared(pooled(on_proof, on_fresh), both, plan.n_boot)}
    return report


def markdown(report: dict[str, Any]) -> str:
    lines = [f"- {report['n_test']} fresh held-out dives (draw seed {report['draw_seed']}), answered by the SFT and "
             f"HPL models of `{report['work']}` (seeds {report['seeds']})", ""]
    for s in report["seeds_report"]:
        lines += proof.seed_table(s)
        if "pooled" in s:
            gains = " | ".join(proof.signed_interval(s["pooled"]["hpl_minus_sft"][k]) for k in POOLED_KEYS)
            lines += [f"Seed {s['seed']}, the proof's held-out dives and these together ({s['pooled']['n']} dives), "
                      "HPL - SFT [95% paired CI]:", "",
                      "| " + " | ".join(POOLED_KEYS) + " |", "|" + "---|" * len(POOLED_KEYS), f"| {gains} |", ""]
        for name, sets in s.get("also", {}).items():
            lines += [f"Seed {s['seed']}, `{name}` ({sets['model']}) on the proof's dives, the fresh ones and both, "
                      "mean reward [95% paired CI]:", "", "| against | proof's | fresh | both |", "|---|---|---|---|"]
            for base in ("sft", "hpl"):
                gains = " | ".join(proof.signed_interval(sets[where][f"minus_{base}"]["reward_mean"])
                                   for where in ("proof", "fresh", "both"))
                lines.append(f"| {name} - {base} | {gains} |")
            lines.append("")
    return "\n".join(lines) + "\n"


POOLED_KEYS = ("reward_mean", "action_accuracy", "srcc", "format_validity", "tiou@0.5")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", required=True, help="a finished learning_proof.py working folder")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1], help="the proof's training seeds")
    parser.add_argument("--test", type=int, default=512, help="fresh held-out dives")
    parser.add_argument("--draw-seed", dest="draw_seed", type=int, default=DEFAULT_DRAW_SEED,
                        help="draw seed of the fresh dives (default %(default)s; refused if already used)")
    parser.add_argument("--also", action="append", default=[], metavar="NAME=PATH",
                        help="another model per seed ({seed} in PATH), answered on the proof's dives and the fresh "
                             "ones and compared with SFT and HPL (repeatable)")
    parser.add_argument("--quick", action="store_true", help="the folder of a learning_proof.py --quick run")
    parser.add_argument("--preset", default="small", help="the proof's preset")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--parallel", type=int, default=1, help="seeds answered at once (processes)")
    parser.add_argument("--cpu-threads", dest="cpu_threads", type=int, default=1)
    parser.add_argument("--eval-batch", dest="eval_batch", type=int, default=8)
    parser.add_argument("--max-new-tokens", dest="max_new_tokens", type=int, default=384)
    parser.add_argument("--n-boot", dest="n_boot", type=int, default=1000)
    parser.add_argument("--json", default=str(REPO / "benchmarks" / "results" / "learning_confirm.json"),
                        help="or - for none")
    parser.add_argument("--out", default="-", help="Markdown summary file, or - for stdout only")
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.test < 2:
        raise SystemExit("--test must be at least 2 dives")
    check_draw_seed(args.draw_seed, args.seeds)
    proof.check_device(args.device)
    work = Path(args.work).resolve()
    for seed in args.seeds:  # every check before any work
        finished_models(work, seed)
    also = parse_also(args.also, args.seeds)
    if args.device == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
    plan = proof.plan_from_args(argparse.Namespace(
        quick=args.quick, preset=args.preset, device=args.device, seeds=args.seeds, train=0, test=args.test,
        sft_steps=None, hpl_steps=None, max_new_tokens=args.max_new_tokens, n_boot=args.n_boot,
        parallel=args.parallel, cpu_threads=args.cpu_threads, eval_batch=args.eval_batch, sampled=0))
    proof.check_frames(work, plan)
    from hieroaction.synth import draw_samples
    from hieroaction.train.entry import setup_logging

    setup_logging()
    fresh = work / f"confirm_{args.draw_seed}"
    proof.prepare(draw_samples(args.test, seed=args.draw_seed, split="test"), fresh, plan, args.draw_seed)
    per_seed = proof.map_jobs(confirm_seed, [(plan, work, fresh, seed, also) for seed in args.seeds], args.parallel)
    report = {"work": str(work), "draw_seed": args.draw_seed, "n_test": args.test, "seeds": args.seeds,
              "plan": proof.plan_record(plan), "machine": proof.machine(plan), "seeds_report": per_seed,
              "all_targets_met": all(all(s["targets"].values()) for s in per_seed)}
    text = markdown(report)
    proof.publish(text, report, args.json)
    if args.out != "-":
        Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
