"""The generation limit against the rendered targets: the longest answer is found and a short limit is one line."""

from __future__ import annotations

import pytest
from transformers import AutoTokenizer

from hieroaction.reasoning import render_target
from hieroaction.train.answer_budget import check_generation_limit, longest_target, target_lengths
from hieroaction.train.config import ConfigError


def test_lengths_count_the_target_and_the_end_of_turn(real_samples, tiny_checkpoint):
    tokenizer = AutoTokenizer.from_pretrained(tiny_checkpoint)
    samples = real_samples[:6]
    lengths = target_lengths(samples, tokenizer)
    assert [t.sample_id for t in lengths] == [s.sample_id for s in samples]
    for sample, length in zip(samples, lengths, strict=True):
        assert length.tokens == len(tokenizer(render_target(sample), add_special_tokens=False)["input_ids"]) + 1
    assert longest_target(samples, tokenizer).tokens == max(t.tokens for t in lengths)
    assert longest_target([], tokenizer) is None


def test_a_limit_below_the_longest_target_is_refused_naming_the_sample(real_samples, tiny_checkpoint):
    tokenizer = AutoTokenizer.from_pretrained(tiny_checkpoint)
    longest = longest_target(real_samples[:6], tokenizer)
    assert check_generation_limit(real_samples[:6], tokenizer, longest.tokens, "limit") == longest
    with pytest.raises(ConfigError, match=f"limit is {longest.tokens - 1} tokens, but the target answer of "
                                          f"{longest.sample_id} takes {longest.tokens}"):
        check_generation_limit(real_samples[:6], tokenizer, longest.tokens - 1, "limit")
