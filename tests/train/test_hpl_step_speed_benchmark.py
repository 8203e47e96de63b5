"""``benchmarks/hpl_step_speed.py``: whole HPL runs with the fast generation path and with ``generate``, interleaved;
a smoke run on the tiny preset (its figures mean nothing) that checks both runs trained on the same completions."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from hieroaction.datasets.sample import write_jsonl

REPO = Path(__file__).resolve().parents[2]


def test_smoke_run_splits_both_paths_steps_and_sees_the_same_completions(
    tmp_path, real_samples, tiny_checkpoint, clip_writer, frames_spec, capsys
):
    from benchmarks.hpl_step_speed import main

    samples = real_samples[:4]
    write_jsonl(samples, tmp_path / "train.jsonl")
    clip_writer(samples, tmp_path / "frames")
    config = tmp_path / "hpl.yaml"
    config.write_text(yaml.safe_dump({
        "model": {"path": str(tiny_checkpoint)},
        "data": {"train": str(tmp_path / "train.jsonl"), "frames_dir": str(tmp_path / "frames"), "frames": frames_spec,
                 "media_root": None},
        "train": {"per_device_train_batch_size": 4, "learning_rate": 1e-3},
        "hpl": {"num_generations": 4, "max_completion_length": 8, "allow_cut_answers": True},
    }))
    out = tmp_path / "speed.json"
    argv = ["--config", str(config), "--steps", "2", "--rounds", "1", "--workdir", str(tmp_path / "work"),
            "--out", str(out)]
    assert main(argv) == 0
    report = json.loads(out.read_text())
    assert [r["fast_generation"] for r in report["runs"]] == [True, False]
    for run in report["runs"]:
        assert run["steps_measured"] == 1 and run["generate_s"] > 0 and run["update_s"] > 0
    assert report["summary"]["same_completion_tokens"] is True and report["summary"]["step_ratio"] > 0
    assert "| hpl.fast_generation |" in capsys.readouterr().out
    assert not (tmp_path / "work").exists() or not any((tmp_path / "work").iterdir())  # run folders removed
