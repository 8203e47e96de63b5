"""Training (SFT and HPL), evaluation and ``assess`` ask the model the same question.

For a FineDiving sample, an MTL-AQA sample (no step labels: the prompt must say "leave <steps> empty") and a user
manifest sample, each stage builds its prompt through its own real code path; the chat-template renderings must be
byte-identical.
"""

from __future__ import annotations

import json

import pytest

from tests.contracts.conftest import SETTINGS, write_mp4

CASES = ("finediving", "mtl_aqa", "manifest")


def training_prompts(sample) -> dict[str, list[dict]]:
    """The prompt SFT's collator encodes and the prompt column HPL's GRPO trainer generates from."""
    from hieroaction.train.data import PromptBuilder, build_rows

    sft_row = build_rows([sample], settings=SETTINGS).rows[0]
    hpl_row = build_rows([sample], with_target=False, with_prompt=True, settings=SETTINGS).rows[0]
    return {"sft": PromptBuilder(SETTINGS)(sft_row), "hpl": hpl_row["prompt"]}


def evaluation_prompt(sample, tmp_path) -> list[dict]:
    from hieroaction.evaluate.clips import ClipSource
    from hieroaction.evaluate.run import prompts_for

    return prompts_for([sample], ClipSource(SETTINGS, frames_dir=tmp_path))[0]


def assess_prompt(sample, tmp_path, tiny_checkpoint, tiny_model) -> list[dict]:
    """``assess`` on a video file as long as the sample's clip, through the whole command path (decode + generate)."""
    from hieroaction.evaluate.assess import assess_video
    from hieroaction.evaluate.inference import GenerationSettings

    video = write_mp4(tmp_path / "clip.mp4", sample.num_frames)
    model, processor = tiny_model
    result = assess_video(
        video, tiny_checkpoint, settings=SETTINGS, model=model, processor=processor,
        generation=GenerationSettings(max_new_tokens=2, batch_size=1), assess_steps=bool(sample.steps),
    )
    assert result.num_frames == sample.num_frames
    return result.prompt


@pytest.mark.parametrize("case", CASES)
def test_training_evaluation_and_assess_build_byte_identical_prompts(
    case, adapter_samples, tmp_path, tiny_checkpoint, tiny_model
):
    sample = adapter_samples[case]
    _, processor = tiny_model
    prompts = training_prompts(sample)
    prompts["evaluation"] = evaluation_prompt(sample, tmp_path)
    prompts["assess"] = assess_prompt(sample, tmp_path, tiny_checkpoint, tiny_model)

    rendered = {
        stage: processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True).encode()
        for stage, messages in prompts.items()
    }
    assert len(set(rendered.values())) == 1, {stage: text[-200:] for stage, text in rendered.items()}
    assert len({json.dumps(m, sort_keys=True) for m in prompts.values()}) == 1
    text = rendered["evaluation"].decode()
    assert ("leave <steps> empty" in text) == (case == "mtl_aqa")
    shown = ", ".join(f"{int(i):03d}" for i in SETTINGS.indices(sample.num_frames))
    assert f"shows clip frames {shown}." in text
