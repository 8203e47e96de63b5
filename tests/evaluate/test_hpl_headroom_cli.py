"""The headroom benchmark: its statistics on known rewards, and its refusals before any work."""

import pytest
from benchmark_scripts import BENCHMARKS, load_script


def _headroom():
    return load_script("hpl_headroom")


def _proof():
    return load_script("learning_proof")


def _answers(greedy, sampled):
    levels = {k: [0.5] * len(greedy) for k in ("format", "action", "steps", "score")}
    return {"rewards": greedy, "reward_levels": levels,
            "sampled": {"rewards": sampled, "reward_levels": [levels for _ in sampled]}}


def test_greedy_sampled_and_best_of_k_are_what_the_rewards_say():
    data = _answers([0.5, 0.2, 0.8, 0.1], [[0.1, 0.4, 0.9, 0.1], [0.3, 0.0, 0.7, 0.3]])
    summary = _proof().sampled_report(data, n_boot=200)
    assert summary["greedy_reward"]["estimate"] == pytest.approx(0.4)
    assert summary["sampled_reward"]["estimate"] == pytest.approx((0.2 + 0.2 + 0.8 + 0.2) / 4)
    assert summary["best_of_k_reward"]["estimate"] == pytest.approx((0.3 + 0.4 + 0.9 + 0.3) / 4)
    assert summary["sample_beats_greedy"] == pytest.approx(3 / 8)  # 0.4 > 0.2, 0.9 > 0.8, 0.3 > 0.1; ties do not
    assert summary["samples"] == 2 and summary["n"] == 4


def test_the_paired_difference_is_taken_dive_by_dive():
    headroom, proof = _headroom(), _proof()
    base = _answers([0.5, 0.2, 0.8, 0.1], [[0.1, 0.4, 0.9, 0.1], [0.3, 0.0, 0.7, 0.3]])
    better = _answers([0.6, 0.3, 0.9, 0.2], [[0.2, 0.5, 1.0, 0.2], [0.4, 0.1, 0.8, 0.4]])
    d = proof.sampled_paired(base, better, n_boot=200)
    for key in ("greedy_reward", "sampled_reward"):  # every dive gains 0.1: no spread at all
        assert d[key]["estimate"] == pytest.approx(0.1)
        assert d[key]["low"] == pytest.approx(0.1) and d[key]["high"] == pytest.approx(0.1)
    report = {"seed": 0, "samples": 2, "sampling": {"temperature": 0.7, "top_p": 1.0},
              "systems": [{"name": "sft", "summary": proof.sampled_report(base, 200)},
                          {"name": "hpl", "summary": proof.sampled_report(better, 200), "minus_first": d}]}
    table = headroom.markdown(report)
    assert "| hpl | 0.500 [" in table and "+0.100 [+0.100, +0.100]" in table and "top_k unset" in table


def test_sampling_follows_the_hpl_config(tmp_path):
    proof = _proof()
    shipped = (BENCHMARKS.parent / "configs" / "train" / "hpl_small.yaml").read_text()
    assert "  temperature: 0.4 " in shipped
    config = tmp_path / "hpl.yaml"
    config.write_text(shipped.replace("  temperature: 0.4 ", "  temperature: 0.9 "))
    assert proof.sampling_settings(config, None) == {"temperature": 0.9, "top_p": 1.0}
    assert proof.sampling_settings(config, 0.4)["temperature"] == 0.4


def test_a_folder_without_a_finished_proof_or_a_bad_system_is_refused_before_any_work(tmp_path):
    headroom = _headroom()
    (tmp_path / "seed0").mkdir()
    with pytest.raises(SystemExit, match=r"not a finished learning-proof folder for seed 0 \(missing .*samples.jsonl"):
        headroom.main(["--work", str(tmp_path), "--json", "-"])
    with pytest.raises(SystemExit, match="not a saved model folder"):
        headroom.parse_system(f"x={tmp_path}")
    with pytest.raises(SystemExit, match="expected NAME=PATH"):
        headroom.parse_system("x")
    with pytest.raises(SystemExit, match="--samples must be at least 1"):
        headroom.main(["--work", str(tmp_path), "--samples", "0", "--json", "-"])
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["seed0"]


