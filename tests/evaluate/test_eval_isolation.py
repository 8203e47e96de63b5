"""A clip that breaks before or while an evaluation runs is a quarantined sample of the report, never a crash and
never an answer that is scored (docs/UNTRUSTED_INPUT.md)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hieroaction.evaluate import run as run_module
from hieroaction.evaluate.clips import ClipSource
from hieroaction.evaluate.inference import GenerationSettings, generate_assessments
from hieroaction.evaluate.run import SystemSpec, run_evaluation
from hieroaction.model.artifacts import samples_version
from hieroaction.reasoning import build_messages
from hieroaction.video.extract import extract_frames
from hieroaction.video.sampling import FrameSettings
from hieroaction.video.store import clip_path

pytestmark = pytest.mark.xdist_group("evaluate-tiny-model")

SETTINGS = FrameSettings("uniform", 4, 28)
GENERATION = GenerationSettings(max_new_tokens=6, batch_size=2)


@pytest.fixture
def store(rendered, tmp_path):
    """The rendered dives' clips extracted into a frame store."""
    result = extract_frames(rendered["samples"], rendered["media"], tmp_path / "frames", SETTINGS, workers=1,
                            progress=False)
    assert not result.quarantined
    return tmp_path / "frames"


def _cut_short(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])


def _evaluate(rendered, tiny_model, clips, out):
    model, processor = tiny_model
    return run_evaluation(rendered["samples"], clips, [SystemSpec("sft", "tiny", model=model, processor=processor)],
                          out, generation=GENERATION, regressor=None, n_boot=50, progress=False)


def test_a_clip_cut_short_while_the_evaluation_runs_is_quarantined_and_the_others_scored(
    rendered, tiny_model, store, tmp_path, monkeypatch
):
    test = [s for s in rendered["samples"] if s.split == "test"]
    real_load = run_module.load_available

    def load_then_break(source, samples, **kwargs):  # every clip loads; then one file is cut short on disk
        loaded = real_load(source, samples, **kwargs)
        _cut_short(clip_path(store, test[1], SETTINGS))
        return loaded

    monkeypatch.setattr(run_module, "load_available", load_then_break)
    result = _evaluate(rendered, tiny_model, ClipSource(SETTINGS, frames_dir=store), tmp_path / "report")

    report = json.loads((tmp_path / "report" / "report.json").read_text())
    (bad,) = report["data"]["quarantined"]
    assert bad["id"] == test[1].sample_id and bad["field"] == "video"
    assert bad["reason"].startswith("unloadable: ClipError: ") and "not the ones extraction wrote" in bad["reason"]
    assert report["data"]["n_samples"] == 2
    assert report["data"]["evaluated_samples_version"] == samples_version([test[0], test[2]])
    assert [q.sample_id for q in result.quarantined] == [test[1].sample_id]


def test_a_clip_broken_before_the_evaluation_is_quarantined_or_decoded_from_the_media(
    rendered, tiny_model, store, tmp_path
):
    test = [s for s in rendered["samples"] if s.split == "test"]
    clip_path(store, test[0], SETTINGS).write_bytes(b"\x93NUMPY garbage")
    _evaluate(rendered, tiny_model, ClipSource(SETTINGS, frames_dir=store), tmp_path / "a")
    report = json.loads((tmp_path / "a" / "report.json").read_text())
    assert [q["id"] for q in report["data"]["quarantined"]] == [test[0].sample_id]
    assert report["data"]["n_samples"] == 2
    # with the media at hand the same broken store costs nothing: the clip is decoded from its video
    _evaluate(rendered, tiny_model, ClipSource(SETTINGS, frames_dir=store, media_root=rendered["media"]), tmp_path / "b")
    report = json.loads((tmp_path / "b" / "report.json").read_text())
    assert report["data"]["quarantined"] == [] and report["data"]["n_samples"] == 3


def test_generation_quarantines_a_clip_that_cannot_be_loaded_and_answers_the_rest(tiny_model):
    model, processor = tiny_model
    clips = [np.full((4, 28, 28, 3), 40 * i, np.uint8) for i in range(3)]

    def load(i):
        if i == 1:
            raise OSError(5, "Input/output error")
        return clips[i]

    out = generate_assessments(model, processor, load, [build_messages(4)] * 3, GENERATION, progress=False,
                               ids=["a", "b", "c"])
    assert out.completions[1] is None and isinstance(out.completions[0], str) and isinstance(out.completions[2], str)
    assert out.good == [0, 2] and out.completion_tokens[1] == 0
    assert str(out.quarantined[1]) == "b: video=None: unloadable: OSError: [Errno 5] Input/output error"
    # the same clips one by one give the same answers: a quarantined neighbour changes nothing
    alone = generate_assessments(model, processor, [clips[0], clips[2]], [build_messages(4)] * 2, GENERATION,
                                 progress=False)
    assert alone.completions == [out.completions[0], out.completions[2]]


def test_a_bug_while_loading_a_clip_still_raises(tiny_model):
    model, processor = tiny_model

    def load(i):
        raise TypeError("a bug in our own code")

    with pytest.raises(TypeError):
        generate_assessments(model, processor, load, [build_messages(4)], GENERATION, progress=False)


def test_a_clip_cut_short_after_generation_costs_the_regressor_row_not_the_run(
    rendered, tiny_model, store, tmp_path, monkeypatch
):
    """The phases after generation read the clips again: a stored clip cut short while the systems answered raises
    a clip error there (no SIGBUS from its mapped pages); the report keeps every system and says why the regressor
    row is missing, and the example plots of the clips still whole are drawn."""
    from hieroaction.evaluate.baseline import RegressorConfig

    test = [s for s in rendered["samples"] if s.split == "test"]
    real_generate = run_module.generate_with

    def generate_then_break(*args, **kwargs):
        output = real_generate(*args, **kwargs)
        _cut_short(clip_path(store, test[1], SETTINGS))
        return output

    monkeypatch.setattr(run_module, "generate_with", generate_then_break)
    model, processor = tiny_model
    result = run_evaluation(rendered["samples"], ClipSource(SETTINGS, frames_dir=store),
                            [SystemSpec("sft", "tiny", model=model, processor=processor)], tmp_path / "report",
                            generation=GENERATION, n_boot=50, progress=False, examples=3,
                            regressor=RegressorConfig(frames=4, frame_size=16, channels=4, epochs=2, batch_size=4,
                                                      threads=1))
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert report["data"]["n_samples"] == 3 and list(report["systems"]) == ["sft"]
    skipped = report["data"]["regressor_skipped"]
    assert skipped.startswith("a clip broke while the regressor ran: ClipError: ") and test[1].sample_id in skipped
    plots = {p.name for p in (tmp_path / "report").rglob("assessment_*.png")}
    assert plots == {f"assessment_{s.sample_id.replace('/', '_')}.png" for s in (test[0], test[2])}
    assert result.quarantined == []
