"""The fresh-held-out confirmation: it refuses dives that are not fresh or a proof that is not finished before any
work, and applies the proof's own checks to the answers it gets."""

import pytest
from benchmark_scripts import load_script


def _confirm():
    return load_script("confirm_heldout")


@pytest.mark.parametrize(("draw_seed", "why"), [(1, "training seed 1"), (7_000_000, "the proof's own held-out"),
                                                (1000, "the sweeps' 600 extra training dives")])
def test_a_draw_seed_already_spent_is_refused_before_any_work(tmp_path, draw_seed, why):
    with pytest.raises(SystemExit, match=f"--draw-seed {draw_seed}: .*{why}"):
        _confirm().main(["--work", str(tmp_path), "--draw-seed", str(draw_seed), "--json", "-"])
    assert not any(tmp_path.iterdir())


def test_a_proof_without_its_models_is_refused_before_any_work(tmp_path):
    with pytest.raises(SystemExit, match=r"not a finished learning-proof folder for seed 0"):
        _confirm().main(["--work", str(tmp_path), "--json", "-"])
    for name in ("samples.jsonl", "answers.json"):
        (tmp_path / "seed0").mkdir(exist_ok=True)
        (tmp_path / "seed0" / name).write_text("")
    (tmp_path / "seed0" / "sft" / "final").mkdir(parents=True)
    (tmp_path / "seed0" / "sft" / "final" / "config.json").write_text("{}")
    (tmp_path / "test").mkdir()
    (tmp_path / "test" / "samples.jsonl").write_text("")
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    with pytest.raises(SystemExit, match=r"seed 0 has no saved model at .*seed0/hpl/final$"):
        _confirm().main(["--work", str(tmp_path), "--seeds", "0", "--json", "-"])
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_the_report_applies_the_proofs_checks_to_the_fresh_answers():
    from hieroaction.metrics.assessment import records_from_completions
    from hieroaction.reasoning.render import render_target
    from hieroaction.synth import draw_samples

    test = draw_samples(24, seed=5, split="test")
    train_codes = [s.action_code for s in draw_samples(40, seed=6, split="train")]

    def system(completions, rewards):
        records = records_from_completions(test, completions, 50.0)
        levels = {k: list(rewards) for k in ("format", "action", "steps", "score")}
        return {"records": [r.to_dict() for r in records], "rewards": list(rewards), "reward_levels": levels}

    gold = [render_target(s) for s in test]
    systems = {"sft": system(["no answer"] * len(test), [0.0] * len(test)), "hpl": system(gold, [1.0] * len(test))}
    report = _confirm().confirmation_report(0, train_codes, test, systems, 200, {})
    assert report["hpl"]["format_validity"] == 1.0 and report["sft"]["format_validity"] == 0.0
    assert report["hpl"]["action_accuracy"] == 1.0
    assert report["hpl_minus_sft"]["reward_mean"]["low"] == pytest.approx(1.0)
    assert report["targets"]["hpl_minus_sft_reward_interval_above_0"]
    assert not report["targets"]["sft_format_validity_>=_0.95"]
    pooled = _confirm().confirmation_report(0, train_codes, test, systems, 200, {},
                                            {"sft": systems["sft"], "hpl": systems["sft"]})
    assert pooled["pooled"]["n"] == 2 * len(test)
    assert pooled["pooled"]["hpl_minus_sft"]["reward_mean"]["estimate"] == pytest.approx(0.5)  # half the dives gain 1
    assert "pooled" not in report


def test_also_names_a_saved_model_per_seed_or_is_refused(tmp_path):
    confirm = _confirm()
    for seed in (0, 1):
        (tmp_path / f"run{seed}").mkdir()
        (tmp_path / f"run{seed}" / "config.json").write_text("{}")
    also = confirm.parse_also([f"prev={tmp_path}/run{{seed}}"], [0, 1])
    assert also == {"prev": {0: tmp_path / "run0", 1: tmp_path / "run1"}}
    with pytest.raises(SystemExit, match="no saved model at .*run2"):
        confirm.parse_also([f"prev={tmp_path}/run{{seed}}"], [0, 2])
    with pytest.raises(SystemExit, match="is taken"):
        confirm.parse_also([f"hpl={tmp_path}/run{{seed}}"], [0])
    with pytest.raises(SystemExit, match="expected NAME=PATH"):
        confirm.parse_also(["prev"], [0])


def test_also_is_compared_with_sft_and_hpl_on_the_same_dives():
    def system(rewards):
        return {"records": [_record(i) for i in range(len(rewards))], "rewards": rewards,
                "reward_levels": {k: rewards for k in ("format", "action", "steps", "score")}}

    systems = {"sft": system([0.0, 0.0, 0.0, 0.0]), "hpl": system([0.5, 0.5, 0.5, 0.5])}
    result = _confirm().compared(system([1.0, 1.0, 1.0, 1.0]), systems, 100)
    assert result["minus_sft"]["reward_mean"]["estimate"] == pytest.approx(1.0)
    assert result["minus_hpl"]["reward_mean"]["estimate"] == pytest.approx(0.5)


def _record(i: int) -> dict:
    from hieroaction.metrics.assessment import records_from_completions
    from hieroaction.synth import draw_samples

    sample = draw_samples(i + 1, seed=9, split="test")[i]
    return records_from_completions([sample], ["no answer"], 50.0)[0].to_dict()
