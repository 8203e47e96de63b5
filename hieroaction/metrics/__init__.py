"""AQA metrics, following the public protocol (Spearman rho, RL2 × 100, Fisher-z over classes, tIoU@0.5/0.75),
plus action, step and format metrics for the stepwise answers."""

from hieroaction.metrics.actions import PARTS, action_accuracy, matching_parts, part_accuracy, same_code
from hieroaction.metrics.scores import (
    FISHER_Z_MIN_SAMPLES,
    RhoInterval,
    bootstrap_rho_ci,
    fisher_z_mean,
    l2,
    per_class_table,
    rl2,
    rl2_x100,
    spearman,
)
from hieroaction.metrics.steps import align, span_iou, step_edit_distance, temporal_iou, tiou_at
from hieroaction.metrics.validity import format_validity

__all__ = [
    "FISHER_Z_MIN_SAMPLES",
    "PARTS",
    "RhoInterval",
    "action_accuracy",
    "align",
    "bootstrap_rho_ci",
    "fisher_z_mean",
    "format_validity",
    "l2",
    "matching_parts",
    "part_accuracy",
    "per_class_table",
    "rl2",
    "rl2_x100",
    "same_code",
    "span_iou",
    "spearman",
    "step_edit_distance",
    "temporal_iou",
    "tiou_at",
]
