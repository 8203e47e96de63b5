"""``hieroaction datasets summary``: text and JSON reports, and a clean non-zero exit on unreadable files."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest

from hieroaction.cli import main
from hieroaction.datasets import bundled_root

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "manifest"


def _json(capsys, *argv):
    assert main(["datasets", "summary", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_finediving_json(capsys):
    out = _json(capsys, "finediving")
    assert out["samples"] == 3000 and out["splits"] == {"test": 749, "train": 2251}
    assert out["good"] == 2997 and out["good_splits"] == {"test": 749, "train": 2248}
    assert len(out["action_types"]) == 52 and out["action_types"]["407c"] == 347
    assert {q["id"] for q in out["quarantined"]} >= {"finediving/04/49"}
    assert all(q["reason"] for q in out["quarantined"])
    assert out["warnings"]["score_rule"] == 121 and out["warnings"]["steps_transit_mismatch"] == 10


@pytest.mark.parametrize("variant, rule_warnings", [("release", 0), ("info", 28)])
def test_mtl_aqa_json(capsys, variant, rule_warnings):
    out = _json(capsys, "mtl-aqa", str(bundled_root() / "MTL-AQA" / variant))
    assert out["samples"] == 1412 and out["splits"] == {"test": 353, "train": 1059}
    assert out["quarantined"] == []
    assert out["warnings"].get("score_rule", 0) == rule_warnings


def test_manifest_text_and_media_root(capsys, tmp_path):
    assert main(["datasets", "summary", "manifest", str(EXAMPLES / "manifest.csv")]) == 0
    text = capsys.readouterr().out
    assert "3 samples read" in text and "splits: test 1, train 2" in text and "quarantined: none" in text
    (tmp_path / "videos").mkdir()
    (tmp_path / "videos" / "clip001.mp4").write_bytes(b"\x00")
    out = _json(capsys, "manifest", str(EXAMPLES / "manifest.jsonl"), "--media-root", str(tmp_path))
    assert out["samples"] == 3 and out["good"] == 1
    assert {q["id"]: q["field"] for q in out["quarantined"]} == {
        "mine/clip002": "video_path",
        "mine/clip003": "video_path",
    }


def test_text_lists_quarantined_and_warnings(capsys):
    assert main(["datasets", "summary", "finediving"]) == 0
    text = capsys.readouterr().out
    assert "finediving/04/49: judge_scores=" in text and "score_rule: 121" in text
    assert "action types: 52" in text


def test_unreadable_files_exit_non_zero_with_one_line(capsys, tmp_path, finediving_copy):
    (finediving_copy / "FineDiving_coarse_annotation.pkl").write_bytes(
        (finediving_copy / "test_split.pkl").read_bytes()
    )
    assert main(["datasets", "summary", "finediving", str(finediving_copy)]) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "FineDiving_coarse_annotation.pkl" in err and "'annotations'" in err

    assert main(["datasets", "summary", "mtl-aqa", str(tmp_path / "nowhere")]) != 0
    assert "no MTL-AQA annotation file" in capsys.readouterr().err

    unsafe = tmp_path / "info"
    unsafe.mkdir()
    (unsafe / "final_annotations_dict.pkl").write_bytes(pickle.dumps({(1, 1): {"f": print}}))
    assert main(["datasets", "summary", "mtl-aqa", str(unsafe)]) != 0
    err = capsys.readouterr().err
    assert "refused" in err and "builtins.print" in err and "final_annotations_dict.pkl" in err

    assert main(["datasets", "summary", "manifest"]) != 0
    assert "manifest path is required" in capsys.readouterr().err
