"""Greedy against sampled answers: does HPL improve the policy it trains, and what could a choice among samples gain?

Why: the learning proof scores each model's greedy answer, while HPL optimises the expected reward of answers
*sampled* at its temperature. When HPL's greedy answers do not improve, this tells apart "GRPO did not improve what it
optimises on new dives" from "it did, but the greedy answer did not follow". Per system of a finished proof (the
seed's SFT and HPL models, plus any checkpoint given with ``--system``, e.g. a sweep variant), on the same held-out
dives, with the hierarchical reward of ``configs/train/hpl_<preset>.yaml``:

- the greedy answer's reward (the proof's figure);
- the mean reward of ``--samples`` answers per dive sampled as HPL's rollouts sample (its temperature, top_p, top_k):
  HPL's own objective on dives it never trained on;
- the best of those answers per dive: what a perfect reranker of the samples would reach (headroom, not a result);
- each system minus the first (SFT) as 95% paired-bootstrap intervals of the greedy and the sampled reward.

    .venv/bin/python benchmarks/hpl_headroom.py --work runs/learning_proof --seed 0 --samples 6 --parallel 2 \\
        --system level-kl=runs/learning_proof/sweep_seed0/level-t0.4-kl0.04/final

Writes ``benchmarks/results/hpl_headroom.json`` (``--json``) and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import learning_proof as proof  # noqa: E402  (the proof's data, answers and sampled-answer statistics)


def parse_system(text: str) -> tuple[str, Path]:
    """``NAME=PATH`` of a saved model folder, refused in one line when it is not one."""
    name, _, path = text.partition("=")
    if not name.strip() or not path.strip():
        raise SystemExit(f"--system {text!r}: expected NAME=PATH")
    folder = Path(path).expanduser().resolve()
    if not (folder / "config.json").is_file():
        raise SystemExit(f"--system {text!r}: {folder} is not a saved model folder (no config.json)")
    return name.strip(), folder


def answer_system(job: tuple[proof.Plan, Path, Path, str, Path, int, dict[str, Any]]) -> dict[str, Any]:
    """One system's greedy answers and ``samples`` sampled answers per held-out dive (runs in its own process)."""
    plan, work, folder, name, model_dir, samples, sampling = job

    from hieroaction.train.entry import setup_logging

    setup_logging()
    proof.use_device_threads(plan)
    train, test, settings, reward_config = proof.scoring_inputs(plan, work, folder)
    answered = proof.answers(model_dir, test, train, work / "test", settings, reward_config, plan, sampling, samples)
    return {"name": name, "model": str(model_dir), "answers": answered}


def markdown(report: dict[str, Any]) -> str:
    def ci(p: dict[str, Any], sign: str = "") -> str:
        return f"{p['estimate']:{sign}.3f} [{p['low']:{sign}.3f}, {p['high']:{sign}.3f}]"

    s = report["sampling"]
    lines = [f"seed {report['seed']}, {report['samples']} sampled answers per dive (temperature {s['temperature']}, "
             f"top_p {s['top_p']}, top_k {s.get('top_k', 'unset')}), {report['systems'][0]['summary']['n']} held-out dives", "",
             "| system | greedy reward | sampled reward | best of K | sample beats greedy | greedy - first | "
             "sampled - first |", "|---|---|---|---|---|---|---|"]
    for system in report["systems"]:
        m, d = system["summary"], system.get("minus_first")
        gain = (f"{ci(d['greedy_reward'], '+')} | {ci(d['sampled_reward'], '+')}" if d else "— | —")
        lines.append(f"| {system['name']} | {ci(m['greedy_reward'])} | {ci(m['sampled_reward'])} | "
                     f"{ci(m['best_of_k_reward'])} | {m['sample_beats_greedy']:.3f} | {gain} |")
    lines += ["", "| system | " + " | ".join(f"{k} greedy / sampled" for k in proof.LEVELS) + " |",
              "|---|" + "---|" * len(proof.LEVELS)]
    for system in report["systems"]:
        m = system["summary"]
        lines.append(f"| {system['name']} | " + " | ".join(
            f"{m['greedy_levels'][k]:.3f} / {m['sampled_levels'][k]:.3f}" for k in proof.LEVELS) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    proof.add_reader_arguments(parser, "systems answered")
    parser.add_argument("--system", action="append", default=[],
                        help="NAME=PATH of another saved model to measure (after the seed's sft and hpl)")
    parser.add_argument("--samples", type=int, default=6, help="sampled answers per dive and system")
    parser.add_argument("--temperature", type=float, default=None, help="default: the HPL config's")
    parser.add_argument("--json", default=str(REPO / "benchmarks" / "results" / "hpl_headroom.json"), help="or -")
    args = parser.parse_args(argv)
    if args.samples < 1:
        raise SystemExit("--samples must be at least 1")
    if args.temperature is not None and not args.temperature > 0:
        raise SystemExit("--temperature must be > 0")
    extra = [parse_system(text) for text in args.system]
    plan, work, folder = proof.reader_plan(args)
    systems = [("sft", folder / "sft" / "final")]
    if (folder / "hpl" / "final" / "config.json").is_file():
        systems.append(("hpl", folder / "hpl" / "final"))
    systems += extra
    if len({name for name, _ in systems}) != len(systems):
        raise SystemExit("--system names must be distinct and not sft or hpl")
    sampling = proof.sampling_settings(plan.hpl_config, args.temperature)
    results = proof.map_jobs(answer_system, [(plan, work, folder, name, path, args.samples, sampling)
                                             for name, path in systems], args.parallel)
    report = {"plan": proof.plan_record(plan), "seed": args.seed, "work": str(work), "machine": proof.machine(plan),
              "samples": args.samples, "sampling": sampling, "systems": []}
    for index, result in enumerate(results):
        entry = {"name": result["name"], "model": result["model"],
                 "summary": proof.sampled_report(result["answers"], args.n_boot)}
        if index:
            entry["minus_first"] = proof.sampled_paired(results[0]["answers"], result["answers"], args.n_boot)
        report["systems"].append(entry)
    proof.publish(markdown(report), report, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
