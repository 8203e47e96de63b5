"""The split policy (dataset's own validation split, else a stable hash carve-out) and the one source dispatcher."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pytest

from hieroaction.datasets import write_jsonl
from hieroaction.datasets.sample import Sample, VideoRef
from hieroaction.datasets.splits import assign_split, split_samples
from hieroaction.datasets.summary import detect_source, load_source


def sample(i: int, split: str = "train") -> Sample:
    return Sample(sample_id=f"s{i:03d}", dataset="unit", split=split, video=VideoRef("video", f"v{i}.mp4", 0, 9),
                  action_code="207c", final_score=50.0 + i)


def test_own_validation_split_is_kept_and_train_is_carved_stably():
    samples = [sample(i) for i in range(200)] + [sample(900, "valid"), sample(901, "test")]
    assert assign_split(samples[-2]) == "val" and assign_split(samples[-1]) == "test"
    by_split = split_samples(samples)
    assert 20 <= len(by_split["val"]) <= 60  # about 1 in 5 of the 200 training samples, plus the dataset's own one
    assert all(s.split == name for name, members in by_split.items() for s in members)
    # adding samples never moves an existing one between splits
    again = split_samples([*samples, *(sample(i) for i in range(200, 260))])
    before = {s.sample_id: name for name, members in by_split.items() for s in members}
    after = {s.sample_id: name for name, members in again.items() for s in members}
    assert all(after[i] == name for i, name in before.items())


def test_validation_share_is_a_parameter():
    samples = [sample(i) for i in range(300)]
    shares = {every: len(split_samples(samples, validation_every=every)["val"]) for every in (2, 5, 10)}
    assert shares[2] > shares[5] > shares[10] > 0
    with pytest.raises(ValueError, match="validation_every"):
        assign_split(samples[0], validation_every=0)


def test_a_tiny_dataset_still_gets_one_validation_sample():
    tiny = [s for s in (sample(i) for i in range(40)) if assign_split(s) == "train"][:2]
    by_split = split_samples(tiny)
    assert Counter({k: len(v) for k, v in by_split.items()}) == Counter(train=1, val=1, test=0)


def test_detect_source_by_file_names(tmp_path):
    (tmp_path / "fd").mkdir()
    (tmp_path / "fd" / "FineDiving_coarse_annotation.pkl").write_bytes(b"")
    (tmp_path / "mtl").mkdir()
    (tmp_path / "mtl" / "final_annotations_dict_with_dive_number.pkl").write_bytes(b"")
    (tmp_path / "one").mkdir()
    write_jsonl([replace(sample(1), split="test")], tmp_path / "one" / "labels.jsonl")
    assert detect_source(tmp_path / "fd") == ("finediving", tmp_path / "fd")
    assert detect_source(tmp_path / "mtl") == ("mtl-aqa", tmp_path / "mtl")
    assert detect_source(tmp_path / "one") == ("manifest", tmp_path / "one" / "labels.jsonl")
    assert detect_source(tmp_path / "one" / "labels.jsonl") == ("manifest", tmp_path / "one" / "labels.jsonl")
    (tmp_path / "two").mkdir()
    for name in ("a.jsonl", "b.csv"):
        (tmp_path / "two" / name).write_text("")
    with pytest.raises(FileNotFoundError, match="exactly one manifest"):
        detect_source(tmp_path / "two")


def test_load_source_reads_a_manifest_folder(tmp_path):
    from hieroaction.datasets import read_jsonl

    write_jsonl([sample(1), sample(2, "test")], tmp_path / "samples.jsonl")
    expected = list(read_jsonl(tmp_path / "samples.jsonl"))
    loaded = load_source(tmp_path, media_root=tmp_path)
    assert loaded.count_in == 2 and {s.sample_id for s in loaded.samples} <= {s.sample_id for s in expected}
