"""GRPO on video: trl's GRPOTrainer with the video tensors in every log-prob forward pass.

trl 1.16 sees the video while generating but forwards only *image* tensors (`pixel_values`, `image_grid_thw`) to the
log-prob passes of the policy, the old policy and the reference model, so a video model silently trains on text alone
(trl#5373, #4144; docs/STACK.md). This subclass

- loads each row's clip (uint8 ``(T, H, W, 3)``; from the row or through ``video_loader``) and tokenizes the prompts
  itself with the processor and ``do_sample_frames=False`` (a path would make transformers call torchcodec);
- keeps ``pixel_values_videos``, ``video_grid_thw``, ``second_per_grid_ts`` per sample through trl's shuffle/split of
  the generation batch, and gives them (with ``mm_token_type_ids`` rebuilt from the token ids, which Qwen-VL needs for
  its 3-D rotary positions) to every ``_get_per_token_logps_and_entropies`` call;
- suppresses the vision tokens in generation (:mod:`hieroaction.model.tokens`, the set evaluation suppresses; trl
  suppresses only the image pad): a sampled ``<|video_pad|>`` would not match any video feature and crash or corrupt
  the next forward pass;
- encodes each clip once per pass instead of once per generation, and once per generation batch for the passes
  without gradients (:class:`~hieroaction.train.clip_encoding.ClipEncodingCache`; ``encode_clips_once=False`` is
  the plain path);
- with a ``video_quarantine`` (:class:`~hieroaction.train.data.TrainingQuarantine`), a clip that no longer loads is
  quarantined and its whole group replaced by another sample of the split, instead of stopping the run;
- with ``fast_generation=True`` generates the rollouts with
  :func:`~hieroaction.model.fast_generation.generate_from_shared_prompts` (each clip's prompt prefilled once for all
  its generations, a lean decode loop; the same tokens as ``generate`` for the same seed) instead of HF ``generate``;
- with ``credit="level"`` gives each completion token the advantage of the reward levels its part of the answer
  decides (:mod:`hieroaction.rewards.credit`, :mod:`hieroaction.train.level_credit`) instead of the whole answer's;
- with ``baseline="greedy"`` (needs ``fast_generation``) also decodes each clip's greedy answer, the one evaluation
  reads, and baselines every sampled answer against its reward instead of the group's mean: only answers better than
  the greedy one are reinforced, instead of every answer above a group mean that sampling pulls below it
  (:func:`~hieroaction.train.level_credit.class_advantages`);
- with ``sft_weight > 0`` adds ``sft_weight`` x the SFT loss of each clip's gold answer (rows need a ``target``) to
  the GRPO loss: the policy keeps learning the gold answers while GRPO ranks its own, instead of drifting from them
  on a few noisy rewards (:func:`gold_answer_loss`; the gold tokens are :func:`~hieroaction.train.data.answer_token_ids`,
  the SFT collator's).
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import Trainer
from trl import GRPOTrainer
from trl.data_utils import is_conversational
from trl.extras.profiling import profiling_context
from trl.models import unwrap_model_for_generation
from trl.trainer.utils import pad

from hieroaction.model.fast_generation import DecodeSettings, distinct_prompt_inputs, generate_from_shared_prompts
from hieroaction.model.tokens import suppressed_token_ids
from hieroaction.rewards.credit import CREDIT_CLASSES, class_returns
from hieroaction.train.clip_encoding import ClipEncodingCache
from hieroaction.train.data import IGNORE_INDEX, answer_token_ids
from hieroaction.train.level_credit import class_advantages, completion_classes, token_advantages
from hieroaction.video.checks import ClipError, check_clip

VIDEO_TENSOR_FIELDS = ("pixel_values_videos", "video_grid_thw", "second_per_grid_ts")

VideoLoader = Callable[[Mapping[str, Any]], np.ndarray]


class VideoInputError(ClipError):
    """A row's video is missing or malformed; the message names the sample and the field."""


