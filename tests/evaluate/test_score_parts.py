import json

import pytest

from hieroaction.datasets.sample import write_jsonl
from hieroaction.reasoning import parse_assessment, render_target
from hieroaction.reasoning.render import awards_text, score_rule_terms
from hieroaction.synth import draw_samples

from .benchmark_scripts import load_script


@pytest.fixture(scope="module")
def score_parts():
    return load_script("score_parts")


def _records(samples, edit=lambda text, sample: text):
    records = []
    for sample in samples:
        completion = edit(render_target(sample), sample)
        records.append({"sample_id": sample.sample_id, "completion": completion,
                        "score": parse_assessment(completion).assessment.score})
    return records


def _proof_folder(tmp_path, train, test, records):
    (tmp_path / "test").mkdir()
    (tmp_path / "seed0").mkdir()
    write_jsonl(test, tmp_path / "test" / "samples.jsonl")
    write_jsonl(train, tmp_path / "seed0" / "samples.jsonl")
    (tmp_path / "seed0" / "answers_sft.json").write_text(json.dumps({"records": records}))
    return tmp_path


def test_the_gold_answers_rank_perfectly_and_name_their_codes_dd(tmp_path, score_parts, monkeypatch):
    test = draw_samples(40, seed=11, split="test")
    work = _proof_folder(tmp_path, test, test, _records(test))
    assert score_parts.main(["--work", str(work), "--seeds", "0", "--json", str(tmp_path / "parts.json")]) == 0
    parts = json.loads((tmp_path / "parts.json").read_text())["parts"]["seed0/sft"]
    assert parts["answers_read"] == parts["answers"] == 40
    for key in ("srcc_written", "srcc_own_dd_own_awards", "srcc_true_dd_own_awards", "srcc_own_dd_true_awards"):
        assert parts[key] > 0.99, key
    assert parts["dd_of_own_code"] == 1.0
    written = sorted(p.name for p in tmp_path.iterdir())
    monkeypatch.chdir(tmp_path)
    assert score_parts.main(["--work", str(work), "--seeds", "0", "--json", "-"]) == 0  # - writes nothing
    assert sorted(p.name for p in tmp_path.iterdir()) == written


def test_a_wrong_dd_shows_and_answers_without_awards_are_not_read(tmp_path, score_parts):
    test = draw_samples(40, seed=12, split="test")

    def edit(text, sample):
        index = int(sample.sample_id.rsplit("/", 1)[1])
        if index % 4 == 0:  # no awards line: not read
            return text.replace("Awards J1", "Marks J1")
        if index % 4 == 1:  # a DD no dive of that code has
            return text.replace(f"DD {sample.difficulty:.1f}</action>", "DD 9.9</action>")
        return text

    dds_of_code = {}
    for sample in test:
        dds_of_code.setdefault(sample.action_code, set()).add(float(sample.difficulty))
    parts = score_parts.score_parts(_records(test, edit), {s.sample_id: s for s in test}, dds_of_code)
    assert parts["answers_read"] == 30 and parts["answers"] == 40
    assert parts["dd_of_own_code"] == pytest.approx(20 / 30)
    assert parts["srcc_true_dd_own_awards"] > 0.99  # the awards are still right
    assert parts["srcc_own_dd_true_awards"] < parts["srcc_true_dd_own_awards"]


def test_award_error_reads_the_written_awards_against_a_constant_answer(tmp_path, score_parts):
    test = draw_samples(40, seed=13, split="test")
    gold = {s.sample_id: s for s in test}
    train_mean = score_parts.train_mean_award(test)
    exact = score_parts.award_error(_records(test), gold, train_mean)
    assert exact["award_answers"] == 40 and exact["award_error"] == 0.0
    assert exact["award_error_of_train_mean"] > 0.1

    def flatten(text, sample):  # every answer writes the same seven awards: no better than a constant
        awards = ", ".join(f"J{j + 1} 7" for j in range(len(sample.judge_scores)))
        return text.replace(f"Awards {awards_text(sample.judge_scores)}:", f"Awards {awards}:")

    flat = score_parts.award_error(_records(test, flatten), gold, 7.0)
    assert flat["award_error"] == pytest.approx(flat["award_error_of_train_mean"])
    assert flat["award_error"] > exact["award_error"]

    def drop_a_judge(text, sample):  # six awards for seven judges: not read
        return text.replace(", J7 ", " J7x ") if len(sample.judge_scores) == 7 else text

    partial = score_parts.award_error(_records(test, drop_a_judge), gold, train_mean)
    assert partial["award_answers"] == sum(len(s.judge_scores) != 7 for s in test)


def test_arithmetic_counts_wrong_products_and_scores_that_do_not_copy_them(score_parts):
    test = [s for s in draw_samples(60, seed=14, split="test") if score_rule_terms(render_target(s))][:20]
    assert len(test) == 20
    exact = score_parts.arithmetic(_records(test))
    assert exact == {"rule_stated": 20, "product_right": 20, "score_is_product": 20}

    def off_by_one(text, sample):  # even answers: the product off by 1.00; every third: <score> says something else
        index = int(sample.sample_id.rsplit("/", 1)[1])
        score = f"{float(sample.final_score):.2f}"
        if index % 2 == 0:
            text = text.replace(f"= {score}.", f"= {float(sample.final_score) + 1:.2f}.")
        if index % 3 == 0:
            text = text.replace(f"<score>{score}</score>", "<score>1.00</score>")
        return text

    indices = [int(s.sample_id.rsplit("/", 1)[1]) for s in test]
    edited = score_parts.arithmetic(_records(test, off_by_one))
    assert edited["rule_stated"] == 20
    assert edited["product_right"] == sum(i % 2 != 0 for i in indices)
    assert edited["score_is_product"] == sum(i % 2 != 0 and i % 3 != 0 for i in indices)
