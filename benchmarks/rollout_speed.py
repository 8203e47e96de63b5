"""Rollout speed: HPL's fast generation path against transformers' ``generate``, same model, same inputs, same run.

    .venv/bin/python benchmarks/rollout_speed.py                      # small preset, CPU, one torch thread
    .venv/bin/python benchmarks/rollout_speed.py --model runs/sft_small/final --repeats 5
    python benchmarks/rollout_speed.py --device cuda --dtype bf16      # on a GPU (small preset: not a 3B figure)

What is measured: one GRPO generation batch, generated twice: by ``model.generate`` with a dynamic cache (what trl's
GRPOTrainer calls) and by :func:`hieroaction.model.fast_generation.generate_from_shared_prompts` (what
``hpl.fast_generation: true`` calls), with the same resolved settings (sampling at temperature 0.7, the vision tokens
suppressed; ``configs/train/hpl_small.yaml`` samples at 0.4, which does not change the work per token). Every answer is forced to the full length
(``min_new_tokens = max_new_tokens``) so both paths decode the same number of tokens. The prompt is the project's
real prompt for a rendered dive (32 frames of 56x56 for the small preset: 64 video tokens, ~240 prompt tokens).

Timing: a warm-up of each path, then ``--repeats`` rounds that run plain and fast back to back (interleaved, so a
busy machine slows both alike); the ratio is plain seconds / fast seconds, per round and its median. Each round also
checks that both paths sampled the same tokens from the same seed. Writes ``benchmarks/results/rollout_speed.json``.

Without ``--model`` the small preset's architecture is built with untrained weights (the tokenizer, processor and
config of ``hieroaction.model.presets``; no vision pretraining): the time per token does not depend on the weights,
and forcing the length removes the one way they could matter.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

from machine_info import device_label

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

DEFAULT_OUT = REPO / "benchmarks" / "results" / "rollout_speed.json"
CASES = (  # (name, clips, answers per clip, new tokens)
    ("1 clip x 8 answers x 250 tokens", 1, 8, 250),
    ("2 clips x 4 answers x 300 tokens", 2, 4, 300),
    ("8 clips x 4 answers x 300 tokens (hpl_small.yaml's batch)", 8, 4, 300),
)


def untrained_preset(preset: str, out: Path) -> Path:
    """The preset's architecture, tokenizer and processor with random weights (no vision pretraining), saved."""
    import torch
    from transformers import GenerationConfig, Qwen2_5_VLForConditionalGeneration

    from hieroaction.model.presets import PRESETS, build_config, build_processor, default_corpus, train_tokenizer

    if (out / "config.json").is_file():
        return out
    spec = PRESETS[preset]
    tokenizer = train_tokenizer(default_corpus(), spec.vocab_size)
    torch.manual_seed(0)
    model = Qwen2_5_VLForConditionalGeneration(build_config(spec, tokenizer))
    model.generation_config = GenerationConfig(eos_token_id=[tokenizer.convert_tokens_to_ids("<|im_end|>")],
                                               pad_token_id=tokenizer.pad_token_id, bos_token_id=None)
    model.save_pretrained(out)
    build_processor(tokenizer, spec).save_pretrained(out)
    return out


def case_inputs(processor, clips: int, answers: int, frames: int, size: int, device) -> dict[str, Any]:
    """Left-padded model inputs for ``clips`` rendered dives, each repeated ``answers`` times in a row (as GRPO)."""
    from hieroaction.evaluate.inference import prompt_text
    from hieroaction.reasoning import prompt_for
    from hieroaction.synth.draw import draw_samples
    from hieroaction.synth.render import render_sample
    from hieroaction.video.sampling import FrameSettings

    settings = FrameSettings(sampler="uniform", count=frames, size=(size, size))
    texts, videos = [], []
    for sample in draw_samples(clips, seed=0, split="test"):
        clip = render_sample(sample, 0, (size, size), settings.indices(sample.num_frames))
        texts += [prompt_text(processor, prompt_for(sample, settings))] * answers
        videos += [clip] * answers
    batch = processor(text=texts, videos=videos, padding=True, padding_side="left", return_tensors="pt",
                      do_sample_frames=False)
    return {k: v.to(device) for k, v in batch.items()}


def generation_config(model, processor, tokens: int):
    from transformers import GenerationConfig

    from hieroaction.model.tokens import suppressed_token_ids

    return GenerationConfig(max_new_tokens=tokens, min_new_tokens=tokens, do_sample=True, temperature=0.7,
                            top_p=1.0, top_k=None, pad_token_id=processor.tokenizer.pad_token_id,
                            suppress_tokens=suppressed_token_ids(processor.tokenizer, model.config))


def timed(fn, device) -> tuple[float, Any]:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    result = fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start, result


