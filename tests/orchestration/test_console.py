"""What the console shows during a run: compact Dagster lines (Pipes plumbing left to the event log) and one
progress line per tenth of a training stage."""

from __future__ import annotations

import logging

import dagster as dg

from orchestration.console import compact_console_logger
from orchestration.pipes_train import format_duration, progress_line


def test_progress_line_says_steps_rate_and_time_left():
    line = progress_line("sft", 150, 1500, 60.0, 150, [{"loss": 1.23456, "step": 150}])
    assert line == "sft  step 150/1500 (10%)  loss 1.235  2.50 steps/s  9m 00s left"
    assert progress_line("hpl", 2, 20, 0.0, 0, []) == "hpl  step 2/20 (10%)"  # no rate before a timed step
    assert "reward 0.310" in progress_line("hpl", 10, 20, 100.0, 10, [{"loss": 0.0, "reward": 0.31}])
    assert (format_duration(42), format_duration(3725)) == ("42s", "1h 02m")


def test_console_shows_info_lines_compactly_and_keeps_debug_and_plumbing_in_the_event_log(capsys):
    @dg.asset
    def talker(context):
        context.log.info("rendered 6 dives")
        context.log.info("[pipes] external process successfully opened dagster pipes.")
        context.log.debug("step 1: {'loss': 6.2}")
        context.log.warning("1 clip quarantined")

    defs = dg.Definitions(assets=[talker], jobs=[dg.define_asset_job("talk", selection=[talker])],
                          loggers={"console": compact_console_logger}, executor=dg.in_process_executor)
    with dg.DagsterInstance.ephemeral() as instance:
        result = defs.resolve_job_def("talk").execute_in_process(  # the demo's console config
            instance=instance, run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}})
        stored = [e.user_message for e in instance.all_logs(result.run_id)]
    out = capsys.readouterr().out.splitlines()
    assert any(line.endswith("talker               rendered 6 dives") for line in out)
    assert any(line.endswith("WARNING 1 clip quarantined") for line in out)
    assert not any("[pipes]" in line or "loss" in line for line in out)
    assert all(len(line) < 100 for line in out if "talker" in line)
    assert any("step 1:" in m for m in stored) and any("[pipes]" in m for m in stored)
    logging.getLogger("hieroaction.console").handlers.clear()


def test_demo_summary_cells_never_run_into_each_other():
    from orchestration.demo import _cell

    cells = [_cell(v) for v in (-0.1625, 5777754.649, 0.375, None, True, 24, -1.5e9, -9999.5, 1e300, -1e-300)]
    assert cells[:2] == ["-0.163", "5.78e+06"] and cells[3] == cells[4] == "—"
    assert all(len(c) <= 8 for c in cells)  # the summary's columns are 9 wide
