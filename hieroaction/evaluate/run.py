"""One evaluation run: the systems side by side on the same samples, written as a report.

Steps: pick the split's samples, load their frames once (bad media quarantined for every system alike), generate
with each checkpoint (zero-shot base, SFT, HPL, ...), train and run the classic score regressor on the train split's
frames, compute the metrics, write JSON/Markdown/plots, check the regression gates.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from hieroaction.datasets.sample import Sample
from hieroaction.evaluate.baseline import RegressorConfig, train_score_regressor
from hieroaction.evaluate.benchmark_report import SystemResult, build_report, vlm_result, write_report
from hieroaction.evaluate.clips import ClipSource, FreshClips, QuarantinedSample, load_available
from hieroaction.evaluate.gates import Gate, GateError, GateResult, check_gates
from hieroaction.evaluate.inference import GenerationOutput, GenerationSettings, generate_assessments
from hieroaction.metrics.assessment import fallback_score, records_from_scores
from hieroaction.model.artifacts import checkpoint_version, code_version_text, samples_version
from hieroaction.video.checks import CLIP_LOAD_ERRORS

log = logging.getLogger(__name__)

REGRESSOR_NAME = "regressor"


@dataclass(frozen=True)
class SystemSpec:
    """A checkpoint to evaluate under a name (``zero-shot``, ``sft``, ``hpl``...).

    ``require_marker``: the checkpoint must be a HieroAction checkpoint (see :mod:`hieroaction.evaluate.checkpoint`);
    a zero-shot base model need not be. ``model``/``processor`` may be given already loaded (benchmarks, tests)."""

    name: str
    checkpoint: str
    require_marker: bool = True
    model: object = None
    processor: object = None


@dataclass
class EvaluationResult:
    report: dict
    paths: dict[str, Path]
    gates: list[GateResult] = field(default_factory=list)
    quarantined: list[QuarantinedSample] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(g.passed for g in self.gates)


def select_split(samples: Sequence[Sample], split: str, limit: int | None = None) -> list[Sample]:
    chosen = [s for s in samples if s.split == split]
    return chosen[:limit] if limit is not None else chosen


def prompts_for(samples: Sequence[Sample], clips: ClipSource) -> list[list[dict]]:
    """The prompts training used: :func:`hieroaction.reasoning.prompt_for` of each sample with the clips' frame
    settings (clip length, the frames shown, and whether sub-actions are assessed)."""
    from hieroaction.reasoning import prompt_for

    return [prompt_for(s, clips.settings) for s in samples]


def generate_with(
    spec: SystemSpec,
    samples: Sequence[Sample],
    clips,
    prompts: Sequence[list[dict]],
    generation: GenerationSettings,
    *,
    progress: bool = True,
) -> GenerationOutput:
    """Generate with one checkpoint on every sample (``clips``: a sequence or ``i -> clip``); a clip that cannot be
    loaded any more is in ``output.quarantined``, not answered."""
    from hieroaction.evaluate.checkpoint import open_checkpoint

    model, processor = spec.model, spec.processor
    loaded_here = model is None
    if loaded_here:
        model, processor = open_checkpoint(
            spec.checkpoint, require_marker=spec.require_marker, dtype=generation.dtype, device=generation.device
        )
    output = generate_assessments(
        model, processor, clips, prompts, generation, progress=progress, description=f"generating ({spec.name})",
        ids=[s.sample_id for s in samples],
    )
    if loaded_here:
        del model
        gc.collect()
    return output


def checkpoint_result(
    spec: SystemSpec,
    samples: Sequence[Sample],
    output: GenerationOutput,
    generation: GenerationSettings,
    fallback: float,
    keep: Sequence[int] | None = None,
) -> SystemResult:
    """Score one checkpoint's answers on the samples at ``keep`` (default: all)."""
    keep = list(range(len(samples))) if keep is None else list(keep)
    seconds = output.seconds
    prompt_tokens = [output.prompt_tokens[i] for i in keep]
    completion_tokens = [output.completion_tokens[i] for i in keep]
    details = {
        "generation_seconds": round(seconds, 3),
        "videos_per_second": round(len(output.good) / seconds, 3) if seconds > 0 else None,
        "mean_prompt_tokens": _mean(prompt_tokens),
        "mean_completion_tokens": _mean(completion_tokens),
        "hit_max_new_tokens": sum(n >= generation.max_new_tokens for n in completion_tokens),
    }
    return vlm_result(
        spec.name,
        [samples[i] for i in keep],
        [output.completions[i] for i in keep],
        fallback,
        source=str(spec.checkpoint),
        version=checkpoint_version(spec.checkpoint),
        details=details,
    )


