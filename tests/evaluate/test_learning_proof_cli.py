"""The learning proof's command line fails before any work on a device or preset it cannot use."""

import dataclasses
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
                                     sft_steps=None, hpl_steps=None, max_new_tokens=384, n_boot=1000, parallel=2,
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


def test_the_medium_dry_run_runs_the_gpu_proofs_preset_and_configs_with_a_cut_pretraining(monkeypatch):
    from hieroaction.model import presets

    dry = load_script("medium_dry_run")
    full = presets.PRESETS["medium"]
    monkeypatch.setitem(presets.PRESETS, "medium", full)
    dry.cut_pretraining(3, dives=24, clips=4)
    cut = presets.PRESETS["medium"]
    assert (cut.vision_pretrain_steps, cut.vision_pretrain_dives, cut.vision_pretrain_clips) == (3, 24, 4)
    assert dataclasses.replace(cut, vision_pretrain_steps=full.vision_pretrain_steps,
                               vision_pretrain_dives=full.vision_pretrain_dives,
                               vision_pretrain_clips=full.vision_pretrain_clips) == full
    proof = load_script("learning_proof")
    args = proof.build_parser().parse_args(dry.proof_argv(dry.argparse.Namespace(
        train=24, test=8, sft_steps=3, hpl_steps=2, cpu_threads=2, work="w", device="cpu", eval_batch=8)))
    plan = proof.plan_from_args(args)
    assert plan.preset == "medium" and plan.device == "cpu" and plan.eval_batch == 8
    assert plan.sft_config.name == "sft_medium.yaml" and plan.hpl_config.name == "hpl_medium.yaml"
    assert plan.frames == {"sampler": "uniform", "count": 32, "size": 112}


def test_stage_overrides_reach_the_plan_and_a_bad_one_stops_before_any_work(tmp_path):
    proof = _proof()
    args = proof.build_parser().parse_args(["--sft-set", "train.weight_decay=0.1", "--hpl-set", "hpl.beta=0.04",
                                            "--hpl-set", "train.learning_rate=1e-5"])
    plan = proof.plan_from_args(args)
    assert plan.overrides == {"sft": ["train.weight_decay=0.1"], "hpl": ["hpl.beta=0.04", "train.learning_rate=1e-5"]}
    assert proof.plan_record(plan)["overrides"]["hpl"] == ["hpl.beta=0.04", "train.learning_rate=1e-5"]
    with pytest.raises(SystemExit, match="no_such_key"):
        proof.main(["--sft-set", "train.no_such_key=1", "--work", str(tmp_path), "--json", "-"])
    assert not any(tmp_path.iterdir())


def test_the_build_seed_reaches_the_plan_and_its_record():
    proof = _proof()
    assert proof.plan_from_args(proof.build_parser().parse_args([])).build_seed == 0
    plan = proof.plan_from_args(proof.build_parser().parse_args(["--build-seed", "3"]))
    assert plan.build_seed == 3 and proof.plan_record(plan)["build_seed"] == 3


def test_limits_that_would_cut_off_target_answers_stop_before_any_training(tmp_path, tiny_checkpoint):
    """The answering limit must hold every held-out dive's full answer and HPL's every training dive's."""
    from hieroaction.datasets import write_jsonl

    proof = _proof()
    (tmp_path / "test").mkdir()
    write_jsonl(proof.test_samples(4), tmp_path / "test" / "samples.jsonl")
    plan = proof.plan_from_args(proof.build_parser().parse_args(["--train", "4", "--test", "4"]))
    budgets = proof.check_answer_budgets(plan, tmp_path, tiny_checkpoint)
    assert 0 < budgets["test"] <= plan.max_new_tokens and budgets["train"] > 0
    with pytest.raises(SystemExit, match=r"^--max-new-tokens is 40 tokens, but the target answer of synth/"):
        proof.check_answer_budgets(dataclasses.replace(plan, max_new_tokens=40), tmp_path, tiny_checkpoint)
    short_hpl = dataclasses.replace(plan, overrides={"hpl": ["hpl.max_completion_length=40"]})
    with pytest.raises(SystemExit, match=r"^HPL's max_completion_length .* is 40 tokens"):
        proof.check_answer_budgets(short_hpl, tmp_path, tiny_checkpoint)
    quick = dataclasses.replace(plan, max_new_tokens=24, quick=True)  # the plumbing run answers in a few tokens
    assert proof.check_answer_budgets(quick, tmp_path, tiny_checkpoint)["test"] > 24
