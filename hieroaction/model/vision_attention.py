"""Qwen2.5-VL's vision window attention as one batched call per layer instead of one call per window.

Why: with SDPA or eager attention (flash-attention handles variable lengths itself), transformers' vision attention
splits the patch sequence at ``cu_seqlens`` and calls attention once per window: for 16 frames of 224x224 that is
hundreds of small kernel launches in each of the 32 vision layers. Here the windows are gathered into one padded
batch ``(windows, heads, longest, head_dim)``, attended in one ``scaled_dot_product_attention`` call with the padded
keys masked out, and scattered back; the padded query rows are dropped. Same math, one call per layer (a test
compares the outputs with the stock module on the tiny preset).

Applied by :func:`hieroaction.model.loading.load_model` (``batch_vision_windows=True``); left alone when the installed
transformers' attention module does not have the expected shape, or when flash-attention is in use.
"""

from __future__ import annotations

import inspect
import logging
import types

import torch
import torch.nn.functional as F

log = logging.getLogger(__name__)

EXPECTED_PARAMETERS = ("hidden_states", "cu_seqlens", "position_embeddings")


def window_layout(cu_seqlens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(index ``(windows, longest)`` of each window's tokens, clamped; ``valid`` mask of the same shape)."""
    starts = cu_seqlens[:-1].long()
    lengths = (cu_seqlens[1:] - cu_seqlens[:-1]).long()
    longest = int(lengths.max()) if lengths.numel() else 0
    offsets = torch.arange(longest, device=cu_seqlens.device)
    valid = offsets[None, :] < lengths[:, None]
    index = (starts[:, None] + offsets[None, :]).clamp(max=max(int(cu_seqlens[-1]) - 1, 0))
    return index, valid


def batched_forward(self, hidden_states, cu_seqlens, position_embeddings=None, **kwargs):
    """Drop-in forward of ``Qwen2_5_VLVisionAttention`` (SDPA/eager): all windows in one attention call."""
    from transformers.models.qwen2_5_vl.modeling_qwen2_5_vl import apply_rotary_pos_emb_vision

    seq_length = hidden_states.shape[0]
    q, k, v = self.qkv(hidden_states).reshape(seq_length, 3, self.num_heads, -1).permute(1, 0, 2, 3).unbind(0)
    cos, sin = position_embeddings
    q, k = apply_rotary_pos_emb_vision(q, k, cos, sin)  # (seq, heads, head_dim)
    lengths = cu_seqlens[1:] - cu_seqlens[:-1]
    if lengths.numel() and bool((lengths == lengths[0]).all()):
        windows, longest = lengths.numel(), int(lengths[0])
        q, k, v = (t.reshape(windows, longest, self.num_heads, -1).transpose(1, 2) for t in (q, k, v))
        out = F.scaled_dot_product_attention(q, k, v, scale=self.scaling)
        out = out.transpose(1, 2).reshape(seq_length, -1)
    else:
        index, valid = window_layout(cu_seqlens)
        q, k, v = (t[index].transpose(1, 2) for t in (q, k, v))  # (windows, heads, longest, head_dim)
        mask = valid[:, None, None, :]  # keys of other windows' padding never attended
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=self.scaling)
        out = out.transpose(1, 2)[valid].reshape(seq_length, -1)  # back in token order
    return self.proj(out.contiguous())


def batch_vision_windows(model) -> int:
    """Give every Qwen2.5-VL vision attention module of ``model`` the batched forward; returns how many."""
    try:
        from transformers.models.qwen2_5_vl.modeling_qwen2_5_vl import Qwen2_5_VLVisionAttention
    except ImportError:
        return 0
    parameters = tuple(inspect.signature(Qwen2_5_VLVisionAttention.forward).parameters)[1:4]
    if parameters != EXPECTED_PARAMETERS:
        log.info("vision window attention left as is: unexpected signature %s", parameters)
        return 0
    count = 0
    for module in model.modules():
        if not isinstance(module, Qwen2_5_VLVisionAttention):
            continue
        if "flash" in str(getattr(module.config, "_attn_implementation", "")):
            continue  # flash-attention takes the variable-length windows in one call already
        module.forward = types.MethodType(batched_forward, module)
        count += 1
    return count
