"""``benchmarks/rollout_speed.py``: plain ``generate`` and the fast path timed on the same inputs; a smoke run on the
tiny preset (its figures mean nothing; the script's own run on the small preset records them)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_smoke_run_times_both_paths_and_checks_they_sampled_the_same_tokens(tmp_path, capsys, monkeypatch,
                                                                           tiny_checkpoint):
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))  # as when run as a script: its sibling modules import
    spec = importlib.util.spec_from_file_location("rollout_speed", REPO / "benchmarks" / "rollout_speed.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out = tmp_path / "rollout_speed.json"
    argv = ["--model", str(tiny_checkpoint), "--frames", "4", "--size", "28", "--repeats", "1",
            "--new-tokens", "6", "--out", str(out)]
    assert bench.main(argv) == 0
    report = json.loads(out.read_text())
    assert report["model"]["untrained_preset"] is None and len(report["cases"]) == len(bench.CASES)
    for case in report["cases"].values():
        assert case["new_tokens"] == 6 and case["plain_s"] > 0 and case["fast_s"] > 0
        assert case["same_tokens"] is True and len(case["rounds"]) == 1
        ops = case["ops_per_decode_step"]  # each step runs every layer: dozens of operations at least
        assert set(ops) == {"plain", "fast"} and ops["plain"] > 20 and ops["fast"] > 20
    assert "| 1 clip x 8 answers" in capsys.readouterr().out
