"""Supervised fine-tuning (the cold start): teach the model the answer grammar on (video, prompt, target) rows.

Run in-process (``run_sft(config)``), as a module (``python -m hieroaction.train.sft --config FILE``) or on several
processes/GPUs (``accelerate launch --config_file configs/accelerate/ddp.yaml -m hieroaction.train.sft --config FILE``).
Checkpoints every ``train.save_steps`` steps with the config, data version and code version beside the weights; a
rerun with the same ``output_dir`` resumes from the last complete checkpoint and stops at the same ``max_steps``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from hieroaction.train.config import SFTRunConfig, load_config

log = logging.getLogger("hieroaction.train")

FINAL_DIR = "final"


def setup_logging(level: int = logging.INFO) -> None:
    """One readable line per event, with the process rank when distributed."""
    import os

    rank = os.environ.get("RANK")
    prefix = f"[rank {rank}] " if rank is not None and os.environ.get("WORLD_SIZE", "1") != "1" else ""
    root = logging.getLogger()
    if not any(getattr(h, "_hieroaction", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(f"%(asctime)s {prefix}%(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
        handler._hieroaction = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("httpx", "urllib3", "filelock"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def sft_trainer_class():
    """trl's SFTTrainer, resuming full-model checkpoints through ``from_pretrained``'s key mapping.

    (transformers 5's Trainer would load them with a plain ``load_state_dict`` that matches no key of Qwen2.5-VL and
    silently keeps the initial weights; see :func:`hieroaction.train.checkpoints.restore_checkpoint_weights`.)
    """
    from trl import SFTTrainer

    from hieroaction.train.checkpoints import restore_checkpoint_weights

    class HieroSFTTrainer(SFTTrainer):
        def _load_from_checkpoint(self, resume_from_checkpoint, model=None):
            target = model if model is not None else self.model
            sharded = self.is_fsdp_enabled or self.is_deepspeed_enabled
            if sharded or not restore_checkpoint_weights(target, resume_from_checkpoint):
                super()._load_from_checkpoint(resume_from_checkpoint, model)

    return HieroSFTTrainer


def prepare_datasets(config: SFTRunConfig) -> dict[str, Any]:
    """Samples -> frames -> rows -> ``datasets.Dataset``s, with quarantined samples listed (never dropped silently)."""
    from hieroaction.train.data import build_rows, frame_settings, split_datasets

    data = config.data
    if not data.train:
        raise ValueError("config data.train: path of the training samples (JSONL/CSV) is required")
    settings = frame_settings(data.frames)
    return split_datasets(data, lambda split, ready: build_rows(ready, with_target=True, settings=settings))


def build_sft_args(config: SFTRunConfig, *, has_eval: bool):
    """trl ``SFTConfig`` from our config. ``skip_prepare_dataset``/``remove_unused_columns=False``/``max_length=None``
    keep trl from re-tokenizing or truncating the rows (the collator does it, video tokens included)."""
    import torch
    from trl import SFTConfig

    train = config.train
    bf16 = train.bf16
    if bf16 is None:
        bf16 = bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    kwargs: dict[str, Any] = dict(
        output_dir=train.output_dir,
        max_steps=train.max_steps,
        num_train_epochs=train.num_train_epochs,
        per_device_train_batch_size=train.per_device_train_batch_size,
        per_device_eval_batch_size=train.per_device_train_batch_size,
        gradient_accumulation_steps=train.gradient_accumulation_steps,
        learning_rate=train.learning_rate,
        lr_scheduler_type=train.lr_scheduler_type,
        warmup_steps=train.warmup_steps,
        weight_decay=train.weight_decay,
        max_grad_norm=train.max_grad_norm,
        save_strategy="steps",
        save_steps=train.save_steps,
        save_total_limit=train.save_total_limit,
        logging_steps=train.logging_steps,
        logging_first_step=True,
        seed=train.seed,
        data_seed=train.seed,
        bf16=bf16,
        # without a GPU: CPU processes (gloo when launched with several); also what makes transformers see a
        # torchrun/accelerate launch on CPUs as distributed
        use_cpu=not torch.cuda.is_available(),
        gradient_checkpointing=train.gradient_checkpointing,
        dataloader_num_workers=train.dataloader_num_workers,
        report_to=list(train.report_to) or "none",
        disable_tqdm=train.disable_tqdm,
        remove_unused_columns=False,
        dataset_kwargs={"skip_prepare_dataset": True},
        max_length=None,
        packing=False,
        eval_strategy="steps" if has_eval else "no",
        eval_steps=train.save_steps if has_eval else None,
    )
    kwargs.update(train.extra)
    return SFTConfig(**kwargs)


def resolve_resume(config: SFTRunConfig) -> str | None:
    from hieroaction.train.checkpoints import find_resume_checkpoint

    resume = config.train.resume
    if resume == "never":
        return None
    if resume == "auto":
        found = find_resume_checkpoint(config.train.output_dir)
        return str(found) if found else None
    path = Path(resume)
    if not path.is_dir():
        raise ValueError(f"config train.resume: checkpoint {resume} does not exist")
    return str(path)


def run_sft(config: SFTRunConfig | str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Path:
    """Train with SFT; returns the folder of the final model (``<output_dir>/final``, loadable with ``load_model``)."""
    setup_logging()
    if not isinstance(config, SFTRunConfig):
        config = load_config(config, SFTRunConfig, overrides)

    from hieroaction.train.data import ClipLoader, PromptBuilder, VideoSFTCollator
    from hieroaction.train.run_setup import prepare_run, train_and_save

    args = build_sft_args(config, has_eval=bool(config.data.eval))
    run = prepare_run("sft", config, args, prepare_datasets)
    processor, callback, prepared = run.processor, run.callback, run.datasets
    collator = VideoSFTCollator(processor, ClipLoader(config.data.frames_dir, run.frames), PromptBuilder(run.frames))
    trainer = sft_trainer_class()(
        model=run.model,
        args=args,
        train_dataset=prepared["train"],
        eval_dataset=prepared["eval"],
        processing_class=processor,
        data_collator=collator,
        callbacks=[callback],
    )
    plan = (
        f"{len(prepared['train'])} train samples, {args.max_steps} steps (batch {args.per_device_train_batch_size} x "
        f"accumulation {args.gradient_accumulation_steps} x {args.world_size} processes)"
    )
    return train_and_save(trainer, run, config, "SFT", plan)


def save_final_model(trainer, processor, final: Path, needed_bytes: int) -> None:
    """Save the trained model where ``load_model`` can read it; LoRA adapters are merged (the adapter is kept too)."""
    from hieroaction.train.resources import check_free_disk

    trainer.accelerator.wait_for_everyone()
    if not trainer.args.should_save:
        return
    check_free_disk(final.parent, needed_bytes, what="the final model")
    model = trainer.accelerator.unwrap_model(trainer.model)
    if hasattr(model, "merge_and_unload"):  # peft
        model.save_pretrained(str(final / "adapter"))
        model = model.merge_and_unload()
    model.save_pretrained(str(final))
    processor.save_pretrained(str(final))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hieroaction.train.sft", description="Supervised fine-tuning.")
    parser.add_argument("--config", required=True, help="YAML config (see configs/train/sft_*.yaml)")
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help="override, e.g. train.max_steps=10"
    )
    args = parser.parse_args(argv)
    run_sft(args.config, args.overrides)
    return 0


if __name__ == "__main__":
    sys.exit(main())
