"""Does SFT learn the awards of the dives it trained on? A finished proof's SFT model answers some of its own
training dives, and their award error is set beside the held-out dives'.

Why: the score ranking (SRCC) is lost where the written awards are no better than the training dives' usual award
(benchmarks/LEARNING.md, "The awards weighted 3x"). A model that writes good awards for the dives it trained on and
poor ones for new dives memorized them (a lever: more distinct dives, regularization); one that writes poor awards
for both never learned to read them from the clip (a lever: what the model can see or compute). Nothing is trained;
the answers go through the proof's own answering path (``learning_proof.answer_passes``) and the award error is
``score_parts.award_error``.

    .venv/bin/python benchmarks/award_fit.py --work runs/learning_proof --json benchmarks/results/award_fit.json
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

import learning_proof as proof  # noqa: E402  (the proof's data, answers and metric path)
import score_parts  # noqa: E402  (the award error)


def fit_seed(job: tuple[proof.Plan, Path, Path, int, int]) -> dict[str, Any]:
    """The award error of one seed's SFT model on ``count`` of its training dives and on the held-out dives."""
    plan, work, folder, seed, count = job

    from hieroaction.train.entry import setup_logging

    setup_logging()
    proof.use_device_threads(plan)
    train, test, settings, reward = proof.scoring_inputs(plan, work, folder)
    seen = train[:count]
    # the seed's folder holds its training dives' frames, as work/test holds the held-out ones'
    (answered,) = proof.answer_passes(folder / "sft" / "final", seen, train, folder, settings, reward, plan, [None])
    train_mean = score_parts.train_mean_award(train)
    heldout = json.loads((folder / "answers_sft.json").read_text())["records"]
    return {"seed": seed, "training_dives": dives_summary(answered["records"], seen, train_mean),
            "heldout_dives": dives_summary(heldout, test, train_mean)}


def dives_summary(records: list[dict], samples, train_mean: float) -> dict[str, Any]:
    """Award error (and the training mean's), answers and format validity of one set of answered dives."""
    return {**score_parts.award_error(records, {s.sample_id: s for s in samples}, train_mean),
            "answers": len(records),
            "format_validity": sum(bool(r["format_ok"]) for r in records) / len(records)}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    proof.add_reader_arguments(parser, "seeds")
    parser.set_defaults(seed=None)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1], help="the proof's training seeds")
    parser.add_argument("--train-dives", dest="train_dives", type=int, default=256,
                        help="how many of each seed's training dives to answer (the first ones of its table)")
    parser.add_argument("--json", default="-", help="write the figures here (- for none)")
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.train_dives < 1:
        raise SystemExit(f"--train-dives must be at least 1, got {args.train_dives}")
    jobs = []
    for seed in args.seeds:  # every check before any work
        plan, work, folder = proof.reader_plan(argparse.Namespace(**{**vars(args), "seed": seed}),
                                               answers="answers_sft.json")
        missing = proof.unsaved([folder / "sft" / "final"])
        if missing:
            raise SystemExit(f"{work}: seed {seed} has no saved model at {', '.join(missing)}")
        jobs.append((plan, work, folder, seed, args.train_dives))
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    done = proof.map_jobs(fit_seed, jobs, args.parallel)
    print("| seed | dives | answers | with one award per judge | award error | the training mean's | format validity |")
    print("|---|---|---|---|---|---|---|")
    for row in done:
        for name in ("training_dives", "heldout_dives"):
            part = row[name]
            print(f"| {row['seed']} | {name.split('_')[0]} | {part['answers']} | {part['award_answers']} "
                  f"| {part['award_error']:.2f} | {part['award_error_of_train_mean']:.2f} "
                  f"| {part['format_validity']:.3f} |")
    if args.json != "-":
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"work": str(jobs[0][1]), "seeds": done}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