def measure(model, processor, inputs, tokens: int, repeats: int, device) -> dict[str, Any]:
    import torch

    from hieroaction.model.fast_generation import DecodeSettings, generate_from_shared_prompts

    config = generation_config(model, processor, tokens)
    settings = DecodeSettings.for_model(model, config)
    prompt_length = inputs["input_ids"].shape[1]

    def plain(seed):
        torch.manual_seed(seed)
        with torch.no_grad():
            return model.generate(**inputs, generation_config=config)[:, prompt_length:]

    def fast(seed):
        torch.manual_seed(seed)
        return generate_from_shared_prompts(model, inputs, settings).completion_ids

    plain(0), fast(0)  # warm-up
    rounds = []
    for seed in range(1, repeats + 1):
        plain_s, plain_ids = timed(lambda s=seed: plain(s), device)
        fast_s, fast_ids = timed(lambda s=seed: fast(s), device)
        rounds.append({"plain_s": round(plain_s, 3), "fast_s": round(fast_s, 3), "ratio": round(plain_s / fast_s, 2),
                       "same_tokens": bool(torch.equal(plain_ids, fast_ids))})
    rows = inputs["input_ids"].shape[0]
    plain_s = statistics.median(r["plain_s"] for r in rounds)
    fast_s = statistics.median(r["fast_s"] for r in rounds)
    return {
        "rows": rows,
        "prompt_tokens": prompt_length,
        "new_tokens": tokens,
        "plain_s": plain_s,
        "fast_s": fast_s,
        "plain_tokens_per_s": round(rows * tokens / plain_s, 1),
        "fast_tokens_per_s": round(rows * tokens / fast_s, 1),
        "ratio_median": statistics.median(r["ratio"] for r in rounds),
        "same_tokens": all(r["same_tokens"] for r in rounds),
        "rounds": rounds,
    }


def decode_ops(model, processor, inputs, extra: int = 8) -> dict[str, float]:
    """Operations (``aten::`` calls, counted by torch.profiler) per decode step of each path: the difference between
    answers of ``4 + extra`` and 4 tokens, over ``extra``. Why: on a GPU a small model's decode step costs about its
    number of operations times the host's time per operation (the kernels themselves take microseconds), so this CPU
    count predicts which path is faster there and by how much."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    from hieroaction.model.fast_generation import DecodeSettings, generate_from_shared_prompts

    def count(run) -> int:
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            run()
        return sum(e.count for e in prof.key_averages() if e.key.startswith("aten::"))

    result = {}
    for path in ("plain", "fast"):
        counts = []
        for tokens in (4, 4 + extra):
            config = generation_config(model, processor, tokens)
            if path == "plain":
                def run(config=config):
                    with torch.no_grad():
                        model.generate(**inputs, generation_config=config)
            else:
                def run(config=config):
                    generate_from_shared_prompts(model, inputs, DecodeSettings.for_model(model, config))
            run()  # warm-up
            counts.append(count(run))
        result[path] = round((counts[1] - counts[0]) / extra, 1)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="small", choices=("tiny", "small", "medium"))
    parser.add_argument("--cache-dir", default=tempfile.gettempdir(), help="where the untrained preset is built")
    parser.add_argument("--model", help="a model folder instead of the untrained preset")
    parser.add_argument("--frames", type=int, default=32, help="frames per clip (small preset: 32)")
    parser.add_argument("--size", type=int, default=56, help="frame side in pixels (small preset: 56)")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved plain/fast rounds per case")
    parser.add_argument("--new-tokens", type=int, help="override every case's answer length (a smoke run)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads on a CPU (hpl_small.yaml uses 1)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", help="e.g. bf16 on a GPU")
    parser.add_argument("--out", default=str(DEFAULT_OUT))
    args = parser.parse_args(argv)

    import torch

    from hieroaction.evaluate.checkpoint import open_checkpoint

    if args.device == "cpu":
        torch.set_num_threads(args.threads)
    source = Path(args.model) if args.model else untrained_preset(
        args.preset, Path(args.cache_dir) / f"hieroaction-bench-{args.preset}-untrained")
    model, processor = open_checkpoint(source, require_marker=False, dtype=args.dtype, device=args.device)
    model.eval()
    device = next(model.parameters()).device
    started = time.perf_counter()
    cases = {}
    for name, clips, answers, tokens in CASES:
        inputs = case_inputs(processor, clips, answers, args.frames, args.size, device)
        cases[name] = measure(model, processor, inputs, args.new_tokens or tokens, args.repeats, device)
        cases[name]["ops_per_decode_step"] = decode_ops(model, processor, inputs)
    card = device_label(device, torch.get_num_threads())
    report = {
        "benchmark": "rollout_speed",
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "device": card,
        "model": {"source": str(source), "untrained_preset": None if args.model else args.preset,
                  "parameters": sum(p.numel() for p in model.parameters()), "dtype": str(model.dtype)},
        "frames": {"count": args.frames, "size": args.size},
        "sampling": {"temperature": 0.7, "forced_length": True},
        "libraries": {"torch": torch.__version__, "transformers": version("transformers")},
        "cases": cases,
        "wall_s": round(time.perf_counter() - started, 1),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"model: {source} ({report['model']['parameters'] / 1e6:.1f}M parameters, {model.dtype}), device: {card}")
    print("| case | prompt tokens | plain generate s | fast s | plain tok/s | fast tok/s | x plain (median, rounds) "
          "| same tokens | ops/step plain | ops/step fast |")
    print("|---|---:|---:|---:|---:|---:|---|:---:|---:|---:|")
    for name, r in cases.items():
        rounds = ", ".join(f"{x['ratio']:.2f}" for x in r["rounds"])
        print(f"| {name} | {r['prompt_tokens']} | {r['plain_s']:.2f} | {r['fast_s']:.2f} | {r['plain_tokens_per_s']:.0f} "
              f"| {r['fast_tokens_per_s']:.0f} | {r['ratio_median']:.2f} ({rounds}) | {'yes' if r['same_tokens'] else 'no'} "
              f"| {r['ops_per_decode_step']['plain']:.0f} | {r['ops_per_decode_step']['fast']:.0f} |")
    print(f"wrote {out} ({report['wall_s']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
