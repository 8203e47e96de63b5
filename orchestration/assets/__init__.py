"""Asset definitions, one module per stage of the graph."""

import warnings

import dagster as dg

# Chosen on purpose, and pinned (constraints.txt): single-run backfills of the video partitions (beta) and a partitioned
# frame check (preview). Dagster warns about both at every import and run; the console is for the run's own news.
warnings.filterwarnings("ignore", category=dg.BetaWarning)
warnings.filterwarnings("ignore", category=dg.PreviewWarning)
