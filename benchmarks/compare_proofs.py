"""Two learning proofs' answers on the same held-out dives, paired: what a config change did, measured on one build.

A change to SFT (``learning_proof.py --sft-set ...``) is judged against a control trained from the same preset build
with the same seeds: builds differ enough between CPUs to move SRCC by 0.2 (benchmarks/LEARNING.md), so a figure from
another run is no control. Both folders must hold the same held-out dives (the proof draws them with one seed), and
the comparison reads only what the proofs wrote (``answers_sft.json``, ``answers.json``): nothing is re-answered.

Per seed and system it prints each side's format validity, action accuracy, SRCC, award error (``score_parts.py``),
tIoU@0.5 and mean hierarchical reward, and the other side minus the base side with its 95% paired-bootstrap
interval, as ``learning_proof.py`` pairs HPL with SFT.

    .venv/bin/python benchmarks/compare_proofs.py --base runs/proof_control --other runs/proof_change \\
        --json benchmarks/results/change.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import learning_proof  # noqa: E402 - the proof's own metric path
import score_parts  # noqa: E402

SYSTEM_FILES = {"sft": "answers_sft.json", "hpl": "answers.json"}
SHOWN = ("format_validity", "action_accuracy", "srcc", "tiou@0.5", "reward_mean")


def load_answers(work: Path, seed: int, system: str) -> dict[str, Any] | None:
    """One system's answers in a proof folder (``None`` when that system has none yet: a proof stopped before HPL)."""
    path = work / f"seed{seed}" / SYSTEM_FILES[system]
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    return data.get(system) if "records" not in data else data


def check_same_dives(base: Path, other: Path) -> None:
    """Refuse, in one line, two proofs that did not answer the same held-out dives."""
    paths = [w / "test" / "samples.jsonl" for w in (base, other)]
    for path in paths:
        if not path.is_file():
            raise SystemExit(f"{path}: missing: not a learning proof's folder")
    if paths[0].read_bytes() != paths[1].read_bytes():
        raise SystemExit(f"{paths[0]} and {paths[1]} differ: the proofs answered different held-out dives")


def compare(base: Path, other: Path, seeds: list[int], n_boot: int) -> dict[str, Any]:
    check_same_dives(base, other)
    gold = score_parts.read_samples(base / "test" / "samples.jsonl")  # the same file in both folders
    rows = []
    for seed in seeds:
        train_means = {work: score_parts.train_mean_award(
            score_parts.read_samples(work / f"seed{seed}" / "samples.jsonl").values()) for work in (base, other)
            if (work / f"seed{seed}" / "samples.jsonl").is_file()}
        for system in SYSTEM_FILES:
            a, b = load_answers(base, seed, system), load_answers(other, seed, system)
            if a is None or b is None:
                continue
            sides = {}
            for name, data, work in (("base", a, base), ("other", b, other)):
                report = learning_proof.system_report(data, n_boot)
                award = score_parts.award_error(data["records"], gold, train_means[work])["award_error"]
                sides[name] = {**{k: report[k] for k in SHOWN}, "award_error": award}
            rows.append({"seed": seed, "system": system, **sides,
                         "other_minus_base": learning_proof.paired_report(a, b, n_boot)})
    if not rows:
        raise SystemExit(f"no seed of {seeds} has answers in both {base} and {other}")
    return {"base": str(base), "other": str(other), "rows": rows}


def markdown(result: dict[str, Any]) -> str:
    fmt, signed = learning_proof.fmt, learning_proof.signed_interval
    lines = ["| seed: system | side | format validity | action | SRCC | award error | tIoU@0.5 | mean reward |",
             "|---|---|---|---|---|---|---|---|"]
    for row in result["rows"]:
        for side in ("base", "other"):
            s = row[side]
            lines.append(f"| {row['seed']}: {row['system'].upper()} | {side} | {fmt(s['format_validity'])} "
                         f"| {fmt(s['action_accuracy'])} | {fmt(s['srcc'])} | {fmt(s['award_error'], 2)} "
                         f"| {fmt(s['tiou@0.5'])} | {fmt(s['reward_mean'])} |")
        d = row["other_minus_base"]
        lines.append(f"| {row['seed']}: {row['system'].upper()} | other - base | {signed(d['format_validity'])} "
                     f"| {signed(d['action_accuracy'])} | {signed(d['srcc'])} | | {signed(d['tiou@0.5'])} "
                     f"| {signed(d['reward_mean'])} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", type=Path, required=True, help="the control proof's folder")
    parser.add_argument("--other", type=Path, required=True, help="the changed proof's folder")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--n-boot", dest="n_boot", type=int, default=1000)
    parser.add_argument("--json", default="-", help="write the figures here (- for none)")
    parser.add_argument("--what", default="", help="what the two proofs are (how each was run), kept in the JSON")
    args = parser.parse_args(argv)
    result = {"what": args.what, **compare(args.base.resolve(), args.other.resolve(), args.seeds, args.n_boot)}
    learning_proof.publish(markdown(result), result, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
