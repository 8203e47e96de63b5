"""CPU plumbing check of the GPU proof: the ``medium`` preset's architecture, configs and batch sizes end to end.

Why: the GPU run (``learning_proof.py --preset medium --device cuda``, benchmarks/GPU.md) happens only when a GPU is
at hand, and a shape or config error found there costs GPU time. This runs the same proof on the CPU with the
``medium`` model (40M parameters, 32 frames at 112 px), ``sft_medium.yaml`` and ``hpl_medium.yaml`` at their batch
sizes, but with the build's vision pretraining cut to a few steps on a few dives and a few SFT and HPL steps, so it
ends in minutes. Its metrics mean nothing (the model is barely trained); what it shows is that every stage runs and
the report is written.

    .venv/bin/python benchmarks/medium_dry_run.py --work runs/medium_dry     # about 6 minutes on 2 cores
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def cut_pretraining(steps: int, dives: int, clips: int) -> None:
    """Make the ``medium`` preset's build pretrain its vision tower for ``steps`` steps of ``clips`` clips drawn from
    ``dives`` dives (the build records its spec, so a later full build is not mistaken for this one)."""
    from hieroaction.model import presets

    presets.PRESETS["medium"] = dataclasses.replace(
        presets.PRESETS["medium"], vision_pretrain_steps=steps, vision_pretrain_dives=dives,
        vision_pretrain_clips=clips)


def proof_argv(args: argparse.Namespace) -> list[str]:
    return ["--preset", "medium", "--device", args.device, "--seeds", "0", "--train", str(args.train), "--test",
            str(args.test), "--sft-steps", str(args.sft_steps), "--hpl-steps", str(args.hpl_steps),
            "--eval-batch", str(args.eval_batch), "--n-boot", "50", "--sampled", "1", "--cpu-threads", str(args.cpu_threads),
            "--work", str(args.work), "--json", str(Path(args.work) / "learning.json"),
            "--out", str(Path(args.work) / "learning.md")]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default="runs/medium_dry")
    parser.add_argument("--train", type=int, default=24, help="training dives")
    parser.add_argument("--test", type=int, default=8, help="held-out dives")
    parser.add_argument("--sft-steps", type=int, default=3)
    parser.add_argument("--hpl-steps", type=int, default=2)
    parser.add_argument("--pretrain-steps", type=int, default=3)
    parser.add_argument("--pretrain-dives", type=int, default=24)
    parser.add_argument("--pretrain-clips", type=int, default=4, help="clips per pretraining step (the preset: 16)")
    parser.add_argument("--cpu-threads", type=int, default=2)
    parser.add_argument("--eval-batch", type=int, default=8)
    parser.add_argument("--device", default="cpu", help="cuda: the same check on a GPU, sized by the options above")
    args = parser.parse_args(argv)
    cut_pretraining(args.pretrain_steps, dives=args.pretrain_dives, clips=args.pretrain_clips)
    import learning_proof

    return learning_proof.main(proof_argv(args))


if __name__ == "__main__":
    sys.exit(main())
