"""Where a learning proof's score ranking is lost: the dive's difficulty, the judges' awards, or the arithmetic.

A rendered target reasons ``Awards J1 7.5, J2 7, ...`` in its think section and names the DD in ``<action>``; the
score is the FINA rule over them (``hieroaction.datasets.score_rule.expected_score``). For every held-out answer that
has a DD and as many awards as the dive has judges, this ranks the true scores against:

- the written score (what the proof's SRCC reads),
- the rule applied to the model's own DD and awards (what the answer would score with exact arithmetic),
- the rule with the true DD and the model's awards, and with the model's DD and the true awards (one part swapped
  for the truth at a time),

and says how often the model's DD is one its written code has among the training dives (a code can have more than one
DD: the same dive from another board height). The arithmetic itself: of the answers whose think section states the
rule (``Score = ... = 3.4 x 24 = 81.60.``), how many multiply their own DD and kept awards right (to the cent), and how
many then write that product in ``<score>``.

It also reads the awards alone: the award error is the mean absolute error of the mean of the awards an answer writes,
on the answers that write one award per judge, beside the error of always answering the training dives' mean award
(what a model that does not read the execution at all would score). The ranking falls apart when the first nears the
second.

    .venv/bin/python benchmarks/score_parts.py --work runs/learning_proof [--json benchmarks/results/score_parts.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from hieroaction.datasets.sample import Sample  # noqa: E402
from hieroaction.datasets.score_rule import expected_score  # noqa: E402
from hieroaction.reasoning.parse import parse_assessment  # noqa: E402
from hieroaction.reasoning.render import RULE_TOLERANCE, award_spans, score_rule_terms  # noqa: E402


def read_samples(path: Path) -> dict[str, Sample]:
    samples = {}
    for line in path.read_text().splitlines():
        if line.strip():
            sample = Sample.from_dict(json.loads(line))
            samples[sample.sample_id] = sample
    return samples


def answer_records(path: Path, system: str) -> list[dict]:
    """The per-dive records of one system's answers: ``answers_sft.json`` holds SFT's, ``answers.json`` both."""
    data = json.loads(path.read_text())
    return data["records"] if "records" in data else data[system]["records"]


def awards_of(completion: str) -> list[float] | None:
    """The awards an answer writes (the renderer's awards line, read back by its own reader); None without one."""
    return [award for _, _, award in award_spans(completion)] or None


def spearman(a: list[float], b: list[float]) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(a, b)[0]) if len(a) > 2 else float("nan")


def mean_award(awards) -> float:
    return sum(float(a) for a in awards) / len(awards)


def train_mean_award(samples) -> float:
    """The training dives' mean award: the constant answer the award error is set against."""
    samples = list(samples)
    return sum(mean_award(s.judge_scores) for s in samples) / len(samples)


def award_error(records: list[dict], gold: dict[str, Sample], train_mean: float) -> dict:
    """The mean absolute error of the written mean award, and of always answering ``train_mean``, on the answers that
    write one award per judge."""
    errors, constant = [], []
    for record in records:
        sample = gold[record["sample_id"]]
        awards = awards_of(record["completion"])
        if awards is None or len(awards) != len(sample.judge_scores):
            continue
        truth = mean_award(sample.judge_scores)
        errors.append(abs(mean_award(awards) - truth))
        constant.append(abs(train_mean - truth))
    return {
        "award_answers": len(errors),
        "award_error": sum(errors) / len(errors) if errors else float("nan"),
        "award_error_of_train_mean": sum(constant) / len(constant) if constant else float("nan"),
    }


def arithmetic(records: list[dict]) -> dict:
    """How often an answer's stated product is DD x kept awards (x 0.6), and how often ``<score>`` copies it."""
    stated = right = copied = 0
    for record in records:
        terms = score_rule_terms(record["completion"])
        if terms is None:
            continue
        dd, kept, factor, product = terms
        stated += 1
        right += abs(dd * kept * factor - product) <= RULE_TOLERANCE
        copied += record.get("score") is not None and abs(float(record["score"]) - product) <= RULE_TOLERANCE
    return {"rule_stated": stated, "product_right": right, "score_is_product": copied}


