"""HPL sampling, evaluation and ``assess`` suppress the same tokens; every stage accepts and refuses the same clips."""

from __future__ import annotations

import numpy as np
import pytest

from tests.contracts.conftest import SETTINGS, write_mp4

pytestmark = pytest.mark.xdist_group("contracts-tiny-model")

VISION_TOKENS = ("<|image_pad|>", "<|video_pad|>", "<|vision_start|>", "<|vision_end|>", "<|vision_pad|>")


class GenerateRecorder:
    """Observes the suppressed tokens of every ``model.generate`` call and every call of the shared decode loop
    (``hieroaction.model.fast_generation``); the real functions still run."""

    def __init__(self, model):
        from hieroaction.model import fast_generation

        self.model, self.original, self.calls = model, model.generate, []
        self.module, self.loop = fast_generation, fast_generation.generate_from_shared_prompts

    def __enter__(self):
        def generate(*args, **kwargs):
            self.calls.append(("generate", sorted(kwargs["suppress_tokens"])))
            return self.original(*args, **kwargs)

        def loop(model, inputs, settings, **kwargs):
            self.calls.append(("fast", sorted(settings.suppress_tokens)))
            return self.loop(model, inputs, settings, **kwargs)

        self.model.generate = generate
        self.module.generate_from_shared_prompts = loop
        return self

    def __exit__(self, *exc):
        del self.model.generate
        self.module.generate_from_shared_prompts = self.loop


def test_hpl_evaluation_and_assess_suppress_the_same_vision_tokens(
    grpo_trainer, tiny_model, tiny_checkpoint, adapter_samples, tmp_path
):
    from hieroaction.evaluate.assess import assess_video
    from hieroaction.evaluate.inference import GenerationSettings, generate_assessments
    from hieroaction.model.fast_generation import DecodeSettings
    from hieroaction.reasoning import prompt_for

    model, processor = tiny_model
    sample = adapter_samples["finediving"]
    clip = np.zeros((SETTINGS.count, *SETTINGS.size, 3), np.uint8)
    for fast in (True, False):  # the shared decode loop (the default) and transformers' generate
        settings = GenerationSettings(max_new_tokens=1, batch_size=1, fast=fast)
        with GenerateRecorder(model) as recorder:
            generate_assessments(model, processor, [clip], [prompt_for(sample, SETTINGS)], settings, progress=False)
            assess_video(write_mp4(tmp_path / "v.mp4", 12), tiny_checkpoint, settings=SETTINGS, model=model,
                         processor=processor, generation=settings)
        path = "fast" if fast else "generate"
        assert [kind for kind, _ in recorder.calls] == [path, path]
        (_, evaluation), (_, assess) = recorder.calls
        hpl = sorted(grpo_trainer.generation_kwargs["suppress_tokens"])  # HPL through generate
        hpl_fast = sorted(DecodeSettings.for_model(grpo_trainer.model, grpo_trainer.generation_config).suppress_tokens)
        assert hpl == hpl_fast == evaluation == assess
        assert hpl == sorted(processor.tokenizer.convert_tokens_to_ids(t) for t in VISION_TOKENS)


BAD_CLIPS = {
    "float": np.zeros((4, 28, 28, 3), np.float32),
    "grey": np.zeros((4, 28, 28), np.uint8),
    "rgba": np.zeros((4, 28, 28, 4), np.uint8),
    "empty": np.zeros((0, 28, 28, 3), np.uint8),
}


def _stored(sample, clip, frames_dir):
    """Put ``clip`` where extraction stores the sample's frames, as it is (a foreign store file), with a matching
    checksum: what is compared here is the clip check every stage applies, not the store's checksum."""
    import hashlib

    from hieroaction.video.store import checksum_path, clip_path

    path = clip_path(frames_dir, sample, SETTINGS)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, clip, allow_pickle=False)
    checksum_path(path).write_text(f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {path.name}\n")
    return path


def _verdicts(sample, clip, frames_dir, grpo_trainer, tiny_model) -> dict[str, str | None]:
    """Each stage's verdict on the stored clip of ``sample``: ``None`` (accepted) or the reason after the field.
    ``generation`` is the batch generation evaluation and ``assess`` share."""
    from hieroaction.evaluate.clips import ClipSource, load_available
    from hieroaction.evaluate.inference import GenerationSettings, generate_batch
    from hieroaction.reasoning import prompt_for
    from hieroaction.train.data import ClipLoader, build_rows

    path = _stored(sample, clip, frames_dir)
    row = build_rows([sample], with_target=False, with_prompt=True, settings=SETTINGS).rows[0]
    loader = ClipLoader(frames_dir, SETTINGS)
    verdicts: dict[str, str | None] = {}

    def verdict(stage, call):
        try:
            call()
            verdicts[stage] = None
        except ValueError as exc:
            verdicts[stage] = str(exc).split("field 'video' ", 1)[1]

    verdict("sft", lambda: loader(row))
    grpo_trainer.video_loader = lambda _row: np.load(path)
    verdict("hpl", lambda: grpo_trainer._load_batch_videos([row]))
    _, _, quarantined = load_available(ClipSource(SETTINGS, frames_dir=frames_dir), [sample])
    verdicts["evaluation"] = quarantined[0].reason.split("field 'video' ", 1)[1] if quarantined else None
    model, processor = tiny_model
    generation = GenerationSettings(max_new_tokens=1, batch_size=1)
    verdict("generation", lambda: generate_batch(model, processor, [np.load(path)], [prompt_for(sample, SETTINGS)], generation))
    return verdicts


@pytest.mark.parametrize("kind", [*BAD_CLIPS, "good"])
def test_every_stage_applies_the_same_clip_check(kind, adapter_samples, grpo_trainer, tiny_model, tmp_path):
    sample = adapter_samples["manifest"]
    clip = BAD_CLIPS.get(kind, np.zeros((SETTINGS.count, *SETTINGS.size, 3), np.uint8))
    verdicts = _verdicts(sample, clip, tmp_path / "frames", grpo_trainer, tiny_model)
    assert len(set(verdicts.values())) == 1, verdicts
    assert (verdicts["sft"] is None) == (kind == "good"), verdicts
