"""run_hpl end to end on the tiny preset: rewards logged per level, versioned checkpoints, resume after SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from hieroaction.datasets.sample import write_jsonl

REPO = Path(__file__).resolve().parents[2]


def _hpl_config(tmp_path, samples, model_path, frames, hpl=None, **train):
    table = tmp_path / "train.jsonl"
    write_jsonl(samples, table)
    settings = {
        "output_dir": str(tmp_path / "hpl"),
        "max_steps": 2,
        "per_device_train_batch_size": 4,
        "learning_rate": 1e-3,
        "save_steps": 1,
        "logging_steps": 1,
        "disable_tqdm": True,
    }
    settings.update(train)
    config = {
        "model": {"path": str(model_path)},
        "data": {"train": str(table), "frames_dir": str(tmp_path / "frames"), "frames": frames, "media_root": None},
        "train": settings,
        "hpl": {
            "num_generations": 4,
            "max_completion_length": 8,
            "allow_cut_answers": True,  # plumbing: the answers are cut off
            "rewards": {
                "mode": "hierarchical",
                "weights": {"format": 0.2, "action": 0.3, "steps": 0.2, "score": 0.3},
                "stages": [
                    {"until": 0.5, "levels": ["format", "action"]},
                    {"until": 1.0, "levels": ["format", "action", "steps", "score"]},
                ],
            },
            **(hpl or {}),
        },
    }
    path = tmp_path / "hpl.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_run_hpl_logs_each_reward_level_and_writes_versioned_checkpoints(
    tmp_path, real_samples, tiny_checkpoint, clip_writer, frames_spec
):
    from hieroaction.train.hpl import run_hpl

    clip_writer(real_samples[:4], tmp_path / "frames")
    # the fast rollout path end to end (tests/train/test_fast_generation.py proves it samples what generate() does)
    config = _hpl_config(tmp_path, real_samples[:4], tiny_checkpoint, frames_spec, hpl={"fast_generation": True})
    final = run_hpl(config)

    assert (final / "config.json").is_file() and (final / "processor_config.json").is_file()
    info = json.loads((final / "hieroaction_run.json").read_text())
    assert info["kind"] == "hpl" and info["global_step"] == 2 and info["data_version"]
    assert info["reward_config"]["stages"][0]["levels"] == ["format", "action"]
    assert "reward/format" in info["reward_means"] and "reward/total" in info["reward_means"]
    checkpoint = tmp_path / "hpl" / "checkpoint-2"
    assert (checkpoint / "config.yaml").is_file()
    assert yaml.safe_load((checkpoint / "config.yaml").read_text())["hpl"]["num_generations"] == 4
    state = json.loads((checkpoint / "trainer_state.json").read_text())
    logged = [e for e in state["log_history"] if "reward" in e]
    assert [e["step"] for e in logged] == [1, 2]
    for entry in logged:
        for key in (
            "reward/format",
            "reward/action",
            "reward/steps",
            "reward/score",
            "rewards/hierarchical_reward/mean",
        ):
            assert 0.0 <= entry[key] <= 1.0, key


def test_run_hpl_with_level_credit_trains_and_logs_which_tokens_each_level_credits(
    tmp_path, real_samples, tiny_checkpoint, clip_writer, frames_spec
):
    from hieroaction.train.hpl import run_hpl

    clip_writer(real_samples[:4], tmp_path / "frames")
    config = _hpl_config(tmp_path, real_samples[:4], tiny_checkpoint, frames_spec,
                         hpl={"fast_generation": True, "credit": "level"}, max_steps=1)
    final = run_hpl(config)

    state = json.loads((tmp_path / "hpl" / "checkpoint-1" / "trainer_state.json").read_text())
    (entry,) = [e for e in state["log_history"] if "reward" in e]
    shares = [entry[f"credit/{name}_tokens"] for name in ("format", "action", "steps", "score")]
    assert all(0.0 <= share <= 1.0 for share in shares) and sum(shares) == pytest.approx(1.0, abs=1e-6)
    assert json.loads((final / "hieroaction_run.json").read_text())["global_step"] == 1


def test_run_hpl_against_the_greedy_answers_scores_them_and_reinforces_only_what_beats_them(
    tmp_path, real_samples, tiny_checkpoint, clip_writer, frames_spec, monkeypatch
):
    """Each clip's greedy answer is decoded once, shared by its group's rows, scored by the same reward, and every
    sampled answer's advantage is its reward minus that answer's, over the spread of both (recomputed here). The tiny
    model's random answers mostly earn 0, so this is the plumbing of a real run; test_level_credit.py checks the
    values with answers that earn different rewards."""
    from hieroaction.train.hpl import run_hpl
    from hieroaction.train.level_credit import class_advantages
    from hieroaction.train.video_grpo import VideoGRPOTrainer

    seen = []
    own_advantages = VideoGRPOTrainer._own_advantages

    def observed(self, output, inputs):  # observes only: the trainer's own result goes on unchanged
        advantages = own_advantages(self, output, inputs)
        seen.append((self, output["completion_ids"].clone(), output["completion_mask"].clone(), list(inputs),
                     [list(ids) for ids in self._greedy_ids], advantages.clone()))
        return advantages

    monkeypatch.setattr(VideoGRPOTrainer, "_own_advantages", observed)
    clip_writer(real_samples[:4], tmp_path / "frames")
    config = _hpl_config(tmp_path, real_samples[:4], tiny_checkpoint, frames_spec,
                         hpl={"fast_generation": True, "baseline": "greedy"}, max_steps=1)
    run_hpl(config)

    (trainer, completion_ids, mask, inputs, greedy_ids, advantages), = seen
    groups = trainer.num_generations
    for start in range(0, len(inputs), groups):  # one greedy answer per clip, shared by its group
        assert all(ids == greedy_ids[start] for ids in greedy_ids[start : start + groups])
    decode = trainer.processing_class.batch_decode
    sampled = [ids[m.bool()].tolist() for ids, m in zip(completion_ids, mask, strict=True)]
    columns = {k: [row[k] for row in inputs] for k in inputs[0] if k not in ("prompt", "completion_ids")}

    def totals(ids):
        texts = [[{"role": "assistant", "content": t}] for t in decode(ids, skip_special_tokens=True)]
        return torch.tensor(trainer.credit_reward.components(texts, trainer_state=trainer.state, **columns)["total"])

    rewards, greedy = totals(sampled)[:, None], totals(greedy_ids)[:, None]
    expected = class_advantages(rewards, groups, trainer.scale_rewards, greedy)[:, 0]
    assert advantages.shape == (len(inputs),)
    assert torch.allclose(advantages, expected, atol=1e-5)
    assert ((advantages > 0) == (rewards[:, 0] > greedy[:, 0])).all()  # reinforced exactly when it beats greedy
    state = json.loads((tmp_path / "hpl" / "checkpoint-1" / "trainer_state.json").read_text())
    (entry,) = [e for e in state["log_history"] if "reward" in e]
    assert 0.0 <= entry["reward/greedy"] <= 1.0 and 0.0 <= entry["reward/beats_greedy"] <= 1.0


@pytest.mark.slow  # a subprocess with its own torch/trl imports: ~30 s on a loaded 2-core machine
def test_hpl_killed_with_sigkill_resumes_and_finishes_at_the_same_step(
    tmp_path, real_samples, tiny_checkpoint, clip_writer, frames_spec
):
    from hieroaction.train.hpl import run_hpl

    clip_writer(real_samples[:4], tmp_path / "frames")
    config = _hpl_config(tmp_path, real_samples[:4], tiny_checkpoint, frames_spec, max_steps=6, save_steps=2)
    out = tmp_path / "hpl"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen(
        [sys.executable, "-m", "hieroaction.train.hpl", "--config", str(config)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 240
        while not (out / "checkpoint-2" / "trainer_state.json").exists():
            if proc.poll() is not None:
                pytest.fail(f"HPL exited early ({proc.returncode}): {proc.stderr.read().decode()[-2000:]}")
            if time.monotonic() > deadline:
                pytest.fail("no checkpoint-2 within 240 s")
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    assert not (out / "final").exists(), "the first run finished before it was killed"

    final = run_hpl(config)
    info = json.loads((final / "hieroaction_run.json").read_text())
    assert info["global_step"] == 6
    state = json.loads((out / "checkpoint-6" / "trainer_state.json").read_text())
    steps = [e["step"] for e in state["log_history"] if "reward" in e]
    assert steps == [1, 2, 3, 4, 5, 6]  # the steps before the kill are kept, none repeated, none missing


def test_shipped_hpl_configs_give_valid_grpo_and_reward_settings():
    from hieroaction.train.config import HPLRunConfig, load_config
    from hieroaction.train.hpl import HPLSettings

    files = sorted((REPO / "configs" / "train").glob("hpl_*.yaml"))
    assert {"hpl_tiny.yaml", "hpl_small.yaml"} <= {f.name for f in files}
    for path in files:
        config = load_config(path, HPLRunConfig)
        settings = HPLSettings.from_dict(config.hpl)
        rewards = settings.reward_config()
        assert rewards.mode == "hierarchical" and rewards.stages[-1].levels == ("format", "action", "steps", "score")
        assert config.train.per_device_train_batch_size % settings.num_generations == 0, path.name


@pytest.mark.parametrize(
    ("hpl", "message"),
    [
        ({"num_generation": 4}, r"hpl: unknown key\(s\) \['num_generation'\]"),
        ({"num_generations": 1}, "hpl.num_generations: must be >= 2"),
        ({"rewards": {"weights": {"style": 1.0}}}, "hpl.rewards: unknown reward levels"),
        ({"rewards": {"stages": [{"until": 1.0, "levels": ["score", "vibes"]}]}}, "hpl.rewards: stage levels"),
        ({"credit": "token"}, "hpl.credit: must be 'sequence' or 'level'"),
        ({"baseline": "best", "fast_generation": True}, "hpl.baseline: must be 'group' or 'greedy'"),
        ({"baseline": "greedy"}, "hpl.baseline: 'greedy' decodes .* set hpl.fast_generation: true"),
    ],
)
def test_bad_hpl_settings_name_the_key(hpl, message):
    from hieroaction.train.config import ConfigError
    from hieroaction.train.hpl import HPLSettings

    with pytest.raises(ConfigError, match=message):
        HPLSettings.from_dict(hpl).reward_config()


@pytest.mark.slow  # two processes with their own imports: ~45 s on a loaded 2-core machine
def test_hpl_runs_on_two_cpu_processes_with_gloo(tmp_path, real_samples, tiny_checkpoint, clip_writer, frames_spec):
    """torchrun + ``use_cpu`` makes accelerate pick MULTI_CPU/gloo (an accelerate config with ``use_cpu: true`` alone
    starts a single process); rank 0 alone writes the checkpoints, and both ranks finish at the same step."""
    clip_writer(real_samples[:8], tmp_path / "frames")
    config = _hpl_config(tmp_path, real_samples[:8], tiny_checkpoint, frames_spec, max_steps=2, save_steps=2)
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    torchrun = Path(sys.executable).with_name("torchrun")
    with socket.socket() as probe:  # a free port for the rendezvous (torchrun's static rendezvous cannot take 0)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen(
        [str(torchrun), "--nproc_per_node", "2", "--master_addr", "127.0.0.1", "--master_port", str(port)]
        + ["-m", "hieroaction.train.hpl", "--config", str(config), "--set", "train.extra={use_cpu: true}",
           "--set", "hpl.fast_generation=true"],  # the fast rollout path under DDP
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: a timeout ends the workers too, not only torchrun
    )
    try:
        _, stderr = proc.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        _, stderr = proc.communicate()
        pytest.fail(f"two-process HPL did not finish in 300 s: {stderr[-2000:]}")
    done = subprocess.CompletedProcess(proc.args, proc.returncode, None, stderr)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "x 2 processes" in done.stderr and "generation hpl.fast_generation" in done.stderr
    assert done.stderr.count("HPL finished at step 2") == 2
    info = json.loads((tmp_path / "hpl" / "final" / "hieroaction_run.json").read_text())
    assert info["global_step"] == 2
    state = json.loads((tmp_path / "hpl" / "checkpoint-2" / "trainer_state.json").read_text())
    first = next(e for e in state["log_history"] if "num_tokens" in e)
    assert first["num_tokens"] > 0


def test_a_generation_setting_the_fast_path_lacks_is_one_line_before_step_1(
    tmp_path, real_samples, tiny_checkpoint, clip_writer, frames_spec, capsys
):
    from hieroaction.train.hpl import main

    clip_writer(real_samples[:4], tmp_path / "frames")
    config = _hpl_config(tmp_path, real_samples[:4], tiny_checkpoint, frames_spec, hpl={"fast_generation": True},
                         extra={"repetition_penalty": 1.1})
    assert main(["--config", str(config)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert not any("Traceback" in line for line in err)
    assert "repetition_penalty=1.1 is not supported by the fast generation path" in err[-1]
    assert not (tmp_path / "hpl" / "checkpoint-1").exists()


def test_a_completion_limit_that_cuts_off_target_answers_is_one_line_before_step_1(
    tmp_path, real_samples, tiny_checkpoint, clip_writer, frames_spec, capsys
):
    """A clipped answer has no closing tags and earns no format or score reward: HPL would punish complete answers."""
    from hieroaction.train.answer_budget import longest_target
    from hieroaction.train.hpl import main

    clip_writer(real_samples[:4], tmp_path / "frames")
    config = _hpl_config(tmp_path, real_samples[:4], tiny_checkpoint, frames_spec, hpl={"allow_cut_answers": False})
    assert main(["--config", str(config)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert not any("Traceback" in line for line in err)
    from transformers import AutoTokenizer

    longest = longest_target(real_samples[:4], AutoTokenizer.from_pretrained(tiny_checkpoint))
    assert (f"hpl.max_completion_length is 8 tokens, but the target answer of {longest.sample_id} takes "
            f"{longest.tokens}") in err[-1]
    assert not (tmp_path / "hpl" / "checkpoint-1").exists()


def test_module_entry_point_reports_config_errors(tmp_path, capsys):
    from hieroaction.train.hpl import main

    bad = tmp_path / "hpl.yaml"
    bad.write_text("hpl: {num_generations: 1}\ndata: {train: x.jsonl}\n")
    assert main(["--config", str(bad)]) == 2
    assert "hpl.num_generations: must be >= 2" in capsys.readouterr().err
    assert main(["--config", str(tmp_path / "missing.yaml")]) == 2
    assert "does not exist" in capsys.readouterr().err
