"""Offline model presets: a real Qwen2.5-VL architecture with random weights, a BPE tokenizer trained on the
reasoning grammar, the Qwen image/video processors and a chat template, saved so the Auto classes reload it.

Why: no weights can be downloaded here, yet tests need a model that runs in seconds (``tiny``) and the learning
proof needs one that learns rendered dives on a CPU in minutes (``small``). Both use the exact classes a real
Qwen2.5-VL checkpoint uses, so the training code paths are the real ones.
See docs/STACK.md for the traps this follows (``rope_parameters``, ``mrope_section``, ``bos_token_id``).
"""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from hieroaction.model.artifacts import PRESET_INFO_FILE
from hieroaction.model.chat_template import QWEN_VL_CHAT_TEMPLATE

log = logging.getLogger(__name__)

# Qwen's special tokens, in the order the real tokenizer numbers them (ids 0.. in ours).
SPECIAL_TOKENS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
)


@dataclass(frozen=True)
class PresetSpec:
    """Sizes of one preset. ``head_dim = text_hidden // text_heads``; ``mrope_section`` must sum to head_dim/2."""

    name: str
    vocab_size: int
    text_hidden: int
    text_layers: int
    text_heads: int
    text_kv_heads: int
    text_intermediate: int
    mrope_section: tuple[int, int, int]
    vision_hidden: int
    vision_depth: int
    vision_heads: int
    vision_intermediate: int
    fullatt_block_indexes: tuple[int, ...]
    min_pixels: int
    max_pixels: int
    max_position_embeddings: int = 4096
    vision_pretrain_steps: int = 0  # steps of :mod:`~hieroaction.model.vision_pretrain` at build time (0: none)
    vision_pretrain_frames: int = 8  # frames per pretraining clip: the training configs' frame count
    vision_pretrain_clips: int = 8  # clips per pretraining step
    vision_pretrain_dives: int = 3000  # rendered dives (of the pretraining's own seed) the steps draw clips from


PRESETS: dict[str, PresetSpec] = {
    # Seconds per step on a CPU: for tests of the plumbing, not for learning.
    "tiny": PresetSpec(
        name="tiny",
        vocab_size=512,
        text_hidden=64,
        text_layers=2,
        text_heads=4,
        text_kv_heads=2,
        text_intermediate=128,
        mrope_section=(2, 3, 3),
        vision_hidden=32,
        vision_depth=2,
        vision_heads=2,
        vision_intermediate=64,
        fullatt_block_indexes=(1,),
        min_pixels=28 * 28,
        max_pixels=56 * 56,
    ),
    # ~2.2M parameters: big enough to learn the rendered dives' grammar, action codes and steps, small enough that
    # an SFT step on 4 clips takes about 0.7 CPU seconds. 32 frames at 56 px rather than 8 at 112: the same 64
    # visual tokens per clip, but a frame every ~3 clip frames, so a somersault (~12-20 frames) is seen 4-6 times
    # (linear probes on the pretrained tower read every action part better this way: benchmarks/LEARNING.md).
    "small": PresetSpec(
        name="small",
        vocab_size=1024,
        text_hidden=192,
        text_layers=3,
        text_heads=4,
        text_kv_heads=2,
        text_intermediate=512,
        mrope_section=(8, 8, 8),
        vision_hidden=96,
        vision_depth=2,
        vision_heads=2,
        vision_intermediate=256,
        fullatt_block_indexes=(1,),
        min_pixels=56 * 56,
        max_pixels=56 * 56,
        # 4000 steps on 2000 dives: held-out body state 0.96 and rotation-angle error 37 degrees (1500 on 1000: 0.89,
        # 52), and SFT's action accuracy 0.46-0.54 instead of 0.29; the build takes about 9 minutes on 2 cores,
        # build, SFT and HPL about 28 of the 30 allowed (benchmarks/LEARNING.md)
        vision_pretrain_steps=4000,
        vision_pretrain_frames=32,
        vision_pretrain_dives=2000,
    ),
    # ~40M parameters, for one GPU (``benchmarks/learning_proof.py --preset medium --device cuda``): a wider, deeper
    # language model and vision tower, 32 frames at 112 px. Too slow to train on this project's CPUs.
    "medium": PresetSpec(
        name="medium",
        vocab_size=1024,
        text_hidden=512,
        text_layers=8,
        text_heads=8,
        text_kv_heads=4,
        text_intermediate=1536,
        mrope_section=(8, 12, 12),
        vision_hidden=384,
        vision_depth=6,
        vision_heads=6,
        vision_intermediate=1024,
        fullatt_block_indexes=(2, 5),
        min_pixels=56 * 56,
        max_pixels=112 * 112,
        # 55 ms a step on one H200 (its host's cores bound the step), so 2000 steps take ~110 s of the proof's 10
        # minutes; 200 steps already read held-out body states at 0.80 there (benchmarks/GPU.md)
        vision_pretrain_steps=2000,
        vision_pretrain_frames=32,
        vision_pretrain_clips=16,
    ),
}