def load_video_value(value: Any) -> np.ndarray:
    """Turn a dataset ``video`` cell into a uint8 clip: an array, nested lists, or a path to a ``.npy``/``.npz`` file."""
    if isinstance(value, (str, Path)):
        path = Path(value)
        if path.suffix == ".npz":
            with np.load(path) as archive:
                return np.asarray(archive[archive.files[0]])
        return np.load(path)
    array = np.asarray(value)
    if isinstance(value, list) and array.size and np.issubdtype(array.dtype, np.integer):
        # `datasets` hands uint8 arrays back as int64 lists: narrow them only when every value fits.
        if array.min() >= 0 and array.max() <= 255:
            array = array.astype(np.uint8)
    return array


def count_video_parts(prompt: list[dict]) -> int:
    """How many ``{"type": "video"}`` placeholders a conversational prompt holds."""
    count = 0
    for message in prompt:
        content = message.get("content")
        if isinstance(content, list):
            count += sum(1 for part in content if isinstance(part, Mapping) and part.get("type") == "video")
    return count


class VideoGRPOTrainer(GRPOTrainer):
    """GRPOTrainer whose policy/old/reference log-prob passes all see the video.

    Args (beyond GRPOTrainer's):
        video_loader: ``row -> uint8 (T,H,W,3)``; default reads ``row[video_column]`` (array, lists or ``.npy`` path).
        video_column: the dataset column read by the default loader.
        id_column: the column used to name the sample in error messages.
        encode_clips_once: share one vision-tower encoding among a clip's repeats (see module docstring).
        video_quarantine: replaces a row whose clip cannot be loaded (see module docstring); without one it raises.
        fast_generation: generate the rollouts with the shared-prompt decode loop instead of HF ``generate``; a
            generation setting it does not implement raises ``ValueError`` here, before training.
        credit: ``"sequence"`` (trl's one advantage per completion) or ``"level"`` (per token, from the levels of a
            :class:`~hieroaction.rewards.HierarchicalReward`, which must then be the only reward function).
        baseline: ``"group"`` (trl's: the mean reward of the clip's answers) or ``"greedy"`` (the reward of the clip's
            greedy answer; needs ``fast_generation`` and a single HierarchicalReward).
        sft_weight: weight of the gold answers' SFT loss added to the GRPO loss (0: GRPO alone); each clip counts
            once, however many answers it has in the batch.
    """

    def __init__(
        self,
        *args,
        video_loader: VideoLoader | None = None,
        video_column: str = "video",
        id_column: str = "sample_id",
        encode_clips_once: bool = True,
        video_quarantine=None,
        fast_generation: bool = False,
        credit: str = "sequence",
        baseline: str = "group",
        sft_weight: float = 0.0,
        **kwargs,
    ):
        if not sft_weight >= 0:
            raise ValueError(f"sft_weight must be >= 0, got {sft_weight!r}")
        if credit not in ("sequence", "level"):
            raise ValueError(f"credit must be 'sequence' or 'level', got {credit!r}")
        if baseline not in ("group", "greedy"):
            raise ValueError(f"baseline must be 'group' or 'greedy', got {baseline!r}")
        if baseline == "greedy" and not fast_generation:
            raise ValueError("baseline='greedy' decodes the greedy answers with the fast generation path: set "
                             "fast_generation")
        super().__init__(*args, **kwargs)
        self.sft_weight = float(sft_weight)
        self.credit, self.baseline = credit, baseline
        self.credit_reward = self._credit_reward() if credit == "level" or baseline == "greedy" else None
        self._greedy_ids: list[list[int]] | None = None
        # after trl built its reference model, so that model keeps its own, unwrapped encoder
        self.clip_cache = ClipEncodingCache(self.model, self.accelerator.autocast) if encode_clips_once else None
        if not self._is_vlm:
            raise TypeError("VideoGRPOTrainer needs a processor (ProcessorMixin) with a video processor")
        self.video_column = video_column
        self.id_column = id_column
        self.video_loader = video_loader
        self.video_quarantine = video_quarantine
        self._batch_videos: list[np.ndarray] | None = None
        self._tokenized_video: dict[str, Any] | None = None
        self._scoring_video: dict[str, Any] | None = None
        self._image_token_id = getattr(self.model.config, "image_token_id", None)
        self._video_token_id = getattr(self.model.config, "video_token_id", None)
        self._suppress_vision_tokens()
        self.fast_generation = fast_generation
        if fast_generation:
            if self.use_transformers_continuous_batching:
                raise ValueError("fast_generation and trl's continuous batching are two generation paths: pick one")
            DecodeSettings.for_model(self.model, self.generation_config)  # refuses an unsupported setting now

    # ----------------------------------------------------------------------------------------------- generation
    def _suppress_vision_tokens(self) -> None:
        """Add the vision tokens (:func:`hieroaction.model.tokens.suppressed_token_ids`) to ``suppress_tokens`` of the
        generation config trl uses."""
        suppressed = suppressed_token_ids(self._tokenizer, self.model.config)
        if getattr(self, "use_vllm", False):
            raise NotImplementedError("VideoGRPOTrainer supports transformers generation only (use_vllm=False)")
        existing = list(self.generation_kwargs.get("suppress_tokens") or [])
        merged = existing + [t for t in suppressed if t not in existing]
        self.generation_kwargs["suppress_tokens"] = merged
        self.generation_config.suppress_tokens = merged
        self.suppressed_token_ids = merged

    def _generate_single_turn(self, prompt_ids, images, multimodal_fields, num_generations, has_tool_images=False):
        """trl's transformers branch with the shared-prompt decode loop in place of ``generate`` (same inputs, same
        end-of-answer masking); trl's own path when ``fast_generation`` is off."""
        if not self.fast_generation or images is not None or has_tool_images:
            return super()._generate_single_turn(prompt_ids, images, multimodal_fields, num_generations,
                                                 has_tool_images)
        pad_id, multiple = self._tokenizer.pad_token_id, self.pad_to_multiple_of
        tensors = [torch.tensor(ids) for ids in prompt_ids]
        inputs: dict[str, Any] = {
            "input_ids": pad(tensors, padding_value=pad_id, padding_side="left", pad_to_multiple_of=multiple),
            "attention_mask": pad([torch.ones_like(t) for t in tensors], padding_value=0, padding_side="left",
                                  pad_to_multiple_of=multiple),
        }
        for key, value in multimodal_fields.items():
            if isinstance(value, torch.Tensor):
                inputs[key] = value
            elif isinstance(value, list) and value and isinstance(value[0], list):  # per token: padded like the ids
                inputs[key] = pad([torch.tensor(x) for x in value], padding_value=0, padding_side="left",
                                  pad_to_multiple_of=multiple)
            else:
                inputs[key] = torch.tensor(np.array(value))
        inputs = Trainer._prepare_inputs(self, inputs)
        with (
            profiling_context(self, "fast_generation"),
            unwrap_model_for_generation(
                self.model_wrapped,
                self.accelerator,
                gather_deepspeed3_params=self.args.ds3_gather_for_generation,
                generation_kwargs=self.generation_kwargs,
                gradient_checkpointing_kwargs=self.args.gradient_checkpointing_kwargs,
            ) as unwrapped_model,
            torch.no_grad(),
            self._dist.summon_full_params(self.model_wrapped, recurse=False),
        ):
            settings = DecodeSettings.for_model(unwrapped_model, self.generation_config)
            output = generate_from_shared_prompts(unwrapped_model, inputs, settings)
            if self.baseline == "greedy":  # after the samples: greedy decoding draws nothing from the generator
                distinct, owner = distinct_prompt_inputs(inputs)
                greedy = generate_from_shared_prompts(unwrapped_model, distinct,
                                                      dataclasses.replace(settings, do_sample=False))
                greedy_ids = self._until_end(greedy.completion_ids)
                self._greedy_ids = [greedy_ids[i] for i in owner.tolist()]
        # None like trl's generate path: sampling log-probs would switch on trl's importance-sampling correction
        return self._until_end(output.completion_ids), None

    def _until_end(self, completion_ids: torch.Tensor) -> list[list[int]]:
        """Each row's tokens up to and including its first end-of-answer token, as trl keeps them after generate()."""
        device = completion_ids.device
        is_eos = torch.isin(completion_ids, torch.tensor(self.eos_token_ids, device=device))
        eos_idx = torch.full((is_eos.size(0),), is_eos.size(1), dtype=torch.long, device=device)
        eos_idx[is_eos.any(dim=1)] = is_eos.int().argmax(dim=1)[is_eos.any(dim=1)]
        positions = torch.arange(is_eos.size(1), device=device).expand(is_eos.size(0), -1)
        keep = (positions <= eos_idx.unsqueeze(1)).cpu()
        return [c[m].tolist() for c, m in zip(completion_ids.cpu(), keep, strict=True)]

    def _row_id(self, row: Mapping[str, Any], index: int) -> str:
        return str(row.get(self.id_column, f"row {index}"))

    def _load_clip(self, row: Mapping[str, Any], index: int = 0) -> np.ndarray:
        sample_id = self._row_id(row, index)
        if self.video_loader is not None:
            clip = self.video_loader(row)
        elif self.video_column not in row:
            raise VideoInputError(f"sample {sample_id!r}: field {self.video_column!r} is missing from the row")
        else:
            clip = load_video_value(row[self.video_column])
        return check_clip(clip, sample_id, self.video_column, VideoInputError)

    def _load_batch_videos(self, inputs: list[dict[str, Any]]) -> list[np.ndarray]:
        """The clips of a generation batch. With a quarantine, ``inputs`` is changed in place: the rows of a sample
        whose clip fails are replaced (all its repeats by the same sample, so its group stays whole)."""
        if self.video_quarantine is not None:
            rows, clips = self.video_quarantine.load_many(inputs, self._load_clip)
            inputs[:] = [dict(row) for row in rows]
        else:
            clips = [self._load_clip(row, index) for index, row in enumerate(inputs)]
        for index, row in enumerate(inputs):
            sample_id = self._row_id(row, index)
            if count_video_parts(row["prompt"]) != 1:
                raise VideoInputError(
                    f"sample {sample_id!r}: field 'prompt' must hold exactly one {{'type': 'video'}} part, "
                    f"found {count_video_parts(row['prompt'])}"
                )
        return clips

    def _tokenize_prompts(self, prompts: list):
        """Render the chat template, then let the processor expand ``<|video_pad|>`` from the decoded clips."""
        if self._batch_videos is None:
            return super()._tokenize_prompts(prompts)
        if self.tools or self.environment_factories is not None:
            raise NotImplementedError("VideoGRPOTrainer does not support tools or environments")
        texts = [
            self.processing_class.apply_chat_template(
                conversation=prompt,
                chat_template=self.chat_template,
                add_generation_prompt=True,
                tokenize=False,
                **self.chat_template_kwargs,
            )
            for prompt in prompts
        ]
        encoded = self.processing_class(
            text=texts,
            videos=self._batch_videos,
            padding=True,
            padding_side="left",
            return_tensors="pt",
            do_sample_frames=False,
        )
        mask = encoded["attention_mask"].bool()
        prompt_ids = [row[row_mask].tolist() for row, row_mask in zip(encoded["input_ids"], mask, strict=True)]
        fields = {k: encoded[k] for k in VIDEO_TENSOR_FIELDS if k in encoded}
        if "pixel_values_videos" not in fields:
            raise RuntimeError(
                "the processor returned no pixel_values_videos: is the video placeholder in the template?"
            )
        fields["num_videos"] = [1] * len(prompts)
        self._tokenized_video = fields
        multimodal_fields = {k: v for k, v in fields.items() if k != "num_videos"}
        if self._video_token_id is not None:
            # Unpadded per-token ids: trl left-pads them exactly like prompt_ids for generate().
            multimodal_fields["mm_token_type_ids"] = [[self._mm_type(t) for t in ids] for ids in prompt_ids]
        return prompt_ids, None, multimodal_fields

    def _mm_type(self, token_id: int) -> int:
        if token_id == self._image_token_id:
            return 1
        if token_id == self._video_token_id:
            return 2
        return 0

    # ------------------------------------------------------------------------------------------ batch plumbing
    def _generate_and_score_completions(self, inputs: list[dict[str, Any]]) -> dict[str, Any]:
        self._batch_videos = self._load_batch_videos(inputs)
        self._tokenized_video = None
        self._greedy_ids = None
        try:
            # The old/ref passes inside trl's method read the video through _scoring_video (see _video_scope).
            with self._lazy_video_scope(), self._clip_scope():
                output = super()._generate_and_score_completions(inputs)
            fields = self._tokenized_video
        finally:
            self._batch_videos = None
            self._tokenized_video = None
        output.update(split_video_fields(fields, device=self.accelerator.device))
        if self.sft_weight > 0:
            output.update(self._gold_fields(inputs))
        if self.credit_reward is not None:
            output["advantages"] = self._own_advantages(output, inputs)
        return output

    # ------------------------------------------------------------------------------------------- gold SFT term
    def _gold_fields(self, inputs: list[dict[str, Any]]) -> dict[str, Any]:
        """Per row: whether the row is the first of its clip's group (the one row whose gold answer is learned, so that
        each clip counts once) and, for those rows only, the gold answer's token ids (empty for the other repeats)."""
        first = self.accelerator.process_index * len(inputs)
        ids, leads = [], []
        for index, row in enumerate(inputs):
            target = row.get("target")
            if not isinstance(target, str) or not target:
                raise VideoInputError(f"sample {self._row_id(row, index)!r}: field 'target' is missing (sft_weight > 0 "
                                      "needs rows built with their gold answer)")
            lead = (first + index) % self.num_generations == 0
            ids.append(torch.tensor(answer_token_ids(self._tokenizer, target) if lead else [], dtype=torch.long))
            leads.append(lead)
        return {"gold_ids": ids, "gold_lead": torch.tensor(leads, dtype=torch.bool, device=self.accelerator.device)}

    def _gold_loss(self, model, inputs: Mapping[str, Any]) -> torch.Tensor | None:
        """Mean token cross-entropy of the gold answers of this micro-batch's lead rows (None when it has none)."""
        rows = [i for i, lead in enumerate(inputs["gold_lead"].tolist()) if lead]
        if not rows:
            return None
        prompts = [inputs["prompt_ids"][i][inputs["prompt_mask"][i].bool()] for i in rows]
        golds = [inputs["gold_ids"][i].to(prompts[0].device) for i in rows]
        video = merge_video_fields({k: [inputs[k][i] for i in rows] for k in (*VIDEO_TENSOR_FIELDS, "num_videos")
                                    if inputs.get(k) is not None})
        return gold_answer_loss(model, prompts, golds, video, self._tokenizer.pad_token_id, self._mm_token_type_ids,
                                self.accelerator.autocast)

    # ------------------------------------------------------------ own advantages: level credit, greedy baseline
    def _credit_reward(self):
        """The HierarchicalReward whose levels give the returns of level credit and of the greedy baseline."""
        rewards = [f for f in self.reward_funcs if hasattr(f, "components") and hasattr(f, "config")]
        if len(self.reward_funcs) != 1 or len(rewards) != 1:
            raise ValueError("credit='level' and baseline='greedy' need exactly one reward function, a "
                             "HierarchicalReward")
        if self.multi_objective_aggregation != "sum_then_normalize":
            raise ValueError("credit='level' and baseline='greedy' compute their own advantages: keep "
                             "multi_objective_aggregation's default")
        return rewards[0]

    def _mode(self) -> str:
        return "train" if self.model.training else "eval"

    def _returns(self, components: Mapping[str, list[float]]) -> torch.Tensor:
        """``(N, C)`` returns: one column per credit class (level credit) or the whole answer's reward."""
        if self.credit == "level":
            rows = class_returns(components, self.credit_reward.config)
        else:
            rows = [[total] for total in components["total"]]
        return torch.tensor(rows, dtype=torch.float32, device=self.accelerator.device)

    def _greedy_returns(self, inputs: list[dict[str, Any]]) -> torch.Tensor:
        """The returns of each row's clip's greedy answer, scored by the same reward with the same columns."""
        if self._greedy_ids is None or len(self._greedy_ids) != len(inputs):
            raise RuntimeError("no greedy answer for every row: baseline='greedy' needs the fast generation path")
        texts = self.processing_class.batch_decode(self._greedy_ids, skip_special_tokens=True)
        completions: list[Any] = texts
        if is_conversational(inputs[0]):
            completions = [[{"role": "assistant", "content": text}] for text in texts]
        columns = {key: [row[key] for row in inputs] for key in inputs[0]
                   if key not in ("prompt", "completion", "completion_ids")}
        components = self.credit_reward.components(completions, trainer_state=self.state, **columns)
        self._metrics[self._mode()]["reward/greedy"].append(sum(components["total"]) / max(len(texts), 1))
        return self._returns(components)

    def _own_advantages(self, output: dict[str, Any], inputs: list[dict[str, Any]]) -> torch.Tensor:
        """Advantages of this process's completions from the returns the reward just scored: ``(B,)`` for whole-answer
        credit, ``(B, T)`` for level credit; against the group mean or the greedy answers (all processes' returns
        gathered first: a clip's answers may be spread over processes, as trl spreads them)."""
        components = self.credit_reward.last_components
        local = output["completion_ids"].size(0)
        if len(components.get("total", ())) != local:
            raise RuntimeError(f"the reward scored {len(components.get('total', ()))} completions, the batch has {local}")
        returns = self._returns(components)
        baseline = None
        if self.baseline == "greedy":
            greedy = self._greedy_returns(inputs)
            beat = (returns.sum(dim=1) > greedy.sum(dim=1)).float().mean().item()
            self._metrics[self._mode()]["reward/beats_greedy"].append(beat)
            baseline = self.accelerator.gather(greedy)
        advantages = class_advantages(self.accelerator.gather(returns), self.num_generations, self.scale_rewards,
                                      baseline)
        start = self.accelerator.process_index * local
        advantages = advantages[start : start + local]
        if self.credit != "level":
            return advantages[:, 0]
        classes = completion_classes(self._tokenizer, output["completion_ids"], output["completion_mask"])
        real = output["completion_mask"].bool().to(classes.device)  # the ids may be on a GPU, the classes are not
        for index, name in enumerate(CREDIT_CLASSES):  # the share of the answer tokens each level credits
            share = (classes == index).logical_and(real).sum().item() / max(int(real.sum().item()), 1)
            self._metrics[self._mode()][f"credit/{name}_tokens"].append(share)
        return token_advantages(advantages, classes)

    def _clip_scope(self):
        return self.clip_cache.scope() if self.clip_cache is not None else contextlib.nullcontext()

    @contextlib.contextmanager
    def _lazy_video_scope(self) -> Iterator[None]:
        """Scope in which log-prob passes take the video tokenized for the current generation batch."""
        previous = self._scoring_video
        self._scoring_video = {"lazy": True}
        try:
            yield
        finally:
            self._scoring_video = previous

    @contextlib.contextmanager
    def _video_scope(self, fields: dict[str, Any] | None) -> Iterator[None]:
        previous = self._scoring_video
        self._scoring_video = fields
        try:
            yield
        finally:
            self._scoring_video = previous

    def _current_video(self) -> dict[str, Any] | None:
        fields = self._scoring_video
        if fields is not None and fields.get("lazy"):
            fields = self._tokenized_video
            if fields is not None:
                fields = {k: (v.to(self.accelerator.device) if torch.is_tensor(v) else v) for k, v in fields.items()}
        return fields

    def _compute_loss(self, model, inputs):
        with self._video_scope(merge_video_fields(inputs)):
            loss = super()._compute_loss(model, inputs)
        if self.sft_weight > 0:
            gold = self._gold_loss(model, inputs)
            if gold is not None:
                mode = self._mode()
                self._metrics[mode]["sft_loss"].append(self.accelerator.gather(gold.detach()).mean().item())
                normalizer = self.current_gradient_accumulation_steps if mode == "train" else 1.0
                loss = loss + self.sft_weight * gold / normalizer
        return loss

    # ------------------------------------------------------------------------------------------ log-prob pass
    def _get_per_token_logps_and_entropies(
        self,
        model,
        input_ids,
        attention_mask,
        logits_to_keep,
        batch_size=None,
        compute_entropy=False,
        compute_aux_loss=False,
        **multimodal,
    ):
        video = self._current_video()
        if video is None:
            return super()._get_per_token_logps_and_entropies(
                model,
                input_ids,
                attention_mask,
                logits_to_keep,
                batch_size=batch_size,
                compute_entropy=compute_entropy,
                compute_aux_loss=compute_aux_loss,
                **multimodal,
            )
        image_args = [k for k in ("pixel_values", "image_grid_thw") if multimodal.get(k) is not None]
        if image_args:
            raise NotImplementedError(f"VideoGRPOTrainer cannot mix images and video in one sample ({image_args})")
        num_videos = video["num_videos"]
        if len(num_videos) != input_ids.size(0):
            raise RuntimeError(f"video fields cover {len(num_videos)} samples, the batch has {input_ids.size(0)}")
        grid = video["video_grid_thw"]
        rows_per_video = grid.prod(dim=-1).tolist()
        video_bounds = np.concatenate([[0], np.cumsum(num_videos)]).astype(int)
        row_bounds = np.concatenate([[0], np.cumsum(rows_per_video)]).astype(int)

        batch_size = batch_size or input_ids.size(0)
        all_logps, all_entropies, all_aux = [], [], []
        for start in range(0, input_ids.size(0), batch_size):
            end = min(start + batch_size, input_ids.size(0))
            ids = input_ids[start:end]
            att = attention_mask[start:end]
            v0, v1 = video_bounds[start], video_bounds[end]
            r0, r1 = row_bounds[v0], row_bounds[v1]
            model_inputs = {
                "input_ids": ids,
                "attention_mask": att,
                "pixel_values_videos": video["pixel_values_videos"][r0:r1],
                "video_grid_thw": grid[v0:v1],
                "mm_token_type_ids": self._mm_token_type_ids(ids),
            }
            if video.get("second_per_grid_ts") is not None:
                model_inputs["second_per_grid_ts"] = video["second_per_grid_ts"][v0:v1]
            if compute_aux_loss:
                model_inputs["output_router_logits"] = True
            labels = ids.masked_fill(att == 0, -100)
            labels[:, :-logits_to_keep] = -100
            with self.accelerator.autocast():
                outputs = model(**model_inputs, labels=labels, fused_lm_head=True)
            all_logps.append(outputs.log_probs[:, -logits_to_keep:])
            if compute_entropy:
                all_entropies.append(outputs.entropy[:, -logits_to_keep:])
            if compute_aux_loss:
                all_aux.append(outputs.aux_loss)
        logps = torch.cat(all_logps, dim=0)
        entropies = torch.cat(all_entropies, dim=0) if compute_entropy else None
        aux_loss = torch.stack(all_aux).mean() if compute_aux_loss else None
        return logps, entropies, aux_loss

    def _mm_token_type_ids(self, ids: torch.Tensor) -> torch.Tensor:
        """1 for image pads, 2 for video pads: what Qwen-VL's processor returns, rebuilt for prompt+completion."""
        types = torch.zeros_like(ids)
        if self._image_token_id is not None:
            types[ids == self._image_token_id] = 1
        if self._video_token_id is not None:
            types[ids == self._video_token_id] = 2
        return types