def score_parts(records: list[dict], gold: dict[str, Sample], dds_of_code: dict[str, set[float]]) -> dict:
    rows = defaultdict(list)
    own_code_dd = checked = 0
    for record in records:
        sample = gold[record["sample_id"]]
        assessment = parse_assessment(record["completion"]).assessment
        awards = awards_of(record["completion"])
        dd = assessment.difficulty if assessment else None
        if dd is None or awards is None or len(awards) != len(sample.judge_scores) or record.get("score") is None:
            continue
        code = assessment.action_code
        if code in dds_of_code:
            checked += 1
            own_code_dd += any(abs(known - dd) < 1e-6 for known in dds_of_code[code])
        true_score = float(sample.final_score)
        rows["true"].append(true_score)
        rows["written"].append(float(record["score"]))
        rows["own_rule"].append(expected_score(dd, awards))
        rows["true_dd_own_awards"].append(expected_score(sample.difficulty, awards))
        rows["own_dd_true_awards"].append(expected_score(dd, sample.judge_scores))
        rows["own_dd"].append(dd)
        rows["true_dd"].append(float(sample.difficulty))
    if any(v is None for key in ("own_rule", "true_dd_own_awards", "own_dd_true_awards") for v in rows[key]):
        raise SystemExit("a dive has no FINA rule for its number of judges: this reading is for rendered dives")
    return {
        "answers_read": len(rows["true"]),
        "answers": len(records),
        "srcc_written": spearman(rows["true"], rows["written"]),
        "srcc_own_dd_own_awards": spearman(rows["true"], rows["own_rule"]),
        "srcc_true_dd_own_awards": spearman(rows["true"], rows["true_dd_own_awards"]),
        "srcc_own_dd_true_awards": spearman(rows["true"], rows["own_dd_true_awards"]),
        "dd_rank_against_true_dd": spearman(rows["true_dd"], rows["own_dd"]),
        "dd_of_own_code": own_code_dd / checked if checked else float("nan"),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path, required=True, help="a finished learning proof's folder")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--json", default="-", help="write the figures here (- for none, as the other scripts)")
    args = parser.parse_args(argv)

    gold = read_samples(args.work / "test" / "samples.jsonl")
    dds_of_code: dict[str, set[float]] = defaultdict(set)
    train_means: dict[int, float] = {}
    for seed in args.seeds:
        train = read_samples(args.work / f"seed{seed}" / "samples.jsonl").values()
        for sample in train:
            dds_of_code[sample.action_code].add(float(sample.difficulty))
        train_means[seed] = train_mean_award(train)

    out = {}
    print("| model (seed) | answers read | written score | own DD x own awards | true DD x own awards "
          "| own DD x true awards | own DD against true DD | DD of its own code | award error (train mean's) "
          "| product right / rule stated | score is the product |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for seed in args.seeds:
        for system in ("sft", "hpl"):
            path = args.work / f"seed{seed}" / ("answers.json" if system == "hpl" else "answers_sft.json")
            if not path.exists():
                continue
            records = answer_records(path, system)
            r = {**score_parts(records, gold, dds_of_code), **award_error(records, gold, train_means[seed]),
                 **arithmetic(records)}
            out[f"seed{seed}/{system}"] = r
            print(f"| {system.upper()} ({seed}) | {r['answers_read']} of {r['answers']} | {r['srcc_written']:.3f} "
                  f"| {r['srcc_own_dd_own_awards']:.3f} | {r['srcc_true_dd_own_awards']:.3f} "
                  f"| {r['srcc_own_dd_true_awards']:.3f} | {r['dd_rank_against_true_dd']:.3f} | {r['dd_of_own_code']:.2f} "
                  f"| {r['award_error']:.2f} ({r['award_error_of_train_mean']:.2f}) "
                  f"| {r['product_right']} / {r['rule_stated']} | {r['score_is_product']} |")
    if args.json != "-":
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"work": str(args.work), "parts": out}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