# ---------------------------------------------------------------------------------------------------------------
# Tokenizer corpus
# ---------------------------------------------------------------------------------------------------------------


def dive_vocabulary_texts() -> list[str]:
    """Every valid FINA dive number with its readable name: the action stage's vocabulary, always in the corpus."""
    from hieroaction.datasets.dive_codes import DiveCodeError, parse_code

    candidates: list[str] = []
    for group in range(1, 5):
        candidates += [f"{group}{fly}{soms}" for fly in (0, 1) for soms in range(1, 10)]
    candidates += [f"5{rot}{soms}{tw}" for rot in range(1, 5) for soms in range(1, 10) for tw in range(1, 10)]
    candidates += [f"6{d}{soms}" for d in range(1, 4) for soms in range(0, 10)]
    candidates += [f"6{d}{soms}{tw}" for d in range(1, 4) for soms in range(0, 10) for tw in range(1, 10)]
    texts = []
    for number in candidates:
        for letter in "abcd":
            try:
                dive = parse_code(number + letter)
            except DiveCodeError:
                continue
            texts.append(f"{dive.code} | {dive.name()}")
    return texts


def grammar_texts(samples) -> Iterator[str]:
    """The reasoning grammar's own text: the prompt and the rendered target of each sample."""
    from hieroaction.reasoning import build_messages, render_target

    seen_prompts: set[str] = set()
    for sample in samples:
        for message in build_messages(sample.num_frames):
            content = message["content"]
            parts = [content] if isinstance(content, str) else [c.get("text") or "" for c in content]
            for text in parts:
                if text and text not in seen_prompts:
                    seen_prompts.add(text)
                    yield text
        yield render_target(sample)


def default_corpus(max_samples: int = 500) -> list[str]:
    """Tokenizer training text: the dive vocabulary plus prompts and targets rendered over real samples.

    The real samples are the bundled FineDiving and MTL-AQA annotations (every sub-action name, dive, DD and score
    format they contain). Only the annotation files are read, never media.
    """
    from hieroaction.datasets.finediving import load_finediving
    from hieroaction.datasets.mtl_aqa import load_mtl_aqa

    samples = []
    for loader in (load_finediving, load_mtl_aqa):
        loaded = sorted(loader().samples, key=lambda s: s.sample_id)
        step = max(1, len(loaded) // max_samples)
        samples += loaded[::step][:max_samples]
    return dive_vocabulary_texts() + list(grammar_texts(samples))


# Qwen2's pre-tokenizer pattern with one change: a number splits into groups of up to three digits (as GPT-4's
# tokenizers do), not into single digits. BPE can then learn a frame number (``037``) or a score's whole part as one
# token: a small model copies a frame number from the prompt's frame list in one step instead of three, and cannot
# stop after two of its three digits (benchmarks/LEARNING.md). Targets are ~12% shorter in tokens.
NUMBER_GROUPS_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+"
    r"|\s+(?!\S)|\s+"
)
# What a preset's tokenizer is, recorded in its info: a cached build made with another scheme is rebuilt.
TOKENIZER_SCHEME = "qwen2-byte-bpe, digits in groups of up to 3"


def number_groups_pre_tokenizer():
    """Qwen2's pre-tokenizer (regex split, then byte-level) with :data:`NUMBER_GROUPS_PATTERN`."""
    from tokenizers import Regex, pre_tokenizers

    return pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(NUMBER_GROUPS_PATTERN), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])


def train_tokenizer(texts: Iterable[str], vocab_size: int):
    """A Qwen2 byte-level BPE tokenizer trained on ``texts``, with Qwen's special tokens and chat layout ids, and
    numbers split into groups of up to three digits (:data:`NUMBER_GROUPS_PATTERN`).

    Returned (and saved) as transformers' generic ``TokenizersBackend``, which reloads ``tokenizer.json`` as written:
    ``Qwen2Tokenizer`` would rebuild Qwen2's own pre-tokenizer on load and split every number into single digits
    again, so the reloaded tokenizer would not be the one the model was trained with (docs/STACK.md).
    """
    from transformers import PreTrainedTokenizerFast, Qwen2Tokenizer

    base = Qwen2Tokenizer()
    base.backend_tokenizer.pre_tokenizer = number_groups_pre_tokenizer()
    trained = base.train_new_from_iterator(
        iter(texts), vocab_size=vocab_size, new_special_tokens=list(SPECIAL_TOKENS), show_progress=False
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=trained.backend_tokenizer, eos_token="<|im_end|>", pad_token="<|endoftext|>",
        model_max_length=32768,
    )
    ids = tokenizer.convert_tokens_to_ids(list(SPECIAL_TOKENS))
    if ids != list(range(len(SPECIAL_TOKENS))):
        raise RuntimeError(f"special tokens got unexpected ids {ids}; expected 0..{len(SPECIAL_TOKENS) - 1}")
    return tokenizer


