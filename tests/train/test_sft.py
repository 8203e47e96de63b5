import json

import pytest
import torch
from transformers import Qwen2_5_VLForConditionalGeneration

from hieroaction.cli import main as cli_main
from hieroaction.model.artifacts import CONFIG_FILE, RUN_INFO_FILE
from hieroaction.model.loading import load_model
from hieroaction.train.capacity import SMALL_FILES_BYTES, checkpoint_bytes, final_model_bytes
from hieroaction.train.config import load_config
from hieroaction.train.sft import run_sft


def test_sft_feeds_video_to_every_forward_and_saves_versioned_checkpoints(sft_workspace, monkeypatch, frames_spec):
    from transformers.models.qwen2_5_vl.modeling_qwen2_5_vl import Qwen2_5_VLModel
    from trl import SFTTrainer

    calls, labels_seen = [], []
    original_forward = Qwen2_5_VLModel.forward
    original_loss = SFTTrainer.compute_loss

    def forward_spy(self, *args, **kwargs):  # records what the backbone receives, then runs the real forward
        calls.append({k: kwargs.get(k) for k in ("pixel_values_videos", "video_grid_thw", "input_ids")})
        return original_forward(self, *args, **kwargs)

    def loss_spy(self, model, inputs, *args, **kwargs):
        labels_seen.append((inputs["labels"].clone(), inputs["input_ids"].clone()))
        return original_loss(self, model, inputs, *args, **kwargs)

    # trl's fused LM head calls the backbone directly, so the backbone is where the video must arrive
    monkeypatch.setattr(Qwen2_5_VLModel, "forward", forward_spy)
    monkeypatch.setattr(SFTTrainer, "compute_loss", loss_spy)
    config = load_config(sft_workspace)
    final = run_sft(config)

    assert len(calls) == len(labels_seen) == config.train.max_steps
    video_id = config.model.path and load_model(config.model.path, device="cpu")[1].tokenizer.convert_tokens_to_ids(
        "<|video_pad|>"
    )
    for call, (labels, input_ids) in zip(calls, labels_seen, strict=True):
        videos, grid = call["pixel_values_videos"], call["video_grid_thw"]
        assert videos is not None and grid is not None
        assert grid.shape == (config.train.per_device_train_batch_size, 3)
        assert (grid[:, 0] == frames_spec["count"] // 2).all()
        assert videos.shape[0] == int(grid.prod(dim=1).sum())
        assert torch.equal(call["input_ids"], input_ids)
        # labels: the answer only, never a vision placeholder, and a minority of the tokens
        assert not ((labels != -100) & (input_ids == video_id)).any()
        assert 0 < int((labels != -100).sum()) < int((input_ids != -1).sum())

    out = final.parent
    checkpoints = sorted(p.name for p in out.glob("checkpoint-*"))
    assert checkpoints == ["checkpoint-2", "checkpoint-4"]
    info = json.loads((out / "checkpoint-4" / RUN_INFO_FILE).read_text())
    assert info["global_step"] == 4 and len(info["data_version"]) == 16
    assert {"git_rev", "package"} <= set(info["code_version"]) and "transformers" in info["libraries"]
    assert load_config(out / "checkpoint-4" / CONFIG_FILE).train.max_steps == 4
    # the disk plan's sizes are what the Trainer writes: float32 weights + AdamW moments; the final model, weights only
    start, _ = load_model(config.model.path, device="cpu")
    written = sum(f.stat().st_size for f in (out / "checkpoint-4").rglob("*") if f.is_file())
    assert checkpoint_bytes(start, "adamw_torch") <= written <= checkpoint_bytes(start, "adamw_torch") + SMALL_FILES_BYTES
    weights = sum(f.stat().st_size for f in final.glob("*.safetensors"))
    assert final_model_bytes(start) <= weights <= final_model_bytes(start) * 1.01
    assert info["training_dtype"] == "float32"

    model, processor = load_model(final, device="cpu")
    assert isinstance(model, Qwen2_5_VLForConditionalGeneration)
    before, _ = load_model(config.model.path, device="cpu")
    changed = [n for n, p in model.named_parameters() if not torch.equal(p, before.state_dict()[n])]
    assert any(".visual." in n for n in changed), "the vision tower must train from the SFT loss"


def test_cli_reports_resource_and_config_errors(sft_workspace, capsys, tmp_path):
    code = cli_main(["train", "sft", "--config", str(sft_workspace), "--set", "train.min_free_disk_gb=1e9"])
    assert code == 2
    assert "not enough disk space" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: {max_stepz: 3}\n")
    assert cli_main(["train", "sft", "--config", str(bad)]) == 2
    assert "max_stepz" in capsys.readouterr().err


def test_a_start_model_of_another_answer_grammar_is_refused_before_training(sft_workspace, capsys, tmp_path):
    """It learnt other prompts and answers: continuing it on this grammar's targets would mix the two."""
    import shutil

    import yaml

    config = yaml.safe_load(sft_workspace.read_text())
    older = tmp_path / "older"
    shutil.copytree(config["model"]["path"], older)
    info = json.loads((older / "hieroaction_preset.json").read_text())
    (older / "hieroaction_preset.json").write_text(json.dumps(dict(info, grammar="1.0")))
    code = cli_main(["train", "sft", "--config", str(sft_workspace), "--set", f"model.path={older}"])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "model.path:" in err[-1] and "trained on answer grammar 1.0" in err[-1]
    assert not (tmp_path / "out" / "checkpoint-2").exists()


def test_out_of_memory_is_explained():
    from hieroaction.train.capacity import TrainingResourceError, explain_out_of_memory

    with pytest.raises(TrainingResourceError, match="per_device_train_batch_size"):
        with explain_out_of_memory("SFT"):
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")


def test_lora_with_frozen_vision_saves_a_merged_loadable_model(sft_workspace):
    config = load_config(
        sft_workspace,
        overrides=["model.lora={r: 4}", "model.freeze_vision=true", "train.max_steps=2", "train.save_steps=2"],
    )
    final = run_sft(config)
    assert (final / "adapter" / "adapter_config.json").is_file()
    merged, _ = load_model(final, device="cpu")
    start, _ = load_model(config.model.path, device="cpu")
    start_weights = start.state_dict()
    changed = {n for n, p in merged.state_dict().items() if not torch.equal(p, start_weights[n])}
    assert changed and all("language_model" in n for n in changed)  # LoRA merged into the LM; vision untouched


def test_batches_can_be_built_in_loader_workers(sft_workspace):
    """Collation off the training process (the GPU default): the collator and clip loader work in a worker."""
    config = load_config(
        sft_workspace,
        overrides=["train.dataloader_num_workers=1", "train.max_steps=2", "train.save_steps=2"],
    )
    from hieroaction.train.sft import build_sft_args

    args = build_sft_args(config, has_eval=False)
    assert args.dataloader_num_workers == 1 and args.dataloader_persistent_workers
    assert args.dataloader_pin_memory == torch.cuda.is_available()
    final = run_sft(config)
    assert (final / "config.json").is_file()
