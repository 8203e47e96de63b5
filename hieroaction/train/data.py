"""Training rows and the batch collator: sample -> (prompt messages, target text, reward columns) -> model tensors.

Why rows hold the sample and not its pixels: a ``datasets`` table of uint8 clips would be re-encoded as nested int64
lists (8x the bytes); rows keep the sample JSON and :class:`ClipLoader` reads the extracted frames
(``hieroaction.video.extract.load_clip``) when a batch is built, in the loader workers.

Why a collator of our own: trl 1.16's SFT collator treats only ``image``/``images`` columns as vision data. This one
tokenizes ``prompt`` with the processor and the video (uint8 ``(T, H, W, 3)``, ``do_sample_frames=False``), appends
the target's tokens and ``<|im_end|>``, and sets ``labels`` to -100 everywhere except the answer. Appending the
target's tokens after the prompt's is exactly what generation sees, so training and inference agree token by token.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hieroaction.datasets.records import Quarantined, isolate
from hieroaction.datasets.sample import Sample
from hieroaction.video.checks import CLIP_LOAD_ERRORS, ClipError, check_clip

log = logging.getLogger(__name__)

IGNORE_INDEX = -100
ANSWER_END = "<|im_end|>"


def answer_token_ids(tokenizer, target: str) -> list[int]:
    """The token ids the model is trained to write for ``target``: its text, then ``<|im_end|>``.

    The one owner of the answer's tokens: the SFT collator and HPL's SFT term (``hpl.sft_weight``) both call it, so
    the gold answer is the same sequence in both stages and is exactly what generation would have to produce.
    """
    return tokenizer(target, add_special_tokens=False)["input_ids"] + tokenizer(ANSWER_END, add_special_tokens=False)[
        "input_ids"
    ]


class TrainingDataError(ValueError):
    """Training data that cannot be used; the message names the sample and the field."""


class TrainingClipError(TrainingDataError, ClipError):
    """A row's clip cannot be loaded or is not a clip (one of :data:`~hieroaction.video.checks.CLIP_LOAD_ERRORS`)."""


@dataclass
class RowsResult:
    """Rows ready for a ``datasets.Dataset`` plus the samples held back (with reasons), so nothing vanishes."""

    rows: list[dict[str, Any]]
    quarantined: list[dict[str, Any]] = field(default_factory=list)


def frame_settings(frames_config):
    """THE frame settings (:class:`hieroaction.video.FrameSettings`) of a config's ``data.frames`` section
    (:class:`~hieroaction.train.config.FramesConfig`, its YAML form)."""
    return frames_config.settings()


def sample_of(row: Mapping[str, Any]) -> Sample:
    return Sample.from_dict(json.loads(row["sample"]))


class ClipLoader:
    """Load a row's clip from the extracted frames: uint8 ``(T, H, W, 3)``. Picklable, so loader workers can use it.

    Also usable as the HPL trainer's ``video_loader`` (a callable taking a row).
    """

    def __init__(self, frames_dir: str | Path, settings):
        self.frames_dir = Path(frames_dir)
        self.settings = settings

    def __call__(self, row: Mapping[str, Any]) -> np.ndarray:
        from hieroaction.video.extract import load_clip

        sample = sample_of(row)
        try:
            # read into memory, not mapped: the batch copies it anyway, and a file truncated while mapped would
            # kill the process (SIGBUS) instead of raising
            clip = load_clip(self.frames_dir, sample, self.settings, mmap=False)
        except FileNotFoundError as exc:
            raise TrainingClipError(
                f"sample {sample.sample_id!r}: field 'video': no extracted frames under {self.frames_dir} "
                f"for settings {getattr(self.settings, 'key', self.settings)} ({exc})"
            ) from exc
        except ClipError as exc:
            raise TrainingClipError(f"sample {sample.sample_id!r}: field 'video': {exc}") from exc
        return check_clip(clip, sample.sample_id, error=TrainingClipError, writable=True)


MAX_REPLACEMENT_DRAWS = 16  # clips tried in place of one that failed before the run is stopped as broken