def gold_answer_loss(model, prompts, golds, video, pad_id, mm_types, autocast=contextlib.nullcontext) -> torch.Tensor:
    """SFT loss of gold answers after their prompts: each ``prompts[i] + golds[i]`` right-padded, labels on the gold
    tokens only, the video of each row in ``video`` (merged :func:`split_video_fields` entries) -- the SFT
    collator's layout, so the term is the SFT stage's loss on these clips."""
    sequences = [torch.cat([p, g]) for p, g in zip(prompts, golds, strict=True)]
    width = max(len(s) for s in sequences)
    device = sequences[0].device
    ids = torch.full((len(sequences), width), pad_id, dtype=torch.long, device=device)
    labels = torch.full_like(ids, IGNORE_INDEX)
    attention = torch.zeros_like(ids)
    for row, (prompt, sequence) in enumerate(zip(prompts, sequences, strict=True)):
        ids[row, : len(sequence)] = sequence
        attention[row, : len(sequence)] = 1
        labels[row, len(prompt) : len(sequence)] = sequence[len(prompt) :]
    model_inputs = {"input_ids": ids, "attention_mask": attention, "labels": labels, "mm_token_type_ids": mm_types(ids)}
    if video is not None:
        model_inputs.update({k: v for k, v in video.items() if k != "num_videos"})
    with autocast():
        return model(**model_inputs).loss


