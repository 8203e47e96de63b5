"""Supervised fine-tuning (the cold start): teach the model the answer grammar on (video, prompt, target) rows.

Run in-process (``run_sft(config)``), as a module (``python -m hieroaction.train.sft --config FILE``) or on several
processes/GPUs (``accelerate launch --config_file configs/accelerate/ddp.yaml -m hieroaction.train.sft --config FILE``).
Checkpoints every ``train.save_steps`` steps with the config, data version and code version beside the weights; a
rerun with the same ``output_dir`` resumes from the last complete checkpoint and stops at the same ``max_steps``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from hieroaction.train.config import SFTRunConfig

DESCRIPTION = "Supervised fine-tuning."


def sft_trainer_class():
    """trl's SFTTrainer, resuming full-model checkpoints through ``from_pretrained``'s key mapping.

    (transformers 5's Trainer would load them with a plain ``load_state_dict`` that matches no key of Qwen2.5-VL and
    silently keeps the initial weights; see :func:`hieroaction.train.checkpoints.restore_checkpoint_weights`.)
    """
    from trl import SFTTrainer

    from hieroaction.train.checkpoints import restore_checkpoint_weights

    class HieroSFTTrainer(SFTTrainer):
        noise_until_step: int | None = None  # train.answer_noise_until: from this step on, the gold inputs
        award_loss: float | None = None  # train.award_loss: the weight of the awards' squared error
        _number_ids: list[int] | None = None  # the award numbers' token ids, set with award_loss by run_sft

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            """trl's loss (or the weighted one) plus, with ``award_positions`` in the batch (``train.award_loss``),
            the awards' ordinal loss read from the same forward pass."""
            positions, targets = inputs.pop("award_positions", None), inputs.pop("award_targets", None)
            if positions is None or not self.award_loss:
                return self.answer_loss(model, inputs, return_outputs, num_items_in_batch)
            from hieroaction.train.award_loss import award_value_loss, final_hidden_states

            unwrapped = self.accelerator.unwrap_model(model)
            with final_hidden_states(unwrapped) as held:
                result = self.answer_loss(model, inputs, return_outputs, num_items_in_batch)
            loss, outputs = result if return_outputs else (result, None)
            award = award_value_loss(held["hidden"], unwrapped.get_output_embeddings().weight,
                                     positions.to(loss.device), targets.to(loss.device), self._number_ids)
            self._metrics["train" if model.training else "eval"]["award_loss"].append(award.item())
            loss = loss + self.award_loss * award / self.accumulation_share(num_items_in_batch)
            return (loss, outputs) if return_outputs else loss

        def accumulation_share(self, num_items_in_batch) -> int:
            """What a per-micro-batch mean is divided by to match the cross-entropy: transformers divides the loss by
            the accumulation steps itself unless the loss was already normalized over the whole accumulated batch
            (trl's, given ``num_items_in_batch``), and then an added mean must be divided here."""
            scaled = getattr(self, "loss_is_scaled_for_ga", None)
            if scaled is None:
                scaled = (self.model_accepts_loss_kwargs and num_items_in_batch is not None) or (
                    self.compute_loss_func is not None)
            return getattr(self, "current_gradient_accumulation_steps", 1) if scaled else 1

        def answer_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            """trl's loss, or with ``label_weights`` in the batch (``train.answer_weights``) the weighted one; on the
            gold inputs once ``train.answer_noise_until``'s step is reached."""
            clean = inputs.pop("clean_input_ids", None)
            if clean is not None and self.noise_until_step is not None and self.state.global_step >= self.noise_until_step:
                inputs["input_ids"] = clean
            weights = inputs.pop("label_weights", None)
            if weights is None:
                return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            from hieroaction.train.answer_weights import weighted_answer_loss

            outputs = model(**inputs, use_cache=False, fused_lm_head=True)
            loss = weighted_answer_loss(outputs.log_probs, outputs.label_mask, weights, num_items_in_batch)
            if self.args.average_tokens_across_devices and num_items_in_batch is not None:
                loss = loss * self.accelerator.num_processes  # as trl: DDP averages what each rank divided by all
            return (loss, outputs) if return_outputs else loss

        def get_eval_dataloader(self, eval_dataset=None):
            """The evaluation reads the gold answers: ``train.answer_noise`` is a training input, not a test one."""
            collator = self.data_collator
            if not getattr(collator, "answer_noise", 0):
                return super().get_eval_dataloader(eval_dataset)
            self.data_collator = collator.without_noise()
            try:
                return super().get_eval_dataloader(eval_dataset)
            finally:
                self.data_collator = collator

        def _load_from_checkpoint(self, resume_from_checkpoint, model=None):
            target = model if model is not None else self.model
            sharded = self.is_fsdp_enabled or self.is_deepspeed_enabled
            if sharded or not restore_checkpoint_weights(target, resume_from_checkpoint):
                super()._load_from_checkpoint(resume_from_checkpoint, model)

    return HieroSFTTrainer


