"""The precision policy's optimizer and the resource plan made before step 1."""

from __future__ import annotations

import pytest
import torch
import yaml

from hieroaction.cli import main as cli_main
from hieroaction.train.capacity import GIB, SMALL_FILES_BYTES, DiskPlan
from hieroaction.train.optim import (
    AdamWStochasticRounding,
    optimizer_for,
    resolve_optimizer,
    stochastic_round_to_bf16,
)


def test_stochastic_rounding_is_unbiased_and_lands_on_a_neighbour():
    ulp = 2.0**-7  # bf16 spacing in [1, 2)
    values = torch.full((200_000,), 1.0 + 0.3 * ulp)
    rounded = stochastic_round_to_bf16(values).float()
    assert set(rounded.unique().tolist()) == {1.0, 1.0 + ulp}
    assert rounded.mean().item() == pytest.approx(1.0 + 0.3 * ulp, abs=0.01 * ulp)
    special = torch.tensor([float("inf"), -float("inf"), 0.0, -2.5])
    assert torch.equal(stochastic_round_to_bf16(special).float(), special)


def test_on_float32_weights_it_is_torch_adamw():
    torch.manual_seed(0)
    ours = torch.nn.Parameter(torch.randn(64))
    ref = torch.nn.Parameter(ours.detach().clone())
    opt_ours = AdamWStochasticRounding([ours], lr=1e-2, weight_decay=0.01)
    opt_ref = torch.optim.AdamW([ref], lr=1e-2, weight_decay=0.01)
    for step in range(20):
        grad = torch.randn(64, generator=torch.Generator().manual_seed(step))
        for p, opt in ((ours, opt_ours), (ref, opt_ref)):
            p.grad = grad.clone()
            opt.step()
    assert torch.allclose(ours, ref, atol=1e-6)


def test_on_bf16_weights_small_updates_accumulate_where_plain_adamw_stalls():
    """lr 1e-4 on weights of 1.0 (bf16 spacing 1/128): each update is 1/78 of a step."""
    steps, lr = 200, 1e-4

    def train(param, opt):
        for _ in range(steps):
            param.grad = torch.ones_like(param)
            opt.step()
        return (1.0 - param.detach().float()).mean().item()

    exact = train(p := torch.nn.Parameter(torch.ones(4096)), torch.optim.AdamW([p], lr=lr, weight_decay=0.0))
    plain = train(p := torch.nn.Parameter(torch.ones(4096, dtype=torch.bfloat16)), torch.optim.AdamW([p], lr=lr, weight_decay=0.0))
    ours = train(p := torch.nn.Parameter(torch.ones(4096, dtype=torch.bfloat16)), AdamWStochasticRounding([p], lr=lr))
    assert exact == pytest.approx(steps * lr, rel=0.01)
    assert plain == 0.0  # every update rounded away
    assert ours == pytest.approx(exact, rel=0.05)


def test_auto_optimizer_follows_the_weights_dtype():
    model = torch.nn.Linear(4, 4)
    assert resolve_optimizer(model, "auto") == "adamw_torch"
    assert resolve_optimizer(model.to(torch.bfloat16), "auto") == "adamw_sr"
    assert resolve_optimizer(model, "adamw_torch") == "adamw_torch"


def test_sgd_moves_each_weight_by_its_gradient_and_refuses_bf16_weights():
    from types import SimpleNamespace

    args = SimpleNamespace(learning_rate=0.1, adam_beta1=0.9, adam_beta2=0.999, adam_epsilon=1e-8)
    model = torch.nn.Linear(3, 1, bias=False)
    name, (cls, kwargs) = optimizer_for(model, "sgd", args, sgd_momentum=0.5)
    assert (name, cls, kwargs) == ("sgd", torch.optim.SGD, {"lr": 0.1, "momentum": 0.5})
    optimizer = cls(model.parameters(), **kwargs)
    before = model.weight.detach().clone()
    model.weight.grad = torch.tensor([[1.0, 0.0, -1e-3]])
    optimizer.step()
    assert torch.allclose(model.weight - before, torch.tensor([[-0.1, 0.0, 1e-4]]), atol=1e-6)  # Adam: all three by 0.1
    with pytest.raises(ValueError, match="float32 weights only"):
        optimizer_for(model.to(torch.bfloat16), "sgd", args)


