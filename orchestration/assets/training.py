"""Training assets: SFT, then HPL, both outside the orchestrator process through Dagster Pipes, then promotion.

The command is ``accelerate launch -m orchestration.pipes_train sft|hpl --config <yaml>`` (or the same in a pod via
``PipesK8sClient``); logs and per-step metrics stream back into the run. A failed attempt is retried (the library
resumes from its last complete checkpoint in the same output folder).
"""

import os
import shutil
from pathlib import Path
from typing import Any

import dagster as dg
import yaml

from orchestration.assets.reasoning import read_splits, reasoning_targets
from orchestration.config import PromotionConfig, TrainStageConfig
from orchestration.evaluation import HEADLINE, evaluate_systems, system_summary
from orchestration.metadata import markdown_table
from orchestration.pipes_messages import WholeLineMessageReader
from orchestration.resources import DvcResource, FrameSettingsResource, StorageResource, TrainingResource

OWNERS = ["team:hieroaction-ml"]
TRAIN_RETRY = dg.RetryPolicy(max_retries=1, delay=30, backoff=dg.Backoff.EXPONENTIAL)
PROMOTED_DIR = "promoted"
REPO_ROOT = Path(__file__).resolve().parents[2]


def final_dir(storage: StorageResource, stage: str) -> Path:
    """Where ``run_sft`` / ``run_hpl`` leave the final model (``<output_dir>/final``)."""
    from hieroaction.model.artifacts import FINAL_DIR

    return storage.stage_dir(stage) / FINAL_DIR


def base_config(stage: str, preset: str) -> dict[str, Any]:
    """The shipped YAML for this stage and preset (``configs/train/<stage>_<preset>.yaml``), if there is one."""
    candidate = REPO_ROOT / "configs" / "train" / f"{stage}_{preset}.yaml"
    return (yaml.safe_load(candidate.read_text(encoding="utf-8")) or {}) if candidate.is_file() else {}


def write_stage_config(
    stage: str,
    storage: StorageResource,
    training: TrainingResource,
    frame_settings: FrameSettingsResource,
    run: TrainStageConfig,
    start_model: str,
    data_version: str,
) -> Path:
    """The training YAML for this run (``hieroaction.train.stage_config``: the shipped preset config pointed at this
    pipeline's tables and frames, then ``run.extra`` as ``--set`` overrides), validated before anything launches."""
    from hieroaction.train.config import save_config
    from hieroaction.train.stage_config import StageInputs, stage_config

    settings = frame_settings.settings()
    inputs = StageInputs(
        train_table=storage.split_table("train"),
        frames_dir=storage.frames_dir,
        media_root=storage.raw_dir,
        frames={"sampler": settings.sampler, "count": settings.count, "size": frame_settings.size},
        data_version=data_version,
        output_dir=storage.stage_dir(stage),
        start_model=start_model,
    )
    config = stage_config(stage, inputs, base=base_config(stage, training.preset), max_steps=run.max_steps,
                          learning_rate=run.learning_rate or None, overrides=run.overrides())
    path = storage.stage_dir(stage).with_suffix(".yaml")
    path.parent.mkdir(parents=True, exist_ok=True)
    save_config(config, path)
    return path


def launch(context, stage: str, config_path: Path, training: TrainingResource, storage: StorageResource):
    """Run one training stage under Pipes; returns the metadata the training process reported."""
    command = training.command(stage, config_path)
    context.log.debug(f"launching: {training.command_line(stage, config_path)}")
    raw = "the pod's log" if training.launcher == "k8s" else storage.stage_dir(stage) / "train.log"
    context.log.info(f"{stage}: {training.launcher} launch, {training.num_processes} process(es) on {training.device}; "
                     f"raw output in {raw}")
    extras = {"stage": stage, "config": str(config_path)}
    if training.launcher == "k8s":
        from orchestration.k8s import run_training_pod

        invocation = run_training_pod(context, command, training.k8s_gpus, {}, extras)
    else:
        log = storage.stage_dir(stage) / "train.log"  # the process's raw output; the console gets Pipes lines
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "TOKENIZERS_PARALLELISM": "false", "TQDM_DISABLE": "1",
               "HF_HUB_DISABLE_PROGRESS_BARS": "1", "HIEROACTION_TRAIN_LOG": str(log)}
        if training.device == "cpu":
            env["CUDA_VISIBLE_DEVICES"] = ""
        client = dg.PipesSubprocessClient(cwd=str(storage.root), env=env, message_reader=WholeLineMessageReader())
        try:
            invocation = client.run(context=context, command=command, extras=extras)
        except Exception:
            context.log.error(f"{stage} failed; its full output: {log}")
            raise
    metadata: dict[str, Any] = {}
    for result in invocation.get_results():
        metadata.update(getattr(result, "metadata", None) or {})
    metrics = [m for m in invocation.get_custom_messages() if isinstance(m, dict) and m.get("kind") == "metrics"]
    return metadata, metrics


