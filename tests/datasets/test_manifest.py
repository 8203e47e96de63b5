"""User manifests (JSONL and CSV): real samples round-trip; bad rows are quarantined with their field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hieroaction.datasets import load_manifest, write_jsonl, write_manifest
from hieroaction.datasets.manifest import REQUIRED_COLUMNS, ManifestError

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "manifest"


@pytest.mark.parametrize("suffix", ["jsonl", "csv"])
def test_real_samples_round_trip(tmp_path, suffix, finediving, mtl_info, mtl_release):
    info = mtl_info.samples[::40]
    release = [s for s in mtl_release.samples[:10] if s.sample_id not in {i.sample_id for i in info}][:5]
    samples = finediving.samples[::40] + info + release  # one row per id (a repeated id keeps only its first row)
    path = write_manifest(samples, tmp_path / f"manifest.{suffix}")
    result = load_manifest(path)
    assert result.quarantined == []
    assert result.samples == samples


def test_canonical_jsonl_is_accepted(tmp_path, finediving):
    path = tmp_path / "canonical.jsonl"
    write_jsonl(finediving.samples[:10], path)
    assert load_manifest(path).samples == finediving.samples[:10]


@pytest.mark.parametrize("name", ["manifest.jsonl", "manifest.csv"])
def test_examples_load(name):
    result = load_manifest(EXAMPLES / name)
    assert [s.sample_id for s in result.samples] == ["mine/clip001", "mine/clip002", "mine/clip003"]
    assert result.quarantined == []
    clip1, clip2, clip3 = result.samples
    assert clip1.video.kind == "video" and [s.name for s in clip1.steps][-1] == "Entry"
    assert clip2.video.kind == "frames" and [s.label_id for s in clip2.steps] == [1, 17, 36]  # from frame_labels
    assert [(s.first, s.last) for s in clip2.steps] == [(0, 2), (3, 6), (7, 9)]
    assert clip3.judge_scores == () and clip3.split == "test"


def test_examples_are_the_same_in_both_forms():
    assert load_manifest(EXAMPLES / "manifest.jsonl").samples == load_manifest(EXAMPLES / "manifest.csv").samples


def test_bad_jsonl_rows_are_quarantined(tmp_path):
    good = {
        "sample_id": "a",
        "split": "train",
        "video_path": "a.mp4",
        "start_frame": 0,
        "end_frame": 9,
        "action_code": "107B",
        "final_score": 50,
    }
    rows = [
        json.dumps(good),
        json.dumps({**good, "sample_id": "b", "final_score": None}),
        json.dumps({**good, "sample_id": "c", "start_frame": "zero"}),
        "{not json",
        json.dumps({**good, "sample_id": "d", "steps": [{"label_id": 1, "first": 0}]}),
        json.dumps({**good, "sample_id": "e", "video_kind": "gif"}),
        json.dumps([1, 2]),
    ]
    path = tmp_path / "m.jsonl"
    path.write_text("\n".join(rows) + "\n")
    result = load_manifest(path)
    assert [s.sample_id for s in result.samples] == ["a"]
    assert result.samples[0].action_code == "107b"
    got = {q.sample_id: q.field for q in result.quarantined}
    assert got == {
        "b": "final_score",
        "c": "start_frame",
        "m.jsonl:4": "line",
        "d": "steps[0].last",
        "e": "video_kind",
        "m.jsonl:7": "line",
    }
    assert result.count_in == 7


def test_bad_csv_cells_are_quarantined(tmp_path):
    header = ",".join(REQUIRED_COLUMNS + ("steps",))
    path = tmp_path / "m.csv"
    path.write_text(
        header + "\n"
        "a,train,a.mp4,0,9,107b,50,\n"
        'b,train,b.mp4,0,9,107b,50,"[{""label_id"": 1, broken"\n'
        "c,train,c.mp4,0,9,,50,\n"
    )
    result = load_manifest(path)
    assert [s.sample_id for s in result.samples] == ["a"]
    assert {q.sample_id: q.field for q in result.quarantined} == {"b": "steps", "c": "action_code"}


def test_manifest_file_errors(tmp_path):
    with pytest.raises(ManifestError, match="not found"):
        load_manifest(tmp_path / "missing.csv")
    with pytest.raises(ManifestError, match="unknown manifest format"):
        load_manifest(tmp_path / "m.xlsx")
    bad = tmp_path / "m.csv"
    bad.write_text("sample_id,split\nx,train\n")
    with pytest.raises(ManifestError, match="lacks required column.*video_path"):
        load_manifest(bad)