def prepare_datasets(config: SFTRunConfig) -> dict[str, Any]:
    """Samples -> frames -> rows -> ``datasets.Dataset``s, with quarantined samples listed (never dropped silently)."""
    from hieroaction.train.data import build_rows, frame_settings, split_datasets

    settings = frame_settings(config.data.frames)
    return split_datasets(config.data, lambda split, ready: build_rows(ready, with_target=True, settings=settings))


def build_sft_args(config: SFTRunConfig, *, has_eval: bool):
    """trl ``SFTConfig``: the shared mapping plus what keeps trl from re-tokenizing or truncating the rows (the
    collator does it, video tokens included)."""
    from trl import SFTConfig

    from hieroaction.train.runner import trainer_arguments

    return trainer_arguments(
        SFTConfig,
        config,
        has_eval=has_eval,
        stage_fields={"dataset_kwargs": {"skip_prepare_dataset": True}, "max_length": None, "packing": False},
    )


def run_sft(config: SFTRunConfig | str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Path:
    """Train with SFT; returns the folder of the final model (``<output_dir>/final``, loadable with ``load_model``)."""
    from hieroaction.train.entry import setup_logging
    from hieroaction.train.runner import load_run_config

    setup_logging()
    config = load_run_config(config, SFTRunConfig, overrides)

    from hieroaction.train.data import ClipLoader, PromptBuilder, VideoSFTCollator
    from hieroaction.train.runner import prepare_run, train_and_save

    args = build_sft_args(config, has_eval=bool(config.data.eval))
    run = prepare_run("sft", config, args, prepare_datasets)
    processor, callback, prepared = run.processor, run.callback, run.datasets
    collator = VideoSFTCollator(
        processor,
        ClipLoader(config.data.frames_dir, run.frames),
        PromptBuilder(run.frames),
        quarantine=run.quarantine,
        answer_weights=config.train.answer_weights,
        answer_noise=config.train.answer_noise,
        noise_seed=config.train.seed,
        clean_copy=config.train.answer_noise_until < 1,
        award_targets=bool(config.train.award_loss),
    )
    trainer = sft_trainer_class()(
        model=run.model,
        args=args,
        train_dataset=prepared["train"],
        eval_dataset=prepared["eval"],
        processing_class=processor,
        data_collator=collator,
        callbacks=[callback],
    )
    if config.train.award_loss:  # a tokenizer without one token per award number is refused before step 1
        from hieroaction.train.award_loss import number_token_ids
        from hieroaction.train.config import ConfigError

        try:
            trainer._number_ids = number_token_ids(processor.tokenizer)
        except ValueError as exc:
            raise ConfigError(f"{config.model.path}: {exc}") from None
        trainer.award_loss = config.train.award_loss
    if collator.clean_copy:
        from hieroaction.train.answer_noise import noise_until_step

        trainer.noise_until_step = noise_until_step(config.train.answer_noise_until, args.max_steps)
    plan = (
        f"{len(prepared['train'])} train samples, {args.max_steps} steps (batch {args.per_device_train_batch_size} x "
        f"accumulation {args.gradient_accumulation_steps} x {args.world_size} processes, "
        f"{args.dataloader_num_workers} loader workers)"
    )
    return train_and_save(trainer, run, config, "SFT", plan)


def main(argv: list[str] | None = None) -> int:
    from hieroaction.train.entry import main as stage_main

    return stage_main("sft", DESCRIPTION, run_sft, argv)


if __name__ == "__main__":
    sys.exit(main())
