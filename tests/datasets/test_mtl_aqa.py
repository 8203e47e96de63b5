"""MTL-AQA adapter: both real variants, derived dive codes vs the dive_number column, planted defects."""

from __future__ import annotations

import pickle

import pytest

from hieroaction.datasets import AnnotationFormatError, DatasetReadError, bundled_root, load_mtl_aqa, load_pickle
from hieroaction.datasets.dive_codes import code_from_mtl_parts

INFO = bundled_root() / "MTL-AQA" / "info"
RELEASE = bundled_root() / "MTL-AQA" / "release"


@pytest.mark.parametrize("variant", ["mtl_release", "mtl_info"])
def test_counts_and_splits(variant, request):
    result = request.getfixturevalue(variant)
    assert len(result.samples) == 1412
    assert result.splits() == {"train": 1059, "test": 353}
    assert result.quarantined == [] and result.warnings == {}
    assert all(s.steps == () and s.frame_labels is None for s in result.samples)


def test_default_root_is_bundled_release(mtl_release):
    assert load_mtl_aqa().source == mtl_release.source
    assert mtl_release.source.endswith("final_annotations_dict.pkl")


def test_sample_shape(mtl_info, mtl_release):
    sample = next(s for s in mtl_info.samples if s.source_key == (1, 1))
    assert sample.sample_id == "mtl-aqa/01/1"
    assert (sample.video.kind, sample.video.path, sample.video.start_frame, sample.video.end_frame) == (
        "video",
        "01.mp4",
        7377,
        7462,
    )
    assert sample.action_code == "407c" and sample.final_score == 88.0 and sample.difficulty == 3.2
    assert sample.judge_scores == (9.5, 9.0, 9.5, 9.0, 8.5, 9.5, 8.5)
    release = next(s for s in mtl_release.samples if s.source_key == (1, 1))
    assert release.judge_scores == ()
    assert release.extra["mtl_parts"] == {"position": 2, "armstand": 0, "rotation_type": 2, "ss_no": 7, "tw_no": 0}


def test_derived_codes_agree_with_dive_number_on_real_files(mtl_info, mtl_release):
    raw = load_pickle(INFO / "final_annotations_dict_with_dive_number.pkl")
    agree = sum(
        code_from_mtl_parts(e["position"], e["armstand"], e["rotation_type"], e["ss_no"], e["tw_no"]).code
        == e["dive_number"].lower()
        for e in raw.values()
    )
    assert agree == 1412  # measured: every one of the 1412 (no flying dives in MTL-AQA)
    # the release variant (codes derived) and the info variant (dive_number) therefore give the same samples' codes
    derived = {s.sample_id: s.action_code for s in mtl_release.samples}
    given = {s.sample_id: s.action_code for s in mtl_info.samples}
    assert derived == given


def _rewrite(path, mutate):
    data = load_pickle(path)
    mutate(data)
    path.write_bytes(pickle.dumps(data, protocol=4))


def test_disagreeing_or_missing_dive_number(mtl_info_copy):
    def plant(ann):
        ann[(1, 1)]["dive_number"] = "107B"  # parts say 407c
        del ann[(1, 2)]["dive_number"]  # falls back to the parts
        ann[(1, 3)]["rotation_type"] = 9
        del ann[(1, 3)]["dive_number"]  # and cannot be derived either
        ann[(1, 4)]["dive_number"] = "999Z"
        del ann[(1, 5)]["final_score"]

    _rewrite(mtl_info_copy / "final_annotations_dict_with_dive_number.pkl", plant)
    result = load_mtl_aqa(mtl_info_copy)
    assert result.warnings == {"dive_number_mismatch": 1}
    assert result.warning_samples["dive_number_mismatch"] == ["mtl-aqa/01/1"]
    codes = {s.sample_id: s.action_code for s in result.samples}
    assert codes["mtl-aqa/01/1"] == "107b"
    raw = load_pickle(INFO / "final_annotations_dict_with_dive_number.pkl")
    assert codes["mtl-aqa/01/2"] == raw[(1, 2)]["dive_number"].lower()
    by_id = {q.sample_id: q for q in result.quarantined}
    assert set(by_id) == {"mtl-aqa/01/3", "mtl-aqa/01/4", "mtl-aqa/01/5"}
    assert "rotation_type" in by_id["mtl-aqa/01/3"].field and "9" in by_id["mtl-aqa/01/3"].reason
    assert by_id["mtl-aqa/01/4"].field == "dive_number" and by_id["mtl-aqa/01/4"].value == "999Z"
    assert by_id["mtl-aqa/01/5"].field == "final_score"
    assert len(result.samples) + len(result.quarantined) == 1412


def test_split_problems_are_quarantined(mtl_info_copy):
    train = load_pickle(mtl_info_copy / "train_split_0.pkl")
    test = load_pickle(mtl_info_copy / "test_split_0.pkl")
    test.append(train[0])
    test.append((99, 1))
    (mtl_info_copy / "test_split_0.pkl").write_bytes(pickle.dumps(test))
    result = load_mtl_aqa(mtl_info_copy)
    by_id = {q.sample_id: q for q in result.quarantined}
    assert by_id[f"mtl-aqa/{train[0][0]:02d}/{train[0][1]}"].reason == "listed in more than one split"
    assert by_id["mtl-aqa/99/1"].field == "annotation"
    assert len(result.samples) == 1411


def test_media_root(tmp_path, mtl_release):
    (tmp_path / "01.mp4").write_bytes(b"not really a video, but present")
    result = load_mtl_aqa(RELEASE, media_root=tmp_path)
    assert {s.video.path for s in result.samples} == {"01.mp4"}
    assert len(result.samples) + len(result.quarantined) == 1412
    assert all(q.field == "video.path" and "video file not found" in q.reason for q in result.quarantined)


def test_wrong_structure_and_missing_files(tmp_path, mtl_info_copy):
    ann = mtl_info_copy / "final_annotations_dict_with_dive_number.pkl"
    ann.write_bytes((mtl_info_copy / "train_split_0.pkl").read_bytes())
    with pytest.raises(AnnotationFormatError, match="final_annotations_dict_with_dive_number.pkl: field 'annotations'"):
        load_mtl_aqa(mtl_info_copy)
    with pytest.raises(DatasetReadError, match="no MTL-AQA annotation file"):
        load_mtl_aqa(tmp_path / "empty")
    (mtl_info_copy / "train_split_0.pkl").write_bytes(pickle.dumps({"not": "a list"}))
    ann.write_bytes((INFO / ann.name).read_bytes())
    with pytest.raises(AnnotationFormatError, match="train_split_0.pkl: field 'split'"):
        load_mtl_aqa(mtl_info_copy)
