"""The headroom benchmark: its statistics on known rewards, and its refusals before any work."""

import importlib.util
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def _headroom():
    sys.path.insert(0, str(BENCHMARKS))
    spec = importlib.util.spec_from_file_location("hpl_headroom", BENCHMARKS / "hpl_headroom.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _result(name, greedy, sampled):
    levels = {k: [0.5] * len(greedy) for k in ("format", "action", "steps", "score")}
    return {"name": name, "model": name, "greedy": {"rewards": greedy, "reward_levels": levels},
            "sampled_rewards": sampled, "sampled_levels": [levels for _ in sampled]}


def test_greedy_sampled_and_best_of_k_are_what_the_rewards_say():
    headroom = _headroom()
    result = _result("sft", [0.5, 0.2, 0.8, 0.1], [[0.1, 0.4, 0.9, 0.1], [0.3, 0.0, 0.7, 0.3]])
    summary = headroom.summarize(result, n_boot=200)
    assert summary["greedy_reward"]["estimate"] == pytest.approx(0.4)
    assert summary["sampled_reward"]["estimate"] == pytest.approx((0.2 + 0.2 + 0.8 + 0.2) / 4)
    assert summary["best_of_k_reward"]["estimate"] == pytest.approx((0.3 + 0.4 + 0.9 + 0.3) / 4)
    assert summary["sample_beats_greedy"] == pytest.approx(3 / 8)  # 0.4 > 0.2, 0.9 > 0.8, 0.3 > 0.1; ties do not
    assert summary["samples"] == 2 and summary["n"] == 4


def test_the_paired_difference_is_taken_dive_by_dive():
    headroom = _headroom()
    base = _result("sft", [0.5, 0.2, 0.8, 0.1], [[0.1, 0.4, 0.9, 0.1], [0.3, 0.0, 0.7, 0.3]])
    better = _result("hpl", [0.6, 0.3, 0.9, 0.2], [[0.2, 0.5, 1.0, 0.2], [0.4, 0.1, 0.8, 0.4]])
    d = headroom.paired(base, better, n_boot=200)
    for key in ("greedy_reward", "sampled_reward"):  # every dive gains 0.1: no spread at all
        assert d[key]["estimate"] == pytest.approx(0.1)
        assert d[key]["low"] == pytest.approx(0.1) and d[key]["high"] == pytest.approx(0.1)
    report = {"seed": 0, "samples": 2, "sampling": {"temperature": 0.7, "top_p": 1.0},
              "systems": [{"name": "sft", "summary": headroom.summarize(base, 200)},
                          {"name": "hpl", "summary": headroom.summarize(better, 200), "minus_first": d}]}
    table = headroom.markdown(report)
    assert "| hpl | 0.500 [" in table and "+0.100 [+0.100, +0.100]" in table and "top_k unset" in table


def test_sampling_follows_the_hpl_config():
    headroom = _headroom()
    config = BENCHMARKS.parent / "configs" / "train" / "hpl_small.yaml"
    assert headroom.sampling_settings(config, None) == {"temperature": 0.7, "top_p": 1.0}
    assert headroom.sampling_settings(config, 0.4)["temperature"] == 0.4


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
