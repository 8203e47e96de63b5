"""``train.answer_noise``: the model reads some wrong answer tokens and is trained on the gold ones, nothing else
changes, the draws repeat with the seed, and bad rates are refused."""

import random

import pytest
import torch
import yaml

from hieroaction.rewards.credit import CREDIT_CLASSES
from hieroaction.train.answer_noise import check_answer_noise, noisy_answer_ids, ordinary_token_ids
from hieroaction.train.config import ConfigError, HPLRunConfig, SFTRunConfig, load_config


@pytest.mark.parametrize(
    ("rate", "message"),
    [(0.6, "must be in [0, 0.5]"), (-0.1, "must be in [0, 0.5]"), ("some", "expected a number"),
     (True, "expected a number"), (float("nan"), "expected a number")],
)
def test_bad_rates_are_refused_in_one_line_naming_the_key(rate, message):
    with pytest.raises(ValueError) as caught:
        check_answer_noise(rate)
    assert str(caught.value).startswith(f"train.answer_noise: {message}") and "\n" not in str(caught.value)


def test_the_rate_is_the_share_replaced_and_the_draws_repeat_with_the_seed():
    answer = list(range(100, 110)) * 500
    pool = [1, 2, 3]
    tenth = [0.1] * len(answer)
    noisy = noisy_answer_ids(answer, tenth, pool, random.Random(7))
    changed = [n for n, a in zip(noisy, answer, strict=True) if n != a]
    assert 0.08 < len(changed) / len(answer) < 0.12 and set(changed) <= set(pool)
    assert noisy == noisy_answer_ids(answer, tenth, pool, random.Random(7))
    assert noisy != noisy_answer_ids(answer, tenth, pool, random.Random(8))
    assert noisy_answer_ids(answer, [0.0] * len(answer), pool, random.Random(7)) == answer


def test_one_rate_or_a_rate_per_part():
    assert check_answer_noise(0.1) == {"format": 0.1, "action": 0.1, "steps": 0.1, "score": 0.1}
    assert check_answer_noise({"steps": 0.2}) == {"format": 0.0, "action": 0.0, "steps": 0.2, "score": 0.0}
    with pytest.raises(ValueError, match=r"^train\.answer_noise\.awards: unknown answer part"):
        check_answer_noise({"awards": 0.1})
    with pytest.raises(ValueError, match=r"^train\.answer_noise\.steps: must be in \[0, 0\.5\]"):
        check_answer_noise({"steps": 0.7})


def test_per_part_rates_reach_exactly_the_tokens_hpl_credits_to_that_part(tiny_checkpoint, real_samples):
    """The same owner as HPL's level credit and answer_weights: the score part is never replaced at score rate 0."""
    from transformers import AutoTokenizer

    from hieroaction.reasoning.render import render_target
    from hieroaction.train.answer_noise import token_noise_rates
    from hieroaction.train.data import answer_token_ids
    from hieroaction.train.level_credit import completion_classes

    tokenizer = AutoTokenizer.from_pretrained(tiny_checkpoint)
    ids = answer_token_ids(tokenizer, render_target(real_samples[0]))
    rates = token_noise_rates(tokenizer, ids, check_answer_noise({"format": 0.2, "steps": 0.3}))
    expected = {"format": 0.2, "action": 0.0, "steps": 0.3, "score": 0.0}
    classes = completion_classes(tokenizer, torch.tensor([ids]), torch.ones(1, len(ids)))[0].tolist()
    assert rates == [expected[CREDIT_CLASSES[c]] for c in classes]
    assert {0.0, 0.2, 0.3} <= set(rates)
    noisy = noisy_answer_ids(ids, rates, [1], random.Random(0))
    assert all(n == i for n, i, r in zip(noisy, ids, rates, strict=True) if r == 0.0)


