"""What every training entry point does before it builds its trainer: data, run record, model, checkpoint callback.

Why one place: SFT and HPL must version their checkpoints the same way (config, data version, code version beside
the weights) and load models the same way, so a fix to either reaches both stages.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


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


def prepare_run(
    kind: str,
    config,
    args,
    prepare_datasets: Callable[[Any], dict[str, Any]],
    extra_info: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> PreparedRun:
    """Extract frames and build rows (rank 0 first), record the run, load the start model, make the callback.

    ``prepare_datasets(config)`` returns at least ``train``, ``eval`` and ``quarantined``; quarantined rows are written
    to ``<output_dir>/quarantined.jsonl``. ``extra_info(datasets)`` adds stage-specific fields to the run record.
    """
    import yaml

    from hieroaction.model.loading import load_model
    from hieroaction.train.checkpoints import RunInfoCallback, code_version, is_rank_zero, library_versions
    from hieroaction.train.data import data_version, frame_settings
    from hieroaction.train.resources import checkpoint_bytes, limit_cpu_threads

    limit_cpu_threads(config.train.cpu_threads)
    output_dir = Path(config.train.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    config_yaml = yaml.safe_dump(asdict(config), sort_keys=False)
    with args.main_process_first(desc="frame extraction and rows"):  # rank 0 extracts; the others then reuse
        datasets = prepare_datasets(config)
    if datasets["quarantined"] and is_rank_zero():
        (output_dir / "quarantined.jsonl").write_text("".join(json.dumps(q) + "\n" for q in datasets["quarantined"]))
    frames = frame_settings(config.data.frames)
    version = config.data.version or data_version([config.data.train, config.data.eval], getattr(frames, "key", ""))
    run_info = {
        "kind": kind,
        "data_version": version,
        "code_version": code_version(),
        "libraries": library_versions(),
        "train_samples": len(datasets["train"]),
        "quarantined": len(datasets["quarantined"]),
        **(extra_info(datasets) if extra_info else {}),
    }
    m = config.model
    model, processor = load_model(
        m.path,
        lora=m.lora,
        freeze_vision=m.freeze_vision,
        dtype=m.dtype,
        device="cpu",  # the Trainer moves it to this process's device
        attn_implementation=m.attn_implementation,
    )
    if config.train.gradient_checkpointing:
        model.config.use_cache = False
    run_info["world_size"] = args.world_size
    min_free = None if config.train.min_free_disk_gb is None else int(config.train.min_free_disk_gb * 1024**3)
    callback = RunInfoCallback(run_info, config_yaml, checkpoint_bytes(model), min_free)
    return PreparedRun(output_dir, config_yaml, datasets, frames, run_info, model, processor, callback)


def train_and_save(trainer, run: PreparedRun, config, stage: str, plan: str, extra_summary=None) -> Path:
    """Resume if a checkpoint of this run exists, train, save the final model with its run record; returns it.

    ``plan`` describes the run for the log (samples, steps, batch); ``extra_summary(trainer)`` adds fields to the final
    model's run record (e.g. HPL's reward means).
    """
    import logging

    from hieroaction.train.checkpoints import write_run_info
    from hieroaction.train.resources import check_gpu_memory, explain_out_of_memory
    from hieroaction.train.sft import FINAL_DIR, resolve_resume, save_final_model

    log = logging.getLogger("hieroaction.train")
    check_gpu_memory(trainer.model)
    resume = resolve_resume(config)
    run.callback.resume_from = resume
    log.info("%s: %s, output %s%s", stage, plan, run.output_dir, f", resuming from {resume}" if resume else "")
    with explain_out_of_memory(stage):
        trainer.train(resume_from_checkpoint=resume)

    final = run.output_dir / FINAL_DIR
    save_final_model(trainer, run.processor, final, run.callback.needed)
    if trainer.args.should_save:
        summary = dict(run.run_info, global_step=trainer.state.global_step, **(extra_summary(trainer) if extra_summary else {}))
        write_run_info(final, summary, run.config_yaml)
    log.info("%s finished at step %d; final model in %s", stage.split(" ")[0], trainer.state.global_step, final)
    return final
