"""Training entry point run under Dagster Pipes: ``accelerate launch -m orchestration.pipes_train sft --config F``.

Why here and not in the library: ``hieroaction`` never imports dagster. This wrapper opens the Pipes session (only on
the main process of a distributed launch), streams the library's log lines and the Trainer's logged metrics back
into the Dagster run as they happen, calls ``hieroaction.train.sft.run_sft`` / ``hieroaction.train.hpl.run_hpl``,
and reports the final checkpoint's path and metrics. Without a Pipes session (run by hand) it just trains.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
from contextlib import ExitStack, nullcontext
from pathlib import Path
from typing import Any

STAGES = ("sft", "hpl")


def is_main_process() -> bool:
    return os.environ.get("RANK", "0") == "0" and os.environ.get("LOCAL_RANK", "0") == "0"


def open_pipes():
    """The Pipes context when launched by Dagster (env vars set by the client) on the main process, else None."""
    if not is_main_process() or "DAGSTER_PIPES_CONTEXT" not in os.environ:
        return nullcontext(None)
    from dagster_pipes import open_dagster_pipes

    return open_dagster_pipes()


class PipesLogHandler(logging.Handler):
    """Forwards library log records (``hieroaction.*``) to the Dagster event log while training runs."""

    def __init__(self, pipes) -> None:
        super().__init__(level=logging.INFO)
        self.pipes = pipes

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level = "warning" if record.levelno >= logging.WARNING else "info"
            getattr(self.pipes.log, level)(f"{record.name}: {record.getMessage()}")
        except Exception:  # noqa: BLE001 - logging must never break training
            self.handleError(record)


def metrics_callback(pipes):
    """A transformers callback sending each logged metrics dict (loss, reward, lr, ...) as a Pipes custom message."""
    from transformers import TrainerCallback

    class PipesMetricsCallback(TrainerCallback):
        def __init__(self) -> None:
            self.history: list[dict[str, Any]] = []

        def on_log(self, args, state, control, logs=None, **kwargs):
            if not logs or not state.is_world_process_zero:
                return
            record = {"step": state.global_step, **{k: _plain(v) for k, v in logs.items()}}
            self.history.append(record)
            pipes.report_custom_message({"kind": "metrics", **record})
            pipes.log.info(f"step {state.global_step}: {json.dumps(record, default=str)}")

    return PipesMetricsCallback()


def install_callback(callback) -> None:
    """Make every Trainer built in this process carry ``callback`` (the library builds its Trainer internally)."""
    import transformers.trainer as trainer_module

    trainer_module.DEFAULT_CALLBACKS = [*trainer_module.DEFAULT_CALLBACKS, callback]


def run_stage(stage: str, config: str, overrides: list[str]) -> Path:
    if stage == "sft":
        from hieroaction.train.sft import run_sft

        return Path(run_sft(config, overrides))
    from hieroaction.train.hpl import run_hpl

    return Path(run_hpl(config, overrides))


def summary_metrics(history: list[dict[str, Any]]) -> dict[str, Any]:
    """Last value of each numeric metric (and the number of logged steps) for the asset's metadata."""
    last: dict[str, Any] = {}
    for record in history:
        for key, value in record.items():
            if isinstance(value, int | float) and not (isinstance(value, float) and math.isnan(value)):
                last[key] = value
    return {f"final_{k}": v for k, v in last.items() if k != "step"} | {"logged_steps": len(history)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m orchestration.pipes_train", description=__doc__.splitlines()[0])
    parser.add_argument("stage", choices=STAGES)
    parser.add_argument("--config", required=True)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)
    with ExitStack() as stack:
        pipes = stack.enter_context(open_pipes())
        callback = None
        if pipes is not None:
            handler = PipesLogHandler(pipes)
            logging.getLogger("hieroaction").addHandler(handler)
            stack.callback(logging.getLogger("hieroaction").removeHandler, handler)
            callback = metrics_callback(pipes)
            install_callback(callback)
            pipes.log.info(f"{args.stage}: config {args.config}, world size {os.environ.get('WORLD_SIZE', '1')}")
        final = run_stage(args.stage, args.config, args.overrides)
        if pipes is not None:
            metadata = {"checkpoint": {"raw_value": str(final), "type": "path"}}
            for key, value in summary_metrics(callback.history).items():
                metadata[key] = {"raw_value": value, "type": "float" if isinstance(value, float) else "int"}
            pipes.report_asset_materialization(metadata=metadata)
    return 0


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    return value if isinstance(value, int | float | str | bool) or value is None else str(value)


if __name__ == "__main__":
    sys.exit(main())
