"""Every numeric field is checked finite (and in range) in one place, for every adapter, before Great Expectations."""

import json
import math
from dataclasses import replace

import pytest

from hieroaction.datasets import load_manifest
from hieroaction.datasets.checks import sample_problems
from hieroaction.datasets.validate import validate_samples


@pytest.fixture(scope="module")
def base(mtl_info):
    return [s for s in mtl_info.samples if s.judge_scores and s.difficulty][:3]


@pytest.mark.parametrize(
    "change, field",
    [
        (dict(judge_scores=(math.nan,) + (8.0,) * 6), "judge_scores[0]"),
        (dict(judge_scores=(math.inf,) * 7), "judge_scores[0]"),
        (dict(difficulty=math.nan), "difficulty"),
        (dict(difficulty=-math.inf), "difficulty"),
        (dict(final_score=math.nan), "final_score"),
        (dict(final_score=1e300), "final_score"),
        (dict(action_code="\ud800"), "action_code"),  # not a number, but the same one-place rule: text as UTF-8
        (dict(extra={"note": ["\udfff"]}), "extra"),
    ],
)
def test_non_finite_numbers_are_quarantined_not_raised(base, change, field):
    bad = replace(base[0], sample_id="bad", **change)
    report = validate_samples([bad, *base[1:]])
    assert [s.sample_id for s in report.good] == [s.sample_id for s in base[1:]]
    (q,) = report.quarantined
    assert q.sample_id == "bad" and q.field == field


def test_frame_numbers_must_be_sane_integers(base):
    from hieroaction.datasets.sample import VideoRef

    huge = replace(base[0], video=VideoRef("video", "a.mp4", 0, 10**12))
    assert [p.field for p in sample_problems(huge)] == ["video.end_frame"]


def test_manifest_nan_values_name_file_line_and_field(tmp_path, base):
    rows = [
        {"sample_id": "ok", "split": "train", "video_path": "a.mp4", "start_frame": 0, "end_frame": 9,
         "action_code": "107b", "final_score": 50.0, "difficulty": 2.0, "judge_scores": [8.0, 8.0, 8.5, 8.0, 8.0]},
    ]
    text = json.dumps(rows[0]) + "\n" + json.dumps({**rows[0], "sample_id": "nan-dd"}).replace('"difficulty": 2.0', '"difficulty": NaN') + "\n"
    path = tmp_path / "m.jsonl"
    path.write_text(text)
    loaded = load_manifest(path)  # every manifest read applies the one check: training and extraction too
    (q,) = loaded.quarantined
    assert (q.sample_id, q.field, q.where) == ("nan-dd", "difficulty", "m.jsonl:2")
    assert [s.sample_id for s in loaded.samples] == ["ok"]
    bad = replace(base[0], sample_id="nan-dd", difficulty=math.nan)
    (q,) = validate_samples([bad], origins=["other.jsonl:7"]).quarantined  # samples of any adapter, the same rule
    assert (q.sample_id, q.field, q.where) == ("nan-dd", "difficulty", "other.jsonl:7")


ROW = {"split": "train", "video_path": "v.mp4", "action_code": "107b", "final_score": 50.0}


@pytest.mark.parametrize(
    "start, end, field, words",
    [
        (-5, 10, "video.start_frame", "frame numbers start at 0"),
        (-1, -1, "video.start_frame", "frame numbers start at 0"),
        (500, 400, "video.end_frame", "end_frame 400 is before start_frame 500"),
        (0, -3, "video.end_frame", "frame numbers start at 0"),
    ],
)
def test_a_negative_or_reversed_frame_range_is_quarantined_with_file_line_and_field(tmp_path, base, start, end,
                                                                                    field, words):
    from hieroaction.datasets.sample import VideoRef

    path = tmp_path / "m.jsonl"
    rows = [{**ROW, "sample_id": "ok", "start_frame": 0, "end_frame": 9},
            {**ROW, "sample_id": "bad", "start_frame": start, "end_frame": end}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    loaded = load_manifest(path)
    assert [s.sample_id for s in loaded.samples] == ["ok"]
    (q,) = loaded.quarantined
    assert (q.sample_id, q.field, q.where) == ("bad", field, "m.jsonl:2") and words in q.reason
    # validation of any adapter's samples: the same rule, the same field
    bad = replace(base[0], sample_id="bad", video=VideoRef("video", "a.mp4", start, end))
    report = validate_samples([bad, *base[1:]], origins=["x.jsonl:3", "x.jsonl:4", "x.jsonl:5"])
    (q,) = report.quarantined
    assert (q.sample_id, q.field, q.where) == ("bad", field, "x.jsonl:3") and words in q.reason


def test_the_summary_names_file_line_and_field_of_a_negative_start(tmp_path, capsys):
    from hieroaction.cli import main

    path = tmp_path / "m.csv"
    path.write_text("sample_id,split,video_path,start_frame,end_frame,action_code,final_score\n"
                    "a,train,v.mp4,0,9,107b,50\nneg,train,v.mp4,-3,9,107b,50\n")
    assert main(["datasets", "summary", "manifest", str(path)]) == 0
    out = capsys.readouterr().out
    assert "m.csv:3: neg: video.start_frame=-3: video.start_frame: frame numbers start at 0" in out

