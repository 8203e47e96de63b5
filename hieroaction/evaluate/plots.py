"""The report's PNG figures, drawn with matplotlib's Agg canvas (no display, no global pyplot state).

Why these three: predicted vs true score shows at a glance whether a system ranks dives (the SRCC) and whether it is
calibrated (the RL2); per-step tIoU shows which sub-action the model locates badly; the action-part confusion shows
which part of the dive number (rotation group, somersaults, twists, position) the model confuses with which.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

PART_TITLES = {"group": "FINA group", "somersaults": "somersaults (half turns)", "twists": "twists (half turns)"}


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=110, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def plot_score_scatter(
    path: str | Path,
    series: Mapping[str, tuple[Sequence[float], Sequence[float], Sequence[bool]]],
    *,
    title: str = "Predicted vs true score",
    subtitles: Mapping[str, str] | None = None,
) -> Path:
    """One panel per system: true score (x) against predicted (y), with the y = x line.

    ``series[name] = (true, predicted, valid)``; points whose score came from the fallback (unparseable answer) are
    drawn as red crosses so a reader sees how much of the cloud is the fallback, not the model.
    """
    names = list(series)
    columns = max(1, min(4, len(names)))
    rows = max(1, -(-len(names) // columns))
    figure = _figure(3.4 * columns, 3.3 * rows)
    figure.suptitle(title)
    everything = [v for true, pred, _ in series.values() for v in (*true, *pred) if np.isfinite(v)]
    low, high = (min(everything), max(everything)) if everything else (0.0, 1.0)
    pad = 0.05 * (high - low or 1.0)
    for i, name in enumerate(names):
        axis = figure.add_subplot(rows, columns, i + 1)
        true, pred, valid = (np.asarray(x) for x in series[name])
        valid = valid.astype(bool)
        axis.plot([low - pad, high + pad], [low - pad, high + pad], color="0.6", lw=1, ls="--")
        axis.scatter(true[valid], pred[valid], s=14, alpha=0.75, label="parsed score")
        if (~valid).any():
            axis.scatter(true[~valid], pred[~valid], s=18, marker="x", color="tab:red", label="fallback (no score)")
            axis.legend(fontsize=7, loc="upper left")
        axis.set_xlim(low - pad, high + pad)
        axis.set_ylim(low - pad, high + pad)
        subtitle = (subtitles or {}).get(name)
        axis.set_title(f"{name}\n{subtitle}" if subtitle else name, fontsize=10)
        axis.set_xlabel("true score")
        axis.set_ylabel("predicted score")
    path = Path(path)
    figure.savefig(path)
    return path


def plot_step_tiou(
    path: str | Path,
    per_system: Mapping[str, Mapping[str, float]],
    *,
    title: str = "Mean temporal IoU per sub-action (gold step label)",
) -> Path:
    """Grouped bars: for each gold step label, the mean tIoU of the predicted span, one bar per system."""
    labels: list[str] = []
    for table in per_system.values():
        for label in table:
            if label not in labels:
                labels.append(label)
    figure = _figure(max(5.0, 0.9 * len(labels) * max(1, len(per_system)) ** 0.5 + 2), 3.8)
    axis = figure.add_subplot(1, 1, 1)
    width = 0.8 / max(1, len(per_system))
    x = np.arange(len(labels))
    for i, (name, table) in enumerate(per_system.items()):
        axis.bar(x + i * width - 0.4 + width / 2, [table.get(label, 0.0) for label in labels], width, label=name)
    for threshold in (0.5, 0.75):
        axis.axhline(threshold, color="0.5", lw=0.8, ls=":")
    axis.set_xticks(x, labels, rotation=30, ha="right", fontsize=8)
    axis.set_ylim(0, 1)
    axis.set_ylabel("mean tIoU")
    axis.set_title(title, fontsize=10)
    if per_system:
        axis.legend(fontsize=8)
    if not labels:
        axis.text(0.5, 0.5, "no steps predicted by any system", ha="center", va="center", transform=axis.transAxes)
    path = Path(path)
    figure.savefig(path)
    return path


def plot_part_confusion(
    path: str | Path,
    confusions: Mapping[str, tuple[Sequence[str], Sequence[str], np.ndarray]],
    *,
    title: str = "Action-part confusion",
) -> Path:
    """One heat map per dive-number part: rows are gold values, columns predicted values (plus "none")."""
    parts = list(confusions)
    figure = _figure(3.6 * max(1, len(parts)), 3.8)
    figure.suptitle(title)
    for i, part in enumerate(parts):
        rows, columns, matrix = confusions[part]
        matrix = np.asarray(matrix)
        axis = figure.add_subplot(1, max(1, len(parts)), i + 1)
        axis.imshow(matrix, cmap="Blues", vmin=0)
        axis.set_xticks(range(len(columns)), columns, rotation=45, ha="right", fontsize=7)
        axis.set_yticks(range(len(rows)), rows, fontsize=7)
        axis.set_xlabel("predicted")
        axis.set_ylabel("gold")
        axis.set_title(PART_TITLES.get(part, part), fontsize=10)
        peak = matrix.max() if matrix.size else 0
        for (r, c), count in np.ndenumerate(matrix):
            if count:
                axis.text(c, r, str(int(count)), ha="center", va="center", fontsize=7,
                          color="white" if count > peak / 2 else "black")
    path = Path(path)
    figure.savefig(path)
    return path