def test_disk_plan_counts_rotation_and_the_final_model():
    # limit 2: while saving the 3rd, 3 checkpoints exist; at the end 2 checkpoints + the final model
    plan = DiskPlan(checkpoint_bytes=10 * GIB, final_bytes=3 * GIB, saves=5, limit=2)
    assert plan.peak_bytes == 30 * GIB + SMALL_FILES_BYTES
    plan = DiskPlan(checkpoint_bytes=10 * GIB, final_bytes=30 * GIB, saves=5, limit=1)
    assert plan.peak_bytes == 40 * GIB + SMALL_FILES_BYTES  # 1 checkpoint kept while the final model is written
    # a resume with one checkpoint already on disk needs that much less
    plan = DiskPlan(checkpoint_bytes=10 * GIB, final_bytes=3 * GIB, saves=1, limit=1, existing_checkpoints=1,
                    existing_bytes=10 * GIB)
    assert plan.peak_bytes == 10 * GIB + SMALL_FILES_BYTES
    assert DiskPlan(checkpoint_bytes=10 * GIB, final_bytes=3 * GIB, saves=0, limit=2).peak_bytes == 3 * GIB + SMALL_FILES_BYTES


def test_an_impossible_run_is_refused_before_step_1(sft_workspace, capsys, monkeypatch):
    """With less free disk than the planned checkpoints and final model, the run stops before training."""
    import transformers

    import hieroaction.train.capacity as capacity

    monkeypatch.setattr(capacity, "free_disk_bytes", lambda path: 5 * 1024**2)

    def no_training(self, *args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr(transformers.Trainer, "train", no_training)
    assert cli_main(["train", "sft", "--config", str(sft_workspace)]) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert "Traceback" not in err and len(errors) == 1 and err.strip().splitlines()[-1] == errors[0]
    assert errors[0].startswith("error: not enough disk space for this run"), errors
    assert "2 checkpoint(s)" in errors[0] and "final model" in errors[0]
    out = yaml.safe_load(sft_workspace.read_text())["train"]["output_dir"]
    from pathlib import Path

    assert not list(Path(out).glob("checkpoint-*"))


def _trainer_of(model, tmp_path, lr=1e-3):
    from transformers import Trainer, TrainingArguments

    args = TrainingArguments(output_dir=str(tmp_path / "out"), learning_rate=lr, use_cpu=True, report_to=[])
    return Trainer(model=model, args=args)


def test_optimizer_state_carries_the_moments_and_keeps_this_runs_settings(tmp_path):
    from hieroaction.train.optim import start_from_moments

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.LayerNorm(4))
    earlier = _trainer_of(model, tmp_path, lr=5e-2).create_optimizer()  # the groups the Trainer builds (decay or not)
    for _ in range(3):
        model(torch.randn(2, 4)).sum().backward()
        earlier.step()
    (tmp_path / "checkpoint-3").mkdir()
    torch.save(earlier.state_dict(), tmp_path / "checkpoint-3" / "optimizer.pt")

    trainer = _trainer_of(model, tmp_path, lr=1e-5)
    start_from_moments(trainer, tmp_path / "checkpoint-3")
    state = trainer.optimizer.state_dict()
    assert len(state["param_groups"]) == 2
    assert all(group["lr"] == 1e-5 for group in state["param_groups"])  # this run's, not the saved 5e-2
    loaded = [s["exp_avg_sq"] for s in state["state"].values()]
    saved = [earlier.state[p]["exp_avg_sq"] for p in model.parameters()]
    assert sorted(t.sum().item() for t in loaded) == pytest.approx(sorted(t.sum().item() for t in saved))
    assert all(int(s["step"]) == 3 for s in state["state"].values())


def test_optimizer_state_of_another_model_or_a_hostile_file_is_refused_in_one_line(tmp_path):
    from hieroaction.train.optim import start_from_moments

    other = torch.nn.Linear(4, 4)
    torch.save(torch.optim.AdamW(other.parameters()).state_dict(), tmp_path / "optimizer.pt")
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Linear(4, 4))
    with pytest.raises(ValueError, match=r"covers parameter groups of \[\d+(, \d+)*\] weights, this model trains"):
        start_from_moments(_trainer_of(model, tmp_path), tmp_path)

    class Payload:
        def __reduce__(self):
            return (print, ("code ran",))

    torch.save({"state": {}, "param_groups": [], "x": Payload()}, tmp_path / "evil.pt")
    with pytest.raises(ValueError, match="is not a loadable optimizer state"):
        start_from_moments(_trainer_of(model, tmp_path), tmp_path / "evil.pt")
    with pytest.raises(ValueError, match="not found"):
        start_from_moments(_trainer_of(model, tmp_path), tmp_path / "missing")


def test_optimizer_state_is_refused_where_the_optimizer_is_sharded(tmp_path):
    from types import SimpleNamespace

    from hieroaction.train.optim import start_from_moments

    torch.save(torch.optim.AdamW(torch.nn.Linear(2, 2).parameters()).state_dict(), tmp_path / "optimizer.pt")
    sharded = SimpleNamespace(is_deepspeed_enabled=True, is_fsdp_enabled=False,
                              create_optimizer=lambda: pytest.fail("the optimizer must not be built"))
    with pytest.raises(ValueError, match="DeepSpeed and FSDP shard the optimizer"):
        start_from_moments(sharded, tmp_path)
