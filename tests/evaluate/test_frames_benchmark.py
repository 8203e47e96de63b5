"""benchmarks/frames_benchmark.py's clip store table: the checksum's cost against a plain read, in the same run."""

import json

from benchmark_scripts import load_script


def test_the_store_benchmark_measures_the_checksum_against_a_plain_read(tmp_path, capsys):
    bench = load_script("frames_benchmark")
    assert bench.main(["--store-only", "--loads", "2", "--json", str(tmp_path / "store.json")]) == 0
    measured = {m["format"]: m for m in json.loads((tmp_path / "store.json").read_text())["formats"]}
    assert measured["npy, read (baseline)"]["ratio_to_npy_read"] == 1.0
    hashed = next(m for name, m in measured.items() if "checksum hashed" in name)
    assert hashed["seconds"] > 0 and hashed["bytes"] == measured["npy, read (baseline)"]["bytes"]
    assert "| load_clip, later loads" in capsys.readouterr().out