def split_video_fields(fields: dict[str, Any] | None, device=None) -> dict[str, list]:
    """Per-sample lists of the video tensors, so trl's shuffle and split of the generation batch keep them aligned."""
    if not fields:
        return {}
    num_videos = list(fields["num_videos"])
    grid = fields["video_grid_thw"]
    rows = torch.split(fields["pixel_values_videos"], [int(n) for n in grid.prod(dim=-1).tolist()], dim=0)
    out: dict[str, list] = {"pixel_values_videos": [], "video_grid_thw": [], "num_videos": num_videos}
    seconds = fields.get("second_per_grid_ts")
    if seconds is not None:
        seconds = torch.as_tensor(seconds, dtype=torch.float32)
        out["second_per_grid_ts"] = []
    cursor = 0
    for n in num_videos:
        out["pixel_values_videos"].append(torch.cat(rows[cursor : cursor + n], dim=0).to(device))
        out["video_grid_thw"].append(grid[cursor : cursor + n].to(device))
        if seconds is not None:
            out["second_per_grid_ts"].append(seconds[cursor : cursor + n].to(device))
        cursor += n
    return out


def merge_video_fields(inputs: Mapping[str, Any]) -> dict[str, Any] | None:
    """Inverse of :func:`split_video_fields` for one training micro-batch (None when the batch has no video)."""
    if inputs.get("pixel_values_videos") is None:
        return None
    merged: dict[str, Any] = {
        "pixel_values_videos": torch.cat(list(inputs["pixel_values_videos"]), dim=0),
        "video_grid_thw": torch.cat(list(inputs["video_grid_thw"]), dim=0),
        "num_videos": list(inputs["num_videos"]),
    }
    if inputs.get("second_per_grid_ts") is not None:
        merged["second_per_grid_ts"] = torch.cat(list(inputs["second_per_grid_ts"]), dim=0)
    return merged
