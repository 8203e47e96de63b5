import pytest
import torch

from hieroaction.model.loading import ModelLoadError, load_model


def test_load_model_cpu_defaults(tiny_checkpoint):
    model, processor = load_model(tiny_checkpoint, device="cpu")
    assert next(model.parameters()).dtype == torch.float32
    assert model.config._attn_implementation == "sdpa"
    assert processor.tokenizer.eos_token == "<|im_end|>"


def test_freeze_vision_and_lora(tiny_checkpoint):
    model, _ = load_model(tiny_checkpoint, device="cpu", freeze_vision=True, lora={"r": 4})
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)
    assert all("language_model" in n for n in trainable)
    frozen_visual = [p.requires_grad for n, p in model.named_parameters() if ".visual." in n]
    assert frozen_visual and not any(frozen_visual)


def test_freeze_vision_without_lora_leaves_text_trainable(tiny_checkpoint):
    model, _ = load_model(tiny_checkpoint, device="cpu", freeze_vision=True, dtype="bf16")
    assert next(model.parameters()).dtype == torch.bfloat16
    grads = {n: p.requires_grad for n, p in model.named_parameters()}
    assert not any(v for n, v in grads.items() if ".visual." in n)
    assert all(v for n, v in grads.items() if "language_model" in n)


def test_clear_errors_for_non_models(tmp_path):
    with pytest.raises(ModelLoadError, match="no config.json"):
        load_model(tmp_path)
    (tmp_path / "checkpoint-5").mkdir()
    (tmp_path / "checkpoint-5" / "config.json").write_text("{}")
    with pytest.raises(ModelLoadError, match="checkpoint-5"):
        load_model(tmp_path)
    file = tmp_path / "weights.bin"
    file.write_bytes(b"x")
    with pytest.raises(ModelLoadError, match="is a file"):
        load_model(file)
    with pytest.raises(ModelLoadError, match="does not exist"):
        load_model(tmp_path / "missing")


def test_preset_prefix_builds_in_the_cache_not_the_working_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("HIEROACTION_CACHE", str(tmp_path / "cache"))
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    model, processor = load_model("preset:tiny", device="cpu")
    assert (tmp_path / "cache" / "presets" / "tiny" / "config.json").is_file()
    assert not any((tmp_path / "work").iterdir())  # nothing written where the command ran
    assert not [p for p in (tmp_path / "cache" / "presets").iterdir() if p.name.startswith(".partial")]
    assert processor.tokenizer.convert_tokens_to_ids("<|video_pad|>") == model.config.video_token_id