def test_a_replacement_is_never_a_chat_or_vision_marker(tiny_checkpoint):
    """Every added token is left out, the video placeholder above all (a replaced one breaks the batch)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_checkpoint)
    ordinary = set(ordinary_token_ids(tokenizer))
    markers = {tokenizer.convert_tokens_to_ids(t) for t in ("<|video_pad|>", "<|image_pad|>", "<|vision_start|>",
                                                            "<|vision_end|>", "<|im_start|>", "<|im_end|>")}
    assert not ordinary & (markers | set(tokenizer.all_special_ids))
    assert len(ordinary) == len(tokenizer) - len(tokenizer.added_tokens_decoder)


def test_noisy_inputs_keep_the_prompt_and_the_gold_labels_and_a_run_trains(sft_workspace, captured_trainer):
    from hieroaction.train.sft import run_sft

    seen = captured_trainer
    config = load_config(sft_workspace, SFTRunConfig, ["train.answer_noise=0.3", "train.max_steps=2"])
    assert (run_sft(config) / "config.json").is_file()

    collator = seen["trainer"].data_collator
    rows = [seen["trainer"].train_dataset[i] for i in range(2)]
    noisy = collator(rows)
    collator.answer_noise = 0.0
    plain = collator(rows)
    assert (noisy["labels"] == plain["labels"]).all()
    answer = plain["labels"] != -100
    assert (noisy["input_ids"][~answer] == plain["input_ids"][~answer]).all()  # prompt, video and padding untouched
    replaced = (noisy["input_ids"][answer] != plain["input_ids"][answer]).float().mean().item()
    assert 0.1 < replaced < 0.5
    added = set(collator.processor.tokenizer.added_tokens_decoder)
    assert not set(noisy["input_ids"][answer].tolist()) & added - set(plain["input_ids"][answer].tolist())


def test_answer_noise_is_sft_only_and_checked_when_the_config_loads(tmp_path, sft_workspace):
    path = tmp_path / "hpl.yaml"
    path.write_text(yaml.safe_dump({"train": {"answer_noise": 0.05}, "hpl": {}}))
    with pytest.raises(ConfigError, match=r"hpl\.yaml: train\.answer_noise: SFT only"):
        load_config(path, HPLRunConfig)
    with pytest.raises(ConfigError, match=r"train\.answer_noise: must be in \[0, 0\.5\]"):
        load_config(sft_workspace, SFTRunConfig, ["train.answer_noise=0.9"])


def test_evaluation_reads_the_gold_answers(sft_workspace, captured_trainer):
    """With ``data.eval`` set the eval loss is measured on clean inputs: the noise is a training input only."""
    from hieroaction.train.sft import run_sft

    seen = captured_trainer
    table = yaml.safe_load(sft_workspace.read_text())["data"]["train"]
    config = load_config(sft_workspace, SFTRunConfig,
                         ["train.answer_noise=0.5", "train.max_steps=1", f"data.eval={table}"])
    run_sft(config)
    trainer = seen["trainer"]
    eval_collator = trainer.get_eval_dataloader().collate_fn
    rows = [trainer.eval_dataset[i] for i in range(2)]
    batch = eval_collator(rows)
    answer = batch["labels"] != -100
    assert (batch["input_ids"][answer] == batch["labels"][answer]).all()
    noisy = trainer.data_collator(rows)  # training still reads noisy answers
    assert (noisy["input_ids"][answer] != noisy["labels"][answer]).any()


def test_the_noise_stops_at_its_share_of_the_steps(sft_workspace, captured_trainer):
    """``train.answer_noise_until``: the batch carries both readings and the trainer reads the gold one from the step
    on (it knows the step; the collator may run ahead in loader processes)."""
    from hieroaction.train.answer_noise import noise_until_step
    from hieroaction.train.sft import run_sft

    config = load_config(sft_workspace, SFTRunConfig,
                         ["train.answer_noise=0.5", "train.answer_noise_until=0.5", "train.max_steps=2"])
    run_sft(config)
    trainer = captured_trainer["trainer"]
    assert trainer.noise_until_step == 1 == noise_until_step(0.5, 2)
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(2)])
    answer = batch["labels"] != -100
    assert (batch["clean_input_ids"][answer] == batch["labels"][answer]).all()
    assert (batch["clean_input_ids"][~answer] == batch["input_ids"][~answer]).all()
    assert (batch["input_ids"][answer] != batch["labels"][answer]).any()

    read = []
    hook = trainer.model.register_forward_pre_hook(lambda _m, _a, kwargs: read.append(kwargs["input_ids"].clone()),
                                                   with_kwargs=True)
    try:
        for step in (0, 1):
            trainer.state.global_step = step
            trainer.compute_loss(trainer.model, dict(batch))
    finally:
        hook.remove()
    assert (read[0] == batch["input_ids"]).all() and (read[1] == batch["clean_input_ids"]).all()
    assert "clean_input_ids" not in trainer.get_eval_dataloader(trainer.train_dataset).collate_fn(
        [trainer.train_dataset[0]])
    assert noise_until_step(1.0, 7) == 7 and noise_until_step(0.6, 1000) == 600


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        (["train.answer_noise=0.1", "train.answer_noise_until=0"], r"train\.answer_noise_until: must be in \(0, 1\]"),
        (["train.answer_noise=0.1", "train.answer_noise_until=1.5"], r"train\.answer_noise_until: must be in \(0, 1\]"),
        (["train.answer_noise_until=0.5"], r"train\.answer_noise_until: 0\.5 without train\.answer_noise"),
    ],
)
def test_a_bad_noise_stop_is_refused_when_the_config_loads(sft_workspace, sets, message):
    with pytest.raises(ConfigError, match=message):
        load_config(sft_workspace, SFTRunConfig, sets)


def test_the_noise_stop_is_sft_only(tmp_path):
    path = tmp_path / "hpl.yaml"
    path.write_text(yaml.safe_dump({"train": {"answer_noise_until": 0.5}, "hpl": {}}))
    with pytest.raises(ConfigError, match=r"hpl\.yaml: train\.answer_noise_until: SFT only"):
        load_config(path, HPLRunConfig)
