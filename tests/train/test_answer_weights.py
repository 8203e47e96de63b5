"""``train.answer_weights``: which tokens a part's weight reaches, that the loss at weight 1 is trl's, and the refusals."""

import pytest
import torch
import yaml

from hieroaction.reasoning.render import render_target
from hieroaction.rewards.credit import CREDIT_CLASSES
from hieroaction.train.answer_weights import answer_token_weights, check_answer_weights, weighted_answer_loss
from hieroaction.train.config import ConfigError, HPLRunConfig, SFTRunConfig, load_config
from hieroaction.train.data import answer_token_ids


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"awards": 3}, "train.answer_weights.awards: unknown answer part"),
        ({"score": "high"}, "train.answer_weights.score: expected a number"),
        ({"score": True}, "train.answer_weights.score: expected a number"),
        ({"score": 0}, "train.answer_weights.score: must be in (0, 100]"),
        ({"score": float("inf")}, "train.answer_weights.score: expected a number"),
        ([3.0], "train.answer_weights: expected a mapping"),
    ],
)
def test_bad_weights_are_refused_in_one_line_naming_the_key(mapping, message):
    with pytest.raises(ValueError, match=None) as caught:
        check_answer_weights(mapping)
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value)


def test_weights_reach_exactly_the_tokens_hpl_credits_to_that_part(tiny_checkpoint, real_samples):
    """The same owner as HPL's level credit: a token weighs its part's weight iff HPL credits it to that part."""
    from transformers import AutoTokenizer

    from hieroaction.train.level_credit import completion_classes

    tokenizer = AutoTokenizer.from_pretrained(tiny_checkpoint)
    target = render_target(real_samples[0])
    ids = answer_token_ids(tokenizer, target)
    weights = answer_token_weights(tokenizer, ids, {"score": 3.0, "action": 2.0})
    classes = completion_classes(tokenizer, torch.tensor([ids]), torch.ones(1, len(ids), dtype=torch.long))[0]
    expected = {"format": 1.0, "action": 2.0, "steps": 1.0, "score": 3.0}
    assert weights == [expected[CREDIT_CLASSES[c]] for c in classes.tolist()]
    score_text = tokenizer.decode([i for i, w in zip(ids, weights, strict=True) if w == 3.0])
    assert "Awards" in score_text and "<score>" in score_text and "<steps>" not in score_text
    assert answer_token_weights(tokenizer, ids, {}) == [1.0] * len(ids)


def test_weighted_loss_is_the_token_mean_at_weight_one_and_scales_the_weighted_tokens():
    torch.manual_seed(0)
    log_probs = -torch.rand(2, 5)
    mask = torch.tensor([[0, 1, 1, 1, 0], [0, 0, 1, 1, 1]], dtype=torch.bool)
    log_probs = log_probs.masked_fill(~mask, 0)
    ones = torch.ones(2, 6)
    assert torch.allclose(weighted_answer_loss(log_probs, mask, ones), -log_probs.sum() / mask.sum())
    weights = ones.clone()
    weights[0, 2] = 3.0  # labels position 2 is log-prob position 1
    expected = -(log_probs.sum() + 2 * log_probs[0, 1]) / mask.sum()
    assert torch.allclose(weighted_answer_loss(log_probs, mask, weights), expected)
    assert torch.allclose(weighted_answer_loss(log_probs, mask, ones, num_items_in_batch=10), -log_probs.sum() / 10)


def test_sft_loss_with_unit_weights_is_trls_and_a_weighted_run_trains(sft_workspace, captured_trainer):
    """The trainer's weighted path at weight 1 equals trl's own loss on the same batch; a run with a part weighted
    trains to the end."""
    from hieroaction.train.sft import run_sft

    seen = captured_trainer
    config = load_config(sft_workspace, SFTRunConfig, ["train.answer_weights={score: 4}", "train.max_steps=2"])
    final = run_sft(config)
    assert (final / "config.json").is_file()

    trainer = seen["trainer"]
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(2)])
    assert batch["label_weights"].shape == batch["labels"].shape
    assert set(batch["label_weights"][batch["labels"] != -100].tolist()) == {1.0, 4.0}
    trainer.model.eval()
    with torch.no_grad():
        unit = dict(batch, label_weights=torch.ones_like(batch["label_weights"]))
        plain = {k: v for k, v in batch.items() if k != "label_weights"}
        weighted_at_one = trainer.compute_loss(trainer.model, unit)
        trls = trainer.compute_loss(trainer.model, plain)
        weighted = trainer.compute_loss(trainer.model, dict(batch))
    assert torch.allclose(weighted_at_one, trls, rtol=1e-5)
    assert weighted > trls  # the score tokens count 4x


def test_answer_weights_are_sft_only(tmp_path):
    hpl = {"train": {"answer_weights": {"score": 2}}, "hpl": {}}
    path = tmp_path / "hpl.yaml"
    path.write_text(yaml.safe_dump(hpl))
    with pytest.raises(ConfigError, match=r"hpl\.yaml: train\.answer_weights: SFT only"):
        load_config(path, HPLRunConfig)
