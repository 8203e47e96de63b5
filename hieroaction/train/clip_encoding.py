"""Encode each clip once: GRPO repeats every clip ``num_generations`` times, the vision tower need not.

trl builds a GRPO batch by repeating each prompt ``num_generations`` times, so the vision tower would encode the same
video 8 times while generating, again 8 times in each log-prob pass. :class:`ClipEncodingCache` wraps the model's
``get_video_features`` (the one place Qwen-VL turns ``pixel_values_videos`` into embeddings):

- within one call, repeats of a clip (same grid, equal pixels) are encoded once and the embedding is shared; with a
  trainable tower autograd sums the repeats' gradients into that one encoding, the same as encoding each repeat;
- within a :meth:`ClipEncodingCache.scope` (one generation batch: generation, old-policy and reference passes, all
  with the same weights), a pass without gradients reuses the embeddings of clips already encoded. When the tower is
  frozen (no trainable parameter) the embeddings stay valid after the scope, so the loss passes reuse them too.

Inside a scope the tower runs under ``encode_context`` (the trainer's mixed-precision autocast, which the scoring
passes use): generation then sees exactly the embeddings the policy is scored with, so reusing them changes no
log-prob. The math does not change (a test compares log-probs and gradients with the plain path);
``encoded_videos`` and ``requested_videos`` count what the tower did and what was asked of it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch


def video_model_of(model):
    """The module that owns the vision tower (``visual`` as a direct child) and ``get_video_features``."""
    for module in model.modules():
        if "visual" in getattr(module, "_modules", {}) and hasattr(module, "get_video_features"):
            return module
    raise TypeError(f"{type(model).__name__} has no module with a vision tower and get_video_features")


class ClipEncodingCache:
    def __init__(self, model, encode_context=None):
        self.inner = video_model_of(model)
        self.original = self.inner.get_video_features
        self.tower = self.inner._modules["visual"]
        self.enabled = True
        self.encode_context = encode_context or contextlib.nullcontext
        self.encoded_videos = 0
        self.requested_videos = 0
        self._entries: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
        self._reusable = False
        self._output_type: type | None = None
        self.inner.get_video_features = self.get_video_features

    def remove(self) -> None:
        """Put the model's own ``get_video_features`` back."""
        if self.inner.__dict__.get("get_video_features") == self.get_video_features:
            del self.inner.__dict__["get_video_features"]

    @property
    def tower_frozen(self) -> bool:
        return not any(p.requires_grad for p in self.tower.parameters())

    @property
    def tower_has_adapter(self) -> bool:
        """A peft adapter in the tower changes its output when the adapter is disabled (the reference pass)."""
        return any("lora_" in name for name, _ in self.tower.named_parameters())

    @contextlib.contextmanager
    def scope(self) -> Iterator[None]:
        """One generation batch: passes without gradients reuse each clip's embedding."""
        self._entries = []
        self._reusable = not self.tower_has_adapter
        try:
            yield
        finally:
            if not (self.tower_frozen and self._reusable):
                self._entries = []
                self._reusable = False

    def _may_reuse(self) -> bool:
        return self._reusable and (not torch.is_grad_enabled() or self.tower_frozen)

    def _lookup(self, pixels: torch.Tensor, grid: torch.Tensor) -> torch.Tensor | None:
        for cached_pixels, cached_grid, embedding in self._entries:
            if (
                cached_pixels.shape == pixels.shape
                and torch.equal(cached_grid, grid)
                and cached_pixels.device == pixels.device
                and torch.equal(cached_pixels, pixels)
            ):
                return embedding
        return None

    def get_video_features(self, pixel_values_videos, video_grid_thw=None, **kwargs):
        if not self.enabled or video_grid_thw is None or any(torch.is_tensor(v) for v in kwargs.values()):
            # precomputed encoder tensors (cu_seqlens, position ids...) describe the full batch: leave it alone
            return self.original(pixel_values_videos, video_grid_thw, **kwargs)
        rows = [int(r) for r in video_grid_thw.prod(dim=-1).tolist()]
        clips = list(torch.split(pixel_values_videos, rows, dim=0))
        self.requested_videos += len(clips)
        reuse = self._may_reuse()
        source: list[tuple[str, int]] = []  # ("cache", i) / ("new", j) per video
        cached: list[torch.Tensor] = []
        new_index: list[int] = []
        for i, (clip, grid) in enumerate(zip(clips, video_grid_thw, strict=True)):
            hit = self._lookup(clip, grid) if reuse else None
            if hit is not None:
                source.append(("cache", len(cached)))
                cached.append(hit)
                continue
            for j, k in enumerate(new_index):
                if clips[k].shape == clip.shape and torch.equal(video_grid_thw[k], grid) and torch.equal(clips[k], clip):
                    source.append(("new", j))
                    break
            else:
                source.append(("new", len(new_index)))
                new_index.append(i)
        fresh: list[torch.Tensor] = []
        output = None
        if new_index:
            pixels = torch.cat([clips[k] for k in new_index], dim=0)
            with self.encode_context() if self._reusable else contextlib.nullcontext():
                output = self.original(pixels, video_grid_thw[new_index], **kwargs)
            self._output_type = type(output)
            fresh = self._per_video(output, video_grid_thw[new_index])
            self.encoded_videos += len(new_index)
            if reuse:
                self._entries += [(clips[k], video_grid_thw[k], fresh[j]) for j, k in enumerate(new_index)]
        if output is not None and len(new_index) == len(clips):
            return output  # every clip was new and distinct: the model's own output, untouched
        embeddings = tuple(cached[n] if kind == "cache" else fresh[n] for kind, n in source)
        return self._wrap(output, embeddings)

    def _per_video(self, output: Any, grid: torch.Tensor) -> list[torch.Tensor]:
        pooled = getattr(output, "pooler_output", output)
        if isinstance(pooled, torch.Tensor):  # concatenated: split by tokens per video
            merge = getattr(self.tower, "spatial_merge_size", 2) ** 2
            pooled = torch.split(pooled, [int(r) // merge for r in grid.prod(dim=-1).tolist()], dim=0)
        return list(pooled)

    def _wrap(self, output: Any, embeddings: tuple[torch.Tensor, ...]) -> Any:
        if output is None:
            if self._output_type is None or self._output_type in (tuple, list):
                return embeddings
            output = self._output_type()
        if hasattr(output, "pooler_output"):
            output.pooler_output = embeddings
            if hasattr(output, "last_hidden_state"):
                output.last_hidden_state = None  # per unique clip only; callers use the pooled embeddings
            return output
        return embeddings
