"""``train.award_loss``: the awards' ordinal loss finds each award's whole-number token as the renderer wrote it, is
the squared error of the expected number, adds exactly its weighted value to SFT's loss, and is SFT only."""

import pytest
import torch
import yaml

from hieroaction.reasoning.render import award_spans, awards_text, render_target
from hieroaction.train.award_loss import (
    AWARD_NUMBERS,
    award_token_targets,
    award_value_loss,
    check_award_loss,
    number_token_ids,
)
from hieroaction.train.config import ConfigError, HPLRunConfig, SFTRunConfig, load_config


def test_the_renderers_reader_gives_back_every_award_it_wrote():
    awards = [7.0, 7.5, 10.0, 0.5, 6.0]
    text = f"<think>\nAwards {awards_text(awards)}: judged good.\nScore = 1.0</think>"
    spans = award_spans(text)
    assert [value for _, _, value in spans] == awards
    assert [text[start:end] for start, end, _ in spans] == ["7", "7.5", "10", "0.5", "6"]
    assert award_spans("<think>\nAction 101a: forward dive.\n</think>") == []


@pytest.mark.parametrize("weight", [0, -1, 11, "high", True, float("inf")])
def test_bad_weights_are_refused_in_one_line_naming_the_key(weight):
    with pytest.raises(ValueError, match=r"^train\.award_loss: "):
        check_award_loss(weight)


def test_each_awards_whole_number_token_is_found_in_the_target(tiny_checkpoint, real_samples):
    from transformers import AutoTokenizer

    from hieroaction.train.data import answer_token_ids

    tokenizer = AutoTokenizer.from_pretrained(tiny_checkpoint)
    numbers = number_token_ids(tokenizer)
    assert len(set(numbers)) == len(AWARD_NUMBERS)
    for sample in real_samples:
        ids = answer_token_ids(tokenizer, render_target(sample))
        found = award_token_targets(tokenizer, ids)
        assert [value for _, value in found] == [float(int(award)) for award in sample.judge_scores]
        assert all(ids[index] == numbers[int(value)] for index, value in found)


def test_the_loss_is_the_squared_error_of_the_expected_number_and_skips_empty_slots():
    hidden_size, vocab = 4, 20
    number_ids = list(range(5, 5 + len(AWARD_NUMBERS)))
    head = torch.zeros(vocab, hidden_size)
    head[number_ids[7], 0] = 50.0  # a state along dimension 0 puts (almost) all the numbers' mass on 7
    head[number_ids[3], 1] = 50.0  # and along dimension 1 on 3
    hidden = torch.zeros(2, 6, hidden_size)
    hidden[0, 2, 0] = 1.0  # predicts the token at position 3
    hidden[1, 4, 1] = 1.0  # predicts the token at position 5
    positions = torch.tensor([[3, -1], [5, -1]])
    targets = torch.tensor([[9.0, 0.0], [3.0, 0.0]])
    loss = award_value_loss(hidden, head, positions, targets, number_ids)
    assert loss.item() == pytest.approx(((7 - 9) ** 2 + 0) / 2, abs=1e-3)
    uniform = award_value_loss(torch.zeros(1, 4, hidden_size), head, torch.tensor([[2]]), torch.tensor([[5.0]]),
                               number_ids)
    assert uniform.item() == pytest.approx(0.0, abs=1e-6)  # a uniform guess expects 5, the middle of 0-10
    assert award_value_loss(hidden, head, torch.full((2, 1), -1), targets[:, :1], number_ids).item() == 0.0


def test_sft_adds_exactly_the_weighted_award_loss_and_logs_it(sft_workspace, captured_trainer):
    from hieroaction.train.award_loss import final_hidden_states
    from hieroaction.train.sft import run_sft

    config = load_config(sft_workspace, SFTRunConfig, ["train.award_loss=0.5", "train.max_steps=2"])
    assert (run_sft(config) / "config.json").is_file()
    trainer = captured_trainer["trainer"]
    assert trainer.award_loss == 0.5
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(2)])
    positions = batch["award_positions"]
    found = positions >= 0
    assert found.any()
    gold = batch["labels"].gather(1, positions.clamp(min=0))[found]
    numbers = torch.tensor(number_token_ids(trainer.processing_class.tokenizer))
    assert (gold == numbers[batch["award_targets"][found].long()]).all()  # each position holds its award's token

    trainer.model.eval()  # no dropout: the two forward passes below see the same weights and inputs
    with torch.no_grad():
        total = trainer.compute_loss(trainer.model, dict(batch)).item()
        plain_batch = {k: v for k, v in batch.items() if not k.startswith("award_")}
        with final_hidden_states(trainer.model) as held:
            plain = trainer.compute_loss(trainer.model, plain_batch).item()
        award = award_value_loss(held["hidden"], trainer.model.get_output_embeddings().weight, positions,
                                 batch["award_targets"], number_token_ids(trainer.processing_class.tokenizer))
    assert award.item() > 0
    assert total == pytest.approx(plain + 0.5 * award.item(), rel=1e-5)

    # accumulating 2 micro-batches: where the cross-entropy is already normalized over both (trl's, given the
    # accumulated token count) transformers does not divide it again, so the added mean is halved here
    trainer.current_gradient_accumulation_steps = 2
    answer_tokens = int((batch["labels"] != -100).sum())
    with torch.no_grad():
        accumulated = trainer.compute_loss(trainer.model, dict(batch), num_items_in_batch=answer_tokens).item()
        plain_accumulated = trainer.compute_loss(trainer.model, plain_batch, num_items_in_batch=answer_tokens).item()
    share = trainer.accumulation_share(answer_tokens)
    assert accumulated == pytest.approx(plain_accumulated + 0.5 * award.item() / share, rel=1e-5)
    assert share == (2 if trainer.model_accepts_loss_kwargs else 1)
    trainer.model_accepts_loss_kwargs = not trainer.model_accepts_loss_kwargs  # the other kind of model
    assert trainer.accumulation_share(answer_tokens) == 3 - share and trainer.accumulation_share(None) == 1
    logged = [entry for entry in trainer.state.log_history if "award_loss" in entry]
    assert logged and all(entry["award_loss"] > 0 for entry in logged)


def test_the_award_loss_is_sft_only_and_checked_when_the_config_loads(tmp_path, sft_workspace):
    path = tmp_path / "hpl.yaml"
    path.write_text(yaml.safe_dump({"train": {"award_loss": 0.5}, "hpl": {}}))
    with pytest.raises(ConfigError, match=r"hpl\.yaml: train\.award_loss: SFT only"):
        load_config(path, HPLRunConfig)
    with pytest.raises(ConfigError, match=r"train\.award_loss: must be in \(0, 10\]"):
        load_config(sft_workspace, SFTRunConfig, ["train.award_loss=20"])
    plain = load_config(sft_workspace, SFTRunConfig)
    assert plain.train.award_loss is None


def test_a_tokenizer_without_one_token_per_award_number_is_refused_before_training(sft_workspace, monkeypatch):
    import hieroaction.train.runner as runner
    from hieroaction.train.sft import run_sft

    trained = []
    monkeypatch.setattr(runner, "train_and_save", lambda *args, **kwargs: trained.append(args))
    monkeypatch.setattr("hieroaction.train.award_loss.AWARD_NUMBERS", (0, 1, 123456))
    config = load_config(sft_workspace, SFTRunConfig, ["train.award_loss=0.5"])
    with pytest.raises(ConfigError, match=r"train\.award_loss: the tokenizer writes the award number 123456 as"):
        run_sft(config)
    assert not trained
