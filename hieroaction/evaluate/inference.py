"""Batched, deterministic generation of assessments from video clips.

Why each choice:
- Greedy decoding with fixed settings (:class:`GenerationSettings`, recorded in every report): two evaluations of the
  same checkpoint on the same clips give the same text, so a metric change means the model or the data changed.
  Sampling is there for measuring what HPL optimises (``benchmarks/hpl_headroom.py``): its temperature, top_p, top_k
  and seed are settings too, so a sampled run is repeatable as well.
- Left padding: in a batch, every prompt must end at the same position so the new tokens line up; right padding would
  put pad tokens between a short prompt and its answer.
- Video goes in as a uint8 ``(T,H,W,3)`` array with ``do_sample_frames=False``: the frames were already sampled by the
  project's sampler, and a path would make transformers call torchcodec (see docs/STACK.md).
- The vision tokens are suppressed (:mod:`hieroaction.model.tokens`, the set HPL's sampling suppresses too): an
  untrained or drifting model that emits one would make the next forward pass look for pixels that do not exist.
- Every clip passes :func:`hieroaction.video.checks.check_clip`, the check training applies.
- Decoding goes through :func:`hieroaction.model.fast_generation.generate_from_shared_prompts`, the loop HPL's rollouts
  use (``GenerationSettings.fast``): it gives ``generate``'s tokens with less work per step; settings it does not
  implement (beam search, a repetition penalty) and ``fast=False`` use transformers' ``generate``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from hieroaction.datasets.records import Quarantined, isolate
from hieroaction.model.tokens import suppressed_token_ids
from hieroaction.video.checks import CLIP_LOAD_ERRORS, check_clip

SAMPLING_KNOBS = ("temperature", "top_p", "top_k")  # GenerationSettings fields passed to generate when sampling


@dataclass(frozen=True)
class GenerationSettings:
    """Everything that determines the generated text (recorded in the report)."""

    max_new_tokens: int = 384
    min_new_tokens: int | None = None  # benchmarks set it = max_new_tokens so every answer costs the same
    batch_size: int = 8
    do_sample: bool = False  # greedy: deterministic
    # With do_sample only (None: the checkpoint's generation_config). Sampling the way HPL's rollouts sample (its
    # temperature, top_p, top_k) measures the policy HPL optimises rather than its greedy answer.
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None  # 0: no top-k filter
    seed: int | None = None  # with do_sample: torch's generator is seeded with it before the first clip
    num_beams: int = 1
    repetition_penalty: float = 1.0
    suppress_vision_tokens: bool = True
    fast: bool = True  # the shared decode loop (hieroaction.model.fast_generation); False: transformers' generate
    dtype: str | None = None  # e.g. "bfloat16" on a GPU; None keeps the checkpoint's dtype
    device: str | None = None  # None: the model's own device

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class GenerationOutput:
    """The completions, in input order, and what it took to make them.

    ``quarantined`` maps the index of each clip that could not be loaded to its record; its completion is ``None``
    (never an answer to score) and its token counts are 0."""

    completions: list[str | None]
    completion_ids: list[list[int]] = field(default_factory=list)  # generated token ids, padding removed
    prompt_tokens: list[int] = field(default_factory=list)
    completion_tokens: list[int] = field(default_factory=list)
    seconds: float = 0.0
    quarantined: dict[int, Quarantined] = field(default_factory=dict)

    @property
    def good(self) -> list[int]:
        """Indices of the clips that were answered."""
        return [i for i in range(len(self.completions)) if i not in self.quarantined]


def prompt_text(processor, messages: list[dict]) -> str:
    """The chat-template rendering of a conversational prompt (from :mod:`hieroaction.reasoning`), ready to answer."""
    return processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)


class NonFiniteOutputError(ValueError):
    """The model's next-token scores held NaN or +inf: its weights are broken; whatever text came out means nothing."""


