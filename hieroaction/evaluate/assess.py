"""Assess one video file a user has: decode, sample frames, run the model, parse the stepwise answer.

Why errors are one line: ``hieroaction assess`` is what a coach or reviewer runs on their own file; a missing file,
a file that is not a playable video, or a folder that is not a HieroAction checkpoint must say exactly that.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from hieroaction.evaluate.inference import GenerationSettings


class AssessError(ValueError):
    """The video or the checkpoint cannot be used; the message is one line."""


@dataclass
class VideoAssessment:
    """The model's answer for one video, parsed; ``problems`` lists every deviation from the answer grammar."""

    video: str
    checkpoint: str
    num_frames: int
    frame_indices: list[int]
    text: str
    assessment: object | None  # hieroaction.reasoning.Assessment
    problems: list[str] = field(default_factory=list)
    fps: float | None = None
    prompt: list[dict] = field(default_factory=list)  # the messages the model answered (without the video)
    frames: object | None = field(default=None, repr=False)  # (T, H, W, 3) uint8: what the model saw (for plots)

    def to_dict(self) -> dict:
        a = self.assessment
        return {
            "video": self.video,
            "checkpoint": self.checkpoint,
            "num_frames": self.num_frames,
            "fps": self.fps,
            "frames_shown": self.frame_indices,
            "valid": a is not None and not self.problems,
            "problems": self.problems,
            "action": None if a is None else {"code": a.action_code, "name": a.action_name, "difficulty": a.difficulty},
            "steps": None if a is None or a.steps is None else [
                {"name": s.name, "first": s.first, "last": s.last, "judgement": s.judgement} for s in a.steps
            ],
            "score": None if a is None else a.score,
            "reasoning": None if a is None else a.reasoning,
            "raw": self.text,
        }


def probe_video(path: Path) -> tuple[int, float | None]:
    """Frame count and frame rate of a video file; decodes (cheaply, packets only) when the container omits them."""
    import av

    from hieroaction.video import MediaError
    from hieroaction.video.decode import probe_frame_count

    try:
        count = probe_frame_count(path)
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise AssessError(f"cannot read video {path}: the file has no video stream")
            if _is_still_image(container):
                raise AssessError(
                    f"not a video: {path} is a still image ({container.format.name}); assess needs a video file"
                )
            stream = container.streams.video[0]
            fps = float(stream.average_rate) if stream.average_rate else None
            if not count:
                count = sum(1 for packet in container.demux(stream) if packet.size)
    except MediaError as exc:
        raise AssessError(f"cannot read video {path}: {exc.kind}: {exc.detail}") from None
    except av.error.FFmpegError as exc:
        raise AssessError(f"cannot read video {path}: {exc}") from None
    if not count:
        raise AssessError(f"cannot read video {path}: no frames")
    if count < 2:
        raise AssessError(f"not a video: {path} holds a single frame")
    return int(count), fps


def _is_still_image(container) -> bool:
    """FFmpeg opens a PNG/JPEG/... as a one-frame "video" through its image demuxers: that is not a dive."""
    names = set(str(container.format.name or "").split(","))
    return any(name == "image2" or name.endswith("_pipe") for name in names)


def _sampled_indices(path: Path, settings, count: int) -> list[int]:
    """The sampler's indices, after checking it does not ask for more frames than the budget allows."""
    from hieroaction.video.limits import LimitError, check_sampling

    try:
        check_sampling(settings, count)
    except LimitError as exc:
        raise AssessError(f"cannot read video {path}: {exc}") from None
    return [int(i) for i in settings.indices(count)]


def read_video_frames(path: Path, settings) -> tuple[object, int, list[int], float | None]:
    """``(frames (T,H,W,3) uint8, clip length, indices shown, fps)`` for the whole file as one clip."""
    from hieroaction.video import MediaError, read_frames

    count, fps = probe_video(path)
    indices = _sampled_indices(path, settings, count)
    try:
        frames = read_frames(path, indices, size=settings.size)
    except MediaError as exc:
        if exc.kind == "too-few-frames":  # the container over-declared its length: use what decodes
            return _read_decodable(path, settings, fps)
        raise AssessError(f"cannot read video {path}: {exc.kind}: {exc.detail}") from None
    return frames, count, indices, fps


