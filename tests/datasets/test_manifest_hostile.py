"""Hostile manifests: oversized cells, deep nesting, odd types and repeated ids are quarantined with file and line."""

import json

import pytest

from hieroaction.cli import main
from hieroaction.datasets import load_manifest

GOOD = {"sample_id": "ok/1", "split": "train", "video_path": "a.mp4", "start_frame": 0, "end_frame": 9,
        "action_code": "107b", "final_score": 70.0}
HEADER = "sample_id,split,video_path,start_frame,end_frame,action_code,final_score,judge_scores"


def _jsonl(tmp_path, rows):
    path = tmp_path / "m.jsonl"
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return path


def test_deeply_nested_json_is_quarantined_not_recursion_error(tmp_path):
    deep = "[" * 100_000 + "]" * 100_000
    nested = json.loads("[" * 17 + "1" + "]" * 17)  # 18 levels once inside "extra"
    rows = [GOOD, '{"sample_id": "deep", "extra": ' + deep + "}", {**GOOD, "sample_id": "ok/2", "extra": {"a": nested}}]
    result = load_manifest(_jsonl(tmp_path, rows))
    assert [s.sample_id for s in result.samples] == ["ok/1"]
    assert [q.where for q in result.quarantined] == ["m.jsonl:2", "m.jsonl:3"]
    assert all("nested" in q.reason for q in result.quarantined)


def test_oversized_csv_cell_is_quarantined_not_csv_error(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("\n".join([
        HEADER,
        "ok/1,train,a.mp4,0,9,107b,70.0,",
        "big,train,a.mp4,0,9,107b,70.0," + "9" * 200_000,
        "ok/2,train,a.mp4,0,9,107b,70.0,[8.5]",
    ]) + "\n")
    result = load_manifest(path)
    assert [s.sample_id for s in result.samples] == ["ok/1", "ok/2"]
    (bad,) = result.quarantined
    assert bad.where == "m.csv:3" and "larger than" in bad.reason


def test_duplicate_ids_keep_the_first_row_and_name_the_lines(tmp_path):
    rows = [GOOD, {**GOOD, "sample_id": "ok/2"}, {**GOOD, "final_score": 10.0}, {**GOOD, "final_score": 20.0}]
    result = load_manifest(_jsonl(tmp_path, rows))
    assert [(s.sample_id, s.final_score) for s in result.samples] == [("ok/1", 70.0), ("ok/2", 70.0)]
    assert [q.where for q in result.quarantined] == ["m.jsonl:3", "m.jsonl:4"]
    assert all("m.jsonl:1" in q.reason for q in result.quarantined)
    assert result.origins == ["m.jsonl:1", "m.jsonl:2"]


@pytest.mark.parametrize("field, value", [("sample_id", {"a": 1}), ("sample_id", "x" * 10_000),
                                          ("video_path", ["a"]), ("split", True)])
def test_odd_types_and_sizes_are_quarantined(tmp_path, field, value):
    result = load_manifest(_jsonl(tmp_path, [GOOD, {**GOOD, "sample_id": "ok/2", field: value}]))
    assert [s.sample_id for s in result.samples] == ["ok/1"]
    assert result.quarantined[0].field == field and result.quarantined[0].where == "m.jsonl:2"


def test_summary_of_a_hostile_manifest_has_no_traceback(tmp_path, capsys):
    rows = [GOOD, "[" * 5000, "{not json", '"a string"', {**GOOD, "sample_id": "ok/1"}]
    assert main(["datasets", "summary", "manifest", str(_jsonl(tmp_path, rows)), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["good"] == 1 and len(out["quarantined"]) == 4
    assert all(q["where"].startswith("m.jsonl:") for q in out["quarantined"])


def test_a_lone_surrogate_escape_is_quarantined_with_its_line(tmp_path, capsys):
    """JSON's "\\ud800" decodes to text no UTF-8 writer takes: it crashed the summary in pandas/pyarrow."""
    rows = [GOOD, {**GOOD, "sample_id": "bad", "action_code": "\ud800"}, {**GOOD, "sample_id": "ok/2"}]
    path = _jsonl(tmp_path, rows)  # json.dumps writes the escape, as a hostile file would
    result = load_manifest(path)
    assert [s.sample_id for s in result.samples] == ["ok/1", "ok/2"]
    assert result.quarantined[0].where == "m.jsonl:2" and "Unicode" in result.quarantined[0].reason
    assert main(["datasets", "summary", "manifest", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["good"] == 2


def test_line_separators_inside_json_strings_do_not_split_a_row(tmp_path):
    """JSONL lines end at "\\n" only; U+2028 and U+0085 are legal inside a JSON string (the good row became three
    bad ones and every later line number was off)."""
    path = tmp_path / "m.jsonl"
    odd = {**GOOD, "sample_id": "ok/2", "extra": {"note": "a\u2028b\x85c"}}
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in [GOOD, odd, "{bad"]) + "\r\n", "utf-8")
    result = load_manifest(path)
    assert [s.sample_id for s in result.samples] == ["ok/1", "ok/2"]
    assert result.samples[1].extra == {"note": "a\u2028b\x85c"}
    assert [q.where for q in result.quarantined] == ["m.jsonl:3"]


def test_canonical_rows_with_a_null_or_list_id_are_quarantined_not_renamed(tmp_path):
    """The nested (canonical) form went through Sample.from_dict, which turned null into the id "None"."""
    canonical = {"sample_id": "ok/c", "dataset": "manifest", "split": "train", "action_code": "107b",
                 "video": {"kind": "video", "path": "a.mp4", "start_frame": 0, "end_frame": 9}, "final_score": 70.0}
    rows = [canonical, {**canonical, "sample_id": None}, {**canonical, "sample_id": ["x"]}, {**canonical, "split": None}]
    result = load_manifest(_jsonl(tmp_path, rows))
    assert [s.sample_id for s in result.samples] == ["ok/c"]
    assert [(q.where, q.field) for q in result.quarantined] == [
        ("m.jsonl:2", "sample_id"), ("m.jsonl:3", "sample_id"), ("m.jsonl:4", "split")]
