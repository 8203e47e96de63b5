from pathlib import Path

import pytest

from hieroaction.train.config import ConfigError, HPLRunConfig, SFTRunConfig, config_from_dict, load_config

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "train"


def test_shipped_configs_load():
    files = sorted(CONFIGS.glob("*.yaml"))
    assert {"sft_tiny.yaml", "sft_small.yaml"} <= {f.name for f in files}
    for path in files:
        cls = HPLRunConfig if path.name.startswith("hpl") else SFTRunConfig
        config = load_config(path, cls)
        assert config.train.max_steps > 0 and config.data.train


def test_yaml_values_are_typed_and_overrides_apply(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("train:\n  learning_rate: 1e-4\n  max_steps: 7\ndata:\n  frames: {count: 4, size: [32, 48]}\n")
    config = load_config(path, overrides=["train.max_steps=9", "model.lora={r: 4}"])
    assert config.train.learning_rate == pytest.approx(1e-4)  # YAML reads 1e-4 as a string
    assert config.train.max_steps == 9
    assert config.model.lora == {"r": 4}
    assert config.data.frames.size == [32, 48] and config.data.frames.sampler == "uniform"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"train": {"max_step": 3}}, r"train: unknown key\(s\) \['max_step'\]"),
        ({"train": {"max_steps": "many"}}, "train.max_steps: expected an integer"),
        ({"model": {"freeze_vision": "yes"}}, "model.freeze_vision: expected true/false"),
        ({"data": []}, "data: expected a mapping"),
    ],
)
def test_bad_values_name_the_key(data, message):
    with pytest.raises(ConfigError, match=message):
        config_from_dict(data)


def test_missing_file_and_bad_override(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="section.key=value"):
        config_from_dict({}, overrides=["train.max_steps"])


def test_hpl_config_keeps_its_section():
    config = config_from_dict({"hpl": {"num_generations": 4}}, HPLRunConfig)
    assert config.hpl == {"num_generations": 4}
    assert isinstance(config, SFTRunConfig)
