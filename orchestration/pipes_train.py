"""Training entry point run under Dagster Pipes: ``accelerate launch -m orchestration.pipes_train sft --config F``.

Why here and not in the library: ``hieroaction`` never imports dagster. This wrapper opens the Pipes session (only on
the main process of a distributed launch), streams the library's log lines and the Trainer's logged metrics back
into the Dagster run as they happen, calls ``hieroaction.train.sft.run_sft`` / ``hieroaction.train.hpl.run_hpl``,
and reports the final checkpoint's path and metrics. Without a Pipes session (run by hand) it just trains.

What reaches the console: a progress line every tenth of the steps (or minute) and the library's own log lines,
through Pipes. Every logged step goes to the Dagster event log at DEBUG level and to ``metrics.jsonl`` in the output
folder; the process's raw stdout/stderr (the Trainer's printed dicts, third-party warnings) to the file named by
``HIEROACTION_TRAIN_LOG`` when the launcher sets it.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
import time
from contextlib import ExitStack, nullcontext
from pathlib import Path
from typing import Any

STAGES = ("sft", "hpl")
LOG_ENV = "HIEROACTION_TRAIN_LOG"
METRICS_FILE = "metrics.jsonl"
PROGRESS_PARTS = 10  # progress lines per stage (plus one at least every PROGRESS_EVERY_S)
PROGRESS_EVERY_S = 60.0


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


def metrics_callback(pipes, stage: str):
    """A transformers callback: each logged metrics dict goes to ``metrics.jsonl`` in the output folder, to Dagster as
    a Pipes custom message and a DEBUG log line (event log only); a progress line at INFO every tenth of the run."""
    from transformers import TrainerCallback

    class PipesMetricsCallback(TrainerCallback):
        def __init__(self) -> None:
            self.history: list[dict[str, Any]] = []
            self.started = self.last_line = time.monotonic()
            self.first_step = 0

        def on_train_begin(self, args, state, control, **kwargs):
            self.started = self.last_line = time.monotonic()
            self.first_step = state.global_step  # a resumed run counts its rate from where it resumed

        def on_log(self, args, state, control, logs=None, **kwargs):
            if not logs or not state.is_world_process_zero:
                return
            record = {"step": state.global_step, **{k: _plain(v) for k, v in logs.items()}}
            self.history.append(record)
            with open(Path(args.output_dir) / METRICS_FILE, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(record, default=str) + "\n")
            pipes.report_custom_message({"kind": "metrics", **record})
            pipes.log.debug(f"step {state.global_step}: {json.dumps(record, default=str)}")

        def on_step_end(self, args, state, control, **kwargs):
            if not state.is_world_process_zero:
                return
            total = max(1, state.max_steps)
            every = max(1, total // PROGRESS_PARTS)
            now = time.monotonic()
            if state.global_step % every and state.global_step != total and now - self.last_line < PROGRESS_EVERY_S:
                return
            self.last_line = now
            pipes.log.info(progress_line(stage, state.global_step, total, now - self.started,
                                         state.global_step - self.first_step, self.history[-1:]))

    return PipesMetricsCallback()


def progress_line(stage: str, step: int, total: int, elapsed_s: float, done: int, last: list[dict]) -> str:
    """``sft  step 150/1500 (10%)  loss 1.234  3.1 steps/s  7m 15s left`` (the newest logged loss or reward)."""
    parts = [f"{stage}  step {step}/{total} ({100 * step // total}%)"]
    for key in ("loss", "reward"):
        value = last[0].get(key) if last else None
        if isinstance(value, int | float) and math.isfinite(value):
            parts.append(f"{key} {value:.3f}")
    if done > 0 and elapsed_s > 0:
        rate = done / elapsed_s
        parts.append(f"{rate:.2f} steps/s" if rate < 10 else f"{rate:.0f} steps/s")
        parts.append(f"{format_duration((total - step) / rate)} left")
    return "  ".join(parts)


def format_duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m {seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def redirect_output(path: str) -> None:
    """Send this process's stdout and stderr (file descriptors, so C extensions and warnings too) to ``path``; ranks
    other than 0 get their own file. The console shows what Pipes forwards; the full output stays in the run folder."""
    rank = os.environ.get("RANK", "0")
    target = Path(path if rank == "0" else f"{path}.rank{rank}")
    target.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


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
    if os.environ.get(LOG_ENV):
        redirect_output(os.environ[LOG_ENV])
    with ExitStack() as stack:
        pipes = stack.enter_context(open_pipes())
        callback = None
        if pipes is not None:
            handler = PipesLogHandler(pipes)
            logging.getLogger("hieroaction").addHandler(handler)
            stack.callback(logging.getLogger("hieroaction").removeHandler, handler)
            callback = metrics_callback(pipes, args.stage)
            install_callback(callback)
            pipes.log.debug(f"{args.stage}: config {args.config}, world size {os.environ.get('WORLD_SIZE', '1')}")
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
