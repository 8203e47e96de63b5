"""Hierarchical Policy Learning: GRPO on the hierarchical rewards, starting from the SFT model.

The policy generates ``num_generations`` answers per clip; :class:`~hieroaction.rewards.HierarchicalReward` scores
each one level by level (format -> action -> sub-actions -> score, with the gates, weights and stage schedule of the
``hpl.rewards`` config) and GRPO moves the policy toward the better answers of each group. The video reaches every
log-prob pass through :class:`~hieroaction.train.video_grpo.VideoGRPOTrainer` (trl alone trains on the text only).

Run in-process (``run_hpl(config)``), as a module (``python -m hieroaction.train.hpl --config FILE``) or distributed
(``accelerate launch --config_file configs/accelerate/ddp.yaml -m hieroaction.train.hpl --config FILE``). Checkpoints
every ``train.save_steps`` with the config, data version and code version beside the weights; a rerun with the same
``output_dir`` resumes from the last complete checkpoint and stops at the same ``max_steps``.

``hpl:`` section of the YAML (all optional; see :class:`HPLSettings`)::

    hpl:
      num_generations: 4
      max_completion_length: 256
      temperature: 1.0
      beta: 0.0                # KL to the starting (SFT) model; > 0 keeps a reference model
      rewards:                 # hieroaction.rewards.RewardConfig
        mode: hierarchical     # or flat (the ablation)
        weights: {format: 0.1, action: 0.3, steps: 0.3, score: 0.3}
        gates: {action: 0.5, steps: 0.5, score: 0.5}
        stages: [{until: 0.25, levels: [format, action]}, {until: 1.0, levels: [format, action, steps, score]}]
        schedule_by: progress
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hieroaction.train.config import ConfigError, HPLRunConfig, load_config

log = logging.getLogger("hieroaction.train")


@dataclass
class HPLSettings:
    """The ``hpl:`` section: GRPO sampling/optimisation settings and the reward configuration.

    Names follow trl's ``GRPOConfig``; anything else trl accepts goes through ``train.extra``.
    """

    num_generations: int = 4
    max_completion_length: int = 256
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int | None = None
    beta: float = 0.0
    epsilon: float = 0.2
    loss_type: str = "dapo"
    scale_rewards: str = "group"
    num_iterations: int = 1
    steps_per_generation: int | None = None
    mask_truncated_completions: bool = False
    log_completions: bool = False
    rewards: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> HPLSettings:
        data = dict(data or {})
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ConfigError(f"hpl: unknown key(s) {unknown}; allowed: {sorted(names)}")
        settings = cls(**data)
        if settings.num_generations < 2:
            raise ConfigError("hpl.num_generations must be >= 2 (GRPO compares answers within a group)")
        if settings.max_completion_length < 1:
            raise ConfigError("hpl.max_completion_length must be positive")
        return settings

    def reward_config(self):
        from hieroaction.rewards import RewardConfig

        try:
            return RewardConfig.from_dict(self.rewards)
        except (ValueError, TypeError, KeyError) as exc:
            raise ConfigError(f"hpl.rewards: {exc}") from None


# ---------------------------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------------------------


def prepare_hpl_datasets(config: HPLRunConfig) -> dict[str, Any]:
    """Samples -> frames -> prompt rows with the reward columns; quarantined samples are listed, never dropped.

    The score range of the score reward is ``data.score_range`` or the training split's (never the eval split's).
    """
    from hieroaction.train.data import build_rows, frame_settings, score_range_of, split_datasets

    data = config.data
    if not data.train:
        raise ConfigError("data.train: path of the training samples (JSONL/CSV) is required")
    settings = frame_settings(data.frames)
    score_range = None
    if data.score_range is not None:
        if len(data.score_range) != 2:
            raise ConfigError(f"data.score_range must be [min, max], got {data.score_range}")
        score_range = (float(data.score_range[0]), float(data.score_range[1]))

    def rows_for(split: str, ready):
        nonlocal score_range
        if split == "train" and score_range is None and ready:
            score_range = score_range_of(ready)  # the training split's, never the eval split's
        return build_rows(ready, with_target=False, with_prompt=True, score_range=score_range, settings=settings)

    result = split_datasets(data, rows_for)
    result["score_range"] = score_range
    return result


# ---------------------------------------------------------------------------------------------------------------
# Trainer
# ---------------------------------------------------------------------------------------------------------------


def build_grpo_args(config: HPLRunConfig, settings: HPLSettings, *, has_eval: bool):
    """trl ``GRPOConfig`` from our config (``train`` for optimisation/checkpoints, ``hpl`` for GRPO)."""
    import torch
    from trl import GRPOConfig

    train = config.train
    bf16 = train.bf16
    if bf16 is None:
        bf16 = bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    # Every TrainConfig field named like a TrainingArguments field passes through (so SFT and HPL stay in step).
    grpo_fields = {f.name for f in dataclasses.fields(GRPOConfig)}
    ours = {"resume", "min_free_disk_gb", "extra", "report_to", "bf16", "cpu_threads"}
    kwargs: dict[str, Any] = {
        f.name: getattr(train, f.name)
        for f in dataclasses.fields(train)
        if f.name in grpo_fields and f.name not in ours
    }
    kwargs.update(
        per_device_eval_batch_size=train.per_device_train_batch_size,
        save_strategy="steps",
        logging_first_step=True,
        data_seed=train.seed,
        bf16=bf16,
        report_to=list(train.report_to) or "none",
        remove_unused_columns=False,
        eval_strategy="steps" if has_eval else "no",
        eval_steps=train.save_steps if has_eval else None,
        # GRPO
        num_generations=settings.num_generations,
        max_completion_length=settings.max_completion_length,
        temperature=settings.temperature,
        top_p=settings.top_p,
        top_k=settings.top_k,
        beta=settings.beta,
        epsilon=settings.epsilon,
        loss_type=settings.loss_type,
        scale_rewards=settings.scale_rewards,
        num_iterations=settings.num_iterations,
        mask_truncated_completions=settings.mask_truncated_completions,
        log_completions=settings.log_completions,
    )
    if settings.steps_per_generation is not None:
        kwargs["steps_per_generation"] = settings.steps_per_generation
    kwargs.update(train.extra)
    try:
        return GRPOConfig(**kwargs)
    except ValueError as exc:  # e.g. a batch that is not a multiple of num_generations
        raise ConfigError(f"train/hpl: {exc}") from None


def start_model_info(path: str) -> dict[str, Any] | None:
    """The run info of the checkpoint HPL starts from (an SFT ``final``/``checkpoint-N`` folder), if it has one."""
    from hieroaction.train.checkpoints import RUN_INFO_FILE

    info = Path(path) / RUN_INFO_FILE
    if info.is_file():
        try:
            return json.loads(info.read_text())
        except ValueError:
            return None
    return None


def reward_means(log_history: list[dict[str, Any]]) -> dict[str, float]:
    """Mean over the logged training steps of every reward metric (``reward``, ``reward/<level>``, ...)."""
    sums: dict[str, list[float]] = {}
    for entry in log_history:
        for key, value in entry.items():
            if key.startswith(("reward", "rewards/")) and isinstance(value, int | float):
                sums.setdefault(key, []).append(float(value))
    return {k: sum(v) / len(v) for k, v in sorted(sums.items())}


def run_hpl(config: HPLRunConfig | str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Path:
    """Train with GRPO on the hierarchical rewards; returns the final model folder (``<output_dir>/final``)."""
    from hieroaction.train.sft import setup_logging

    setup_logging()
    if not isinstance(config, HPLRunConfig):
        config = load_config(config, HPLRunConfig, overrides)
    settings = HPLSettings.from_dict(config.hpl)
    reward_config = settings.reward_config()

    from hieroaction.rewards import HierarchicalReward
    from hieroaction.train.data import ClipLoader
    from hieroaction.train.run_setup import prepare_run, train_and_save
    from hieroaction.train.video_grpo import VideoGRPOTrainer

    args = build_grpo_args(config, settings, has_eval=bool(config.data.eval))
    run = prepare_run(
        "hpl",
        config,
        args,
        prepare_hpl_datasets,
        extra_info=lambda datasets: {
            "score_range": datasets["score_range"],
            "reward_config": reward_config.to_dict(),
            "start_model": config.model.path,
            "start_model_run": start_model_info(config.model.path),
        },
    )
    processor, callback, prepared, frames = run.processor, run.callback, run.datasets, run.frames
    reward = HierarchicalReward(reward_config)
    try:
        trainer = VideoGRPOTrainer(
            model=run.model,
            reward_funcs=[reward],
            args=args,
            train_dataset=prepared["train"],
            eval_dataset=prepared["eval"],
            processing_class=processor,
            callbacks=[callback],
            video_loader=ClipLoader(config.data.frames_dir, frames),
        )
    except ValueError as exc:  # trl's batch/generation consistency checks
        raise ConfigError(f"train/hpl: {exc}") from None
    plan = (
        f"{len(prepared['train'])} train samples, {args.max_steps} steps, {args.num_generations} generations per clip "
        f"(batch {args.per_device_train_batch_size} x accumulation {args.gradient_accumulation_steps} x "
        f"{args.world_size} processes), rewards {reward_config.mode}"
    )
    return train_and_save(
        trainer,
        run,
        config,
        "HPL (GRPO)",
        plan,
        extra_summary=lambda t: {"reward_means": reward_means(t.state.log_history)},
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m hieroaction.train.hpl",
        description="Hierarchical policy learning (GRPO on hierarchical rewards).",
    )
    parser.add_argument("--config", required=True, help="YAML config (see configs/train/hpl_*.yaml)")
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help="override, e.g. hpl.beta=0.04"
    )
    args = parser.parse_args(argv)
    from hieroaction.train.resources import TrainingResourceError

    try:
        run_hpl(args.config, args.overrides)
    except (ConfigError, TrainingResourceError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
