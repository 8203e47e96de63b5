"""Level credit in GRPO: per-class advantages, token classes from real tokenizers, and the trainer's (B, T) tensor."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("trl")

from hieroaction.rewards.credit import CREDIT_CLASSES  # noqa: E402
from hieroaction.train.level_credit import class_advantages, token_advantages, token_pieces  # noqa: E402


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


def _credit_trainer(model_dir, tmp_path, sample, score_range):
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
                               video_loader=lambda _: clip, credit="level")
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

    advantages = trainer._level_advantages(output)

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
