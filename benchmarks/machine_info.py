"""What a benchmark ran on, named precisely enough to compare runs.

``platform.processor()`` is empty on Linux, so records used to say only ``x86_64``; but the CPU model and the kernels
torch picks for it (AVX2 or AVX-512) decide both the speed and the last bits of every float, so the same seed gives
different models on different CPUs (benchmarks/LEARNING.md, "The same proof on another CPU")."""

from __future__ import annotations

import platform
from pathlib import Path

CPUINFO = Path("/proc/cpuinfo")


def cpu_name(cpuinfo: Path = CPUINFO) -> str:
    """The CPU's model name with its family and model numbers (``AMD EPYC 7B13, family 25 model 1``), from
    /proc/cpuinfo where there is one, else what ``platform`` says. The numbers are kept because a virtual machine may
    name only ``AMD EPYC``, and two generations under that name train different models from the same seed."""
    fields: dict[str, str] = {}
    try:
        for line in cpuinfo.read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if not key.strip() and fields:
                break  # the first processor's block is enough
            fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    name = fields.get("model name")
    if not name:
        return platform.processor() or platform.machine() or "unknown CPU"
    numbers = [f"{key.split()[-1]} {fields[key]}" for key in ("cpu family", "model") if fields.get(key)]
    return ", ".join([name, " ".join(numbers)]) if numbers else name


def cpu_capability() -> str:
    """The instruction set torch's CPU kernels use here (``AVX2``, ``AVX512``, ``DEFAULT``)."""
    import torch

    return torch.backends.cpu.get_cpu_capability()


def device_label(device, threads: int | None = None) -> str:
    """The GPU's name, or ``CPU (<model>, <capability>, N torch threads)``: the label benchmark tables print."""
    import torch

    if str(device).startswith("cuda") and torch.cuda.is_available():
        return torch.cuda.get_device_name(torch.device(device))
    parts = [cpu_name(), cpu_capability()]
    if threads is not None:
        parts.append(f"{threads} torch threads")
    return f"CPU ({', '.join(p for p in parts if p)})"
