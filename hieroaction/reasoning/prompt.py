"""The prompt: a system turn that states the answer grammar and a user turn carrying the video.

Why the grammar is spelled out in the system turn: an untrained model (or one evaluated zero-shot) needs the format
in words, and the clip length in the user turn anchors the frame spans the model must write (spans are 0-based,
inclusive, counted in the clip's own frames, whatever frames were sampled to show it). The user turn also says
whether sub-actions are assessed for this clip: MTL-AQA has no step labels, and the same competition footage appears
in FineDiving with them, so only the prompt can tell the model to leave <steps> empty.

This module owns THE prompt: :func:`prompt_for` (a labelled sample) and :func:`clip_prompt` (a user's clip) are the
only ways training (SFT and HPL), evaluation and ``hieroaction assess`` build one, so the model is asked the same
question everywhere (``tests/contracts`` proves the stages agree byte for byte).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from hieroaction.reasoning.grammar import GRAMMAR_VERSION, format_frame

if TYPE_CHECKING:
    from hieroaction.datasets.sample import Sample
    from hieroaction.video.sampling import FrameSettings

SYSTEM_PROMPT = f"""You are an expert diving judge. You assess a dive step by step (answer grammar v{GRAMMAR_VERSION}).
Answer with exactly these four sections, in this order, and nothing outside them:
<think>your reasoning</think>
<action>dive number | its meaning | DD difficulty</action>
<steps>
1. sub-action label | frames first-last | judgement
(one numbered line per sub-action, in temporal order; empty when sub-actions are not assessed)
</steps>
<score>final score with 2 decimals</score>
Frame numbers are 0-based and inclusive, counted within the clip, written with at least 3 digits (007)."""


def user_text(num_frames: int, *, assess_steps: bool = True, frame_indices: Sequence[int] | None = None) -> str:
    n = int(num_frames)
    text = f"This diving clip has {n} frames, numbered {format_frame(0)} to {format_frame(n - 1)}. Recognise the dive, "
    if assess_steps:
        text += "locate and judge each sub-action, then give the final score."
    else:
        text += "then give the final score. Sub-actions are not assessed for this clip: leave <steps> empty."
    if frame_indices is not None:
        text += " The video shows clip frames " + ", ".join(format_frame(i) for i in frame_indices) + "."
    return text


def build_messages(
    num_frames: int,
    *,
    video: Any = None,
    assess_steps: bool = True,
    frame_indices: Sequence[int] | None = None,
) -> list[dict[str, Any]]:
    """Conversational prompt for processors' chat templates (and trl): system turn, then a user turn whose content
    is ``[{"type": "video"[, "video": frames]}, {"type": "text", "text": ...}]``.

    ``assess_steps=False`` asks for an empty <steps> (clips without step labels); ``frame_indices`` optionally tells
    the model which clip frames the video holds."""
    if int(num_frames) < 1:
        raise ValueError(f"num_frames must be positive, got {num_frames!r}")
    video_part: dict[str, Any] = {"type": "video"}
    if video is not None:
        video_part["video"] = video
    text = user_text(num_frames, assess_steps=assess_steps, frame_indices=frame_indices)
    return [
        {"role": "system", "content": [{"type": "text", "text": SYSTEM_PROMPT}]},
        {"role": "user", "content": [video_part, {"type": "text", "text": text}]},
    ]


def clip_prompt(
    num_frames: int, settings: FrameSettings | None = None, *, assess_steps: bool = True, video: Any = None
) -> list[dict[str, Any]]:
    """THE prompt for a clip of ``num_frames`` frames shown through ``settings`` (the frame settings name the clip
    frames the video holds; ``None``: not stated). ``assess_steps=False`` asks for an empty <steps>."""
    indices = None if settings is None else [int(i) for i in settings.indices(int(num_frames))]
    return build_messages(num_frames, video=video, assess_steps=assess_steps, frame_indices=indices)


def prompt_for(sample: Sample, settings: FrameSettings | None = None, *, video: Any = None) -> list[dict[str, Any]]:
    """THE prompt for ``sample``, matching :func:`~hieroaction.reasoning.render.render_target`: steps are assessed
    exactly when the sample has step labels (MTL-AQA has none)."""
    return clip_prompt(sample.num_frames, settings, assess_steps=bool(sample.steps), video=video)
