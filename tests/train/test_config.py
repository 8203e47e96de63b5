from pathlib import Path

import pytest

from hieroaction.train.config import (
    ConfigError,
    HPLRunConfig,
    HPLSettings,
    SFTRunConfig,
    check_inputs,
    config_from_dict,
    load_config,
)

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
        ({"train": {"learning_rate": float("nan")}}, "train.learning_rate: expected a finite number"),
        ({"train": {"learning_rate": 0}}, "train.learning_rate: must be > 0"),
        ({"train": {"per_device_train_batch_size": 0}}, "train.per_device_train_batch_size: must be >= 1"),
        ({"data": {"frames": {"sampler": "random"}}}, "data.frames: unknown sampler 'random'"),
        ({"data": {"frames": {"count": -3}}}, "data.frames: count must be >= 1"),
        ({"model": {"path": "preset:huge"}}, "model.path: unknown preset 'preset:huge'"),
        ({"model": {"dtype": "fp8"}}, "model.dtype: unknown dtype"),
        ({"train": {"optimizer": "lion"}}, "train.optimizer: unknown optimizer"),
        ({"train": {"sgd_momentum": 1.0}}, r"train.sgd_momentum: must be in \[0, 1\)"),
        ({"model": {"lora": {"r": -1}}}, "model.lora: r must be a positive integer"),
        ({"model": {"lora": {"lora_dropout": 1.5}}}, "model.lora: lora_dropout must be"),
        ({"model": {"lora": {"rank": 4}}}, "model.lora: .*rank"),
    ],
)
def test_bad_values_name_the_key(data, message):
    with pytest.raises(ConfigError, match=message):
        config_from_dict(data)


def test_missing_file_and_bad_override(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="is a folder"):
        load_config(tmp_path)
    (tmp_path / "latin1.yaml").write_bytes(b"model: {path: '\xff'}\n")
    with pytest.raises(ConfigError, match="latin1.yaml: not valid YAML: .*utf-8"):
        load_config(tmp_path / "latin1.yaml")
    with pytest.raises(ConfigError, match="section.key=value"):
        config_from_dict({}, overrides=["train.max_steps"])


def test_hpl_section_is_typed_and_checked_at_load():
    config = config_from_dict({"hpl": {"num_generations": 4, "temperature": "0.7"}}, HPLRunConfig)
    assert isinstance(config.hpl, HPLSettings) and config.hpl.num_generations == 4
    assert config.hpl.temperature == pytest.approx(0.7)
    assert isinstance(config, SFTRunConfig)
    with pytest.raises(ConfigError, match=r"hpl: unknown key\(s\) \['num_generation'\]"):
        config_from_dict({"hpl": {"num_generation": 4}}, HPLRunConfig)
    with pytest.raises(ConfigError, match="hpl.rewards: unknown reward config keys"):
        config_from_dict({"hpl": {"rewards": {"style": 1}}}, HPLRunConfig)
    with pytest.raises(ConfigError, match="hpl.num_generations: must be >= 2"):
        config_from_dict({}, HPLRunConfig, overrides=["hpl.num_generations=1"])
    with pytest.raises(ConfigError, match="hpl.sft_weight: must be >= 0"):
        config_from_dict({}, HPLRunConfig, overrides=["hpl.sft_weight=-1"])


def test_trl_arguments_are_mapped_one_way_for_both_stages():
    """Every train field trl knows reaches SFTConfig and GRPOConfig by name; the hpl fields reach GRPOConfig."""
    import dataclasses

    from trl import GRPOConfig, SFTConfig

    from hieroaction.train.hpl import build_grpo_args
    from hieroaction.train.runner import OWN_TRAIN_FIELDS
    from hieroaction.train.sft import build_sft_args

    overrides = ["train.warmup_steps=3", "train.weight_decay=0.01", "train.save_total_limit=1", "train.seed=7",
                 "train.max_grad_norm=0.5", "train.per_device_train_batch_size=4", "hpl.beta=0.04", "hpl.top_k=5"]
    config = config_from_dict({}, HPLRunConfig, overrides)
    sft = build_sft_args(config, has_eval=False)
    grpo = build_grpo_args(config, has_eval=False)
    for f in dataclasses.fields(config.train):
        if f.name in OWN_TRAIN_FIELDS:
            continue
        for args_cls, args in ((SFTConfig, sft), (GRPOConfig, grpo)):
            if f.name in {a.name for a in dataclasses.fields(args_cls)}:
                assert getattr(args, f.name) == getattr(config.train, f.name), (args_cls.__name__, f.name)
    for name, value in config.hpl.grpo_fields().items():
        assert getattr(grpo, name) == value, name
    assert sft.save_only_model is False and grpo.save_only_model is False
    assert sft.dataloader_num_workers == grpo.dataloader_num_workers == 0  # CPU default


def test_a_sample_table_in_no_manifest_format_is_refused_naming_the_key(tmp_path):
    """Before the model is loaded (it was only found after it, naming no key)."""
    (tmp_path / "samples.png").write_bytes(b"\x89PNG")
    config = config_from_dict({"data": {"train": str(tmp_path / "samples.png")}, "train": {"output_dir": str(tmp_path)}})
    with pytest.raises(ConfigError, match="data.train: .*unknown manifest format '.png'"):
        check_inputs(config)
