"""Benchmark evaluation: batched deterministic inference, the AQA metrics side by side with baselines, the report a
person reads (JSON, Markdown, plots), the CI regression gate, and single-video assessment.

Entry points: :func:`run_evaluation` (library), ``hieroaction evaluate`` and ``hieroaction assess`` (CLI).
Heavy dependencies (torch, transformers, av, matplotlib) are imported inside the functions that need them.
"""

from hieroaction.evaluate.assess import AssessError, VideoAssessment, assess_video, format_assessment
from hieroaction.evaluate.baseline import RegressorConfig, TrainedRegressor, train_score_regressor
from hieroaction.evaluate.benchmark_report import SystemResult, build_report, render_markdown, vlm_result, write_report
from hieroaction.evaluate.checkpoint import CheckpointError, check_checkpoint, open_checkpoint
from hieroaction.evaluate.clips import ClipSource, QuarantinedSample, load_available
from hieroaction.evaluate.gates import Gate, GateError, GateResult, check_gates, parse_gates
from hieroaction.evaluate.inference import GenerationOutput, GenerationSettings, generate_assessments, generate_batch
from hieroaction.evaluate.run import EvaluationResult, SystemSpec, run_evaluation

__all__ = [
    "AssessError",
    "CheckpointError",
    "ClipSource",
    "EvaluationResult",
    "Gate",
    "GateError",
    "GateResult",
    "GenerationOutput",
    "GenerationSettings",
    "QuarantinedSample",
    "RegressorConfig",
    "SystemResult",
    "SystemSpec",
    "TrainedRegressor",
    "VideoAssessment",
    "assess_video",
    "build_report",
    "check_checkpoint",
    "check_gates",
    "format_assessment",
    "generate_assessments",
    "generate_batch",
    "load_available",
    "open_checkpoint",
    "parse_gates",
    "render_markdown",
    "run_evaluation",
    "train_score_regressor",
    "vlm_result",
    "write_report",
]
