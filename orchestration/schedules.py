"""Weekly retraining that runs only when the data version (the DVC hash of ``data/``) changed."""


import dagster as dg

from orchestration.resources import DvcResource

DATA_VERSION_TAG = "hieroaction/data_md5"


TRAINED_ASSET = dg.AssetKey("sft_checkpoint")
DATA_MD5_KEY = "data_dvc_md5"


def last_trained_data_version(instance: dg.DagsterInstance) -> str | None:
    """The data hash recorded on the latest SFT checkpoint materialization (however its run was launched)."""
    event = instance.get_latest_materialization_event(TRAINED_ASSET)
    if event is None or event.asset_materialization is None:
        return None
    value = event.asset_materialization.metadata.get(DATA_MD5_KEY)
    return getattr(value, "value", value)


def weekly_retrain_schedule(job_name: str):
    @dg.schedule(
        name="weekly_retrain",
        cron_schedule="0 3 * * 1",
        job_name=job_name,
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.STOPPED,
        description="Mondays 03:00 UTC: retrain (SFT → HPL → report) if `data.dvc` changed since the checkpoint was last trained.",
    )
    def weekly_retrain(context: dg.ScheduleEvaluationContext, dvc: DvcResource):
        version = dvc.version("data")
        if version is None:
            return dg.SkipReason("data/ is not tracked by DVC yet (no data.dvc): run the ingest job first")
        last = last_trained_data_version(context.instance)
        if last == version.md5:
            return dg.SkipReason(f"data version {version.md5} unchanged since the last training (sft_checkpoint)")
        return dg.RunRequest(
            run_key=f"retrain:{version.md5}",
            tags={DATA_VERSION_TAG: version.md5, "hieroaction/previous_data_md5": last or "none"},
        )

    return weekly_retrain
