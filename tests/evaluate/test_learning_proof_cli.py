"""The learning proof's command line fails before any work on a device or preset it cannot use."""

import json

import pytest
from benchmark_scripts import load_script


def _proof():
    return load_script("learning_proof")


def test_cuda_without_a_visible_gpu_stops_in_one_line(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is visible: the cuda path would run")
    with pytest.raises(SystemExit, match="no CUDA device"):
        _proof().main(["--device", "cuda", "--work", str(tmp_path), "--json", "-"])
    assert not any(tmp_path.iterdir())  # nothing was drawn, rendered or built


def test_unknown_preset_or_device_is_refused(tmp_path, monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)  # a CPU run hides GPUs from its trainers: undone after
    proof = _proof()
    with pytest.raises(SystemExit, match="no training config for preset 'huge'"):
        proof.main(["--preset", "huge", "--work", str(tmp_path), "--json", "-"])
    with pytest.raises(SystemExit, match="--device must be cpu or cuda"):
        proof.main(["--device", "tpu", "--work", str(tmp_path), "--json", "-"])


def test_every_preset_with_training_configs_plans_the_proof():
    proof = _proof()
    for preset in ("small", "medium"):
        args = type("Args", (), dict(quick=False, preset=preset, device="cpu", seeds=None, train=600, test=256,
                                     sft_steps=None, hpl_steps=None, max_new_tokens=320, n_boot=1000, parallel=2,
                                     cpu_threads=1, eval_batch=8, sampled=0))()
        plan = proof.plan_from_args(args)
        assert plan.n_test >= 256 and len(plan.seeds) >= 2 and plan.sft_steps > 0 and plan.hpl_steps > 0


def test_a_negative_sampled_count_is_refused_before_any_work(tmp_path):
    with pytest.raises(SystemExit, match="--sampled must be 0 or more"):
        _proof().main(["--sampled", "-1", "--work", str(tmp_path), "--json", "-"])
    assert not any(tmp_path.iterdir())


def test_the_proof_writes_strict_json_with_null_for_an_undefined_metric(tmp_path, capsys):
    import math

    proof = load_script("learning_proof")
    proof.publish("table", {"srcc": math.nan, "path": tmp_path}, str(tmp_path / "out.json"))

    def refuse(name):
        raise ValueError(f"{name} is not JSON")

    assert json.loads((tmp_path / "out.json").read_text(), parse_constant=refuse) == {"srcc": None,
                                                                                     "path": str(tmp_path)}
    assert capsys.readouterr().out == "table\n"
