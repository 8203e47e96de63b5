"""``assess`` input checks: a still image is not a video, a broken checkpoint is an error, budgets apply."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

pytestmark = pytest.mark.xdist_group("evaluate-tiny-model")


def test_still_images_are_refused(tmp_path, tiny_checkpoint, evaluate_cli, capsys):
    for suffix in ("png", "jpg"):
        still = tmp_path / f"still.{suffix}"
        Image.fromarray(np.full((48, 64, 3), 120, np.uint8)).save(still)
        assert evaluate_cli(["assess", str(still), "--checkpoint", str(tiny_checkpoint)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "still image" in err[0]


def test_unknown_preset_is_refused_before_decoding(fresh_mp4, evaluate_cli, capsys):
    assert evaluate_cli(["assess", str(fresh_mp4), "--checkpoint", "preset:huge"]) == 2
    assert "unknown preset 'preset:huge'" in capsys.readouterr().err


def test_frames_over_the_budget_are_refused_in_one_line(fresh_mp4, tiny_checkpoint, evaluate_cli, capsys,
                                                        monkeypatch):
    monkeypatch.setenv("HIEROACTION_MAX_FRAME_PIXELS", "100")
    assert evaluate_cli(["assess", str(fresh_mp4), "--checkpoint", str(tiny_checkpoint), "--size", "native"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "per-frame budget" in err[0]


def test_sampler_all_over_a_declared_huge_count_is_refused(fresh_mp4, tiny_checkpoint, monkeypatch):
    from hieroaction.evaluate import assess
    from hieroaction.evaluate.assess import AssessError, read_video_frames
    from hieroaction.video.sampling import FrameSettings

    monkeypatch.setattr(assess, "probe_video", lambda path: (10**12, 25.0))  # what a lying header declares
    with pytest.raises(AssessError, match="budget"):
        read_video_frames(fresh_mp4, FrameSettings("all", size=8))


def test_nan_weights_are_an_error_not_an_empty_answer(fresh_mp4, tiny_checkpoint):
    import torch

    from hieroaction.evaluate.assess import assess_video
    from hieroaction.evaluate.checkpoint import open_checkpoint
    from hieroaction.evaluate.inference import GenerationSettings, NonFiniteOutputError

    model, processor = open_checkpoint(tiny_checkpoint, device="cpu")
    with torch.no_grad():
        model.lm_head.weight.fill_(float("nan"))
    with pytest.raises(NonFiniteOutputError, match="non-finite"):
        assess_video(fresh_mp4, tiny_checkpoint, model=model, processor=processor,
                     generation=GenerationSettings(max_new_tokens=4, batch_size=1))


def test_an_out_that_cannot_be_a_folder_is_refused_before_any_model_runs(tmp_path, tiny_checkpoint, evaluate_cli,
                                                                           capsys, monkeypatch):
    import hieroaction.evaluate.run as run
    from hieroaction.datasets.sample import Sample, VideoRef, write_jsonl

    table = tmp_path / "test.jsonl"
    write_jsonl([Sample("m/1", "manifest", "test", VideoRef("video", "x.mp4", 0, 9), "107b", 63.0, 3.0)], table)
    (tmp_path / "a_file").write_text("x")
    monkeypatch.setattr(run, "run_evaluation", None)  # reaching the evaluation at all would fail the test
    argv = ["evaluate", "--checkpoint", str(tiny_checkpoint), "--samples", str(table), "--media-root", str(tmp_path),
            "--out", str(tmp_path / "a_file" / "eval")]
    assert evaluate_cli(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--out" in err[0] and "a_file" in err[0]


def test_a_plot_path_that_cannot_be_written_is_refused_before_the_model_runs(fresh_mp4, tiny_checkpoint, evaluate_cli,
                                                                            capsys, monkeypatch, tmp_path):
    import hieroaction.evaluate.assess as assess

    (tmp_path / "a_file").write_text("x")
    monkeypatch.setattr(assess, "assess_video", None)  # reaching the model at all would fail the test
    for plot in (tmp_path / "a_file" / "p.png", tmp_path / "dir.png"):
        if plot.name == "dir.png":
            plot.mkdir()
        assert evaluate_cli(["assess", str(fresh_mp4), "--checkpoint", str(tiny_checkpoint), "--plot", str(plot)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and str(plot) in err[0]
