"""Generation that prefills each distinct prompt once and decodes in a lean loop: THE rollout path of HPL.

GRPO asks for ``num_generations`` answers to the same clip and prompt. HF's ``generate`` runs the prompt (video
tokens included: most of the sequence) through the model once per answer, then decodes with a loop that re-derives
masks and positions at every step. :func:`generate_from_shared_prompts`

- finds the rows that hold the same prompt and the same video, and prefills each distinct one once (the vision tower
  encodes each clip once; the prompt's forward pass runs once);
- copies that prompt's key/value cache to every row that asked for it;
- decodes all rows together, one token per step, with the positions computed once (Qwen-VL's 3-D rotary offset of a
  row, ``rope_deltas``, plus the row's text position), the key/value cache written into buffers allocated once for
  the whole answer (HF's dynamic cache copies the whole cache at every step), and, with SDPA attention, the decode
  attention mask built once and sliced (HF rebuilds it at every step).

The math is HF's: the logits processors are transformers' own classes in ``generate``'s order, a step samples every
row with one ``torch.multinomial`` (greedy: ``argmax``), finished rows get the pad token, and the loop stops when every
row has ended. With the same seed it samples what ``generate`` samples; tests compare the tokens with ``generate`` and
the log-probs with the training pass. Settings outside that subset are refused (:class:`UnsupportedGenerationSetting`)
rather than ignored.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

VIDEO_FIELDS = ("pixel_values_videos", "video_grid_thw", "second_per_grid_ts")
ROW_FIELDS = ("input_ids", "attention_mask", "mm_token_type_ids")


class UnsupportedGenerationSetting(ValueError):
    """A generation setting the fast path does not implement; the message names the field."""


# field -> value that means "off" (None is always off); every other field of GenerationConfig is irrelevant here
_OFF_VALUES: dict[str, Any] = {
    "num_beams": 1,
    "num_beam_groups": 1,
    "repetition_penalty": 1.0,
    "encoder_repetition_penalty": 1.0,
    "no_repeat_ngram_size": 0,
    "encoder_no_repeat_ngram_size": 0,
    "bad_words_ids": None,
    "sequence_bias": None,
    "guidance_scale": 1.0,
    "forced_bos_token_id": None,
    "forced_eos_token_id": None,
    "begin_suppress_tokens": None,
    "typical_p": 1.0,
    "epsilon_cutoff": 0.0,
    "eta_cutoff": 0.0,
    "top_h": None,
    "renormalize_logits": False,
    "watermarking_config": None,
    "exponential_decay_length_penalty": None,
    "remove_invalid_values": False,
    "min_length": 0,
    "penalty_alpha": None,
    "constraints": None,
    "force_words_ids": None,
    "prompt_lookup_num_tokens": None,
    "assistant_early_exit": None,
    "stop_strings": None,
}


@dataclass(frozen=True)
class DecodeSettings:
    """What decides the tokens: the subset of ``GenerationConfig`` the fast path implements."""

    max_new_tokens: int
    eos_token_ids: tuple[int, ...]
    pad_token_id: int
    do_sample: bool = False
    temperature: float = 1.0
    top_k: int | None = None
    top_p: float = 1.0
    min_p: float | None = None
    min_new_tokens: int = 0
    suppress_tokens: tuple[int, ...] = ()

    @classmethod
    def for_model(cls, model, config=None) -> DecodeSettings:
        """The settings ``model.generate(generation_config=config)`` would decode with: ``generate`` fills the fields
        ``config`` leaves unset from ``model.generation_config`` and then from transformers' global defaults (an unset
        ``top_k`` becomes 50; docs/STACK.md), so the fast path resolves them the same way."""
        prepare = getattr(model, "_prepare_generation_config", None)
        if prepare is None:
            raise UnsupportedGenerationSetting(
                f"{type(model).__name__} has no _prepare_generation_config: cannot resolve its generation settings "
                f"as generate() does (set hpl.fast_generation: false)"
            )
        resolved = prepare(config)
        return cls.from_generation_config(resolved[0] if isinstance(resolved, tuple) else resolved)

    @classmethod
    def from_generation_config(cls, config) -> DecodeSettings:
        """The settings of a fully resolved ``GenerationConfig`` (see :meth:`for_model`); a setting outside the subset
        raises :class:`UnsupportedGenerationSetting` naming it."""
        for name, off in _OFF_VALUES.items():
            value = getattr(config, name, None)
            if value is not None and value != off and not (off is None and value in ((), [], {})):
                raise UnsupportedGenerationSetting(
                    f"generation setting {name}={value!r} is not supported by the fast generation path "
                    f"(set hpl.fast_generation: false to use transformers' generate)"
                )
        if not config.max_new_tokens:
            raise UnsupportedGenerationSetting("the fast generation path needs max_new_tokens")
        eos = config.eos_token_id
        eos = () if eos is None else (tuple(int(t) for t in eos) if isinstance(eos, Sequence) else (int(eos),))
        pad = config.pad_token_id if config.pad_token_id is not None else (eos[0] if eos else None)
        if pad is None:
            raise UnsupportedGenerationSetting("the fast generation path needs pad_token_id or eos_token_id")
        return cls(
            max_new_tokens=int(config.max_new_tokens),
            eos_token_ids=eos,
            pad_token_id=int(pad),
            do_sample=bool(config.do_sample),
            temperature=1.0 if config.temperature is None else float(config.temperature),
            top_k=None if not config.top_k else int(config.top_k),
            top_p=1.0 if config.top_p is None else float(config.top_p),
            min_p=None if config.min_p is None else float(config.min_p),
            min_new_tokens=int(config.min_new_tokens or 0),
            suppress_tokens=tuple(int(t) for t in (config.suppress_tokens or ())),
        )


@dataclass
class FastGenerationOutput:
    """``completion_ids`` (rows x steps, the pad token after a row's end) and ``logprobs``: each token's log-prob
    under the model's logits divided by the temperature, the distribution trl's training pass scores."""

    completion_ids: torch.Tensor
    logprobs: torch.Tensor
    prefilled_rows: int
    preallocated_cache: bool = False


def logits_processors(settings: DecodeSettings, prompt_length: int, device) -> list[Callable]:
    """transformers' processors for ``settings``, in the order ``GenerationMixin._get_logits_processor`` uses."""
    from transformers.generation.logits_process import (
        MinNewTokensLengthLogitsProcessor,
        MinPLogitsWarper,
        SuppressTokensLogitsProcessor,
        TemperatureLogitsWarper,
        TopKLogitsWarper,
        TopPLogitsWarper,
    )

    processors: list[Callable] = []
    if settings.min_new_tokens > 0 and settings.eos_token_ids:
        processors.append(MinNewTokensLengthLogitsProcessor(
            prompt_length, settings.min_new_tokens, list(settings.eos_token_ids), device=device))
    if settings.suppress_tokens:
        processors.append(SuppressTokensLogitsProcessor(list(settings.suppress_tokens), device=device))
    if settings.do_sample:
        if settings.temperature != 1.0:
            processors.append(TemperatureLogitsWarper(settings.temperature))
        if settings.top_k:
            processors.append(TopKLogitsWarper(top_k=settings.top_k, min_tokens_to_keep=1))
        if settings.top_p < 1.0:
            processors.append(TopPLogitsWarper(top_p=settings.top_p, min_tokens_to_keep=1))
        if settings.min_p is not None:
            processors.append(MinPLogitsWarper(min_p=settings.min_p, min_tokens_to_keep=1))
    return processors


def _row_videos(inputs: Mapping[str, Any], rows: int) -> list[torch.Tensor] | None:
    """Each row's ``pixel_values_videos`` slice (one video per row), or None without video."""
    pixels = inputs.get("pixel_values_videos")
    if pixels is None:
        return None
    grid = inputs["video_grid_thw"]
    if grid.shape[0] != rows:
        raise ValueError(f"fast generation needs one video per row: {grid.shape[0]} videos for {rows} rows")
    return list(torch.split(pixels, [int(n) for n in grid.prod(dim=-1).tolist()], dim=0))


def shared_prompt_groups(input_ids: torch.Tensor, attention_mask: torch.Tensor,
                         videos: Sequence[torch.Tensor] | None) -> tuple[list[int], torch.Tensor]:
    """``(first row of each distinct prompt, index of its distinct prompt for every row)``: rows are the same prompt
    when their unpadded tokens and their video pixels are equal."""
    first: list[int] = []
    keys: dict[tuple[int, ...], list[int]] = {}
    owner: list[int] = []
    for row in range(input_ids.shape[0]):
        key = tuple(input_ids[row][attention_mask[row].bool()].tolist())
        match = None
        for candidate in keys.get(key, []):
            other = first[candidate]
            if videos is None or (videos[row].shape == videos[other].shape and torch.equal(videos[row], videos[other])):
                match = candidate
                break
        if match is None:
            match = len(first)
            first.append(row)
            keys.setdefault(key, []).append(match)
        owner.append(match)
    return first, torch.tensor(owner, dtype=torch.long, device=input_ids.device)


class _PreallocatedLayer:
    """Mixin body for a ``DynamicLayer`` whose keys/values live in a buffer sized for the whole answer: a decode step
    writes one position in place instead of concatenating (copying) the whole cache."""

    @classmethod
    def grown_from(cls, layer, extra: int):
        new = cls()
        keys, values = layer.keys, layer.values
        length = keys.shape[-2]
        new.dtype, new.device = keys.dtype, keys.device
        new._key_buffer = keys.new_empty((*keys.shape[:-2], length + extra, keys.shape[-1]))
        new._value_buffer = values.new_empty((*values.shape[:-2], length + extra, values.shape[-1]))
        new._key_buffer[..., :length, :] = keys
        new._value_buffer[..., :length, :] = values
        new._length = length
        new.keys, new.values = new._key_buffer[..., :length, :], new._value_buffer[..., :length, :]
        new.is_initialized = True
        return new

    def update(self, key_states, value_states, *args, **kwargs):
        end = self._length + key_states.shape[-2]
        self._key_buffer[..., self._length : end, :] = key_states
        self._value_buffer[..., self._length : end, :] = value_states
        self._length = end
        self.keys, self.values = self._key_buffer[..., :end, :], self._value_buffer[..., :end, :]
        return self.keys, self.values


def preallocate_cache(cache, extra: int) -> bool:
    """Give every layer of a prefilled dynamic cache room for ``extra`` more tokens (False, cache untouched, when it
    is not a plain ``DynamicLayer`` cache: sliding windows, other transformers versions)."""
    try:
        from transformers.cache_utils import DynamicLayer
    except ImportError:
        return False
    layers = getattr(cache, "layers", None)
    if not layers or any(type(layer) is not DynamicLayer or not layer.is_initialized for layer in layers):
        return False
    grown = type("PreallocatedDynamicLayer", (_PreallocatedLayer, DynamicLayer), {})
    cache.layers = [grown.grown_from(layer, extra) for layer in layers]
    return True


def decode_mask_builder(model, mask: torch.Tensor) -> Callable[[int], Any]:
    """``length -> attention mask`` for a decode step. With SDPA and only full-attention layers it is the 4-D boolean
    mask HF would build (``True``: attend), built once and sliced, or no mask at all when no row is padded (a query of
    one token attends to every cached position); otherwise the 2-D mask, which HF expands itself."""
    text_config = getattr(model.config, "text_config", model.config)
    layer_types = set(getattr(text_config, "layer_types", None) or ["full_attention"])
    if getattr(text_config, "_attn_implementation", None) == "sdpa" and layer_types == {"full_attention"}:
        if bool(mask.all()):
            return lambda length: {"full_attention": None}
        full = mask.bool()[:, None, None, :]
        return lambda length: {"full_attention": full[..., :length]}
    return lambda length: mask[:, :length]


def _rope_owner(model):
    """The module that keeps Qwen-VL's ``rope_deltas`` (the 3-D rotary offset of each prefilled row)."""
    for module in model.modules():
        if "rope_deltas" in vars(module) and hasattr(module, "get_rope_index"):
            return module
    return None


def _prefill_inputs(inputs: Mapping[str, Any], first: list[int], videos) -> dict[str, Any]:
    index = torch.tensor(first, dtype=torch.long, device=inputs["input_ids"].device)
    unique = {k: inputs[k][index] for k in ROW_FIELDS if inputs.get(k) is not None}
    if videos is not None:
        unique["pixel_values_videos"] = torch.cat([videos[i] for i in first], dim=0)
        unique["video_grid_thw"] = inputs["video_grid_thw"][index]
        if inputs.get("second_per_grid_ts") is not None:
            unique["second_per_grid_ts"] = torch.as_tensor(inputs["second_per_grid_ts"])[index.cpu()].to(index.device)
    unknown = set(inputs) - set(ROW_FIELDS) - set(VIDEO_FIELDS)
    if unknown:
        raise ValueError(f"fast generation does not take the inputs {sorted(unknown)}")
    return unique


def distinct_prompt_inputs(inputs: Mapping[str, Any]) -> tuple[dict[str, Any], torch.Tensor]:
    """``(inputs of each distinct prompt once, index of its distinct prompt for every row)``: what a pass that needs
    one answer per prompt (a greedy baseline of sampled answers) decodes instead of every repeat."""
    rows = inputs["input_ids"].shape[0]
    videos = _row_videos(inputs, rows)
    first, owner = shared_prompt_groups(inputs["input_ids"], inputs["attention_mask"], videos)
    return _prefill_inputs(inputs, first, videos), owner


@torch.no_grad()
def generate_from_shared_prompts(
    model,
    inputs: Mapping[str, Any],
    settings: DecodeSettings,
    *,
    logits_processor: Sequence[Callable] = (),
    stop_check_every: int | None = None,
) -> FastGenerationOutput:
    """Complete every row of ``inputs`` (left-padded ``input_ids``/``attention_mask``, optional ``mm_token_type_ids``
    and one video per row); see the module docstring. ``logits_processor`` runs after the settings' own processors
    (as extra processors do in ``generate``).

    ``stop_check_every``: steps between checks whether every row has ended (each check waits for the device; default
    1 on a CPU, 8 on a GPU, where waiting would stall the queued kernels). Steps decoded after the last row ended add
    only pad tokens and are cut off, so the output is the same; they draw from the random generator."""
    input_ids, attention_mask = inputs["input_ids"], inputs["attention_mask"]
    rows, prompt_length = input_ids.shape
    device = input_ids.device
    videos = _row_videos(inputs, rows)
    first, owner = shared_prompt_groups(input_ids, attention_mask, videos)

    prefill = model(**_prefill_inputs(inputs, first, videos), use_cache=True, logits_to_keep=1)
    cache = prefill.past_key_values
    cache.batch_select_indices(owner)  # each row gets its prompt's keys and values
    steps = settings.max_new_tokens
    preallocated = preallocate_cache(cache, steps)
    logits = prefill.logits[:, -1][owner]
    rope = _rope_owner(model)
    deltas = rope.rope_deltas if rope is not None and rope.rope_deltas is not None else None
    deltas = torch.zeros(len(first), 1, dtype=torch.long, device=device) if deltas is None else deltas.to(device)
    # text position of a row's next token = its real prompt tokens so far; Qwen-VL adds the row's 3-D rope offset
    next_position = attention_mask.sum(dim=-1, keepdim=True).long() + deltas[owner]

    sequences = torch.cat([input_ids, input_ids.new_full((rows, steps), settings.pad_token_id)], dim=1)
    decode_mask = decode_mask_builder(model, torch.cat([attention_mask, attention_mask.new_ones(rows, steps)], dim=1))
    processors = [*logits_processors(settings, prompt_length, device), *logits_processor]
    eos = torch.tensor(settings.eos_token_ids, dtype=torch.long, device=device)
    unfinished = torch.ones(rows, dtype=torch.bool, device=device)
    ended_after = torch.full((rows,), steps, dtype=torch.long, device=device)  # tokens each row holds, its end included
    logprobs = torch.zeros(rows, steps, dtype=torch.float32, device=device)
    check_every = stop_check_every or (8 if torch.device(device).type == "cuda" else 1)
    done = 0
    for step in range(steps):
        scores = logits.float()
        token_scores = scores
        for processor in processors:
            token_scores = processor(sequences[:, : prompt_length + step], token_scores)
        if settings.do_sample:
            token = torch.multinomial(torch.softmax(token_scores, dim=-1), num_samples=1).squeeze(1)
        else:
            token = torch.argmax(token_scores, dim=-1)
        token = torch.where(unfinished, token, torch.full_like(token, settings.pad_token_id))
        sequences[:, prompt_length + step] = token
        logprobs[:, step] = torch.log_softmax(scores / settings.temperature, dim=-1).gather(1, token[:, None])[:, 0]
        done = step + 1
        if eos.numel():
            ended = unfinished & torch.isin(token, eos)
            ended_after = torch.where(ended, torch.full_like(ended_after, done), ended_after)
            unfinished &= ~ended
        if step == steps - 1 or (done % check_every == 0 and not bool(unfinished.any())):
            break
        position = next_position + step
        if rope is not None:  # Qwen-VL: temporal, height and width positions, equal for text tokens
            position = position.unsqueeze(0).expand(3, -1, -1)
        out = model(input_ids=token[:, None], attention_mask=decode_mask(prompt_length + step + 1),
                    position_ids=position, past_key_values=cache, use_cache=True)
        logits = out.logits[:, -1]
    if not bool(unfinished.any()):
        done = int(ended_after.max())  # the step the last row ended at; later steps added pads only
    return FastGenerationOutput(
        completion_ids=sequences[:, prompt_length : prompt_length + done],
        logprobs=logprobs[:, :done],
        prefilled_rows=len(first),
        preallocated_cache=preallocated,
    )
