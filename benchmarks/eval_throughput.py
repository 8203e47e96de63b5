"""Evaluation throughput: videos/s of batched generation against one-at-a-time generation, in the same run.

    .venv/bin/python benchmarks/eval_throughput.py                       # tiny preset, CPU
    .venv/bin/python benchmarks/eval_throughput.py --preset small --videos 32 --batch-sizes 1 4 8 16
    python benchmarks/eval_throughput.py --checkpoint runs/hpl/final --device cuda --dtype bf16  # on a GPU

What is measured: ``hieroaction.evaluate.inference.generate_assessments`` (the code ``hieroaction evaluate`` runs:
processor with left padding, one video per prompt, greedy decoding, vision pad tokens suppressed) over the same
rendered dives (16 uniform frames, 112x112, the training default) at each batch size. Every answer is forced to the
same length (``min_new_tokens = max_new_tokens``) so a random-weight model that stops early cannot flatter a batch
size. Batch size 1 is the one-at-a-time baseline; ratios are against it. A warm-up batch runs first. The table also
says whether each batch size produced exactly the one-at-a-time text (left padding keeps greedy answers identical
up to floating-point reduction order).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

from machine_info import device_label


def rendered_clips(count: int, frames: int, size: int, seed: int = 0):
    """Rendered dives (the embedded default data), sampled like training: uniform frames, square size."""
    from hieroaction.reasoning import prompt_for
    from hieroaction.synth.draw import draw_samples
    from hieroaction.synth.render import render_sample
    from hieroaction.video.sampling import FrameSettings

    samples = draw_samples(count, seed=seed, split="test")
    clips, prompts = [], []
    settings = FrameSettings(sampler="uniform", count=frames, size=(size, size))
    for sample in samples:
        clips.append(render_sample(sample, seed, (size, size), settings.indices(sample.num_frames)))
        prompts.append(prompt_for(sample, settings))
    return clips, prompts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="tiny", choices=("tiny", "small"), help="offline preset (random weights)")
    parser.add_argument("--checkpoint", help="a checkpoint folder instead of a preset")
    parser.add_argument("--videos", type=int, default=16)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--size", type=int, default=112)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    parser.add_argument("--repeats", type=int, default=1, help="timed passes per batch size (best is kept)")
    parser.add_argument("--device")
    parser.add_argument("--dtype")
    args = parser.parse_args(argv)

    import torch

    from hieroaction.evaluate.checkpoint import open_checkpoint
    from hieroaction.evaluate.inference import GenerationSettings, generate_assessments
    from hieroaction.model.presets import build_offline_model

    if args.checkpoint:
        source = args.checkpoint
    else:
        source = build_offline_model(args.preset, Path(tempfile.gettempdir()) / f"hieroaction-bench-{args.preset}")
    model, processor = open_checkpoint(source, require_marker=False, dtype=args.dtype, device=args.device)
    clips, prompts = rendered_clips(args.videos, args.frames, args.size)
    parameters = sum(p.numel() for p in model.parameters())
    device = next(model.parameters()).device
    batch_sizes = sorted(set([1, *args.batch_sizes]))

    def settings(batch: int) -> GenerationSettings:
        return GenerationSettings(max_new_tokens=args.max_new_tokens, min_new_tokens=args.max_new_tokens,
                                  batch_size=batch, device=str(device))

    generate_assessments(model, processor, clips[: max(batch_sizes)], prompts[: max(batch_sizes)],
                         settings(max(batch_sizes)), progress=False)  # warm-up (allocator, kernels)
    rows = []
    reference = None
    for batch in batch_sizes:
        best = None
        for _ in range(args.repeats):
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            output = generate_assessments(model, processor, clips, prompts, settings(batch), progress=False)
            if device.type == "cuda":
                torch.cuda.synchronize()
            seconds = time.perf_counter() - start
            best = seconds if best is None else min(best, seconds)
        if reference is None:
            reference = (best, output.completions)
        tokens = sum(len(ids) for ids in output.completion_ids)
        rows.append((batch, best, len(clips) / best, tokens / best, reference[0] / best,
                     output.completions == reference[1]))

    card = device_label(device, torch.get_num_threads())
    print(f"model: {source} ({parameters / 1e6:.1f}M parameters, {next(model.parameters()).dtype}), device: {card}")
    print(f"{len(clips)} rendered videos, {args.frames} frames {args.size}x{args.size}, "
          f"{args.max_new_tokens} new tokens each (forced), greedy; transformers {version('transformers')}, "
          f"torch {torch.__version__}")
    print()
    print("| batch size | seconds | videos/s | new tokens/s | × one-at-a-time | same text as one-at-a-time |")
    print("|---:|---:|---:|---:|---:|:---:|")
    for batch, seconds, vps, tps, ratio, same in rows:
        label = "1 (one at a time)" if batch == 1 else str(batch)
        print(f"| {label} | {seconds:.2f} | {vps:.2f} | {tps:.0f} | {ratio:.2f} | {'yes' if same else 'no'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