class NonFiniteWatch:
    """A logits processor that only looks: it notes whether any score was NaN or +inf (``-inf`` is how suppressed
    tokens are masked, so it is allowed). The flag stays on the device until the end: no sync per token."""

    def __init__(self) -> None:
        self.seen = None

    def __call__(self, input_ids, scores):
        import torch

        bad = torch.isnan(scores).any() | torch.isposinf(scores).any()
        self.seen = bad if self.seen is None else (self.seen | bad)
        return scores

    def raise_if_seen(self) -> None:
        if self.seen is not None and bool(self.seen):
            raise NonFiniteOutputError(
                "the model produced non-finite scores (NaN/inf) while generating: the checkpoint's weights are broken"
            )


def generate_batch(model, processor, clips: Sequence[np.ndarray], prompts: Sequence[list[dict]],
                   settings: GenerationSettings) -> GenerationOutput:
    """One batched ``generate`` call: left-padded prompts, one video per prompt, greedy decoding."""
    import time

    import torch

    videos = [check_clip(clip, f"clip {i}", writable=True) for i, clip in enumerate(clips)]
    texts = [prompt_text(processor, messages) for messages in prompts]
    inputs = processor(
        text=texts, videos=videos, padding=True, padding_side="left", return_tensors="pt", do_sample_frames=False
    )
    device = settings.device or getattr(model, "device", None) or "cpu"
    inputs = inputs.to(device)
    float_dtype = getattr(model, "dtype", None)
    if float_dtype is not None and "pixel_values_videos" in inputs:
        inputs["pixel_values_videos"] = inputs["pixel_values_videos"].to(float_dtype)
    kwargs = dict(
        max_new_tokens=settings.max_new_tokens,
        do_sample=settings.do_sample,
        num_beams=settings.num_beams,
        pad_token_id=processor.tokenizer.pad_token_id,
    )
    if settings.min_new_tokens:
        kwargs["min_new_tokens"] = settings.min_new_tokens
    if settings.repetition_penalty != 1.0:
        kwargs["repetition_penalty"] = settings.repetition_penalty
    if settings.suppress_vision_tokens:
        kwargs["suppress_tokens"] = suppressed_token_ids(processor.tokenizer, getattr(model, "config", None))
    if not settings.do_sample:  # keep the checkpoint's generation_config from re-enabling sampling knobs
        kwargs.update(temperature=None, top_p=None, top_k=None)
    else:
        kwargs.update({k: getattr(settings, k) for k in SAMPLING_KNOBS if getattr(settings, k) is not None})
    start = time.perf_counter()
    from transformers import LogitsProcessorList

    watch = NonFiniteWatch()
    decode = fast_decode_settings(model, kwargs) if settings.fast else None
    with torch.inference_mode():
        if decode is not None:
            from hieroaction.model.fast_generation import generate_from_shared_prompts

            new_tokens = generate_from_shared_prompts(model, dict(inputs), decode, logits_processor=[watch]).completion_ids
        else:
            output = model.generate(**inputs, **kwargs, logits_processor=LogitsProcessorList([watch]))
            new_tokens = output[:, inputs["input_ids"].shape[1]:]
    watch.raise_if_seen()
    seconds = time.perf_counter() - start
    completions = processor.batch_decode(new_tokens, skip_special_tokens=True)
    pad = processor.tokenizer.pad_token_id
    return GenerationOutput(
        completions=[c.strip() for c in completions],
        completion_ids=[[int(t) for t in row if t != pad] for row in new_tokens.tolist()],
        prompt_tokens=[int(n) for n in inputs["attention_mask"].sum(dim=1).tolist()],
        completion_tokens=[int((row != pad).sum()) for row in new_tokens],
        seconds=seconds,
    )


