"""A finished learning proof's models answer its held-out dives again under another decoding (beam search, say), into
a folder that ``compare_proofs.py`` pairs with the proof's own greedy answers.

Why: where SFT's answers leave the grammar, the model had most of its probability on frame numbers but spread over
many of them, so one odd token won the greedy pick (benchmarks/LEARNING.md, "The same proof on another CPU"). Beam
search ranks whole continuations instead of single tokens; this measures what it changes, on the same models and
dives, before any decoding default is changed. Nothing is trained; the answers go through the proof's own metric path
(``learning_proof.answer_passes``).

    .venv/bin/python benchmarks/decoding.py --work runs/learning_proof --out runs/beam3 --num-beams 3 --parallel 2
    .venv/bin/python benchmarks/compare_proofs.py --base runs/learning_proof --other runs/beam3 \\
        --json benchmarks/results/decoding_beam3.json

``--out`` gets ``test/samples.jsonl`` and each seed's ``samples.jsonl`` (copies: what compare_proofs checks and reads)
and each seed's ``answers_sft.json`` / ``answers.json``, in the proof's layout.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import learning_proof as proof  # noqa: E402  (the proof's data, answers and metric path)

SYSTEM_FILES = {"sft": "answers_sft.json", "hpl": "answers.json"}


def decoding_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The GenerationSettings fields this run changes, checked before any work (greedy is the proof's own)."""
    if args.num_beams < 1:
        raise SystemExit(f"--num-beams must be at least 1, got {args.num_beams}")
    if args.repetition_penalty <= 0:
        raise SystemExit(f"--repetition-penalty must be above 0, got {args.repetition_penalty}")
    settings = {"num_beams": args.num_beams, "repetition_penalty": args.repetition_penalty}
    if settings == {"num_beams": 1, "repetition_penalty": 1.0}:
        raise SystemExit("nothing to change: give --num-beams above 1 or a --repetition-penalty other than 1")
    return settings


def answer_seed(job: tuple[proof.Plan, Path, Path, int, list[str], dict[str, Any]]) -> dict[str, Any]:
    """One seed's models answer the proof's held-out dives with ``decoding``; writes them in ``out``'s seed folder."""
    plan, work, out, seed, systems, decoding = job

    from hieroaction.train.entry import setup_logging

    setup_logging()
    proof.use_device_threads(plan)
    folder = work / f"seed{seed}"  # checked by main
    train, test, settings, reward = proof.scoring_inputs(plan, work, folder)
    target = out / f"seed{seed}"
    target.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(folder / "samples.jsonl", target / "samples.jsonl")
    answered: dict[str, Any] = {}
    for system in systems:  # SFT's answers are written before HPL's model is loaded, as the proof writes them
        (answered[system],) = proof.answer_passes(folder / system / "final", test, train, work / "test", settings,
                                                  reward, plan, [None], decoding)
        answered[system]["decoding"] = decoding
        (target / SYSTEM_FILES[system]).write_text(proof.strict_json(answered if system == "hpl" else answered["sft"]))
    return {"seed": seed, "generation": {k: v["generation"] for k, v in answered.items()}}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    proof.add_reader_arguments(parser, "seeds")
    parser.set_defaults(seed=None)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1], help="the proof's training seeds")
    parser.add_argument("--systems", nargs="+", choices=sorted(SYSTEM_FILES), default=["sft", "hpl"])
    parser.add_argument("--out", required=True, help="folder for the answers (compare_proofs.py --other)")
    parser.add_argument("--num-beams", dest="num_beams", type=int, default=1)
    parser.add_argument("--repetition-penalty", dest="repetition_penalty", type=float, default=1.0)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    decoding = decoding_settings(args)
    if "hpl" in args.systems and "sft" not in args.systems:
        raise SystemExit("--systems hpl needs sft too: the proof's answers.json holds both")
    out = Path(args.out).resolve()
    jobs = []
    for seed in args.seeds:  # every check before any work
        plan, work, folder = proof.reader_plan(argparse.Namespace(**{**vars(args), "seed": seed}),
                                               answers=SYSTEM_FILES["hpl" if "hpl" in args.systems else "sft"])
        if out == work:
            raise SystemExit(f"--out {out}: the proof's own folder; its greedy answers would be overwritten")
        missing = proof.unsaved(folder / system / "final" for system in args.systems)
        if missing:
            raise SystemExit(f"{work}: seed {seed} has no saved model at {', '.join(missing)}")
        jobs.append((plan, work, out, seed, list(args.systems), decoding))
    (out / "test").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(jobs[0][1] / "test" / "samples.jsonl", out / "test" / "samples.jsonl")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    done = proof.map_jobs(answer_seed, jobs, args.parallel)
    (out / "decoding.json").write_text(json.dumps({"work": str(jobs[0][1]), "decoding": decoding, "seeds": done},
                                                  indent=1) + "\n")
    print(json.dumps(done, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