def evaluate_checkpoint(
    spec: SystemSpec,
    samples: Sequence[Sample],
    clips: Sequence,
    prompts: Sequence[list[dict]],
    generation: GenerationSettings,
    fallback: float,
    *,
    progress: bool = True,
) -> SystemResult:
    """Generate with one checkpoint on every sample and score its answers (every clip must load)."""
    output = generate_with(spec, samples, clips, prompts, generation, progress=progress)
    if output.quarantined:
        raise ValueError(f"clips could not be loaded: {'; '.join(str(q) for q in output.quarantined.values())}")
    return checkpoint_result(spec, samples, output, generation, fallback)


def _mean(values: Sequence[int]) -> float | None:
    return round(sum(values) / len(values), 1) if values else None


def evaluate_regressor(
    train_samples: Sequence[Sample],
    train_clips: Sequence,
    samples: Sequence[Sample],
    clips: Sequence,
    config: RegressorConfig,
    fallback: float,
    *,
    progress: bool = True,
) -> SystemResult:
    """Fit the classic regressor on the train split's frames and score the evaluated samples."""
    import time

    start = time.perf_counter()
    model = train_score_regressor(
        train_clips, [s.final_score for s in train_samples], [s.difficulty for s in train_samples], config,
        progress=progress,
    )
    seconds = time.perf_counter() - start
    difficulties = [s.difficulty for s in samples] if model.uses_difficulty else None
    scores = model.predict(clips, difficulties)
    return SystemResult(
        REGRESSOR_NAME,
        "regressor",
        records_from_scores(samples, scores.tolist(), fallback),
        source=f"trained here on {len(train_samples)} train-split clips",
        version={"id": f"regressor-seed{config.seed}", "config": config.to_dict()},
        details={
            "config": config.to_dict(),
            "uses_difficulty": model.uses_difficulty,
            "train_samples": len(train_samples),
            "train_seconds": round(seconds, 2),
            "final_train_loss": model.final_train_loss,
        },
    )


def _example_clips(report: dict, fresh: FreshClips) -> dict:
    """The frames of the report's example dives for their plots, read again; one that broke since it was mapped
    loses its plot (logged), not the report."""
    position = {sample.sample_id: k for k, sample in enumerate(fresh.samples)}
    out = {}
    for example in report.get("examples") or []:
        k = position.get(example["sample_id"])
        if k is None:
            continue
        sample = fresh.samples[k]
        try:
            out[example["sample_id"]] = (fresh[k], fresh.source.frame_indices(sample), sample.num_frames)
        except CLIP_LOAD_ERRORS as exc:
            log.warning("no frames plot for %s: %s: %s", example["sample_id"], type(exc).__name__, exc)
    return out