# ---------------------------------------------------------------------------------------------------------------
# Processor and model
# ---------------------------------------------------------------------------------------------------------------


def _video_processor_kwargs(spec: PresetSpec) -> dict:
    from transformers import Qwen2VLVideoProcessor

    kwargs = dict(
        min_pixels=spec.min_pixels,
        max_pixels=spec.max_pixels,
        patch_size=14,
        temporal_patch_size=2,
        merge_size=2,
        do_sample_frames=False,
    )
    # transformers 5.17 (GPU box) and 5.23 differ on this default: pin it so both give the same token counts.
    valid = getattr(getattr(Qwen2VLVideoProcessor, "valid_kwargs", None), "__annotations__", {})
    if "cap_pixels_per_frame" in valid:
        kwargs["cap_pixels_per_frame"] = False
    return kwargs


def build_processor(tokenizer, spec: PresetSpec):
    """Qwen2.5-VL processor from kwargs: image and video processors with this preset's small pixel budget."""
    from transformers import Qwen2_5_VLProcessor, Qwen2VLImageProcessor, Qwen2VLVideoProcessor

    image_processor = Qwen2VLImageProcessor(
        min_pixels=spec.min_pixels, max_pixels=spec.max_pixels, patch_size=14, temporal_patch_size=2, merge_size=2
    )
    video_processor = Qwen2VLVideoProcessor(**_video_processor_kwargs(spec))
    return Qwen2_5_VLProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        video_processor=video_processor,
        chat_template=QWEN_VL_CHAT_TEMPLATE,
    )


def build_config(spec: PresetSpec, tokenizer):
    """Qwen2.5-VL config for ``spec``, with the special-token ids of ``tokenizer``."""
    from transformers import Qwen2_5_VLConfig

    head_dim = spec.text_hidden // spec.text_heads
    if sum(spec.mrope_section) * 2 != head_dim:
        raise ValueError(f"preset {spec.name}: mrope_section {spec.mrope_section} must sum to head_dim/2 = {head_dim // 2}")
    tid = tokenizer.convert_tokens_to_ids
    text_config = dict(
        vocab_size=len(tokenizer),
        hidden_size=spec.text_hidden,
        intermediate_size=spec.text_intermediate,
        num_hidden_layers=spec.text_layers,
        num_attention_heads=spec.text_heads,
        num_key_value_heads=spec.text_kv_heads,
        max_position_embeddings=spec.max_position_embeddings,
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "mrope_section": list(spec.mrope_section)},
        bos_token_id=None,
        eos_token_id=tid("<|im_end|>"),
        pad_token_id=tid("<|endoftext|>"),
        tie_word_embeddings=False,
    )
    vision_config = dict(
        depth=spec.vision_depth,
        hidden_size=spec.vision_hidden,
        intermediate_size=spec.vision_intermediate,
        num_heads=spec.vision_heads,
        out_hidden_size=spec.text_hidden,
        patch_size=14,
        spatial_merge_size=2,
        temporal_patch_size=2,
        window_size=112,
        fullatt_block_indexes=list(spec.fullatt_block_indexes),
        tokens_per_second=2,
    )
    return Qwen2_5_VLConfig(
        text_config=text_config,
        vision_config=vision_config,
        image_token_id=tid("<|image_pad|>"),
        video_token_id=tid("<|video_pad|>"),
        vision_start_token_id=tid("<|vision_start|>"),
        vision_end_token_id=tid("<|vision_end|>"),
        tie_word_embeddings=False,
    )