def loss_table(metrics: list[dict]) -> dg.MetadataValue:
    keys = ["step", "loss", "reward", "learning_rate", "grad_norm"]
    rows = [{k: m.get(k) for k in keys if any(k in r for r in metrics)} for m in metrics[-20:]]
    return dg.MetadataValue.md(markdown_table(rows) if rows else "_no metrics logged_")


def claim_stage_dir(context, storage: StorageResource, stage: str) -> Path:
    """Give this run a clean stage folder, keeping it only across retries of the same run.

    Why: training resumes from the newest checkpoint in its output folder (right after a crash or SIGKILL), but a
    new materialization starts from new data or a new SFT model: resuming another run's checkpoint would silently
    train the wrong weights. Stage folders are derived outputs; promoted checkpoints are versioned by DVC.
    """
    directory = storage.stage_dir(stage)
    owner = directory / ".dagster_run_id"
    if directory.exists() and (not owner.is_file() or owner.read_text().strip() != context.run_id):
        context.log.info(f"{stage}: {directory} belongs to another run; starting fresh")
        shutil.rmtree(directory)
    directory.mkdir(parents=True, exist_ok=True)
    owner.write_text(context.run_id)
    return directory


def _train_and_evaluate(context, stage, run, start_model, storage, dvc, training, frame_settings):
    claim_stage_dir(context, storage, stage)
    data = dvc.version("data")
    data_md5 = data.md5 if data else "untracked"
    config_path = write_stage_config(stage, storage, training, frame_settings, run, start_model, data_md5)
    reported, metrics = launch(context, stage, config_path, training, storage)
    final = final_dir(storage, stage)
    if not (final / "config.json").is_file():
        raise FileNotFoundError(f"{stage}: training finished but wrote no model at {final}")
    val = evaluate_systems({stage: final}, read_splits(storage, ("train", "val")), storage, frame_settings,
                           split="val", out_dir=storage.stage_dir(stage) / "val_report", data_version=data_md5,
                           max_new_tokens=training.eval_max_new_tokens)
    summary = system_summary(val, stage)
    shown = ", ".join(f"{k} {summary[k]:.3f}" for k in ("srcc", "format_validity", "action_accuracy", "tiou_mean")
                      if isinstance(summary.get(k), int | float))
    context.log.info(f"{stage} on the validation split ({summary.get('n', '?')} dives): {shown or 'no metric defined'}")
    metadata = {
        **reported,
        "checkpoint": dg.MetadataValue.path(str(final)),
        "config": dg.MetadataValue.path(str(config_path)),
        "data_dvc_md5": data_md5,
        **dvc.provenance(),
        "preset": training.preset,
        "launcher": training.launcher,
        "metrics_log": loss_table(metrics),
        **{f"val_{k}": float(v) for k, v in summary.items() if v is not None},
        "val_predictions": dg.MetadataValue.path(str(val.paths["predictions"])),
        "val_metrics": dg.MetadataValue.md(markdown_table([{k: summary.get(k) for k in HEADLINE}])),
    }
    return metadata


@dg.asset(
    group_name="training",
    kinds={"python", "pytorch"},
    owners=OWNERS,
    deps=[reasoning_targets],
    retry_policy=TRAIN_RETRY,
    op_tags={"hieroaction/kind": "training"},
    description=(
        "Supervised fine-tuning cold start (`hieroaction.train.sft.run_sft`) through Dagster Pipes: the model learns "
        "the answer grammar, the action and the steps. Metadata: logged losses, validation metrics, data DVC hash, "
        "git revision."
    ),
)
def sft_checkpoint(
    context: dg.AssetExecutionContext,
    config: TrainStageConfig,
    storage: StorageResource,
    dvc: DvcResource,
    training: TrainingResource,
    frame_settings: FrameSettingsResource,
) -> dg.MaterializeResult:
    metadata = _train_and_evaluate(
        context, "sft", config, f"preset:{training.preset}", storage, dvc, training, frame_settings
    )
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(
    group_name="training",
    kinds={"python", "pytorch"},
    owners=OWNERS,
    deps=[sft_checkpoint],
    retry_policy=TRAIN_RETRY,
    op_tags={"hieroaction/kind": "training"},
    description=(
        "Hierarchical Policy Learning (`hieroaction.train.hpl.run_hpl`, GRPO on format → action → steps → score "
        "rewards) from the SFT checkpoint, through Dagster Pipes. Metadata: rewards per step, validation metrics."
    ),
)
def hpl_checkpoint(
    context: dg.AssetExecutionContext,
    config: TrainStageConfig,
    storage: StorageResource,
    dvc: DvcResource,
    training: TrainingResource,
    frame_settings: FrameSettingsResource,
) -> dg.MaterializeResult:
    start = final_dir(storage, "sft")
    metadata = _train_and_evaluate(context, "hpl", config, str(start), storage, dvc, training, frame_settings)
    return dg.MaterializeResult(metadata=metadata)


