"""One error policy for both training stages: a user error is one line on stderr naming the file/key, exit code 2,
found when the config is loaded (before frames are extracted or a model is loaded); a bug keeps its traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from hieroaction.cli import main as cli_main

REPO = Path(__file__).resolve().parents[2]


def _workspace(tmp_path: Path, model_path: str, stage: str) -> tuple[Path, dict]:
    table = tmp_path / "train.jsonl"
    table.write_text('{"sample_id": "x"}\n')  # never read: every case below is refused before the data is
    config = {
        "model": {"path": model_path},
        "data": {"train": str(table), "frames_dir": str(tmp_path / "frames"), "media_root": None},
        "train": {"output_dir": str(tmp_path / "out"), "max_steps": 2, "per_device_train_batch_size": 4},
    }
    if stage == "hpl":
        config["hpl"] = {"num_generations": 4}
    return table, config


def _case(name: str, tmp_path: Path, config: dict) -> tuple[list[str], str]:
    """(overrides, the text the one error line must contain) for each user error of issue 12, item 5."""
    if name == "missing train file":
        return [f"data.train={tmp_path / 'nope.jsonl'}"], "data.train: sample table"
    if name == "blank train file":
        blank = tmp_path / "blank.jsonl"
        blank.write_text("\n  \n")
        return [f"data.train={blank}"], f"data.train: sample table {blank} is empty"
    if name == "blank train key":
        return ["data.train=''"], "data.train: path of the samples (JSONL/CSV) is required"
    if name == "bad sampler":
        return ["data.frames.sampler=random"], "data.frames: unknown sampler 'random'"
    if name == "negative frame count":
        return ["data.frames.count=-4"], "data.frames: count must be >= 1"
    if name == "batch 0":
        return ["train.per_device_train_batch_size=0"], "train.per_device_train_batch_size: must be >= 1"
    if name == "NaN learning rate":
        return ["train.learning_rate=.nan"], "train.learning_rate: expected a finite number"
    if name == "missing model":
        return [f"model.path={tmp_path / 'models' / 'final'}"], "model.path: model path"
    if name == "unknown preset":
        return ["model.path=preset:huge"], "model.path: unknown preset 'preset:huge'"
    if name == "output_dir is a file":
        file = tmp_path / "out.txt"
        file.write_text("x")
        return [f"train.output_dir={file}"], f"train.output_dir: {file} is a file"
    raise AssertionError(name)


CASES = (
    "missing train file",
    "blank train file",
    "blank train key",
    "bad sampler",
    "negative frame count",
    "batch 0",
    "NaN learning rate",
    "missing model",
    "unknown preset",
    "output_dir is a file",
)


@pytest.fixture
def untouchable(monkeypatch):
    """Fail the test if any case reaches the data or the model."""
    import hieroaction.model.loading as loading
    import hieroaction.train.data as data

    def touched(*args, **kwargs):
        raise AssertionError("the run touched data or a model before refusing the config")

    monkeypatch.setattr(data, "split_datasets", touched)
    monkeypatch.setattr(loading, "load_model", touched)


@pytest.mark.parametrize("stage", ["sft", "hpl"])
@pytest.mark.parametrize("case", CASES)
def test_user_error_is_one_line_exit_2_before_data_or_model(stage, case, tmp_path, tiny_checkpoint, capsys, untouchable):
    _, config = _workspace(tmp_path, str(tiny_checkpoint), stage)
    path = tmp_path / f"{stage}.yaml"
    path.write_text(yaml.safe_dump(config))
    overrides, expected = _case(case, tmp_path, config)
    argv = ["train", stage, "--config", str(path)] + [a for o in overrides for a in ("--set", o)]
    assert cli_main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("error: ") and expected in err[0], err[0]
    assert "Traceback" not in err[0]
    assert not (tmp_path / "out").exists() and not (tmp_path / "frames").exists()


@pytest.mark.parametrize("stage", ["sft", "hpl"])
def test_module_entry_points_follow_the_same_policy(stage, tmp_path, tiny_checkpoint):
    _, config = _workspace(tmp_path, str(tiny_checkpoint), stage)
    config["train"]["learning_rate"] = float("nan")
    path = tmp_path / f"{stage}.yaml"
    path.write_text(yaml.safe_dump(config))
    env = dict(os.environ, PYTHONPATH=str(REPO))
    done = subprocess.run(
        [sys.executable, "-m", f"hieroaction.train.{stage}", "--config", str(path)],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines == [f"error: {path}: train.learning_rate: expected a finite number, got nan"], lines


def test_a_bug_keeps_its_traceback(tmp_path, tiny_checkpoint, monkeypatch):
    """Only user errors are turned into one line: anything else propagates (the CLI shows its traceback)."""
    import hieroaction.train.runner as runner

    _, config = _workspace(tmp_path, str(tiny_checkpoint), "sft")
    path = tmp_path / "sft.yaml"
    path.write_text(yaml.safe_dump(config))

    def broken(*args, **kwargs):
        raise KeyError("a bug")

    monkeypatch.setattr(runner, "prepare_run", broken)
    with pytest.raises(KeyError, match="a bug"):
        cli_main(["train", "sft", "--config", str(path)])
