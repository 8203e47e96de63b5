"""benchmarks/compare_proofs.py: two proofs' answers paired on the same held-out dives."""

import json
import re

import pytest

from hieroaction.datasets.sample import write_jsonl
from hieroaction.metrics.assessment import records_from_completions
from hieroaction.reasoning import render_target
from hieroaction.reasoning.render import awards_text
from hieroaction.synth import draw_samples

from .benchmark_scripts import load_script


@pytest.fixture(scope="module")
def compare():
    return load_script("compare_proofs")


def _answers(samples, edit=lambda text, sample: text):
    completions = [edit(render_target(s), s) for s in samples]
    records = records_from_completions(samples, completions, fallback_score=50.0)
    rewards = [1.0 if r.format_ok else 0.0 for r in records]
    return {"records": [r.to_dict() for r in records], "rewards": rewards, "reward_levels": {"format": rewards}}


def _proof(folder, test, train, sft, hpl=None):
    (folder / "test").mkdir(parents=True)
    (folder / "seed0").mkdir()
    write_jsonl(test, folder / "test" / "samples.jsonl")
    write_jsonl(train, folder / "seed0" / "samples.jsonl")
    (folder / "seed0" / "answers_sft.json").write_text(json.dumps(sft))
    if hpl is not None:
        (folder / "seed0" / "answers.json").write_text(json.dumps({"sft": sft, "hpl": hpl}))
    return folder


def _flat_awards():
    """Every answer writes awards of 7 and scores the dive by its DD alone: a model that does not read execution."""
    def edit(text, sample):
        awards = ", ".join(f"J{j + 1} 7" for j in range(len(sample.judge_scores)))
        score = f"<score>{sample.difficulty * 21:.2f}</score>"
        flat = text.replace(f"Awards {awards_text(sample.judge_scores)}:", f"Awards {awards}:")
        return re.sub(r"<score>[^<]*</score>", score, flat)
    return edit


def test_a_change_that_loses_the_awards_shows_as_a_paired_loss(tmp_path, compare):
    test, train = draw_samples(48, seed=21, split="test"), draw_samples(48, seed=22, split="train")
    base = _proof(tmp_path / "base", test, train, _answers(test), _answers(test))
    other = _proof(tmp_path / "other", test, train, _answers(test, _flat_awards()))
    result = compare.compare(base, other, [0], n_boot=200)
    assert [row["system"] for row in result["rows"]] == ["sft"]  # the other proof has no HPL answers yet
    row = result["rows"][0]
    assert row["base"]["award_error"] == 0.0 and row["other"]["award_error"] > 0.1
    assert row["base"]["format_validity"] == row["other"]["format_validity"] == 1.0
    assert row["other_minus_base"]["format_validity"]["estimate"] == 0.0
    assert row["other_minus_base"]["srcc"]["high"] < 0 < row["base"]["srcc"] - row["other"]["srcc"]
    table = compare.markdown(result)
    assert "other - base" in table and table.count("\n") == 4


def test_proofs_of_different_held_out_dives_are_refused_in_one_line(tmp_path, compare):
    train = draw_samples(8, seed=22, split="train")
    base = _proof(tmp_path / "base", draw_samples(8, seed=21, split="test"), train, {"records": []})
    other = _proof(tmp_path / "other", draw_samples(8, seed=23, split="test"), train, {"records": []})
    with pytest.raises(SystemExit, match="different held-out dives"):
        compare.main(["--base", str(base), "--other", str(other)])
    with pytest.raises(SystemExit, match="not a learning proof"):
        compare.main(["--base", str(base), "--other", str(tmp_path / "missing")])
