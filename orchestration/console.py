"""The console a person reads while a run goes: one short line per message, the asset first.

Why a logger of our own: Dagster's default console logger prefixes every line with the date, the job name and the run
id (about 100 characters) and prints Pipes plumbing; the event log keeps all of it (and the DEBUG lines: every logged
training step) for the UI. Replaces the ``console`` logger of every job in ``Definitions``, with the same
``log_level`` config.
"""

from __future__ import annotations

import logging
import sys
import time

import dagster as dg

PLUMBING = ("[pipes] ",)  # Pipes session open/close notices: in the event log, not on the console


class CompactFormatter(logging.Formatter):
    """``HH:MM:SS  asset              message`` (level named only from WARNING up)."""

    def format(self, record: logging.LogRecord) -> str:
        meta = getattr(record, "dagster_meta", None) or {}
        where = meta.get("step_key") or meta.get("job_name") or record.name
        message = meta.get("orig_message") or record.getMessage()
        level = "" if record.levelno < logging.WARNING else f"{record.levelname} "
        stamp = time.strftime("%H:%M:%S", time.localtime(record.created))
        return f"{stamp}  {where:<20} {level}{message}"


class DropPlumbing(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        meta = getattr(record, "dagster_meta", None) or {}
        message = meta.get("orig_message") or record.getMessage()
        return record.levelno >= logging.WARNING or not message.startswith(PLUMBING)


@dg.logger(
    config_schema={
        "log_level": dg.Field(str, is_required=False, default_value="INFO"),
        "name": dg.Field(str, is_required=False, default_value="hieroaction"),
    },
    description="Compact console lines (time, asset, message); the full log stays in the Dagster event log.",
)
def compact_console_logger(init_context) -> logging.Logger:
    config = init_context.logger_config
    logger = logging.getLogger(f"{config['name']}.console")
    logger.propagate = False
    logger.setLevel(config["log_level"].upper())
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(CompactFormatter())
    handler.addFilter(DropPlumbing())
    logger.addHandler(handler)
    return logger