class TrainingQuarantine:
    """Clips that fail to load while a run trains: each is quarantined and replaced by another sample of its split.

    Why: the rows were built from clips that were there; a clip deleted, truncated or overwritten since must cost
    that sample, not the run (the policy of :func:`hieroaction.datasets.records.isolate`, narrowed to
    :data:`~hieroaction.video.checks.CLIP_LOAD_ERRORS` so a bug in our own code still raises). Why replace instead of
    drop: every batch keeps its size and every process its step (no collective waits on a rank that skipped), and a
    GRPO group keeps its repeats. The replacement is a function of the failed id, so every process and loader worker
    that meets the same broken clip draws the same sample.

    Each failure is logged in one line and appended as one JSON line to ``path`` (``O_APPEND``: loader workers and
    ranks write whole lines side by side); :func:`read_training_quarantine` reads them back once per sample.
    ``pools`` maps a split name to its rows (a ``datasets.Dataset`` or list); a row is replaced from its own split.
    """

    def __init__(self, path: str | Path | None, pools: Mapping[str, Sequence[Mapping[str, Any]] | None]):
        self.path = None if path is None else Path(path)
        self.pools = {name: rows for name, rows in pools.items() if rows is not None and len(rows)}
        self.bad: set[str] = set()
        self._split_of: dict[str, str] | None = None

    def load_many(self, rows: Sequence[Mapping[str, Any]], loader: Callable[[Mapping[str, Any]], np.ndarray]):
        """``(rows, clips)``: each row with its clip, a row whose clip fails replaced (the same replacement for
        every repeat of a sample in ``rows``)."""
        done: dict[str, tuple[Mapping[str, Any], np.ndarray]] = {}
        out_rows, clips = [], []
        for row in rows:
            sample_id = str(row.get("sample_id", "?"))
            if sample_id not in done:
                done[sample_id] = self.load(row, loader)
            used, clip = done[sample_id]
            out_rows.append(used)
            clips.append(clip)
        return out_rows, clips

    def load(self, row: Mapping[str, Any], loader: Callable[[Mapping[str, Any]], np.ndarray]):
        """``(row, clip)``: ``row``'s clip, or the first replacement whose clip loads."""
        failed = str(row.get("sample_id", "?"))
        candidate = row
        for draw in range(MAX_REPLACEMENT_DRAWS + 1):
            sample_id = str(candidate.get("sample_id", "?"))
            clip, problem = isolate(sample_id, "video", None, loader, candidate, kind="unloadable",
                                    catch=CLIP_LOAD_ERRORS)
            if problem is None:
                if candidate is not row:
                    log.warning("sample %s replaced by %s for this batch", failed, sample_id)
                return candidate, clip
            self.record(problem)
            candidate = self._draw(failed, draw)
            if candidate is None:
                break
        raise TrainingDataError(
            f"sample {failed!r}: field 'video': its clip and {MAX_REPLACEMENT_DRAWS} replacements could not be loaded"
            f" (see {self.path}); the frame store is broken: extract the frames again"
            if self.pools else f"sample {failed!r}: field 'video': clip cannot be loaded and there is nothing to "
            f"replace it with ({problem.reason})"
        )

    def record(self, problem: Quarantined) -> None:
        """Quarantine one sample: one log line, one JSON line in the run's file (once per process)."""
        if problem.sample_id in self.bad:
            return
        self.bad.add(problem.sample_id)
        log.warning("quarantined %s while training: %s", problem.sample_id, problem.reason)
        if self.path is None:
            return
        record = dict(problem.to_dict(), split=self.split_of(problem.sample_id), stage="training")
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)

    def split_of(self, sample_id: str) -> str | None:
        if self._split_of is None:
            self._split_of = {}
            for name, rows in self.pools.items():
                for row in rows:
                    self._split_of.setdefault(str(row["sample_id"]), name)
        return self._split_of.get(sample_id)

    def _draw(self, failed: str, draw: int) -> Mapping[str, Any] | None:
        """A replacement from ``failed``'s split, the same in every process: skips known-bad samples."""
        rows = self.pools.get(self.split_of(failed) or "")
        if not rows or len(self.bad) >= len(rows):
            return None
        rng = random.Random(f"{failed}|{draw}")
        for _ in range(4 * MAX_REPLACEMENT_DRAWS):
            candidate = rows[rng.randrange(len(rows))]
            if str(candidate["sample_id"]) not in self.bad:
                return candidate
        return None