def _read_decodable(path: Path, settings, fps):
    import av

    from hieroaction.video import MediaError, read_frames

    with av.open(str(path)) as container:
        count = sum(1 for _ in container.decode(video=0))
    if not count:
        raise AssessError(f"cannot read video {path}: no decodable frames")
    indices = _sampled_indices(path, settings, count)
    try:
        return read_frames(path, indices, size=settings.size), count, indices, fps
    except MediaError as exc:
        raise AssessError(f"cannot read video {path}: {exc.kind}: {exc.detail}") from None


def assess_video(
    video: str | Path,
    checkpoint: str | Path,
    *,
    settings=None,
    generation: GenerationSettings | None = None,
    model=None,
    processor=None,
    assess_steps: bool = True,
) -> VideoAssessment:
    """Assess the whole of ``video`` as one clip with ``checkpoint`` (or an already loaded ``model``/``processor``).

    ``settings``: frame sampling (default: what the checkpoint was trained with, else 16 uniform 112x112 frames).
    ``assess_steps``: ask for the sub-actions (a user's video: yes); the prompt is
    :func:`hieroaction.reasoning.clip_prompt`, the one training and evaluation use.
    Raises :class:`AssessError` (one line) for a missing or unreadable video; :class:`CheckpointError` for a folder
    that is not a HieroAction checkpoint.
    """
    from hieroaction.evaluate.checkpoint import check_checkpoint, open_checkpoint, training_frame_settings
    from hieroaction.evaluate.inference import generate_batch
    from hieroaction.reasoning import clip_prompt, parse_assessment
    from hieroaction.video.sampling import FrameSettings

    path = Path(video).expanduser()
    if not path.exists():
        raise AssessError(f"video not found: {path}")
    if path.is_dir():
        raise AssessError(f"not a video file: {path} is a folder")
    if model is None:
        check_checkpoint(checkpoint)  # cheap, before any decoding
    settings = settings or training_frame_settings(checkpoint) or FrameSettings()
    frames, count, indices, fps = read_video_frames(path, settings)
    if model is None:
        model, processor = open_checkpoint(checkpoint)
    generation = generation or GenerationSettings(batch_size=1)
    messages = clip_prompt(count, settings, assess_steps=assess_steps)
    output = generate_batch(model, processor, [frames], [messages], generation)
    text = output.completions[0]
    parsed = parse_assessment(text)
    return VideoAssessment(
        str(path), str(checkpoint), count, indices, text, parsed.assessment, list(parsed.problems), fps, messages,
        frames,
    )


def plot_video_assessment(result: VideoAssessment, path: str | Path) -> Path:
    """The assessment as a picture (``hieroaction assess --plot``): frames shown, step spans, judgements, score."""
    from hieroaction.evaluate.plots import plot_assessment

    score = result.assessment.score if result.assessment is not None else None
    title = Path(result.video).name + (f" — score {score:.2f}" if score is not None else "")
    return plot_assessment(path, result.frames, result.frame_indices, result.num_frames, result.assessment,
                           fps=result.fps, title=title, problems=result.problems)


def format_assessment(result: VideoAssessment) -> str:
    """The stepwise assessment as a person reads it."""
    a = result.assessment
    duration = f", {result.num_frames / result.fps:.1f} s" if result.fps else ""
    lines = [f"Video: {result.video} ({result.num_frames} frames{duration}; {len(result.frame_indices)} shown to the model)"]
    if a is None:
        lines += ["The model's answer could not be read as an assessment.", "", "Raw answer:", result.text or "(empty)"]
        if result.problems:
            lines += ["", "Problems: " + "; ".join(result.problems)]
        return "\n".join(lines)
    dd = "n/a" if a.difficulty is None else f"{a.difficulty:.1f}"
    lines.append(f"Action: {a.action_code or '?'} — {a.action_name or '?'} (DD {dd})")
    if a.steps:
        lines.append("Steps:")
        width = max(len(s.name) for s in a.steps)
        for i, step in enumerate(a.steps, start=1):
            time = f"  ({step.first / result.fps:.2f}–{(step.last + 1) / result.fps:.2f} s)" if result.fps else ""
            lines.append(f"  {i}. {step.name:<{width}}  frames {step.first}–{step.last}{time}  {step.judgement}")
    elif a.steps is not None:
        lines.append("Steps: none assessed")
    else:
        lines.append("Steps: (not readable)")
    lines.append(f"Score: {a.score:.2f}" if a.score is not None else "Score: (not readable)")
    if a.reasoning:
        lines += ["Reasoning:"] + [f"  {line}" for line in a.reasoning.splitlines()]
    if result.problems:
        lines.append("Format problems: " + "; ".join(result.problems))
    return "\n".join(lines)