def test_a_quick_proof_then_the_sweep_and_the_headroom_on_its_folder(tmp_path, monkeypatch):
    """End to end on the tiny preset: the proof with sampled answers, then a sweep variant and the headroom read its
    folder; a plan whose frames the proof did not extract is refused in one line."""
    import json

    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    proof = _proof()
    work, out = tmp_path / "proof", tmp_path / "proof.json"
    assert proof.main(["--quick", "--seeds", "0", "--sampled", "1", "--work", str(work), "--json", str(out)]) == 0
    (seed,) = json.loads(out.read_text())["seeds"]
    assert json.loads((work / "seed0" / "report.json").read_text()) == seed  # kept as soon as the seed ended
    assert set(json.loads((work / "seed0" / "answers.json").read_text())) == {"sft", "hpl"}
    # SFT's part, kept before HPL started (a budget that stops HPL keeps it): the same answers and metrics
    sft_part = json.loads((work / "seed0" / "report_sft.json").read_text())
    assert sft_part["sft"] == seed["sft"] and sft_part["majority"] == seed["majority"]
    assert json.loads((work / "seed0" / "answers_sft.json").read_text()) == json.loads(
        (work / "seed0" / "answers.json").read_text())["sft"]
    assert set(seed["sampled"]) == {"sft", "hpl"} and seed["sampled"]["hpl"]["samples"] == 1
    assert set(seed["hpl_minus_sft_sampled"]) == {"greedy_reward", "sampled_reward"}
    with pytest.raises(SystemExit, match=r"extracted frames as uniform4_56x56, not uniform8_56x56 .*--quick"):
        _headroom().main(["--work", str(work), "--preset", "tiny", "--json", "-"])

    headroom_out = tmp_path / "headroom.json"
    assert _headroom().main(["--work", str(work), "--quick", "--samples", "1", "--json", str(headroom_out)]) == 0
    systems = json.loads(headroom_out.read_text())["systems"]
    assert [s["name"] for s in systems] == ["sft", "hpl"] and "minus_first" in systems[1]
    # the same greedy answers as the proof's own: one answering path
    assert systems[1]["summary"]["greedy_reward"]["estimate"] == pytest.approx(
        seed["sampled"]["hpl"]["greedy_reward"]["estimate"])

    sweep = load_script("hpl_sweep")
    sweep_out = tmp_path / "sweep.json"
    assert sweep.main(["--work", str(work), "--quick", "--variant", "lv:hpl.credit=level", "--out",
                       str(tmp_path / "sweep"), "--json", str(sweep_out)]) == 0
    (variant,) = json.loads(sweep_out.read_text())["variants"]
    assert variant["name"] == "lv" and (tmp_path / "sweep" / "lv" / "final" / "config.json").is_file()
    assert set(variant["minus_sft"]) >= {"reward_mean", "srcc", "action_accuracy"}

    decoding = load_script("decoding")
    beams = tmp_path / "beams"
    assert decoding.main(["--work", str(work), "--quick", "--seeds", "0", "--num-beams", "2", "--out", str(beams)]) == 0
    answered = json.loads((beams / "seed0" / "answers.json").read_text())
    assert answered["hpl"]["decoding"] == {"num_beams": 2, "repetition_penalty": 1.0}
    assert json.loads((beams / "seed0" / "answers_sft.json").read_text()) == answered["sft"]
    paired = load_script("compare_proofs").compare(work, beams, [0], n_boot=50)  # the same dives, paired
    assert [row["system"] for row in paired["rows"]] == ["sft", "hpl"]

    fit_out = tmp_path / "award_fit.json"
    assert load_script("award_fit").main(["--work", str(work), "--quick", "--seeds", "0", "--train-dives", "3",
                                          "--json", str(fit_out)]) == 0
    (fit,) = json.loads(fit_out.read_text())["seeds"]
    assert fit["training_dives"]["answers"] == 3
    heldout = json.loads((work / "seed0" / "answers_sft.json").read_text())["records"]
    assert fit["heldout_dives"]["answers"] == len(heldout)  # the proof's own held-out answers, read, not redone


def test_the_award_fit_reader_refuses_before_any_work(tmp_path):
    fit = load_script("award_fit")
    with pytest.raises(SystemExit, match="--train-dives must be at least 1"):
        fit.main(["--work", str(tmp_path), "--train-dives", "0"])
    with pytest.raises(SystemExit, match="not a finished learning-proof folder"):
        fit.main(["--work", str(tmp_path)])


def test_the_decoding_reader_refuses_before_any_work(tmp_path):
    decoding = load_script("decoding")
    with pytest.raises(SystemExit, match="nothing to change"):
        decoding.main(["--work", str(tmp_path), "--out", str(tmp_path / "o")])
    with pytest.raises(SystemExit, match="--num-beams must be at least 1"):
        decoding.main(["--work", str(tmp_path), "--out", str(tmp_path / "o"), "--num-beams", "0"])
    with pytest.raises(SystemExit, match="--systems hpl needs sft"):
        decoding.main(["--work", str(tmp_path), "--out", str(tmp_path / "o"), "--num-beams", "2", "--systems", "hpl"])
    with pytest.raises(SystemExit, match="not a finished learning-proof folder"):
        decoding.main(["--work", str(tmp_path), "--out", str(tmp_path / "o"), "--num-beams", "2"])
    assert not (tmp_path / "o").exists()
