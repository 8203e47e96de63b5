"""train.weight_average: the final model is the running average of the weights, and a resumed run keeps it."""

import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from hieroaction.model.loading import ModelLoadError
from hieroaction.train.config import ConfigError, SFTRunConfig, config_from_dict, load_config
from hieroaction.train.sft import run_sft
from hieroaction.train.weight_average import AVERAGE_FILE, WeightAverage, WeightAverageSettings


def _linear():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Linear(2, 1))
    model[1].requires_grad_(False)  # frozen weights never enter the average
    return model


def test_first_update_copies_then_each_update_blends_with_the_decay():
    model = _linear()
    average = WeightAverage(model, decay=0.75)
    assert set(average.shadow) == {"0.weight", "0.bias"}
    first = model[0].weight.detach().clone()
    average.update()
    torch.testing.assert_close(average.shadow["0.weight"], first)
    with torch.no_grad():
        model[0].weight.add_(1.0)
    average.update()
    torch.testing.assert_close(average.shadow["0.weight"], 0.75 * first + 0.25 * (first + 1.0))
    average.copy_to_model()
    torch.testing.assert_close(model[0].weight.detach(), first + 0.25)


def test_saved_average_loads_back_and_a_foreign_one_is_refused_naming_the_weight(tmp_path):
    model = _linear()
    average = WeightAverage(model, decay=0.9)
    average.update()
    average.update()
    average.save(tmp_path)
    again = WeightAverage(_linear(), decay=0.9)
    with torch.no_grad():
        again.params["0.weight"].zero_()
    again.shadow["0.weight"].zero_()
    assert again.load(tmp_path) and again.updates == 2
    torch.testing.assert_close(again.shadow["0.weight"], average.shadow["0.weight"])
    assert not again.load(tmp_path / "elsewhere")  # a checkpoint without an average

    tensors = load_file(str(tmp_path / AVERAGE_FILE))
    tensors["0.weight"] = torch.zeros(5, 5)
    save_file(tensors, str(tmp_path / AVERAGE_FILE))
    with pytest.raises(ValueError, match=r"weight_average.safetensors: 0.weight: shape \(5, 5\)"):
        again.load(tmp_path)
    tensors["1.weight"] = torch.zeros(1, 2)
    save_file(tensors, str(tmp_path / AVERAGE_FILE))
    with pytest.raises(ValueError, match="1.weight: not a trainable weight"):
        again.load(tmp_path)
    (tmp_path / AVERAGE_FILE).write_bytes(b"\x00garbage")
    with pytest.raises(ValueError, match="not a readable safetensors file"):
        again.load(tmp_path)


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"decay": 1.0}, r"decay: must be in \(0, 1\)"),
        ({"decay": "high"}, "decay: must be a number"),
        ({"start": 0.5}, "decay: required"),
        ({"decay": 0.9, "start": -1}, "start: must be >= 0"),
        ({"decay": 0.9, "every": 2}, r"unknown key\(s\) \['every'\]"),
    ],
)
def test_bad_settings_are_refused_in_one_line_naming_the_key(mapping, message):
    with pytest.raises(ConfigError, match="train.weight_average"):
        config_from_dict({"train": {"weight_average": mapping}}, SFTRunConfig)
    with pytest.raises(ValueError, match=message):
        WeightAverageSettings.from_mapping(mapping)


def test_start_is_a_fraction_of_the_steps_or_a_step():
    assert WeightAverageSettings(0.9, 0.5).start_step(1000) == 500
    assert WeightAverageSettings(0.9, 300).start_step(1000) == 300
    assert WeightAverageSettings(0.9).start_step(1000) == 0


def _weights(folder):
    return load_file(str(next(Path(folder).glob("model*.safetensors"))))


def _sft(workspace, output_dir, *extra):
    overrides = [f"train.output_dir={output_dir}", "train.save_steps=1", "train.save_total_limit=null",
                 "train.weight_average={decay: 0.5, start: 1}", *extra]
    return run_sft(load_config(workspace, overrides=overrides))


def test_sft_final_model_is_the_average_of_the_steps_after_start_and_a_resume_keeps_it(sft_workspace, tmp_path):
    straight = tmp_path / "straight"
    final = _sft(sft_workspace, straight)
    steps = {n: _weights(straight / f"checkpoint-{n}") for n in (2, 3, 4)}  # raw weights after each step
    final_weights = _weights(final)
    changed = [name for name in final_weights if not torch.equal(steps[4][name], steps[3][name])]
    assert changed  # the language model trained
    for name in changed:  # start 1: steps 2, 3, 4 enter; decay 0.5
        expected = 0.5 * (0.5 * steps[2][name] + 0.5 * steps[3][name]) + 0.5 * steps[4][name]
        torch.testing.assert_close(final_weights[name], expected.to(final_weights[name].dtype), rtol=1e-5, atol=1e-6)
        assert not torch.equal(final_weights[name], steps[4][name])

    # a run stopped after step 2 and started again ends with the same average
    resumed = tmp_path / "resumed"
    resumed.mkdir()
    shutil.copytree(straight / "checkpoint-2", resumed / "checkpoint-2")
    again = _weights(_sft(sft_workspace, resumed))
    for name in final_weights:
        torch.testing.assert_close(again[name], final_weights[name], rtol=1e-5, atol=1e-6, msg=name)

    # a checkpoint past the start without its average cannot continue it: refused before training, naming the file
    broken = tmp_path / "broken"
    broken.mkdir()
    shutil.copytree(straight / "checkpoint-2", broken / "checkpoint-2")
    (broken / "checkpoint-2" / AVERAGE_FILE).unlink()
    with pytest.raises(ModelLoadError, match=r"checkpoint-2/weight_average.safetensors: missing"):
        _sft(sft_workspace, broken)


def test_the_gpu_memory_check_counts_the_average(monkeypatch):
    """The average lives beside the weights on the GPU: a run that fits without it but not with it is refused."""
    from hieroaction.train.capacity import TrainingResourceError, check_gpu_memory, optimizer_state_bytes
    from hieroaction.train.weight_average import average_bytes

    model = _linear()
    need = sum(p.numel() * 4 for p in model.parameters()) + 4 * 8 + optimizer_state_bytes(model, "adamw_torch")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a: "a small GPU")
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda *a: (need + average_bytes(model) - 1, 10 * need))
    check_gpu_memory(model, "adamw_torch")
    with pytest.raises(TrainingResourceError, match="gradients, the weight average and optimizer states"):
        check_gpu_memory(model, "adamw_torch", extra_bytes=average_bytes(model), extra_what="the weight average")
