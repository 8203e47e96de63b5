"""Typed run configuration (``dg.Config``): what a person may change per run in the launchpad or in run config."""

from __future__ import annotations

from typing import Literal

import dagster as dg


class EmbeddedDataConfig(dg.Config):
    """The embedded default dataset: dives drawn from the real FineDiving label distribution, then rendered.

    Each video is one "broadcast" holding ``dives_per_video`` dives; the last ``test_videos`` videos form the test
    split and the ``val_videos`` before them the validation split the promotion gate decides on (split by video,
    so no video is in two splits; without val videos, validation is a stable 20% of train).
    """

    num_videos: int = 6
    dives_per_video: int = 4
    test_videos: int = 2
    val_videos: int = 0
    seed: int = 0
    layout: Literal["video", "frames"] = "video"
    camera: Literal["broadcast", "fixed"] = "broadcast"  # broadcast: follows the diver close up, as TV footage does


class TrainStageConfig(dg.Config):
    """Overrides for one training stage; everything else comes from the library's defaults for the preset."""

    max_steps: int = 8
    learning_rate: float = 0.0
    # "section.key": value (YAML), as `hieroaction train --set section.key=value`, e.g. {"hpl.num_generations": "4"}
    extra: dict[str, str] = {}

    def overrides(self) -> list[str]:
        return [f"{key}={value}" for key, value in self.extra.items()]


class PromotionConfig(dg.Config):
    """The promotion gate: HPL must beat SFT on the validation split in ``metric`` by a significant paired gain
    (``hieroaction.evaluate.promotion``)."""

    metric: Literal["srcc", "rl2_x100", "action_accuracy", "format_validity", "tiou_mean"] = "srcc"
    # When HPL does not pass: "keep" promotes nothing (the checkpoint in use stays); "sft" promotes the SFT model HPL
    # did not beat, e.g. to replace a checkpoint of an older answer grammar that this code no longer serves.
    when_gate_fails: Literal["keep", "sft"] = "keep"


class EvaluateConfig(dg.Config):
    """Report for one checkpoint (default: the promoted one) on one split."""

    checkpoint: str = "models/promoted"
    split: str = "test"
    max_samples: int = 0
    # Regression bounds checked on the report (``metric: bound``); empty = only report. See regression_bounds.yaml.
    fail_under: dict[str, float] = {}
    fail_over: dict[str, float] = {}
