"""THE vision tokens no answer may contain: suppressed whenever a model generates (HPL's GRPO sampling, evaluation,
``hieroaction assess``).

The set is all five Qwen-VL vision special tokens, not only the pads:
- ``<|image_pad|>``, ``<|video_pad|>``: a generated pad would make the next forward pass look for vision features
  that do not exist (a crash, or the 3-D rotary positions computed for pixels that are not there);
- ``<|vision_start|>``, ``<|vision_end|>``, ``<|vision_pad|>``: Qwen-VL's rotary-position code finds vision segments
  by ``<|vision_start|>``; none of the five is part of the answer grammar (docs/GRAMMAR.md), and decoding with
  ``skip_special_tokens`` would silently drop them, so the text scored would differ from the tokens generated.
Suppressing a token the answer never contains cannot change a correct answer; it only removes failure modes.
"""

from __future__ import annotations

VISION_TOKENS = ("<|image_pad|>", "<|video_pad|>", "<|vision_start|>", "<|vision_end|>", "<|vision_pad|>")
VISION_TOKEN_CONFIG_FIELDS = ("image_token_id", "video_token_id", "vision_start_token_id", "vision_end_token_id")


def suppressed_token_ids(tokenizer, config=None) -> list[int]:
    """Ids of :data:`VISION_TOKENS` the tokenizer knows (unknown ones skipped), plus the vision token ids the model
    ``config`` names (a checkpoint may number them differently from its tokenizer's text form); no duplicates."""
    ids: list[int] = []
    unknown = getattr(tokenizer, "unk_token_id", None)
    for token in VISION_TOKENS:
        token_id = tokenizer.convert_tokens_to_ids(token)
        if token_id is not None and token_id != unknown and int(token_id) not in ids:
            ids.append(int(token_id))
    for name in VISION_TOKEN_CONFIG_FIELDS if config is not None else ():
        token_id = getattr(config, name, None)
        if token_id is not None and int(token_id) not in ids:
            ids.append(int(token_id))
    return ids
