"""Hierarchical Policy Learning: GRPO on the hierarchical rewards, starting from the SFT model.

The policy generates ``num_generations`` answers per clip; :class:`~hieroaction.rewards.HierarchicalReward` scores
each one level by level (format -> action -> sub-actions -> score, with the gates, weights and stage schedule of the
``hpl.rewards`` config) and GRPO moves the policy toward the better answers of each group. The video reaches every
log-prob pass through :class:`~hieroaction.train.video_grpo.VideoGRPOTrainer` (trl alone trains on the text only).

Run in-process (``run_hpl(config)``), as a module (``python -m hieroaction.train.hpl --config FILE``) or distributed
(``accelerate launch --config_file configs/accelerate/ddp.yaml -m hieroaction.train.hpl --config FILE``). Checkpoints
every ``train.save_steps`` with the config, data version and code version beside the weights; a rerun with the same
``output_dir`` resumes from the last complete checkpoint and stops at the same ``max_steps``.

``hpl:`` section of the YAML (all optional; see :class:`hieroaction.train.config.HPLSettings`)::

    hpl:
      num_generations: 4
      max_completion_length: 256
      temperature: 1.0
      beta: 0.0                # KL to the starting (SFT) model; > 0 keeps a reference model
      fast_generation: false   # true: hieroaction.model.fast_generation instead of HF generate (same tokens)
      credit: sequence         # or level: each token's advantage from the levels it decides (rewards/credit.py)
      baseline: group          # or greedy: compare each sampled answer with the clip's greedy answer (fast_generation)
      sft_weight: 0.0          # > 0: plus this x the SFT loss of each clip's gold answer
      rewards:                 # hieroaction.rewards.RewardConfig
        mode: hierarchical     # or flat (the ablation)
        weights: {format: 0.1, action: 0.3, steps: 0.3, score: 0.3}
        gates: {action: 0.5, steps: 0.5, score: 0.5}
        stages: [{until: 0.25, levels: [format, action]}, {until: 1.0, levels: [format, action, steps, score]}]
        schedule_by: progress
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from hieroaction.train.config import ConfigError, HPLRunConfig, HPLSettings

DESCRIPTION = "Hierarchical policy learning (GRPO on hierarchical rewards)."

__all__ = ["HPLSettings", "build_grpo_args", "prepare_hpl_datasets", "run_hpl"]


def prepare_hpl_datasets(config: HPLRunConfig) -> dict[str, Any]:
    """Samples -> frames -> prompt rows with the reward columns; quarantined samples are listed, never dropped.

    The score range of the score reward is ``data.score_range`` or the training split's (never the eval split's).
    """
    from hieroaction.train.data import build_rows, frame_settings, score_range_of, split_datasets

    data = config.data
    settings = frame_settings(data.frames)
    score_range = None
    if data.score_range is not None:  # checked as [min, max] when the config was loaded
        score_range = (float(data.score_range[0]), float(data.score_range[1]))

    train_samples = []

    def rows_for(split: str, ready):
        nonlocal score_range
        if split == "train":
            train_samples.extend(ready)
            if score_range is None and ready:
                score_range = score_range_of(ready)  # the training split's, never the eval split's
        with_target = config.hpl.sft_weight > 0  # the gold answers of the SFT term
        return build_rows(ready, with_target=with_target, with_prompt=True, score_range=score_range,
                          settings=settings)

    result = split_datasets(data, rows_for)
    result["score_range"] = score_range
    result["train_samples"] = train_samples  # for the completion-length check against their targets
    return result


def build_grpo_args(config: HPLRunConfig, settings: HPLSettings | None = None, *, has_eval: bool):
    """trl ``GRPOConfig``: the shared mapping plus every ``hpl`` setting, by name."""
    from trl import GRPOConfig

    from hieroaction.train.runner import trainer_arguments

    settings = settings or config.hpl
    return trainer_arguments(GRPOConfig, config, has_eval=has_eval, stage_fields=settings.grpo_fields())


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
    from hieroaction.train.entry import setup_logging
    from hieroaction.train.runner import load_run_config

    setup_logging()
    config = load_run_config(config, HPLRunConfig, overrides)
    reward_config = config.hpl.reward_config()

    from hieroaction.rewards import HierarchicalReward
    from hieroaction.train.answer_budget import check_generation_limit, longest_target
    from hieroaction.train.data import ClipLoader
    from hieroaction.train.runner import prepare_run, train_and_save
    from hieroaction.train.video_grpo import VideoGRPOTrainer

    args = build_grpo_args(config, has_eval=bool(config.data.eval))
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
    if config.hpl.allow_cut_answers:
        longest = longest_target(prepared["train_samples"], processor.tokenizer)
    else:
        longest = check_generation_limit(prepared["train_samples"], processor.tokenizer, args.max_completion_length,
                                         "hpl.max_completion_length")
    run.run_info["longest_target_tokens"] = longest.tokens if longest else None
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
            video_quarantine=run.quarantine,
            fast_generation=config.hpl.fast_generation,
            credit=config.hpl.credit,
            baseline=config.hpl.baseline,
            sft_weight=config.hpl.sft_weight,
        )
    except ValueError as exc:  # trl's batch/generation consistency checks
        raise ConfigError(f"train/hpl: {exc}") from None
    plan = (
        f"{len(prepared['train'])} train samples, {args.max_steps} steps, {args.num_generations} generations per clip "
        f"(batch {args.per_device_train_batch_size} x accumulation {args.gradient_accumulation_steps} x "
        f"{args.world_size} processes), rewards {reward_config.mode}, generation "
        f"{'hpl.fast_generation' if config.hpl.fast_generation else 'transformers generate'}"
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
    from hieroaction.train.entry import main as stage_main

    return stage_main("hpl", DESCRIPTION, run_hpl, argv)


if __name__ == "__main__":
    sys.exit(main())
