"""Version stamps: data hash follows the sample table, checkpoint version reads what training recorded."""

from __future__ import annotations

import json
import re
from dataclasses import replace

from hieroaction.evaluate.checkpoint import training_frame_settings
from hieroaction.model.artifacts import checkpoint_version, code_version_text, samples_version


def test_samples_version_is_stable_and_sensitive(labelled_sample):
    samples = [labelled_sample(i, 50.0 + i) for i in range(4)]
    assert samples_version(samples) == samples_version(list(samples))
    changed = samples[:3] + [replace(samples[3], final_score=99.0)]
    assert samples_version(changed) != samples_version(samples)
    assert samples_version(samples[::-1]) != samples_version(samples)  # order is part of the table


def test_code_version_is_a_git_revision_in_this_checkout():
    assert re.fullmatch(r"[0-9a-f]{40}(-dirty)?", code_version_text())


def test_checkpoint_version_hashes_weights_and_keeps_the_run_info(tmp_path):
    checkpoint = tmp_path / "final"
    checkpoint.mkdir()
    (checkpoint / "config.json").write_text("{}")
    (checkpoint / "model.safetensors").write_bytes(b"weights-1")
    (checkpoint / "hieroaction_run.json").write_text(json.dumps(
        {"kind": "hpl", "data_version": "abc123", "global_step": 40, "libraries": {"torch": "x"}}))
    (checkpoint / "config.yaml").write_text("data:\n  frames: {sampler: uniform, count: 8, size: 96}\n")
    first = checkpoint_version(checkpoint)
    assert first["id"].startswith("weights-sha256:")
    assert first["hieroaction_run"] == {"kind": "hpl", "data_version": "abc123", "global_step": 40}
    (checkpoint / "model.safetensors").write_bytes(b"weights-2")
    assert checkpoint_version(checkpoint)["id"] != first["id"]
    assert checkpoint_version("preset:tiny") == {"id": "preset:tiny"}
    settings = training_frame_settings(checkpoint)
    assert (settings.sampler, settings.count, settings.size) == ("uniform", 8, (96, 96))
    assert training_frame_settings(tmp_path) is None


def test_the_trained_grammar_is_read_from_the_run_info_and_a_mismatch_is_one_line(tmp_path):
    from hieroaction.model.artifacts import grammar_mismatch, trained_grammar
    from hieroaction.reasoning import GRAMMAR_VERSION

    checkpoint = tmp_path / "final"
    checkpoint.mkdir()
    assert trained_grammar(checkpoint) is None and grammar_mismatch(checkpoint) is None  # no marker: a base model
    info = checkpoint / "hieroaction_run.json"
    info.write_text(json.dumps({"kind": "sft"}))
    assert trained_grammar(checkpoint) is None  # from before versions were recorded: not refused
    info.write_text(json.dumps({"kind": "sft", "grammar": GRAMMAR_VERSION}))
    assert trained_grammar(checkpoint) == GRAMMAR_VERSION and grammar_mismatch(checkpoint) is None
    info.write_text(json.dumps({"kind": "sft", "grammar": "0.9"}))
    assert grammar_mismatch(checkpoint) == (f"{checkpoint} was trained on answer grammar 0.9, but this hieroaction "
                                            f"prompts and parses grammar {GRAMMAR_VERSION}: retrain it "
                                            "(docs/GRAMMAR.md, Changelog)")