def latest_metadata(instance: dg.DagsterInstance, key: str) -> dict[str, Any]:
    event = instance.get_latest_materialization_event(dg.AssetKey(key))
    if event is None or event.asset_materialization is None:
        raise ValueError(f"{key} has never been materialized")
    return {k: getattr(v, "value", v) for k, v in event.asset_materialization.metadata.items()}


def gate_decision(sft: dict[str, Any], hpl: dict[str, Any], metric: str):
    """The library's promotion rule (a significant paired gain) on the two stages' validation answers."""
    from hieroaction.evaluate.promotion import PromotionDecision, promotion_decision, read_predictions

    paths = {name: meta.get("val_predictions") for name, meta in (("SFT", sft), ("HPL", hpl))}
    missing = [name for name, path in paths.items() if not path or not Path(path).is_file()]
    if missing:
        return PromotionDecision(False, metric, f"no validation answers for {' and '.join(missing)}: not promoted", None)
    return promotion_decision(read_predictions(paths["SFT"]), read_predictions(paths["HPL"]), metric)


@dg.asset(
    group_name="training",
    kinds={"dvc"},
    owners=OWNERS,
    deps=[sft_checkpoint, hpl_checkpoint],
    output_required=False,
    check_specs=[
        dg.AssetCheckSpec(
            "promotion_gate",
            asset="promoted_checkpoint",
            description="HPL must beat SFT on the validation split significantly (paired bootstrap, 95% interval of "
            "the gain above zero) in the configured metric, else nothing is promoted.",
        )
    ],
    description=(
        "The checkpoint in use: HPL copied to `models/promoted/`, versioned by `models/promoted.dvc` and pushed to "
        "the DVC remote, with the data hash and git revision beside it. Written when the promotion gate passes; when "
        "it fails, nothing is written, or the SFT model is with `when_gate_fails: sft`."
    ),
)
def promoted_checkpoint(
    context: dg.AssetExecutionContext, config: PromotionConfig, storage: StorageResource, dvc: DvcResource
):
    sft = latest_metadata(context.instance, "sft_checkpoint")
    hpl = latest_metadata(context.instance, "hpl_checkpoint")
    decision = gate_decision(sft, hpl, config.metric)
    passed, reason = decision.promote, decision.reason
    gain = decision.gain
    yield dg.AssetCheckResult(
        check_name="promotion_gate",
        passed=passed,
        description=reason,
        metadata={"metric": config.metric, "decision": reason,
                  "sft_value": sft.get(f"val_{config.metric}"), "hpl_value": hpl.get(f"val_{config.metric}"),
                  **({"gain_low": gain.low, "gain_high": gain.high} if gain is not None else {})},
    )
    stage = "hpl"
    if not passed:
        context.log.warning(f"not promoted: {reason}")
        if config.when_gate_fails != "sft":
            return
        stage, reason = "sft", f"{reason}; SFT promoted instead (when_gate_fails: sft)"
        context.log.warning(reason)
    target = storage.models_dir / PROMOTED_DIR
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(final_dir(storage, stage), target)
    provenance = {**dvc.provenance(data="data"), "source": str(final_dir(storage, stage)), "stage": stage,
                  "gate": reason}
    (target / "hieroaction_provenance.yaml").write_text(yaml.safe_dump(provenance, sort_keys=False))
    version = dvc.track(target)
    yield dg.Output(
        str(target),
        metadata={
            "path": dg.MetadataValue.path(str(target)),
            "dvc_file": version.dvc_file,
            "checkpoint_dvc_md5": version.md5,
            **{k: v for k, v in provenance.items() if k != "source"},
            "gate": reason,
        },
    )