def read_training_quarantine(path: str | Path) -> list[dict[str, Any]]:
    """The samples quarantined while training (first record of each id), from the file
    :class:`TrainingQuarantine` appends to; empty when there is none."""
    path = Path(path)
    if not path.is_file():
        return []
    seen: dict[str, dict[str, Any]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            seen.setdefault(str(record.get("id")), record)
    return list(seen.values())


class PromptBuilder:
    """The prompt messages of a row: :func:`hieroaction.reasoning.prompt_for` of the row's sample with the frame
    settings (so the model can map what it sees to the frame numbers it must write), as evaluation and ``assess``."""

    def __init__(self, settings=None):
        self.settings = settings

    def __call__(self, row: Mapping[str, Any]) -> list[dict]:
        from hieroaction.reasoning import prompt_for

        return prompt_for(sample_of(row), self.settings)


def score_range_of(samples: Sequence[Sample]) -> tuple[float, float]:
    scores = [float(s.final_score) for s in samples]
    if not scores:
        raise TrainingDataError("no samples to take the score range from")
    low, high = min(scores), max(scores)
    return (low, high) if high > low else (low, low + 1.0)


def build_rows(
    samples: Iterable[Sample],
    *,
    with_target: bool = True,
    with_prompt: bool = False,
    score_range: tuple[float, float] | None = None,
    settings=None,
) -> RowsResult:
    """One row per sample: ``sample_id``, ``sample`` (JSON), ``num_frames``; ``target`` (SFT); ``prompt`` (GRPO);
    the reward columns of ``hieroaction.rewards.reward_columns`` when ``score_range`` is given (HPL).
    ``settings``: the frame settings, so the prompt names the frames the video shows (see :class:`PromptBuilder`).

    A sample whose row cannot be built (whatever it raises) is quarantined with the field and reason, not dropped,
    and the other samples go on (the isolation policy of ``hieroaction.datasets.records.isolate``).
    """
    prompt_builder = PromptBuilder(settings)
    reward_columns = None
    if score_range is not None:
        from hieroaction.rewards import reward_columns

    rows, quarantined = [], []
    for sample in samples:
        stage = ["row"]  # the field being built when a sample fails, for its quarantine record
        row, problem = isolate(
            str(sample.sample_id), "row", None, _row_of, sample, stage, with_target, with_prompt and prompt_builder,
            reward_columns, score_range,
        )
        if problem is not None:  # whatever one sample raises holds back that sample only (records.isolate)
            quarantined.append({"id": problem.sample_id, "field": stage[-1], "reason": problem.reason})
            continue
        rows.append(row)
    for q in quarantined:
        log.warning("quarantined %s (%s): %s", q["id"], q["field"], q["reason"])
    return RowsResult(rows, quarantined)


def _row_of(sample: Sample, stage: list[str], with_target, prompt_builder, reward_columns, score_range) -> dict:
    """One sample's row; ``stage`` gets the name of each field before it is built (the quarantine names it)."""
    from hieroaction.reasoning import render_target

    row: dict[str, Any] = {
        "sample_id": sample.sample_id,
        "sample": json.dumps(sample.to_dict(), ensure_ascii=False),
        "num_frames": sample.num_frames,
    }
    if with_target:
        stage.append("target")
        row["target"] = render_target(sample)
    if prompt_builder:
        stage.append("prompt")
        row["prompt"] = prompt_builder(row)
    if reward_columns is not None:
        stage.append("reward_columns")
        row.update(reward_columns(sample, score_range))
    return row


def load_samples(path: str | Path, *, max_samples: int | None = None) -> tuple[list[Sample], list[dict[str, Any]]]:
    """Samples from a canonical table or user manifest (JSONL/CSV); quarantined rows come back as dicts."""
    from hieroaction.datasets.manifest import load_manifest

    result = load_manifest(path)
    samples = sorted(result.samples, key=lambda s: s.sample_id)
    if max_samples is not None:
        samples = samples[:max_samples]
    return samples, [q.to_dict() for q in result.quarantined]


def ensure_frames(samples: Sequence[Sample], data_config) -> tuple[list[Sample], list[dict[str, Any]]]:
    """Extract frames for samples that lack them (finished clips are skipped); returns the samples whose frames are
    ready and the quarantine records of those that could not be extracted. Without ``media_root`` the frames must
    already be in ``frames_dir``: samples without them are quarantined."""
    from hieroaction.video.extract import extract_frames
    from hieroaction.video.store import clip_path, is_complete, verify_clip

    settings = frame_settings(data_config.frames)
    if data_config.media_root and data_config.extract_missing:
        result = extract_frames(list(samples), data_config.media_root, data_config.frames_dir, settings)
        bad = {q.sample_id: q for q in result.quarantined}
        quarantined = [q.to_dict() for q in result.quarantined]
        return [s for s in samples if s.sample_id not in bad], quarantined
    ready, quarantined = [], []
    for sample in samples:
        path = clip_path(data_config.frames_dir, sample, settings)
        if is_complete(path):
            ready.append(sample)
            continue
        if path.is_file():  # there, but not the clip extraction wrote: say which way
            reason = f"unloadable: stored clip {verify_clip(path) or 'cannot be read as an array'}"
        else:
            reason = "missing: no extracted frames"
        quarantined.append({"id": sample.sample_id, "field": "video", "value": str(path), "reason": reason})
    return ready, quarantined


def split_datasets(data_config, rows_for: Callable[[str, list[Sample]], RowsResult]) -> dict[str, Any]:
    """``{"train": Dataset, "eval": Dataset | None, "quarantined": [...]}``: samples -> frames -> rows -> datasets,
    the loading SFT and HPL share; ``rows_for(split, samples with frames)`` builds each trainer's own rows.
    Quarantined samples are listed with their split, never dropped; a split left with no rows is a ConfigError."""
    from datasets import Dataset

    from hieroaction.train.config import ConfigError

    result: dict[str, Any] = {"quarantined": []}
    splits = (
        ("train", data_config.train, data_config.max_samples),
        ("eval", data_config.eval, data_config.eval_max_samples),
    )
    for split, path, limit in splits:
        if not path:
            result[split] = None
            continue
        samples, quarantined = load_samples(path, max_samples=limit)
        ready, no_frames = ensure_frames(samples, data_config)
        rows = rows_for(split, ready)
        quarantined += no_frames + rows.quarantined
        if not rows.rows:
            raise ConfigError(f"data.{split}: no usable samples in {path} ({len(quarantined)} quarantined)")
        result[split] = Dataset.from_list(rows.rows)
        result["quarantined"] += [dict(q, split=split) for q in quarantined]
        log.info("%s: %d samples ready, %d quarantined (%s)", split, len(rows.rows), len(quarantined), path)
    return result


# ---------------------------------------------------------------------------------------------------------------
# Collator
# ---------------------------------------------------------------------------------------------------------------


class VideoSFTCollator:
    """Batch rows into Qwen-VL inputs with the video as video and labels on the answer only.

    ``clip_loader(row) -> uint8 (T, H, W, 3)``; rows may carry the clip themselves under ``video`` instead.
    ``prompt_builder(row) -> messages`` defaults to :class:`PromptBuilder` without frame settings.
    ``quarantine``: a row whose clip cannot be loaded is quarantined and replaced (:class:`TrainingQuarantine`);
    without one it raises :class:`TrainingClipError`.
    ``answer_weights`` (``{part: weight}``, ``train.answer_weights``): the batch also carries ``label_weights``, each
    answer token's loss weight (:mod:`hieroaction.train.answer_weights`).
    ``answer_noise`` (``train.answer_noise``, a rate or ``{part: rate}``): that share of the answer tokens the model
    reads is replaced by random ones, drawn from a generator seeded with ``noise_seed``; the labels stay the gold answer
    (:mod:`hieroaction.train.answer_noise`). A resumed run draws from the seed again, so it is seeded but not
    bit-identical with an uninterrupted one; evaluation reads the gold answers (:meth:`without_noise`).
    ``clean_copy`` (with noise only): the batch also carries the gold inputs as ``clean_input_ids``, for a trainer
    that stops the noise at a step (``train.answer_noise_until``).
    ``award_targets`` (``train.award_loss``): the batch also carries ``award_positions`` (each award's whole-number
    token in the sequence, -1 for none) and ``award_targets`` (its value; :mod:`hieroaction.train.award_loss`).
    """

    def __init__(
        self,
        processor,
        clip_loader: Callable[[Mapping[str, Any]], np.ndarray] | None = None,
        prompt_builder: Callable[[Mapping[str, Any]], list[dict]] | None = None,
        max_length: int | None = None,
        quarantine: TrainingQuarantine | None = None,
        answer_weights: Mapping[str, float] | None = None,
        answer_noise: float | Mapping[str, float] | None = None,
        noise_seed: int = 0,
        clean_copy: bool = False,
        award_targets: bool = False,
    ):
        self.processor = processor
        self.answer_weights = dict(answer_weights or {})
        from hieroaction.train.answer_noise import check_answer_noise

        rates = check_answer_noise(answer_noise)
        self.answer_noise = rates if any(rates.values()) else {}
        self._noise_rng = random.Random(noise_seed)
        self.clean_copy = bool(clean_copy and self.answer_noise)
        self.award_targets = bool(award_targets)
        self._replacements: list[int] | None = None
        self._part_cache: dict[tuple, list[float]] = {}  # per target: its tokens' noise rates and loss weights
        self.clip_loader = clip_loader
        self.quarantine = quarantine
        self.prompt_builder = prompt_builder or PromptBuilder()
        self.max_length = max_length
        tokenizer = processor.tokenizer
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id

    def clip(self, row: Mapping[str, Any]) -> np.ndarray:
        sample_id = str(row.get("sample_id", "?"))
        if row.get("video") is not None:
            return check_clip(row["video"], sample_id, error=TrainingClipError)
        if self.clip_loader is None:
            raise TrainingDataError(f"sample {sample_id!r}: field 'video': row has no clip and no clip loader is set")
        return self.clip_loader(row)

    def encode_prompt(self, row: Mapping[str, Any], clip: np.ndarray | None = None) -> dict[str, Any]:
        """Prompt tokens with the video placeholders expanded, and the video tensors."""
        text = self.processor.apply_chat_template(self.prompt_builder(row), tokenize=False, add_generation_prompt=True)
        clip = self.clip(row) if clip is None else clip
        enc = self.processor(text=[text], videos=[clip], do_sample_frames=False, return_tensors="pt")
        return dict(enc)

    def without_noise(self) -> VideoSFTCollator:
        """The same collator reading the gold answers (for evaluation)."""
        plain = copy.copy(self)
        plain.answer_noise, plain.clean_copy = {}, False
        return plain

    def read_answer(self, tokenizer, answer_ids: list[int]) -> list[int]:
        """The answer tokens the model reads: the gold ones, or with ``answer_noise`` some replaced."""
        if not self.answer_noise:
            return answer_ids
        from hieroaction.train.answer_noise import noisy_answer_ids, ordinary_token_ids, token_noise_rates

        if self._replacements is None:
            self._replacements = ordinary_token_ids(tokenizer)
        rates = self.per_token(token_noise_rates, tokenizer, answer_ids, self.answer_noise)
        return noisy_answer_ids(answer_ids, rates, self._replacements, self._noise_rng)

    def per_token(self, values_of: Callable, tokenizer, answer_ids: list[int], per_part: Mapping[str, float]):
        """``values_of(tokenizer, answer_ids, per_part)`` (a target's noise rates or loss weights), computed once per
        target: a target's parts never change, and classing its tokens decodes each of them."""
        key = (values_of, tuple(answer_ids))
        if key not in self._part_cache:
            self._part_cache[key] = values_of(tokenizer, answer_ids, per_part)
        return self._part_cache[key]

    def __call__(self, rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        import torch

        tokenizer = self.processor.tokenizer
        if self.quarantine is not None:  # a clip that no longer loads costs its sample, not the run
            rows, clips = self.quarantine.load_many(rows, self.clip)
        else:
            clips = [self.clip(row) for row in rows]
        sequences, clean_seqs, label_seqs, weight_seqs, per_token_extra, video_parts = [], [], [], [], [], {}
        awards: list[list[tuple[int, float]]] = []
        for row, clip in zip(rows, clips, strict=True):
            enc = self.encode_prompt(row, clip)
            prompt_ids = enc.pop("input_ids")[0].tolist()
            enc.pop("attention_mask", None)
            target = row.get("target")
            if target is None:
                raise TrainingDataError(f"sample {row.get('sample_id', '?')!r}: field 'target' is missing")
            answer_ids = answer_token_ids(tokenizer, target)
            ids = prompt_ids + self.read_answer(tokenizer, answer_ids)
            clean_seqs.append(prompt_ids + answer_ids)
            labels = [IGNORE_INDEX] * len(prompt_ids) + answer_ids
            if self.max_length is not None and len(ids) > self.max_length:
                raise TrainingDataError(
                    f"sample {row.get('sample_id', '?')!r}: field 'target': {len(ids)} tokens exceed max_length="
                    f"{self.max_length}; truncating would cut vision tokens or the answer (use max_length: null)"
                )
            sequences.append(ids)
            label_seqs.append(labels)
            if self.answer_weights:
                from hieroaction.train.answer_weights import answer_token_weights

                weights = self.per_token(answer_token_weights, tokenizer, answer_ids, self.answer_weights)
                weight_seqs.append([1.0] * len(prompt_ids) + weights)
            if self.award_targets:
                found = self.per_token(_award_token_targets, tokenizer, answer_ids, {})
                awards.append([(len(prompt_ids) + index, value) for index, value in found])
            # per-token side inputs (mm_token_type_ids in transformers >= 5.2x): extend over the answer with 0 (text)
            per_token_extra.append(
                {k: v[0].tolist() + [0] * len(answer_ids) for k, v in enc.items() if _is_per_token(v, len(prompt_ids))}
            )
            for key, value in enc.items():
                if not _is_per_token(value, len(prompt_ids)):
                    video_parts.setdefault(key, []).append(value)

        width = max(len(s) for s in sequences)
        batch: dict[str, Any] = {
            "input_ids": torch.tensor([s + [self.pad_id] * (width - len(s)) for s in sequences]),
            "attention_mask": torch.tensor([[1] * len(s) + [0] * (width - len(s)) for s in sequences]),
            "labels": torch.tensor([s + [IGNORE_INDEX] * (width - len(s)) for s in label_seqs]),
        }
        if self.clean_copy:  # train.answer_noise_until: the trainer reads these once the noise has stopped
            batch["clean_input_ids"] = torch.tensor([s + [self.pad_id] * (width - len(s)) for s in clean_seqs])
        if self.award_targets:
            slots = max(1, max(len(found) for found in awards))
            batch["award_positions"] = torch.tensor([[p for p, _ in f] + [-1] * (slots - len(f)) for f in awards])
            batch["award_targets"] = torch.tensor([[v for _, v in f] + [0.0] * (slots - len(f)) for f in awards])
        if weight_seqs:
            batch["label_weights"] = torch.tensor([w + [0.0] * (width - len(w)) for w in weight_seqs])
        for key in per_token_extra[0]:
            batch[key] = torch.tensor([e[key] + [0] * (width - len(e[key])) for e in per_token_extra])
        for key, parts in video_parts.items():
            batch[key] = torch.cat([torch.as_tensor(p) for p in parts], dim=0)
        return batch


def _award_token_targets(tokenizer, answer_ids: list[int], _per_part) -> list[tuple[int, float]]:
    """:func:`hieroaction.train.award_loss.award_token_targets` in :meth:`VideoSFTCollator.per_token`'s form."""
    from hieroaction.train.award_loss import award_token_targets

    return award_token_targets(tokenizer, answer_ids)


def _is_per_token(value: Any, length: int) -> bool:
    return hasattr(value, "shape") and len(value.shape) == 2 and value.shape[0] == 1 and value.shape[1] == length

