"""Level credit in GRPO: per-class advantages, token classes from real tokenizers, and the trainer's (B, T) tensor."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("trl")

from hieroaction.rewards.credit import CREDIT_CLASSES  # noqa: E402
from hieroaction.train.level_credit import (  # noqa: E402
    class_advantages,
    completion_classes,
    token_advantages,
    token_pieces,
)


def test_class_advantages_are_baselined_per_clip_and_scaled_as_trl_scales_rewards():
    returns = torch.tensor([[1.0, 0.0], [0.0, 0.0], [0.5, 2.0], [0.5, 4.0]])  # two clips x two answers, two classes
    none = class_advantages(returns, 2, "none")
    assert torch.allclose(none, torch.tensor([[0.5, 0.0], [-0.5, 0.0], [0.0, -1.0], [0.0, 1.0]]))
    group = class_advantages(returns, 2, "group")
    assert torch.allclose(group[:, 0], torch.tensor([0.7071, -0.7071, 0.0, 0.0]), atol=1e-3)
    assert torch.allclose(group[2:, 1], torch.tensor([-0.7071, 0.7071]), atol=1e-3)
    assert group[0, 1] == 0 and group[1, 1] == 0  # a class all answers agree on moves nothing
    batch = class_advantages(returns, 2, "batch")
    assert torch.allclose(batch, none / (returns.std(dim=0, keepdim=True) + 1e-4))
    with pytest.raises(ValueError, match="groups of 3"):
        class_advantages(returns, 3, "group")
    with pytest.raises(ValueError, match="scale_rewards"):
        class_advantages(returns, 2, "sometimes")


def test_against_a_greedy_baseline_only_answers_that_beat_it_gain_and_the_spread_counts_it():
    returns = torch.tensor([[1.0], [0.0], [0.0], [0.0]])  # clip 1: answers 1 and 0; clip 2: both 0
    greedy = torch.tensor([[0.5], [0.5], [1.0], [1.0]])  # each clip's greedy answer, repeated over its group
    none = class_advantages(returns, 2, "none", greedy)
    assert none[:, 0].tolist() == [0.5, -0.5, -1.0, -1.0]
    group = class_advantages(returns, 2, "group", greedy)
    spreads = torch.tensor([[1.0, 0.0, 0.5], [0.0, 0.0, 1.0]]).std(dim=1)  # the greedy return counts in the spread
    assert torch.allclose(group[:, 0], none[:, 0] / (spreads.repeat_interleave(2) + 1e-4))
    assert group[2:].abs().min() > 1.0  # answers that agree with each other, not with greedy: still a bounded push
    batch = class_advantages(returns, 2, "batch", greedy)
    assert torch.allclose(batch, none / (torch.cat([returns, greedy[::2]]).std() + 1e-4))
    near_tie = torch.tensor([[0.5], [0.4], [1.0], [1.0]])  # a clip's rows decoded apart: its first row's counts
    assert torch.equal(class_advantages(returns, 2, "group", near_tie), group)
    with pytest.raises(ValueError, match="baseline of shape"):
        class_advantages(returns, 2, "group", greedy[:2])


def test_each_token_takes_its_class_advantage():
    advantages = torch.tensor([[1.0, 2.0, 3.0, 4.0], [-1.0, -2.0, -3.0, -4.0]])
    classes = torch.tensor([[0, 1, 1, 3], [2, 2, 0, 0]])
    assert token_advantages(advantages, classes).tolist() == [[1.0, 2.0, 2.0, 4.0], [-3.0, -3.0, -1.0, -1.0]]


class ByteTokenizer:
    """One token per UTF-8 byte, decoded like a byte-level BPE: a lone byte of a multi-byte character decodes to
    U+FFFD, so token-by-token pieces do not add up to the text."""

    def decode(self, ids, skip_special_tokens=False):
        return bytes(ids).decode("utf-8", errors="replace")

    def batch_decode(self, batch, skip_special_tokens=False):
        return [self.decode(ids) for ids in batch]


def test_token_pieces_add_up_to_the_completion_for_the_real_tokenizer_and_for_split_characters(tiny_checkpoint):
    from transformers import AutoProcessor

    text = "<think>\nAction 105b: forward 2½ somersaults, pike, DD 3.0.\n</think>\n<score>57.00</score>"
    tokenizer = AutoProcessor.from_pretrained(tiny_checkpoint).tokenizer
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert "".join(token_pieces(tokenizer, ids)) == text
    byte_ids = list(text.encode("utf-8"))
    pieces = token_pieces(ByteTokenizer(), byte_ids)
    assert len(pieces) == len(byte_ids) and "".join(pieces) == text  # the quadratic fallback took over


def test_completion_classes_are_built_on_the_cpu_and_padding_takes_class_zero(tiny_checkpoint):
    """The classes come from decoded pieces on the CPU whatever the ids' device (on a GPU, the trainer once compared
    them with a mask on another device); token_advantages moves them to the advantages' device."""
    from transformers import AutoProcessor

    tokenizer = AutoProcessor.from_pretrained(tiny_checkpoint).tokenizer
    ids = tokenizer("<score>57.00</score>", add_special_tokens=False)["input_ids"]
    completion_ids = torch.tensor([ids + [0, 0], ids[:2] + [0] * (len(ids))])
    mask = torch.tensor([[1] * len(ids) + [0, 0], [1, 1] + [0] * len(ids)])
    classes = completion_classes(tokenizer, completion_ids, mask)
    assert classes.device.type == "cpu" and classes.dtype == torch.long and classes.shape == completion_ids.shape
    assert classes[0, len(ids):].eq(0).all() and classes[1, 2:].eq(0).all()
    assert classes[0, : len(ids)].eq(CREDIT_CLASSES.index("score")).any()