def fast_decode_settings(model, generate_kwargs: dict):
    """The fast path's settings for what ``model.generate(**generate_kwargs)`` would do, or None where it does not
    implement them (those go to ``generate``)."""
    from transformers import GenerationConfig

    from hieroaction.model.fast_generation import DecodeSettings, UnsupportedGenerationSetting

    if not hasattr(model, "_prepare_generation_config"):
        return None
    try:
        return DecodeSettings.for_model(model, GenerationConfig(**generate_kwargs))
    except UnsupportedGenerationSetting:
        return None


def generate_assessments(
    model,
    processor,
    clips: Sequence[np.ndarray] | Callable[[int], np.ndarray],
    prompts: Sequence[list[dict]],
    settings: GenerationSettings | None = None,
    *,
    progress: bool = True,
    description: str = "generating",
    ids: Sequence[str] | None = None,
) -> GenerationOutput:
    """Completions for every clip, in order, ``settings.batch_size`` at a time.

    ``clips`` is a sequence of arrays or a function ``i -> array`` (so a long split is loaded batch by batch, not all
    at once). ``prompts[i]`` is the conversational prompt for clip ``i`` (``hieroaction.reasoning.prompt_for`` for a
    labelled sample, ``build_messages`` for a user's video). A clip that cannot be loaded or is no clip (one of
    :data:`~hieroaction.video.checks.CLIP_LOAD_ERRORS`) is quarantined under ``ids[i]`` (its completion ``None``)
    and the others go on; anything else raises.
    """
    from tqdm.auto import tqdm

    settings = settings or GenerationSettings()
    check_sampling(settings)
    if settings.do_sample and settings.seed is not None:
        import torch

        torch.manual_seed(settings.seed)
    total = len(prompts)
    fetch = clips if callable(clips) else clips.__getitem__
    result = GenerationOutput(completions=[None] * total, completion_ids=[[] for _ in range(total)],
                              prompt_tokens=[0] * total, completion_tokens=[0] * total)
    model.eval()
    with tqdm(total=total, desc=description, unit="video", disable=not progress) as bar:
        for start in range(0, total, max(1, settings.batch_size)):
            index = range(start, min(total, start + max(1, settings.batch_size)))
            loaded = {}
            for i in index:
                name = str(ids[i]) if ids is not None else f"clip {i}"
                clip, problem = isolate(name, "video", None, _checked_clip, fetch, i, name, kind="unloadable",
                                        catch=CLIP_LOAD_ERRORS)
                if problem is None:
                    loaded[i] = clip
                else:
                    result.quarantined[i] = problem
            if loaded:
                batch = generate_batch(model, processor, list(loaded.values()), [prompts[i] for i in loaded], settings)
                for k, i in enumerate(loaded):
                    result.completions[i] = batch.completions[k]
                    result.completion_ids[i] = batch.completion_ids[k]
                    result.prompt_tokens[i] = batch.prompt_tokens[k]
                    result.completion_tokens[i] = batch.completion_tokens[k]
                result.seconds += batch.seconds
            bar.update(len(index))
    return result


def check_sampling(settings: GenerationSettings) -> None:
    """Refuse sampling knobs without sampling (they would be silently ignored) and values ``generate`` rejects."""
    knobs = [k for k in (*SAMPLING_KNOBS, "seed") if getattr(settings, k) is not None]
    if knobs and not settings.do_sample:
        raise ValueError(f"generation settings {sorted(knobs)} only apply with do_sample=True")
    if settings.temperature is not None and not settings.temperature > 0:
        raise ValueError(f"temperature must be > 0, got {settings.temperature!r}")
    if settings.top_p is not None and not 0 < settings.top_p <= 1:
        raise ValueError(f"top_p must be in (0, 1], got {settings.top_p!r}")
    if settings.top_k is not None and settings.top_k < 0:
        raise ValueError(f"top_k must be >= 0, got {settings.top_k!r}")


def _checked_clip(fetch: Callable[[int], np.ndarray], i: int, name: str) -> np.ndarray:
    """Clip ``i`` loaded and checked (copied out of any memory map), so a bad one fails here, for itself only."""
    return check_clip(fetch(i), name, writable=True)
