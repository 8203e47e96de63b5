import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoModelForImageTextToText, AutoProcessor

from hieroaction.model.presets import PRESET_INFO_FILE, PRESETS, SPECIAL_TOKENS, build_offline_model, train_tokenizer

REPO = Path(__file__).resolve().parents[2]


def _messages():
    # Rows read back from `datasets` carry every struct key, missing ones as None: the template must not care.
    return [
        {"role": "system", "content": [{"type": "text", "text": "You assess dives.", "video": None}]},
        {
            "role": "user",
            "content": [{"type": "video", "video": None, "text": None}, {"type": "text", "text": "Assess.", "video": None}],
        },
    ]


def test_tiny_preset_reloads_with_auto_classes_and_runs_video(tiny_checkpoint):
    processor = AutoProcessor.from_pretrained(tiny_checkpoint)
    model = AutoModelForImageTextToText.from_pretrained(tiny_checkpoint)
    assert type(model).__name__ == "Qwen2_5_VLForConditionalGeneration"
    assert type(processor).__name__ == "Qwen2_5_VLProcessor"
    info = json.loads((tiny_checkpoint / PRESET_INFO_FILE).read_text())
    assert info["parameters"] == sum(p.numel() for p in model.parameters())

    text = processor.apply_chat_template(_messages(), tokenize=False, add_generation_prompt=True)
    assert text.count("<|video_pad|>") == 1 and "<|image_pad|>" not in text
    assert text.endswith("<|im_start|>assistant\n")
    video = np.random.default_rng(0).integers(0, 255, (8, 64, 64, 3), dtype=np.uint8)
    batch = processor(text=[text], videos=[video], do_sample_frames=False, return_tensors="pt")
    t, h, w = batch["video_grid_thw"][0].tolist()
    assert t == 4  # temporal patches of 2 frames: video goes in as video, not as 8 images
    video_id = processor.tokenizer.convert_tokens_to_ids("<|video_pad|>")
    assert int((batch["input_ids"] == video_id).sum()) == t * h * w // 4
    with torch.no_grad():
        out = model(**batch)
    assert out.logits.shape[:2] == batch["input_ids"].shape
    assert torch.isfinite(out.logits).all()


def test_special_tokens_and_config_ids_agree(tiny_checkpoint):
    processor = AutoProcessor.from_pretrained(tiny_checkpoint)
    model = AutoModelForImageTextToText.from_pretrained(tiny_checkpoint)
    tok = processor.tokenizer
    for token in SPECIAL_TOKENS:
        ids = tok(token, add_special_tokens=False)["input_ids"]
        assert ids == [tok.convert_tokens_to_ids(token)], token
    assert model.config.video_token_id == tok.convert_tokens_to_ids("<|video_pad|>")
    assert model.config.image_token_id == tok.convert_tokens_to_ids("<|image_pad|>")
    assert model.config.get_text_config().bos_token_id is None
    assert tok.eos_token == "<|im_end|>"
    assert tok.convert_tokens_to_ids("<|im_end|>") in model.generation_config.eos_token_id
    assert model.config.get_text_config().vocab_size == len(tok)


def test_tokenizer_round_trips_grammar_text():
    texts = ["<action>5253b | back 2½ somersaults 1½ twists, pike | DD 3.4</action>", "frames 0–21 | clean"] * 20
    tok = train_tokenizer(texts, 400)
    sample = "<score>81.60</score> 2½ — unseen words too"
    assert tok.decode(tok(sample)["input_ids"]) == sample


def test_numbers_tokenize_in_groups_of_up_to_three_digits_and_reload_so(tiny_checkpoint):
    """A frame number is one token, and the saved tokenizer reloads with that pre-tokenizer (Qwen2Tokenizer's own
    loader would split digits again): what evaluation and ``assess`` encode is what training encoded."""
    from hieroaction.model.presets import default_corpus

    text = "1. Back | frames 000-037 | judged good\n<score>81.18</score> 1234567"
    reloaded = AutoProcessor.from_pretrained(tiny_checkpoint).tokenizer
    assert reloaded(text)["input_ids"] == train_tokenizer(default_corpus(), PRESETS["tiny"].vocab_size)(text)["input_ids"]
    assert reloaded.decode(reloaded(text)["input_ids"]) == text
    small = train_tokenizer(default_corpus(), PRESETS["small"].vocab_size)  # room for every frame number of a dive
    pieces = [small.decode([i]) for i in small(text)["input_ids"]]
    assert "037" in pieces and "81" in pieces and "18" in pieces
    assert all(len(p.strip()) <= 3 for p in pieces if p.strip().isdigit())


