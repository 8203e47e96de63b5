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


STRIP_MAX_FRAMES = 16  # thumbnails in the strip; more frames shown to the model are thinned evenly
STEP_COLOURS = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f")


def plot_assessment(
    path: str | Path,
    frames,
    frame_indices: Sequence[int],
    num_frames: int,
    predicted,
    *,
    gold=None,
    fps: float | None = None,
    title: str = "",
    problems: Sequence[str] = (),
) -> Path:
    """One dive read as a timeline: the frames the model saw, its step spans with labels (gold spans below when
    known), the action, each step's judgement and the score.

    ``frames``: ``(T, H, W, 3)`` uint8, the clip as shown; ``frame_indices``: where those frames sit in the clip of
    ``num_frames`` frames; ``predicted`` / ``gold``: :class:`hieroaction.reasoning.Assessment` (``predicted`` ``None``
    when the answer could not be read; ``problems`` then says why).
    """
    frames = np.asarray(frames)
    indices = [int(i) for i in frame_indices]
    steps = list(getattr(predicted, "steps", None) or [])
    gold_steps = list(getattr(gold, "steps", None) or [])
    notes = _judgement_lines(steps, predicted, problems)
    figure = _figure(12.0, 2.4 + 0.9 * (1 + bool(gold_steps)) + 0.22 * len(notes) + 0.5)
    grid = figure.add_gridspec(3, 1, height_ratios=[2.4, 0.9 * (1 + bool(gold_steps)), 0.22 * len(notes) + 0.3])
    figure.suptitle(title or "Assessment", fontsize=12, fontweight="bold")

    strip = figure.add_subplot(grid[0])
    _draw_strip(strip, frames, indices, fps)
    strip.set_title(_headline(predicted, gold), fontsize=10, loc="left")

    timeline = figure.add_subplot(grid[1])
    rows = [("model", steps)] + ([("gold", gold_steps)] if gold_steps else [])
    for row, (label, spans) in enumerate(reversed(rows)):
        for k, step in enumerate(spans):
            colour = STEP_COLOURS[_colour_key(step.name, rows) % len(STEP_COLOURS)]
            width = max(step.last - step.first + 1, 0.5)
            timeline.broken_barh([(step.first, width)], (row + 0.15, 0.7), facecolors=colour, edgecolor="white",
                                 alpha=0.9 if label == "model" else 0.55)
            timeline.text(step.first + width / 2, row + 0.5, f"{k + 1}. {step.name}", ha="center", va="center",
                          fontsize=8, clip_on=True)
        if not spans:
            message = "no steps readable" if label == "model" else "no gold steps"
            timeline.text(num_frames / 2, row + 0.5, message, ha="center", va="center", fontsize=9, color="0.4")
    timeline.vlines(indices, len(rows) - 0.02, len(rows) + 0.12, color="black", lw=0.8, clip_on=False)
    timeline.set_xlim(0, max(num_frames, 1))
    timeline.set_ylim(0, len(rows) + 0.15)
    timeline.set_yticks([r + 0.5 for r in range(len(rows))], [label for label, _ in reversed(rows)])
    timeline.set_xlabel("frame of the clip (ticks above: frames shown to the model)"
                        + (f"; {fps:.0f} fps, {num_frames / fps:.1f} s" if fps else ""))
    for side in ("top", "right"):
        timeline.spines[side].set_visible(False)

    table = figure.add_subplot(grid[2])
    table.axis("off")
    for k, line in enumerate(notes):
        table.text(0.0, 1.0 - (k + 0.5) / max(len(notes), 1), line, ha="left", va="center", fontsize=9,
                   family="monospace", transform=table.transAxes)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    return path


def _draw_strip(axis, frames: np.ndarray, indices: list[int], fps: float | None) -> None:
    if frames.ndim != 4 or len(frames) == 0:
        axis.axis("off")
        axis.text(0.5, 0.5, "no frames", ha="center", va="center", transform=axis.transAxes)
        return
    keep = np.unique(np.linspace(0, len(frames) - 1, min(len(frames), STRIP_MAX_FRAMES)).round().astype(int))
    height, width = frames.shape[1:3]
    gap = max(1, width // 24)
    canvas = np.full((height, len(keep) * (width + gap) - gap, 3), 255, dtype=np.uint8)
    for slot, k in enumerate(keep):
        canvas[:, slot * (width + gap): slot * (width + gap) + width] = frames[k][..., :3]
    axis.imshow(canvas, interpolation="nearest")
    centres = [slot * (width + gap) + width / 2 for slot in range(len(keep))]
    shown = [indices[k] if k < len(indices) else k for k in keep]
    labels = [f"f{i}" + (f"\n{i / fps:.1f}s" if fps else "") for i in shown]
    axis.set_xticks(centres, labels, fontsize=7)
    axis.set_yticks([])
    for side in ("top", "right", "left"):
        axis.spines[side].set_visible(False)
    thinned = f" ({len(keep)} of {len(frames)} shown)" if len(keep) < len(frames) else ""
    axis.set_xlabel(f"frames the model saw{thinned}", fontsize=8)


def _headline(predicted, gold) -> str:
    def describe(a) -> str:
        if a is None:
            return "answer not readable"
        dd = "n/a" if a.difficulty is None else f"{a.difficulty:.1f}"
        score = "?" if a.score is None else f"{a.score:.2f}"
        return f"{a.action_code or '?'} {a.action_name or ''} (DD {dd}), score {score}".replace("  ", " ")

    line = f"model: {describe(predicted)}"
    return line + (f"\ngold:   {describe(gold)}" if gold is not None else "")


def _judgement_lines(steps, predicted, problems: Sequence[str]) -> list[str]:
    lines = []
    for k, step in enumerate(steps):
        judgement = (step.judgement or "").replace("\n", " ")
        judgement = judgement if len(judgement) <= 90 else judgement[:87] + "..."
        lines.append(f"{k + 1}. {step.name:<18.18} frames {step.first:>3}-{step.last:<4} {judgement}")
    if predicted is not None and predicted.score is not None:
        lines.append(f"score {predicted.score:.2f}")
    if problems:
        text = "; ".join(problems)
        lines.append("format problems: " + (text if len(text) <= 110 else text[:107] + "..."))
    return lines or ["(no steps, no score)"]


def _colour_key(name: str, rows) -> int:
    """The same label gets the same colour in the model and gold rows."""
    names: list[str] = []
    for _, spans in rows:
        for step in spans:
            if step.name not in names:
                names.append(step.name)
    return names.index(name)
