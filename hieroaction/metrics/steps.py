"""Sub-action metrics: the label sequence (edit distance) and the spans (temporal IoU).

Why one alignment: a predicted step is compared with the gold step it is aligned to by the edit distance of the two
label sequences (diagonal moves preferred, so equal-length answers pair step i with step i). The same alignment
serves the metrics and the steps reward. Spans are clip-relative inclusive frame ranges ``(first, last)``.

tIoU protocol (generalising FineDiving/TSA, which thresholds one IoU per video): a sample's tIoU is the sum of the
IoUs of aligned step pairs divided by the longer sequence's length (missing or extra steps count 0);
``tiou_at(d)`` is the fraction of samples whose tIoU is at least ``d``.
"""

from __future__ import annotations

from collections.abc import Sequence

Span = tuple[int, int]


def normalise_label(label: str) -> str:
    return " ".join(str(label).lower().split())


def align(pred: Sequence[str], gold: Sequence[str]) -> tuple[int, list[tuple[int, int]]]:
    """Levenshtein distance of two label sequences and the aligned (diagonal) index pairs ``(i_pred, j_gold)``."""
    a = [normalise_label(x) for x in pred]
    b = [normalise_label(x) for x in gold]
    n, m = len(a), len(b)
    dist = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n + 1):
        dist[i][0] = i
    for j in range(m + 1):
        dist[0][j] = j
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            dist[i][j] = min(
                dist[i - 1][j - 1] + (a[i - 1] != b[j - 1]),
                dist[i - 1][j] + 1,
                dist[i][j - 1] + 1,
            )
    pairs: list[tuple[int, int]] = []
    i, j = n, m
    while i > 0 and j > 0:
        if dist[i][j] == dist[i - 1][j - 1] + (a[i - 1] != b[j - 1]):
            pairs.append((i - 1, j - 1))
            i, j = i - 1, j - 1
        elif dist[i][j] == dist[i - 1][j] + 1:
            i -= 1
        else:
            j -= 1
    pairs.reverse()
    return dist[n][m], pairs


def step_edit_distance(pred: Sequence[str], gold: Sequence[str], *, normalize: bool = False) -> float:
    """Levenshtein distance of the label sequences; ``normalize`` divides by the longer length (0 when both empty)."""
    distance, _ = align(pred, gold)
    if not normalize:
        return float(distance)
    longest = max(len(pred), len(gold))
    return distance / longest if longest else 0.0


def span_iou(a: Span, b: Span) -> float:
    """IoU of two inclusive integer frame spans."""
    inter = min(a[1], b[1]) - max(a[0], b[0]) + 1
    if inter <= 0:
        return 0.0
    union = (a[1] - a[0] + 1) + (b[1] - b[0] + 1) - inter
    return inter / union


def temporal_iou(pred: Sequence[tuple[str, int, int]], gold: Sequence[tuple[str, int, int]]) -> float:
    """A sample's tIoU: IoU summed over aligned step pairs, divided by the longer sequence (1.0 when both empty).

    Steps are ``(label, first, last)`` tuples."""
    longest = max(len(pred), len(gold))
    if longest == 0:
        return 1.0
    _, pairs = align([s[0] for s in pred], [s[0] for s in gold])
    total = sum(span_iou((pred[i][1], pred[i][2]), (gold[j][1], gold[j][2])) for i, j in pairs)
    return total / longest


def tiou_at(
    pred: Sequence[Sequence[tuple[str, int, int]]], gold: Sequence[Sequence[tuple[str, int, int]]], threshold: float
) -> float:
    """Fraction of samples whose tIoU is at least ``threshold`` (0.5 and 0.75 in the FineDiving protocol)."""
    if len(pred) != len(gold):
        raise ValueError(f"pred and gold differ in length: {len(pred)} vs {len(gold)}")
    if not gold:
        raise ValueError("no samples to evaluate")
    return sum(temporal_iou(p, g) >= threshold for p, g in zip(pred, gold, strict=True)) / len(gold)