def test_build_is_reused_and_unknown_preset_rejected(tmp_path, tiny_checkpoint):
    assert build_offline_model("tiny", tiny_checkpoint) == tiny_checkpoint
    with pytest.raises(ValueError, match="unknown preset"):
        build_offline_model("huge", tmp_path)


def test_build_of_another_grammar_is_rebuilt(tmp_path, tiny_checkpoint):
    """The tokenizer is trained on the grammar's text, so a build made for another grammar version is not reused."""
    from hieroaction.reasoning import GRAMMAR_VERSION

    stale = tmp_path / "tiny"
    shutil.copytree(tiny_checkpoint, stale)
    info_path = stale / PRESET_INFO_FILE
    info = json.loads(info_path.read_text())
    assert info["grammar"] == GRAMMAR_VERSION
    info_path.write_text(json.dumps(dict(info, grammar="1.0")))
    build_offline_model("tiny", stale)
    assert json.loads(info_path.read_text())["grammar"] == GRAMMAR_VERSION


def test_build_with_another_tokenizer_scheme_is_rebuilt(tmp_path, tiny_checkpoint):
    from hieroaction.model.presets import TOKENIZER_SCHEME

    stale = tmp_path / "tiny"
    shutil.copytree(tiny_checkpoint, stale)
    info_path = stale / PRESET_INFO_FILE
    info = json.loads(info_path.read_text())
    assert info["tokenizer"] == TOKENIZER_SCHEME
    del info["tokenizer"]  # builds from before the scheme was recorded split numbers into single digits
    info_path.write_text(json.dumps(info))
    build_offline_model("tiny", stale)
    assert json.loads(info_path.read_text())["tokenizer"] == TOKENIZER_SCHEME


def test_presets_are_consistent():
    for spec in PRESETS.values():
        assert sum(spec.mrope_section) * 2 == spec.text_hidden // spec.text_heads
        assert all(i < spec.vision_depth for i in spec.fullatt_block_indexes)
    assert {"tiny", "small", "medium"} <= set(PRESETS)


def test_medium_preset_has_tens_of_millions_of_parameters_and_trains_at_its_frame_settings():
    from transformers import Qwen2_5_VLForConditionalGeneration

    from hieroaction.model.presets import build_config, dive_vocabulary_texts
    from hieroaction.train.config import SFTRunConfig, load_config

    spec = PRESETS["medium"]
    tokenizer = train_tokenizer(dive_vocabulary_texts()[:100], spec.vocab_size)
    with torch.device("meta"):  # sizes only: no memory, no init time
        model = Qwen2_5_VLForConditionalGeneration(build_config(spec, tokenizer))
    assert 10e6 < sum(p.numel() for p in model.parameters()) < 100e6
    for name in ("small", "medium"):  # the tower is pretrained on the frames the training configs use
        frames = load_config(REPO / "configs" / "train" / f"sft_{name}.yaml", SFTRunConfig).data.frames
        assert frames.count == PRESETS[name].vision_pretrain_frames
        assert frames.size * frames.size == PRESETS[name].max_pixels


def test_a_build_never_writes_over_a_folder_that_is_not_a_preset_build(tmp_path):
    """`model build tiny models/base` over a real model folder replaced its config and weights without a word."""
    theirs = tmp_path / "my_model"
    theirs.mkdir()
    (theirs / "config.json").write_text('{"mine": true}')
    with pytest.raises(FileExistsError, match="--overwrite"):
        build_offline_model("tiny", theirs)
    assert (theirs / "config.json").read_text() == '{"mine": true}' and len(list(theirs.iterdir())) == 1
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(FileExistsError):
        build_offline_model("tiny", tmp_path / "a_file")
