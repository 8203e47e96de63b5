"""benchmarks/machine_info.py: a benchmark record names the CPU model and torch's kernel set, not just ``x86_64``."""

from benchmark_scripts import load_script


def test_cpu_name_reads_the_model_name_from_cpuinfo(tmp_path):
    info = load_script("machine_info")
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\nflags\t\t: fpu\n")
    assert info.cpu_name(cpuinfo) == "AMD EPYC 7B13"


def test_cpu_name_keeps_family_and_model_so_generations_under_one_name_differ(tmp_path):
    info = load_script("machine_info")
    names = []
    for family, model in (("25", "1"), ("26", "2")):
        cpuinfo = tmp_path / f"cpuinfo{family}"
        cpuinfo.write_text(f"processor\t: 0\ncpu family\t: {family}\nmodel\t\t: {model}\nmodel name\t: AMD EPYC\n\n"
                           "processor\t: 1\ncpu family\t: 99\nmodel\t\t: 9\nmodel name\t: AMD EPYC\n")
        names.append(info.cpu_name(cpuinfo))
    assert names == ["AMD EPYC, family 25 model 1", "AMD EPYC, family 26 model 2"]


def test_cpu_name_falls_back_when_there_is_no_cpuinfo(tmp_path):
    info = load_script("machine_info")
    assert info.cpu_name(tmp_path / "missing") not in ("", None)
    blank = tmp_path / "blank"
    blank.write_text("model name\t:\n")
    assert info.cpu_name(blank) == info.cpu_name(tmp_path / "missing")


def test_the_cpu_label_holds_model_capability_and_threads():
    import torch

    info = load_script("machine_info")
    label = info.device_label("cpu", 3)
    assert label.startswith(f"CPU ({info.cpu_name()}") and label.endswith("3 torch threads)")
    assert info.cpu_capability() == torch.backends.cpu.get_cpu_capability()
    assert info.cpu_capability() in label


def test_the_learning_proof_records_the_cpu():
    proof = load_script("learning_proof")
    plan = proof.plan_from_args(proof.build_parser().parse_args(["--quick"]))
    record = proof.machine(plan)
    assert record["cpu"] and record["cpu_capability"] == load_script("machine_info").cpu_capability()
