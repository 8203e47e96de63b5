"""The canonical Sample record: the one shape every adapter produces and everything downstream reads.

Frame conventions (used by the reasoning grammar, the renderer, frame extraction and the metrics alike):
- ``VideoRef.start_frame`` / ``end_frame`` are frame numbers in the source (untrimmed) video, both inclusive.
- ``Step.first`` / ``Step.last`` are 0-based, inclusive indices *within the clip*: index 0 is ``start_frame``.
- ``num_frames`` is the clip length, ``end_frame - start_frame + 1``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

VideoKind = Literal["frames", "video"]


@dataclass(frozen=True)
class Step:
    """One sub-action: its label (id in the dataset's table and readable name) and its clip-relative frame span."""

    label_id: int
    name: str
    first: int
    last: int

    @property
    def length(self) -> int:
        return self.last - self.first + 1


@dataclass(frozen=True)
class VideoRef:
    """Where the pixels are.

    ``kind="frames"``: ``path`` is a folder of ``<frame_number>.jpg`` files (FineDiving layout).
    ``kind="video"``: ``path`` is a video file and the clip is ``start_frame..end_frame`` of it (MTL-AQA layout).
    ``path`` is relative to a media root unless absolute or a URL (``s3://...``).
    """

    kind: VideoKind
    path: str
    start_frame: int
    end_frame: int


@dataclass(frozen=True)
class Sample:
    """One assessed action. Scores are floats; optional fields are ``None`` or empty when a dataset lacks them."""

    sample_id: str
    dataset: str
    split: str
    video: VideoRef
    action_code: str
    final_score: float
    difficulty: float | None = None
    judge_scores: tuple[float, ...] = ()
    steps: tuple[Step, ...] = ()
    frame_labels: tuple[int, ...] | None = None
    source_key: tuple[Any, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def num_frames(self) -> int:
        return self.video.end_frame - self.video.start_frame + 1

    @property
    def dive(self):
        """Decoded action code (:class:`~hieroaction.datasets.dive_codes.DiveCode`); raises on a non-dive code."""
        from hieroaction.datasets.dive_codes import parse_code

        return parse_code(self.action_code)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (tuples become lists)."""
        return json.loads(json.dumps(asdict(self)))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Sample:
        video = data["video"]
        return cls(
            sample_id=str(data["sample_id"]),
            dataset=str(data["dataset"]),
            split=str(data["split"]),
            video=VideoRef(
                kind=video["kind"],
                path=str(video["path"]),
                start_frame=int(video["start_frame"]),
                end_frame=int(video["end_frame"]),
            ),
            action_code=str(data["action_code"]),
            final_score=float(data["final_score"]),
            difficulty=None if data.get("difficulty") is None else float(data["difficulty"]),
            judge_scores=tuple(float(x) for x in data.get("judge_scores") or ()),
            steps=tuple(
                Step(int(s["label_id"]), str(s["name"]), int(s["first"]), int(s["last"]))
                for s in data.get("steps") or ()
            ),
            frame_labels=None
            if data.get("frame_labels") is None
            else tuple(int(x) for x in data["frame_labels"]),
            source_key=tuple(data.get("source_key") or ()),
            extra=dict(data.get("extra") or {}),
        )


def steps_from_frame_labels(labels, names: dict[int, str]) -> tuple[Step, ...]:
    """Run-length encode per-frame sub-action ids into ordered steps (clip-relative, inclusive spans)."""
    steps: list[Step] = []
    start = 0
    values = [int(x) for x in labels]
    for i in range(1, len(values) + 1):
        if i == len(values) or values[i] != values[start]:
            label = values[start]
            steps.append(Step(label, names.get(label, f"sub-action {label}"), start, i - 1))
            start = i
    return tuple(steps)


def write_jsonl(samples, path) -> None:
    """Write samples as JSON lines (the canonical table on disk)."""
    with open(path, "w", encoding="utf-8") as fh:
        for sample in samples:
            fh.write(json.dumps(sample.to_dict(), ensure_ascii=False) + "\n")


def read_jsonl(path) -> list[Sample]:
    with open(path, encoding="utf-8") as fh:
        return [Sample.from_dict(json.loads(line)) for line in fh if line.strip()]
