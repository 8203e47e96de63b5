"""A run killed with SIGKILL resumes from its last complete checkpoint and ends at the same step, losing nothing."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch
from safetensors.torch import load_file

from hieroaction.train.checkpoints import find_resume_checkpoint, is_complete_checkpoint
from hieroaction.train.config import load_config
from hieroaction.train.sft import run_sft

REPO = Path(__file__).resolve().parents[2]
MAX_STEPS = 12
OVERRIDES = [f"train.max_steps={MAX_STEPS}", "train.save_steps=2", "train.save_total_limit=2", "train.cpu_threads=1"]


def _command(config, output_dir):
    sets = [*OVERRIDES, f"train.output_dir={output_dir}"]
    return [sys.executable, "-m", "hieroaction.train.sft", "--config", str(config)] + [
        arg for s in sets for arg in ("--set", s)
    ]


def _env():
    return dict(os.environ, OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false", PYTHONPATH=str(REPO))


def _weights(folder):
    return load_file(str(next(Path(folder).glob("*.safetensors"))))


def test_sigkill_then_rerun_finishes_at_the_same_step_with_the_same_weights(sft_workspace, tmp_path):
    killed_dir = tmp_path / "killed"
    proc = subprocess.Popen(
        _command(sft_workspace, killed_dir), cwd=REPO, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            ready = [p for p in killed_dir.glob("checkpoint-*") if is_complete_checkpoint(p)]
            if ready:
                break
            time.sleep(0.05)
        assert proc.poll() is None, proc.stderr.read().decode()[-3000:]
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    assert not (killed_dir / "final").exists()
    resume_from = find_resume_checkpoint(killed_dir, set_aside_incomplete=False)
    assert resume_from is not None
    resumed_step = int(resume_from.name.split("-")[1])
    assert resumed_step < MAX_STEPS

    rerun = subprocess.run(
        _command(sft_workspace, killed_dir), cwd=REPO, env=_env(), capture_output=True, text=True, timeout=300
    )
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "resuming from" in rerun.stderr
    state = json.loads((killed_dir / f"checkpoint-{MAX_STEPS}" / "trainer_state.json").read_text())
    assert state["global_step"] == MAX_STEPS
    info = json.loads((killed_dir / "final" / "hieroaction_run.json").read_text())
    assert info["global_step"] == MAX_STEPS

    steps_logged = [e["step"] for e in state["log_history"] if "loss" in e]
    assert steps_logged == list(range(1, MAX_STEPS + 1))  # no step lost or repeated across the kill

    # nothing lost: the same weights as a run that was never interrupted (in-process: imports are already paid)
    straight_dir = tmp_path / "straight"
    run_sft(load_config(sft_workspace, overrides=[*OVERRIDES, f"train.output_dir={straight_dir}"]))
    resumed, uninterrupted = _weights(killed_dir / "final"), _weights(straight_dir / "final")
    assert resumed.keys() == uninterrupted.keys()
    for name in resumed:
        torch.testing.assert_close(resumed[name], uninterrupted[name], rtol=1e-5, atol=1e-6, msg=name)


def test_incomplete_checkpoints_are_set_aside(tmp_path):
    (tmp_path / "checkpoint-4").mkdir()
    (tmp_path / "checkpoint-4" / "trainer_state.json").write_text('{"global_step": 4}')
    (tmp_path / "checkpoint-4" / "model.safetensors").write_bytes(b"")
    (tmp_path / "checkpoint-6").mkdir()  # killed while saving: weights but no trainer state
    (tmp_path / "checkpoint-6" / "model.safetensors").write_bytes(b"")
    assert find_resume_checkpoint(tmp_path) == tmp_path / "checkpoint-4"
    assert not (tmp_path / "checkpoint-6").exists()
    assert len(list(tmp_path.glob("checkpoint-6.incomplete-*"))) == 1
