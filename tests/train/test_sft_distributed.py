"""Two CPU processes (gloo) through ``accelerate launch``: the multi-GPU code path, runnable without a GPU."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.integration
def test_two_process_gloo_run_shares_the_steps(sft_workspace, tmp_path):
    out = tmp_path / "ddp"
    accelerate = Path(sys.executable).with_name("accelerate")
    command = [
        str(accelerate), "launch",
        "--config_file", str(REPO / "configs" / "accelerate" / "cpu_2proc_gloo.yaml"),
        "--main_process_port", str(_free_port()),
        "-m", "hieroaction.train.sft", "--config", str(sft_workspace),
        "--set", f"train.output_dir={out}", "--set", "train.max_steps=3", "--set", "train.save_steps=2",
        "--set", "train.cpu_threads=1",
    ]  # fmt: skip
    env = dict(os.environ, OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false", PYTHONPATH=str(REPO))
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=400)
    assert result.returncode == 0, result.stderr[-4000:]
    assert "[rank 0]" in result.stderr and "[rank 1]" in result.stderr
    info = json.loads((out / "final" / "hieroaction_run.json").read_text())
    assert info["world_size"] == 2 and info["global_step"] == 3
    state = json.loads((out / "checkpoint-3" / "trainer_state.json").read_text())
    # each optimizer step consumed one batch per process: 2 processes x 2 samples of the 12-sample table
    assert state["global_step"] == 3 and state["epoch"] == pytest.approx(3 * 2 * 2 / 12)