def _credit_trainer(model_dir, tmp_path, sample, score_range, **trainer_settings):
    from datasets import Dataset
    from transformers import AutoModelForImageTextToText, AutoProcessor
    from trl import GRPOConfig

    from hieroaction.rewards import HierarchicalReward, reward_columns
    from hieroaction.train.video_grpo import VideoGRPOTrainer

    row = {"sample_id": "s", "prompt": [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": "?"}]}],
           **reward_columns(sample, score_range)}
    clip = np.zeros((4, 56, 56, 3), dtype=np.uint8)
    args = GRPOConfig(output_dir=str(tmp_path / "out"), per_device_train_batch_size=4, num_generations=2,
                      max_completion_length=8, max_steps=1, report_to=[], use_cpu=True, save_strategy="no",
                      disable_tqdm=True, seed=0)
    reward = HierarchicalReward()
    trainer = VideoGRPOTrainer(model=AutoModelForImageTextToText.from_pretrained(model_dir), reward_funcs=[reward],
                               args=args, train_dataset=Dataset.from_list([row] * 4),
                               processing_class=AutoProcessor.from_pretrained(model_dir),
                               video_loader=lambda _: clip, **({"credit": "level"} | trainer_settings))
    trainer.model.train()  # as inside a training step: the metrics go to the train mode's log
    return trainer, reward, row


def test_the_trainer_credits_a_wrong_score_to_the_score_tokens_only(tiny_checkpoint, tmp_path, real_samples):
    from hieroaction.reasoning.render import render_target
    from hieroaction.rewards import COLUMNS, score_range

    sample = next(s for s in real_samples if s.steps and s.judge_scores)
    trainer, reward, row = _credit_trainer(tiny_checkpoint, tmp_path, sample, score_range(real_samples))
    right = render_target(sample)
    wrong_score = right[: right.index("<score>")] + "<score>0.00</score>"
    completions = [right, wrong_score, right, right]  # clip 1: the score differs; clip 2: nothing differs
    reward(completions, **{c: [row[c]] * 4 for c in COLUMNS})
    tokenizer = trainer.processing_class.tokenizer
    encoded = tokenizer(completions, add_special_tokens=False, padding=True, return_tensors="pt", padding_side="right")
    output = {"completion_ids": encoded["input_ids"], "completion_mask": encoded["attention_mask"]}

    advantages = trainer._own_advantages(output, [row] * 4)

    assert advantages.shape == encoded["input_ids"].shape
    from hieroaction.train.level_credit import completion_classes

    classes = completion_classes(tokenizer, output["completion_ids"], output["completion_mask"])
    score_class = CREDIT_CLASSES.index("score")
    first_score, second_score = advantages[0][classes[0] == score_class], advantages[1][classes[1] == score_class]
    assert (first_score > 0.5).all() and (second_score < -0.5).all()
    for row_index in (0, 1):  # the other parts of the answers are the same: no push either way
        real = output["completion_mask"][row_index].bool() & (classes[row_index] != score_class)
        assert advantages[row_index][real].abs().max() < 1e-3
    assert advantages[2:].abs().max() < 1e-3
    assert trainer._metrics["train"]["credit/score_tokens"]


def test_against_greedy_answers_a_sample_gains_only_when_it_beats_its_clips_greedy_answer(
    tiny_checkpoint, tmp_path, real_samples
):
    from hieroaction.reasoning.render import render_target
    from hieroaction.rewards import COLUMNS, score_range

    sample = next(s for s in real_samples if s.steps and s.judge_scores)
    trainer, reward, row = _credit_trainer(tiny_checkpoint, tmp_path, sample, score_range(real_samples),
                                           credit="sequence", baseline="greedy", fast_generation=True)
    right = render_target(sample)
    wrong_score = right[: right.index("<score>")] + "<score>0.00</score>"
    completions = [right, wrong_score, wrong_score, wrong_score]  # the sampled answers of two clips
    greedy = [wrong_score, wrong_score, right, right]  # clip 1's greedy answer is worse, clip 2's is better
    reward(completions, **{c: [row[c]] * 4 for c in COLUMNS})
    tokenizer = trainer.processing_class.tokenizer
    encoded = tokenizer(completions, add_special_tokens=False, padding=True, return_tensors="pt", padding_side="right")
    output = {"completion_ids": encoded["input_ids"], "completion_mask": encoded["attention_mask"]}
    trainer._greedy_ids = [tokenizer(text, add_special_tokens=False)["input_ids"] for text in greedy]

    advantages = trainer._own_advantages(output, [row] * 4)

    assert advantages.shape == (4,)
    assert advantages[0] > 0.5 and abs(advantages[1]) < 1e-6  # better than greedy / as good as greedy
    assert (advantages[2:] < -0.5).all()  # both worse than greedy: pushed down though they tie (group mean: 0)
    assert trainer._metrics["train"]["reward/beats_greedy"] == [0.25]


def test_level_credit_needs_the_hierarchical_reward(tiny_checkpoint, tmp_path):
    from datasets import Dataset
    from transformers import AutoModelForImageTextToText, AutoProcessor
    from trl import GRPOConfig

    from hieroaction.train.video_grpo import VideoGRPOTrainer

    args = GRPOConfig(output_dir=str(tmp_path), per_device_train_batch_size=2, num_generations=2, max_steps=1,
                      report_to=[], use_cpu=True, save_strategy="no")
    row = {"prompt": [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": "?"}]}]}
    with pytest.raises(ValueError, match="HierarchicalReward"):
        VideoGRPOTrainer(model=AutoModelForImageTextToText.from_pretrained(tiny_checkpoint),
                         reward_funcs=[lambda completions, **_: [0.0] * len(completions)], args=args,
                         train_dataset=Dataset.from_list([row] * 2),
                         processing_class=AutoProcessor.from_pretrained(tiny_checkpoint), credit="level")
