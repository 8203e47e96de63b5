"""The tower probe's execution regression, and its run on a built preset's frozen tower."""

from __future__ import annotations

import json

import numpy as np
from benchmark_scripts import load_script

tower_probe = load_script("tower_probe")


def test_ridge_probe_reads_a_linear_signal_and_not_noise():
    rng = np.random.default_rng(0)
    x, x_test = rng.normal(size=(200, 50)), rng.normal(size=(100, 50))
    weights = rng.normal(size=50)
    readable = tower_probe.ridge_probe(x, x @ weights, x_test, x_test @ weights)
    assert readable["spearman"] > 0.9 and readable["mae"] < 0.5 * readable["mae_of_training_mean"]
    noise = tower_probe.ridge_probe(x, rng.normal(size=200), x_test, rng.normal(size=100))
    assert abs(noise["spearman"]) < 0.3 and noise["mae"] > 0.9 * noise["mae_of_training_mean"]


def test_probe_of_a_built_checkpoint(tmp_path, tiny_checkpoint):
    out = tmp_path / "probe.json"
    assert tower_probe.main(["--checkpoint", str(tiny_checkpoint), "--frames", "4", "--size", "28",
                             "--train-dives", "24", "--test-dives", "12", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["checkpoint"] == str(tiny_checkpoint) and result["steps"] == 0 and result["pretraining"] is None
    assert result["machine"]["cpu"]
    assert set(result["probes"]) == {"group", "rotation", "somersaults", "twists", "position", "code"}
    assert set(result["execution"]) == {"spearman", "mae", "mae_of_training_mean"}


def test_a_folder_that_is_no_checkpoint_is_refused_in_one_line(tmp_path, capsys):
    assert tower_probe.main(["--checkpoint", str(tmp_path / "missing")]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: checkpoint not found") and "\n" not in error
