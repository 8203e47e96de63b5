"""The HPL sweep refuses, in one line and before any work, what it cannot run."""

import pytest
from benchmark_scripts import load_script


def _sweep():
    return load_script("hpl_sweep")


def test_variants_parse_into_a_name_a_stage_and_overrides():
    sweep = _sweep()
    assert sweep.parse_variant("base") == ("base", "hpl", [])
    assert sweep.parse_variant("lv:hpl.credit=level; train.extra={\"a\": 1}") == (
        "lv", "hpl", ["hpl.credit=level", 'train.extra={"a": 1}'])
    with pytest.raises(SystemExit, match="expected NAME"):
        sweep.parse_variant("lv:hpl.credit")
    with pytest.raises(SystemExit, match="expected NAME"):
        sweep.parse_variant(":hpl.credit=level")


def test_a_stage_sft_variant_is_the_sft_control():
    sweep = _sweep()
    control = sweep.parse_variant("more-sft:stage=sft;train.learning_rate=1e-4")
    assert (control.stage, control.overrides) == ("sft", ["train.learning_rate=1e-4"])
    assert control.described() == ["stage=sft", "train.learning_rate=1e-4"]  # as given, for the report
    assert sweep.parse_variant("g8:hpl.num_generations=8").described() == ["hpl.num_generations=8"]
    with pytest.raises(SystemExit, match="stage must be one of hpl, sft"):
        sweep.parse_variant("x:stage=dpo")
    with pytest.raises(SystemExit, match="given once"):
        sweep.parse_variant("x:stage=sft;stage=hpl")


def test_a_folder_without_a_finished_proof_is_refused_before_any_work(tmp_path):
    (tmp_path / "seed0").mkdir()
    with pytest.raises(SystemExit, match=r"not a finished learning-proof folder for seed 0 \(missing .*samples.jsonl"):
        _sweep().main(["--work", str(tmp_path), "--variant", "base", "--json", "-"])
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["seed0"]


def test_variant_names_must_be_distinct(tmp_path):
    with pytest.raises(SystemExit, match="distinct"):
        _sweep().main(["--work", str(tmp_path), "--variant", "a", "--variant", "a:hpl.beta=0.1", "--json", "-"])
