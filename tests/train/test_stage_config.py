"""A pipeline stage's training config: the shipped YAML pointed at the pipeline's data, `--set` overrides, checked."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from hieroaction.train.config import ConfigError, HPLRunConfig, SFTRunConfig, load_config, save_config
from hieroaction.train.stage_config import StageInputs, stage_config

REPO_ROOT = Path(__file__).resolve().parents[2]
INPUTS = StageInputs(train_table=Path("/w/splits/train.jsonl"), frames_dir=Path("/w/frames"),
                     media_root=Path("/w/data/raw"), frames={"sampler": "uniform", "count": 8, "size": 64},
                     data_version="abc.dir", output_dir=Path("/w/sft"), start_model="preset:tiny")


def test_shipped_config_pointed_at_the_pipeline(tmp_path):
    base = yaml.safe_load((REPO_ROOT / "configs" / "train" / "sft_tiny.yaml").read_text())
    config = stage_config("sft", INPUTS, base=base, max_steps=30, learning_rate=3e-3)
    assert isinstance(config, SFTRunConfig) and not isinstance(config, HPLRunConfig)
    assert config.data.train == "/w/splits/train.jsonl" and config.data.frames.count == 8
    assert config.data.version == "abc.dir" and config.model.path == "preset:tiny"
    assert (config.train.max_steps, config.train.learning_rate, config.train.output_dir) == (30, 3e-3, "/w/sft")
    assert config.train.save_steps <= 30 and config.train.disable_tqdm
    save_config(config, tmp_path / "sft.yaml")
    assert load_config(tmp_path / "sft.yaml") == config  # what the training process reads back


def test_overrides_use_the_set_syntax_and_are_checked_before_training():
    config = stage_config("hpl", INPUTS, max_steps=2, overrides=["hpl.num_generations=2", "train.logging_steps=1"])
    assert isinstance(config, HPLRunConfig) and config.hpl.num_generations == 2 and config.train.logging_steps == 1
    assert stage_config("sft", INPUTS, max_steps=5).train.save_steps == 5  # checkpoint at the end at the latest
    with pytest.raises(ConfigError, match="no_such_key"):
        stage_config("sft", INPUTS, max_steps=2, overrides=["train.no_such_key=1"])
    with pytest.raises(ConfigError, match="section.key=value"):
        stage_config("sft", INPUTS, max_steps=2, overrides=["oops"])
    with pytest.raises(ConfigError, match="stage"):
        stage_config("dpo", INPUTS, max_steps=2)
