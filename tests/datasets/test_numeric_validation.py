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
    loaded = load_manifest(path)
    report = validate_samples(loaded.samples, origins=loaded.origins)
    (q,) = report.quarantined
    assert (q.sample_id, q.field, q.where) == ("nan-dd", "difficulty", "m.jsonl:2")
