"""The GPU machine's wheels are the versions constraints.txt pins, for its Python (benchmarks/gpu_wheels.py)."""

from pathlib import Path

import pytest
from benchmark_scripts import load_script

REPO = Path(__file__).resolve().parents[2]


def test_every_carried_wheel_is_pinned_in_constraints_and_taken_at_that_pin():
    wheels = load_script("gpu_wheels")
    requirements = wheels.pinned(wheels.GPU_WHEELS, REPO / "constraints.txt")
    pins = dict(line.split("==", 1) for line in (REPO / "constraints.txt").read_text().split() if "==" in line)
    assert [r.split("==")[0] for r in requirements] == list(wheels.GPU_WHEELS)
    for requirement in requirements:
        name, version = requirement.split("==")
        assert pins[name] == version


def test_a_name_without_a_pin_is_refused_in_one_line(tmp_path):
    wheels = load_script("gpu_wheels")
    constraints = tmp_path / "constraints.txt"
    constraints.write_text("trl==1.16.0  # comment\nDatasets==5.2.0\nregex>=2026\n")
    assert wheels.pinned(("trl", "datasets"), constraints) == ["trl==1.16.0", "datasets==5.2.0"]
    with pytest.raises(SystemExit, match=r"constraints.txt: no '==' pin for regex, peft"):
        wheels.pinned(("trl", "regex", "peft"), constraints)


def test_the_download_targets_the_gpu_machines_python_and_platform(tmp_path):
    wheels = load_script("gpu_wheels")
    command = wheels.download_command(["trl==1.16.0"], tmp_path)
    assert command[command.index("--python-version") + 1] == "3.12"
    assert "--no-deps" in command and "--only-binary=:all:" in command
    assert "manylinux2014_x86_64" in command and command[-1] == "trl==1.16.0"