def build_offline_model(
    preset: str,
    out_dir: str | Path,
    *,
    corpus: Iterable[str] | None = None,
    seed: int = 0,
    overwrite: bool = False,
    device: str = "cpu",
) -> Path:
    """Build a preset (``tiny``, ``small``, ``medium``) with random weights and save it (model, processor, tokenizer)
    to ``out_dir``. ``device``: where the vision pretraining runs (``cuda`` for ``medium``); the saved weights are
    the same kind either way.

    ``corpus``: texts to train the tokenizer on (default :func:`default_corpus`). Reload with
    ``AutoProcessor.from_pretrained(out_dir)`` / ``AutoModelForImageTextToText.from_pretrained(out_dir)`` or
    :func:`hieroaction.model.loading.load_model`. An existing complete build is reused unless ``overwrite``.
    """
    import torch
    from transformers import GenerationConfig, Qwen2_5_VLForConditionalGeneration

    from hieroaction.reasoning import GRAMMAR_VERSION

    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {sorted(PRESETS)}")
    spec = PRESETS[preset]
    out = Path(out_dir)
    info_path = out / PRESET_INFO_FILE
    if not overwrite and out.exists() and not info_path.exists() and (not out.is_dir() or any(out.iterdir())):
        # never write a preset over someone's files (e.g. a real model folder given by mistake)
        raise FileExistsError(errno.EEXIST, "exists and is not an empty folder or a preset build (--overwrite)", str(out))
    if info_path.exists() and not overwrite:
        info = json.loads(info_path.read_text())
        current = (info.get("spec") == json.loads(json.dumps(asdict(spec))) and info.get("seed") == seed
                   and info.get("grammar") == GRAMMAR_VERSION  # the tokenizer is trained on the grammar's text
                   and info.get("tokenizer") == TOKENIZER_SCHEME)
        if current and corpus is None:
            log.info("preset %s already built at %s", preset, out)
            return out
    out.mkdir(parents=True, exist_ok=True)

    texts = list(corpus) if corpus is not None else default_corpus()
    if not texts:
        raise ValueError("the tokenizer corpus is empty")
    tokenizer = train_tokenizer(texts, spec.vocab_size)
    processor = build_processor(tokenizer, spec)
    config = build_config(spec, tokenizer)

    torch.manual_seed(seed)
    model = Qwen2_5_VLForConditionalGeneration(config)
    model.generation_config = GenerationConfig(
        eos_token_id=[tokenizer.convert_tokens_to_ids("<|im_end|>"), tokenizer.convert_tokens_to_ids("<|endoftext|>")],
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
        do_sample=False,
    )
    pretraining = None
    if spec.vision_pretrain_steps:
        from hieroaction.model.vision_pretrain import VisionPretrainConfig, pretrain_vision

        side = int(spec.max_pixels**0.5)
        settings = VisionPretrainConfig(steps=spec.vision_pretrain_steps, size=side, frames=spec.vision_pretrain_frames,
                                        clips_per_step=spec.vision_pretrain_clips, train_dives=spec.vision_pretrain_dives,
                                        seed=VisionPretrainConfig.seed + seed)
        model.to(device)
        if device != "cpu":  # on a GPU the per-window calls bound the step (benchmarks/GPU.md); on the CPU the
            # stock path stays, so that CPU builds are the ones benchmarks/LEARNING.md measured
            from hieroaction.model.vision_attention import batch_vision_windows

            batch_vision_windows(model)  # one attention call per layer, not one per frame window
        pretraining = {"settings": asdict(settings), "result": pretrain_vision(model, processor, settings).to_dict(),
                       "device": device}
        model.to("cpu")
    model.save_pretrained(out)
    processor.save_pretrained(out)
    info = {
        "preset": preset,
        "seed": seed,
        "spec": asdict(spec),
        "parameters": sum(p.numel() for p in model.parameters()),
        "vocab_size": len(tokenizer),
        "corpus_texts": len(texts),
        "grammar": GRAMMAR_VERSION,
        "tokenizer": TOKENIZER_SCHEME,
        "vision_pretraining": pretraining,
    }
    info_path.write_text(json.dumps(info, indent=2))
    log.info("built preset %s (%d parameters, vocab %d) at %s", preset, info["parameters"], len(tokenizer), out)
    return out


CACHE_ENV = "HIEROACTION_CACHE"


def cache_dir() -> Path:
    """Where built presets are kept: ``$HIEROACTION_CACHE``, else ``$XDG_CACHE_HOME/hieroaction``, else
    ``~/.cache/hieroaction``. Why not the working folder: ``preset:tiny`` must not litter whatever folder a command
    happens to run in (docs/UNTRUSTED_INPUT.md)."""
    explicit = os.environ.get(CACHE_ENV, "").strip()
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "hieroaction"


def cached_preset(name: str) -> Path:
    """The folder of preset ``name`` in :func:`cache_dir`, built on first use. Built in a private temporary folder
    and renamed into place, so concurrent first uses never see half a model."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
    target = cache_dir() / "presets" / name
    if (target / PRESET_INFO_FILE).exists():
        return build_offline_model(name, target)  # reused when complete and current, else rebuilt in place
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".partial-{os.getpid()}-{uuid.uuid4().hex[:8]}-{name}"
    try:
        build_offline_model(name, tmp)
        try:
            os.rename(tmp, target)
        except OSError:  # another process finished first: use its build
            if not (target / PRESET_INFO_FILE).exists():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target
