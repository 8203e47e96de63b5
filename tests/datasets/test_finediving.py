"""FineDiving adapter on the real annotation files (and on copies of them with planted defects)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from hieroaction.datasets import (
    FINEDIVING_SUBACTIONS,
    AnnotationFormatError,
    bundled_root,
    load_finediving,
    load_pickle,
    steps_from_frame_labels,
)

ANNOTATIONS = bundled_root() / "FineDiving" / "Annotations"


def _raw(name):
    return load_pickle(ANNOTATIONS / name)


def test_counts_and_splits(finediving):
    assert len(finediving.samples) == 3000
    assert finediving.splits() == {"train": 2251, "test": 749}
    assert finediving.quarantined == []
    assert len({s.sample_id for s in finediving.samples}) == 3000
    assert len({s.action_code for s in finediving.samples}) == 52


def test_known_sample_is_merged_from_coarse_and_fine(finediving):
    sample = next(s for s in finediving.samples if s.sample_id == "finediving/01/1")
    coarse = _raw("FineDiving_coarse_annotation.pkl")[("01", 1)]
    assert sample.split == "test"
    assert sample.dataset == "finediving"
    assert sample.source_key == ("01", 1)
    assert sample.action_code == "407c"
    assert sample.final_score == 88.0 and sample.difficulty == 3.2
    assert sample.judge_scores == (9.5, 9.0, 9.5, 9.0, 8.5, 9.5, 8.5)
    assert (sample.video.kind, sample.video.path) == ("frames", "01/1")
    assert (sample.video.start_frame, sample.video.end_frame) == (coarse["start_frame"], coarse["end_frame"])
    assert [(s.label_id, s.name, s.first, s.last) for s in sample.steps] == [
        (4, "Inward", 0, 2),
        (25, "3.5 Soms.Tuck", 3, 34),
        (36, "Entry", 35, 84),
    ]
    assert len(sample.frame_labels) == sample.num_frames == 85


def test_every_sample_has_steps_covering_its_labels(finediving):
    fine = _raw("FineDiving_fine-grained_annotation.pkl")
    for sample in finediving.samples:
        labels = fine[sample.source_key]["frames_labels"]
        assert sample.frame_labels == tuple(int(x) for x in labels)
        assert sample.steps == steps_from_frame_labels(labels, FINEDIVING_SUBACTIONS)
        assert sample.steps[0].first == 0 and sample.steps[-1].last == len(labels) - 1
        assert all(isinstance(j, float) for j in sample.judge_scores)
        assert sample.action_code == sample.action_code.lower()


def test_subaction_table():
    assert len(FINEDIVING_SUBACTIONS) == 42
    assert FINEDIVING_SUBACTIONS[36] == "Entry" and FINEDIVING_SUBACTIONS[38] == "Background"


def test_annotation_glitches_are_counted_not_fatal(finediving):
    # the 2022 description counts 7 transit glitches; the 2023 files disagree with frames_labels change points for 10 samples
    assert finediving.warnings == {
        "coarse_fine_mismatch": 1,
        "steps_transit_mismatch": 10,
        "sub_action_name_mismatch": 1,
        "sub_action_types_incomplete": 1,
    }
    assert "finediving/17/164" in finediving.warning_samples["coarse_fine_mismatch"]  # DD 3.4 coarse vs 2.0 fine
    assert "finediving/14/3" in finediving.warning_samples["steps_transit_mismatch"]
    assert "fine_aqa_mismatch" not in finediving.warnings  # the 5-element list file agrees with the dict


def test_video_layout():
    result = load_finediving(layout="video")
    sample = next(s for s in result.samples if s.sample_id == "finediving/01/1")
    assert (sample.video.kind, sample.video.path) == ("video", "01.mp4")
    assert (sample.video.start_frame, sample.video.end_frame) == (7378, 7462)
    with pytest.raises(ValueError, match="layout"):
        load_finediving(layout="folders")


def test_media_root_quarantines_missing_media(tmp_path, finediving):
    present = finediving.samples[0]
    folder = tmp_path / present.video.path
    folder.mkdir(parents=True)
    (folder / f"{present.video.start_frame:05d}.jpg").write_bytes(b"\xff\xd8")
    result = load_finediving(media_root=tmp_path)
    assert [s.sample_id for s in result.samples] == [present.sample_id]
    assert len(result.quarantined) == 2999
    q = result.quarantined[0]
    assert q.field == "video.path" and "frame folder not found" in q.reason and q.sample_id.startswith("finediving/")


def _rewrite(path, mutate):
    data = load_pickle(path)
    mutate(data)
    path.write_bytes(pickle.dumps(data, protocol=3))


def test_aqa_list_disagreement_is_a_warning(finediving_copy):
    def change(aqa):
        aqa[("01", 1)][1] = 77.0  # score in the list file differs from the fine-grained dict

    _rewrite(finediving_copy / "fine-grained_annotation_aqa.pkl", change)
    result = load_finediving(finediving_copy)
    assert result.warnings["fine_aqa_mismatch"] == 1
    assert result.warning_samples["fine_aqa_mismatch"] == ["finediving/01/1"]
    assert len(result.samples) == 3000


def test_bad_entries_are_quarantined_with_field(finediving_copy):
    def coarse_defects(coarse):
        del coarse[("01", 1)]["end_frame"]
        coarse[("01", 2)]["dive_score"] = "high"

    def fine_defects(fine):
        fine[("01", 3)]["frames_labels"] = np.array([], dtype=np.int64)

    _rewrite(finediving_copy / "FineDiving_coarse_annotation.pkl", coarse_defects)
    _rewrite(finediving_copy / "FineDiving_fine-grained_annotation.pkl", fine_defects)
    train = load_pickle(finediving_copy / "train_split.pkl")
    test = load_pickle(finediving_copy / "test_split.pkl")
    twice = next(k for k in train)
    test.append(twice)
    test.append(("no_such_video", 1))
    (finediving_copy / "test_split.pkl").write_bytes(pickle.dumps(test))

    result = load_finediving(finediving_copy)
    by_id = {q.sample_id: q for q in result.quarantined}
    assert by_id["finediving/01/1"].field == "end_frame"
    assert by_id["finediving/01/2"].field == "dive_score" and by_id["finediving/01/2"].value == "high"
    assert by_id["finediving/01/3"].field == "frames_labels"
    assert by_id[f"finediving/{twice[0]}/{twice[1]}"].field == "split"
    assert by_id["finediving/no_such_video/1"].reason.startswith("no entry in")
    assert len(result.samples) + len(result.quarantined) == 3001  # nothing silently dropped


@pytest.mark.parametrize(
    "target, source, field",
    [
        ("FineDiving_coarse_annotation.pkl", "train_split.pkl", "annotations"),
        ("train_split.pkl", "Sub_action_Types_Table.pkl", "split"),
        ("FineDiving_fine-grained_annotation.pkl", "fine-grained_annotation_aqa.pkl", "value"),
        ("Sub_action_Types_Table.pkl", "test_split.pkl", "sub-action table"),
    ],
)
def test_wrong_kind_of_pickle_names_file_and_field(finediving_copy, target, source, field):
    (finediving_copy / target).write_bytes((finediving_copy / source).read_bytes())
    with pytest.raises(AnnotationFormatError) as info:
        load_finediving(finediving_copy)
    assert info.value.field == field
    assert target in str(info.value) and repr(field) in str(info.value)
