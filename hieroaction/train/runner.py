"""The training run both stages share: load and check the config, prepare data and model, plan the resources,
train, resume, save the final model. SFT and HPL supply only their rows, their trl arguments and their trainer.

Why one place: SFT and HPL must version their checkpoints the same way (config, data version, code version beside
the weights), load models the same way (target device and dtype), refuse a run that cannot finish before its first
step, and treat user errors the same way, so a fix to any of these reaches both stages.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from hieroaction.model.artifacts import FINAL_DIR, QUARANTINE_FILE, TRAINING_QUARANTINE_FILE, grammar_mismatch
from hieroaction.train.capacity import DiskPlan
from hieroaction.train.config import ConfigError, SFTRunConfig, check_inputs, load_config

log = logging.getLogger("hieroaction.train")
# TrainConfig fields the project interprets itself (or maps under another name) instead of passing to trl by name.
OWN_TRAIN_FIELDS = frozenset(
    {"resume", "min_free_disk_gb", "extra", "report_to", "bf16", "cpu_threads", "optimizer", "save_optimizer",
     "dataloader_num_workers", "keep_checkpoints", "weight_average", "answer_weights",
     "answer_noise", "answer_noise_until"}
)


def load_run_config(config, cls, overrides: list[str] | tuple[str, ...] = ()):
    """A checked run config from a config object or YAML file: values, then what they point at on disk."""
    if not isinstance(config, cls):
        config = load_config(config, cls, overrides)
    check_inputs(config)
    return config


def use_bf16(config: SFTRunConfig) -> bool:
    """Mixed precision on (bf16 autocast) when the config says so, else when the GPU supports bf16."""
    import torch

    if config.train.bf16 is not None:
        return config.train.bf16
    return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())


def loader_workers(config: SFTRunConfig) -> int:
    """Batch-building processes: default 4 on a GPU (collation off the training process), 0 on a CPU (the cores
    are the trainer's own there, and a worker per process only adds start-up time)."""
    import os

    import torch

    if config.train.dataloader_num_workers is not None:
        return config.train.dataloader_num_workers
    if not torch.cuda.is_available():
        return 0
    return max(0, min(4, (os.cpu_count() or 1) - 1))


def trainer_arguments(args_cls, config: SFTRunConfig, *, has_eval: bool, stage_fields: dict[str, Any]):
    """trl ``SFTConfig``/``GRPOConfig`` from our config, one way for both stages: every ``train`` field named like a
    field of ``args_cls`` passes by name; the rest are derived here; ``stage_fields`` adds the stage's own settings;
    ``train.extra`` comes last. trl's own consistency errors become :class:`ConfigError`."""
    import dataclasses

    import torch

    train = config.train
    accepted = {f.name for f in dataclasses.fields(args_cls)}
    kwargs: dict[str, Any] = {
        f.name: getattr(train, f.name)
        for f in dataclasses.fields(train)
        if f.name in accepted and f.name not in OWN_TRAIN_FIELDS
    }
    workers = loader_workers(config)
    cuda = torch.cuda.is_available()
    kwargs.update(
        per_device_eval_batch_size=train.per_device_train_batch_size,
        save_strategy="steps",
        save_only_model=not train.save_optimizer,
        logging_first_step=True,
        data_seed=train.seed,
        bf16=use_bf16(config),
        # without a GPU: CPU processes (gloo when launched with several); also what makes transformers see a
        # torchrun/accelerate launch on CPUs as distributed
        use_cpu=not cuda,
        dataloader_num_workers=workers,
        dataloader_pin_memory=cuda,
        dataloader_persistent_workers=workers > 0,
        report_to=list(train.report_to) or "none",
        remove_unused_columns=False,  # our collators/trainers read the sample columns themselves
        eval_strategy="steps" if has_eval else "no",
        eval_steps=train.save_steps if has_eval else None,
    )
    kwargs.update(stage_fields)
    kwargs.update(train.extra)
    try:
        return args_cls(**kwargs)
    except (ValueError, TypeError) as exc:  # e.g. a batch that is not a multiple of num_generations
        raise ConfigError(f"train/{'hpl' if 'num_generations' in stage_fields else 'sft'}: {exc}") from None


@dataclass
class PreparedRun:
    output_dir: Path
    config_yaml: str
    datasets: dict[str, Any]
    frames: Any
    run_info: dict[str, Any]
    model: Any
    processor: Any
    callback: Any
    quarantine: Any = None  # hieroaction.train.data.TrainingQuarantine: clips that fail to load while training


def prepare_run(
    kind: str,
    config,
    args,
    prepare_datasets: Callable[[Any], dict[str, Any]],
    extra_info: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> PreparedRun:
    """Extract frames and build rows (rank 0 first), record the run, load the start model, make the callback.

    ``prepare_datasets(config)`` returns at least ``train``, ``eval`` and ``quarantined``; quarantined rows are written
    to ``<output_dir>/`` :data:`~hieroaction.model.artifacts.QUARANTINE_FILE`, and clips that fail to load later, while
    training, to :data:`~hieroaction.model.artifacts.TRAINING_QUARANTINE_FILE` (``PreparedRun.quarantine``).
    ``extra_info(datasets)`` adds stage-specific fields to the run record.
    The model is loaded on this process's device in its training dtype (bf16 on a GPU, float32 on a CPU, or
    ``model.dtype``), never as a float32 copy the Trainer moves later.
    """
    import yaml

    from hieroaction.model.artifacts import code_version, table_version
    from hieroaction.model.loading import load_model
    from hieroaction.reasoning import GRAMMAR_VERSION
    from hieroaction.train.capacity import limit_cpu_threads
    from hieroaction.train.checkpoints import RunInfoCallback, is_rank_zero, library_versions
    from hieroaction.train.data import TrainingQuarantine, frame_settings

    limit_cpu_threads(config.train.cpu_threads)
    output_dir = Path(config.train.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    config_yaml = yaml.safe_dump(asdict(config), sort_keys=False)
    with args.main_process_first(desc="frame extraction and rows"):  # rank 0 extracts; the others then reuse
        datasets = prepare_datasets(config)
    if is_rank_zero():
        held_back = output_dir / QUARANTINE_FILE
        if datasets["quarantined"]:
            held_back.write_text("".join(json.dumps(q) + "\n" for q in datasets["quarantined"]))
        else:
            held_back.unlink(missing_ok=True)  # an earlier run's list would name samples this run kept
    frames = frame_settings(config.data.frames)
    version = config.data.version or table_version([config.data.train, config.data.eval], getattr(frames, "key", ""))
    run_info = {
        "kind": kind,
        "grammar": GRAMMAR_VERSION,  # the prompts and answers it learns: evaluation refuses another version
        "data_version": version,
        "code_version": code_version(),
        "libraries": library_versions(),
        "train_samples": len(datasets["train"]),
        "quarantined": len(datasets["quarantined"]),
        **(extra_info(datasets) if extra_info else {}),
    }
    m = config.model
    mismatch = grammar_mismatch(m.path)  # None for a folder without markers or a hub id
    if mismatch:
        raise ConfigError(f"model.path: {mismatch}")
    model, processor = load_model(
        m.path,
        lora=m.lora,
        freeze_vision=m.freeze_vision,
        dtype=m.dtype,
        device=str(args.device),
        attn_implementation=m.attn_implementation,
    )
    if config.train.gradient_checkpointing:
        model.config.use_cache = False
    run_info["world_size"] = args.world_size
    run_info["training_dtype"] = str(next(model.parameters()).dtype).removeprefix("torch.")
    callback = RunInfoCallback(run_info, config_yaml)
    quarantine = TrainingQuarantine(
        output_dir / TRAINING_QUARANTINE_FILE, {"train": datasets["train"], "eval": datasets["eval"]}
    )
    return PreparedRun(output_dir, config_yaml, datasets, frames, run_info, model, processor, callback, quarantine)


def attach_optimizer(trainer, config: SFTRunConfig) -> str:
    """Give the trainer the optimizer of the precision policy (see :mod:`hieroaction.train.optim`); returns its name."""
    from hieroaction.train.optim import optimizer_for

    name, cls_and_kwargs = optimizer_for(trainer.model, config.train.optimizer, trainer.args, config.train.sgd_momentum)
    if cls_and_kwargs is not None:
        trainer.optimizer_cls_and_kwargs = cls_and_kwargs
    return name


def attach_weight_average(trainer, config: SFTRunConfig, resume: str | None) -> None:
    """``train.weight_average``: the final model becomes the running average of the weights
    (:mod:`hieroaction.train.weight_average`). Sharded runs (FSDP, DeepSpeed) are refused: each rank would average
    its own shard and the checkpoints would hold rank 0's."""
    if config.train.weight_average is None:
        return
    from hieroaction.train.checkpoints import is_sharded
    from hieroaction.train.weight_average import WeightAverageCallback, WeightAverageSettings

    if is_sharded(trainer.args):
        raise ConfigError("train.weight_average: not supported with FSDP or DeepSpeed (sharded weights)")
    callback = WeightAverageCallback(WeightAverageSettings.from_mapping(config.train.weight_average))
    callback.resume_from = resume
    trainer.add_callback(callback)


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
        raise ConfigError(f"train.resume: checkpoint {resume} does not exist")
    return str(path)


def train_and_save(trainer, run: PreparedRun, config, stage: str, plan: str, extra_summary=None) -> Path:
    """Check every resource, resume if a checkpoint of this run exists, train, save the final model with its run
    record; returns its folder.

    ``plan`` describes the run for the log (samples, steps, batch); ``extra_summary(trainer)`` adds fields to the final
    model's run record (e.g. HPL's reward means). All resource checks (GPU memory for weights, gradients and
    optimizer states; disk for every checkpoint and the final model) run here, before step 1.
    """
    from hieroaction.train.capacity import explain_out_of_memory
    from hieroaction.train.checkpoints import is_rank_zero, write_run_info
    from hieroaction.train.data import read_training_quarantine

    optimizer = attach_optimizer(trainer, config)
    resume = resolve_resume(config)
    if config.train.optimizer_state and resume is None:  # a resumed run has its own moments
        from hieroaction.train.optim import start_from_moments

        try:
            optimizer += f" with the moments of {start_from_moments(trainer, config.train.optimizer_state)}"
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    in_training = run.output_dir / TRAINING_QUARANTINE_FILE
    if resume is None and is_rank_zero():
        in_training.unlink(missing_ok=True)  # a fresh start: an earlier run's failures are not this run's
    attach_weight_average(trainer, config, resume)
    disk = check_before_training(trainer, config, optimizer, resume)
    run.callback.checkpoint_bytes = disk.checkpoint_bytes
    run.callback.resume_from = resume
    log.info(
        "%s: %s, optimizer %s, output %s (disk plan: %s)%s",
        stage, plan, optimizer, run.output_dir, disk.describe(), f", resuming from {resume}" if resume else "",
    )
    with explain_out_of_memory(stage):
        trainer.train(resume_from_checkpoint=resume)

    final = run.output_dir / FINAL_DIR
    save_final_model(trainer, run.processor, final, disk.final_bytes)
    failed = read_training_quarantine(in_training)
    if failed:
        log.warning("%d samples quarantined while training (clips that no longer load): %s", len(failed), in_training)
    if trainer.args.should_save:
        summary = dict(run.run_info, global_step=trainer.state.global_step, quarantined_in_training=len(failed),
                       **(extra_summary(trainer) if extra_summary else {}))
        write_run_info(final, summary, run.config_yaml)
        if not config.train.keep_checkpoints:
            remove_checkpoints(run.output_dir)
    log.info("%s finished at step %d; final model in %s", stage.split(" ")[0], trainer.state.global_step, final)
    return final


def save_final_model(trainer, processor, final: Path, needed_bytes: int) -> None:
    """Save the trained model, in its training dtype, where ``load_model`` can read it; LoRA adapters are merged (the
    adapter is kept too). The space was planned before step 1; this check only catches a disk filled meanwhile."""
    from hieroaction.train.capacity import check_free_disk

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


def remove_checkpoints(output_dir: Path) -> None:
    """Delete the run's ``checkpoint-N`` folders once the final model is written (``train.keep_checkpoints: false``)."""
    import shutil

    from hieroaction.train.checkpoints import checkpoint_step

    for path in sorted(output_dir.iterdir()):
        if path.is_dir() and checkpoint_step(path) is not None:
            shutil.rmtree(path)
            log.info("removed %s (train.keep_checkpoints is false)", path)


def planned_steps(trainer) -> int:
    args = trainer.args
    if args.max_steps and args.max_steps > 0:
        return int(args.max_steps)
    import math

    per_step = args.per_device_train_batch_size * args.gradient_accumulation_steps * max(1, args.world_size)
    return int(math.ceil(len(trainer.train_dataset) / per_step) * args.num_train_epochs)


def plan_disk(trainer, optimizer: str, resume: str | None, *, weight_average: bool = False) -> DiskPlan:
    """The disk plan of a built trainer: its model, its save schedule, and the checkpoints already in its folder
    (each checkpoint also holds the weight average when ``weight_average``)."""
    from hieroaction.train.capacity import checkpoint_bytes, final_model_bytes
    from hieroaction.train.checkpoints import checkpoint_step
    from hieroaction.train.weight_average import average_bytes

    args = trainer.args
    model = trainer.model
    ckpt = checkpoint_bytes(model, optimizer, with_optimizer=not args.save_only_model)
    if weight_average:
        ckpt += average_bytes(model)
    start = 0
    if resume:
        start = checkpoint_step(Path(resume)) or 0
    steps = planned_steps(trainer)
    saves = max(0, steps // args.save_steps - start // args.save_steps) + (1 if steps % args.save_steps else 0)
    existing = [p for p in Path(args.output_dir).glob("checkpoint-*") if p.is_dir() and checkpoint_step(p) is not None]
    existing_bytes = sum(f.stat().st_size for p in existing for f in p.rglob("*") if f.is_file())
    return DiskPlan(ckpt, final_model_bytes(model), saves, args.save_total_limit, len(existing), existing_bytes)


def check_before_training(trainer, config, optimizer: str, resume: str | None) -> DiskPlan:
    """Every resource check, before step 1: GPU memory for weights, gradients, optimizer states and the weight
    average, and disk for every checkpoint and the final model (``train.min_free_disk_gb`` overrides the computed
    need)."""
    from hieroaction.train.capacity import GIB, check_free_disk, check_gpu_memory
    from hieroaction.train.weight_average import average_bytes

    averaged = config.train.weight_average is not None
    check_gpu_memory(trainer.model, optimizer, extra_bytes=average_bytes(trainer.model) if averaged else 0,
                     extra_what="the weight average" if averaged else "")
    plan = plan_disk(trainer, optimizer, resume, weight_average=averaged)
    if trainer.args.should_save:
        minimum = config.train.min_free_disk_gb
        needed = plan.peak_bytes if minimum is None else int(minimum * GIB)
        check_free_disk(trainer.args.output_dir, needed, what=f"this run ({plan.describe()})")
    return plan
