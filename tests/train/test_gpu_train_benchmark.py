"""``benchmarks/gpu_train.py --quick``: the GPU benchmark's code, end to end on the CPU with the tiny preset."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow  # four short training runs: ~1.5 min on a loaded 2-core machine
def test_quick_run_measures_all_four_runs_and_writes_the_table(tmp_path, capsys, monkeypatch):
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))  # as when run as a script: its sibling modules import
    spec = importlib.util.spec_from_file_location("gpu_train", REPO / "benchmarks" / "gpu_train.py")
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "gpu_train", bench)  # dataclasses look their module up there
    spec.loader.exec_module(bench)
    out = tmp_path / "gpu_train.json"
    assert bench.main(["--quick", "--workdir", str(tmp_path / "work"), "--out", str(out)]) == 0

    report = json.loads(out.read_text())
    assert report["quick"] is True and report["device"]["cuda"] is False
    plan = report["plan"]
    for name in ("stock", "project"):
        sft = report["sft"][name]
        assert sft["steps_measured"] == plan["sft_steps"] - plan["warmup_steps"]
        assert sft["tokens_per_s"] > 0 and sft["mfu"] is None  # no peak FLOP/s for a CPU: no MFU invented
        grpo = report["grpo"][name]
        assert grpo["generate_s"] > 0 and grpo["update_s"] > 0 and grpo["score_s"] >= 0
        assert grpo["generate_s"] + grpo["score_s"] + grpo["update_s"] == pytest.approx(grpo["seconds_per_step"], abs=2e-3)
        assert grpo["completion_tokens_per_step"] > 0 and grpo["generation_bound_tokens_per_s"] is None
    assert report["grpo"]["stock"]["generation"] == "generate" and report["grpo"]["project"]["generation"] == "fast"
    assert report["sft"]["project"]["disk_gb"] > 0  # its final model; the stock runs save nothing
    assert report["ratios"]["sft_tokens_per_s"] > 0 and report["ratios"]["grpo_completion_tokens_per_s"] > 0
    printed = capsys.readouterr().out
    assert "| SFT stock |" in printed and "| GRPO project |" in printed and "QUICK" in printed
    assert not (tmp_path / "work" / "project_sft").exists()  # run folders are removed unless --keep