def run_evaluation(
    samples: Sequence[Sample],
    clips: ClipSource,
    systems: Sequence[SystemSpec],
    out_dir: str | Path,
    *,
    split: str = "test",
    train_split: str = "train",
    primary: str | None = None,
    generation: GenerationSettings | None = None,
    regressor: RegressorConfig | None = RegressorConfig(),
    data_version: str | None = None,
    gates: Sequence[Gate] = (),
    limit: int | None = None,
    examples: int = 3,
    n_boot: int = 1000,
    seed: int = 0,
    progress: bool = True,
    input_quarantined: Sequence[QuarantinedSample] = (),
) -> EvaluationResult:
    """Evaluate ``systems`` (and the regressor unless ``regressor=None``) on the ``split`` samples; write the report.

    ``samples`` is the whole canonical table: the ``split`` samples are evaluated (the first ``limit`` of them), the
    ``train_split`` samples train the regressor and give the missing-score fallback. ``primary`` (default: the last
    system, e.g. HPL after SFT) is the system the gates check.
    """
    generation = generation or GenerationSettings()
    names = [s.name for s in systems] + ([REGRESSOR_NAME] if regressor is not None else [])
    if len(set(names)) != len(names):
        raise ValueError(f"system names must be unique (the baseline is called {REGRESSOR_NAME!r}), got {names}")
    wanted = select_split(samples, split, limit)
    if not wanted:
        raise ValueError(f"no samples in split {split!r} (splits present: {sorted({s.split for s in samples})})")
    evaluated, eval_clips, quarantined = load_available(clips, wanted, progress=progress)
    for bad in quarantined:
        log.warning("quarantined %s: %s %s", bad.sample_id, bad.field, bad.reason)
    if not evaluated:
        raise ValueError(f"every one of the {len(wanted)} {split!r} samples was quarantined (first: {quarantined[0].reason})")
    train = select_split(samples, train_split)
    fallback = fallback_score(train, evaluated)

    results: list[SystemResult] = []
    prompts = prompts_for(evaluated, clips) if systems else []
    outputs = [
        generate_with(spec, evaluated, FreshClips(clips, evaluated, eval_clips).__getitem__, prompts, generation,
                      progress=progress)
        for spec in systems
    ]
    # a clip that broke while the systems ran is dropped from every system alike: all are scored on the same samples
    lost = {i: q for output in outputs for i, q in output.quarantined.items()}
    for _, problem in sorted(lost.items()):
        log.warning("quarantined %s while generating: %s", problem.sample_id, problem.reason)
        quarantined.append(problem)
    generated, keep = evaluated, [i for i in range(len(evaluated)) if i not in lost]
    if not keep:
        raise ValueError(f"every one of the {len(wanted)} {split!r} samples was quarantined (first: {quarantined[0].reason})")
    if lost:
        evaluated, eval_clips = [evaluated[i] for i in keep], [eval_clips[i] for i in keep]
        fallback = fallback_score(train, evaluated)
    fresh = FreshClips(clips, evaluated, eval_clips)  # what the phases after generation read
    for spec, output in zip(systems, outputs, strict=True):
        results.append(checkpoint_result(spec, generated, output, generation, fallback[0], keep))
    train_quarantined: list[QuarantinedSample] = []
    regressor_skipped = None
    if regressor is not None:
        train_ok, train_clips, train_quarantined = load_available(clips, train, progress=progress)
        if len(train_ok) >= 2:
            try:  # the clips read again: one cut short since it was mapped raises here instead of killing the process
                results.append(evaluate_regressor(train_ok, FreshClips(clips, train_ok, train_clips), evaluated, fresh,
                                                  regressor, fallback[0], progress=progress))
            except CLIP_LOAD_ERRORS as exc:
                regressor_skipped = f"a clip broke while the regressor ran: {type(exc).__name__}: {exc}"
        else:
            regressor_skipped = f"{len(train_ok)} usable {train_split!r} samples (needs 2)"
        if regressor_skipped:
            log.warning("no regressor baseline: %s", regressor_skipped)
    if not results:
        raise ValueError("nothing to evaluate: give at least one checkpoint or keep the regressor")

    names = [r.name for r in results]
    primary = primary or (systems[-1].name if systems else names[0])
    report = build_report(
        evaluated,
        results,
        split=split,
        versions={"code": code_version_text(), "data": data_version or samples_version(samples)},
        fallback=fallback,
        primary=primary,
        generation=generation.to_dict(),
        data={
            "clips": clips.describe(),
            "evaluated_samples_version": samples_version(evaluated),
            "quarantined": [q.to_dict() for q in quarantined],
            "train_quarantined": [q.to_dict() for q in train_quarantined],
            "input_quarantined": [q.to_dict() for q in input_quarantined],  # bad lines/labels of the inputs
            "regressor_skipped": regressor_skipped,  # why there is no regressor row (None: there is one, or not asked)
            "limit": limit,
        },
        n_boot=n_boot,
        seed=seed,
        examples=examples,
    )
    try:
        gate_results = check_gates(report, gates) if gates else []
    except GateError:
        write_report(report, results, out_dir)  # the numbers are still worth keeping
        raise
    report["gates"] = [g.to_dict() for g in gate_results]
    example_clips = _example_clips(report, fresh)
    paths = write_report(report, results, out_dir, example_clips=example_clips)
    return EvaluationResult(report, paths, gate_results, quarantined)
