"""GPU training benchmark: the project's SFT and HPL against stock trl, same model, same data, same run.

What it does, in one process:

1. builds a model with the project's own builders (``hieroaction.model.presets``: tokenizer, processor, config),
   random weights, nothing downloaded: Qwen2.5-VL-3B sizes (36 x 2048 language model, 32 x 1280 vision tower,
   vocabulary 151,936) on a GPU, the ``tiny`` preset with ``--quick``;
2. draws and renders dives (``hieroaction.synth``) and extracts their frames (16 x 224x224; 4 x 56x56 with
   ``--quick``);
3. runs, each for a few steps after a warm-up: trl's ``SFTTrainer`` with its defaults (the project's video collator
   is the only addition: trl's own collator drops video), the project's SFT (``run_sft``), trl's ``GRPOTrainer``
   with its defaults plus only the video pass-through (``VideoGRPOTrainer(encode_clips_once=False)``: HF
   ``generate`` with a dynamic cache), and the project's HPL (``run_hpl`` with ``hpl.fast_generation``: each clip
   encoded once, its prompt prefilled once for all its generations, :mod:`hieroaction.model.fast_generation`);
4. prints one table (tokens/s, MFU, GRPO step split generate / score / update, generation tokens/s against the
   memory-bandwidth bound, peak GPU memory, disk used, ratio to stock trl) and writes
   ``benchmarks/results/gpu_train.json``.

Designed for <= 6 minutes on one H100/H200. ``--quick`` runs the same code on the CPU with the tiny preset (a test
does); its figures say nothing about a GPU. How to run it on a GPU machine: benchmarks/GPU.md.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import platform
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from machine_info import device_label

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

DEFAULT_OUT = REPO / "benchmarks" / "results" / "gpu_train.json"

# Dense bf16 peak FLOP/s and memory bandwidth of the cards this is meant for (vendor data sheets, SXM parts).
CARDS = {"H200": (989e12, 4.8e12), "H100": (989e12, 3.35e12), "A100": (312e12, 2.0e12)}


@dataclass
class Plan:
    quick: bool
    samples: int
    frames: dict[str, Any]
    sft_batch: int
    sft_steps: int
    grpo_batch: int
    generations: int
    completion_tokens: int
    grpo_steps: int
    warmup_steps: int


def plan_for(quick: bool) -> Plan:
    if quick:
        return Plan(True, 8, {"sampler": "uniform", "count": 4, "size": 56}, 2, 3, 4, 2, 8, 2, 1)
    return Plan(False, 32, {"sampler": "uniform", "count": 16, "size": 224}, 4, 12, 8, 8, 256, 3, 2)


# ---------------------------------------------------------------------------------------------------------------
# Model and data
# ---------------------------------------------------------------------------------------------------------------


def spec_3b():
    """Qwen2.5-VL-3B's sizes in the project's preset spec (vocabulary set on the config: see :func:`build_model`)."""
    from hieroaction.model.presets import PRESETS, PresetSpec

    return PresetSpec(
        name="qwen2.5-vl-3b-size",
        vocab_size=PRESETS["small"].vocab_size,
        text_hidden=2048,
        text_layers=36,
        text_heads=16,
        text_kv_heads=2,
        text_intermediate=11008,
        mrope_section=(16, 24, 24),
        vision_hidden=1280,
        vision_depth=32,
        vision_heads=16,
        vision_intermediate=3420,
        fullatt_block_indexes=(7, 15, 23, 31),
        min_pixels=56 * 56,
        max_pixels=224 * 224,
        max_position_embeddings=32768,
    )


def build_model(out: Path, quick: bool, device: str) -> Path:
    """Build and save the benchmark model; returns its folder."""
    from hieroaction.model.presets import build_offline_model

    if quick:
        return build_offline_model("tiny", out)
    import torch
    from transformers import GenerationConfig, Qwen2_5_VLForConditionalGeneration

    from hieroaction.model.presets import build_config, build_processor, default_corpus, train_tokenizer

    if (out / "config.json").is_file():
        return out
    spec = spec_3b()
    tokenizer = train_tokenizer(default_corpus(), spec.vocab_size)
    processor = build_processor(tokenizer, spec)
    config = build_config(spec, tokenizer)
    config.text_config.vocab_size = 151_936  # the real model's embedding and head rows (ids past the tokenizer unused)
    torch.manual_seed(0)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.bfloat16)
    try:
        with torch.device(device):
            model = Qwen2_5_VLForConditionalGeneration(config)
    finally:
        torch.set_default_dtype(previous)
    model.generation_config = GenerationConfig(
        eos_token_id=[tokenizer.convert_tokens_to_ids("<|im_end|>")],
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
        do_sample=False,
    )
    model.save_pretrained(out)
    processor.save_pretrained(out)
    del model
    return out


def prepare_data(work: Path, plan: Plan) -> Path:
    """Draw, render and extract the dives; returns the sample table."""
    from hieroaction.datasets.sample import write_jsonl
    from hieroaction.synth import draw_samples, render_dataset
    from hieroaction.train.config import FramesConfig
    from hieroaction.train.data import frame_settings
    from hieroaction.video.extract import extract_frames

    samples = draw_samples(plan.samples, seed=0, split="train")
    media = work / "media"
    rendered = render_dataset(samples, media, layout="frames", seed=0, workers=2, progress=False)
    settings = frame_settings(FramesConfig(**plan.frames))
    result = extract_frames(rendered, media, work / "frames", settings, workers=2, progress=False)
    if result.quarantined:
        raise RuntimeError(f"frame extraction quarantined {len(result.quarantined)} rendered clips")
    table = work / "train.jsonl"
    write_jsonl(rendered, table)
    return table


# ---------------------------------------------------------------------------------------------------------------
# Measuring
# ---------------------------------------------------------------------------------------------------------------


class StepClock:
    """Trainer callback: wall time of every optimizer step and trl's cumulative ``num_tokens`` at each log."""

    def __init__(self):
        from transformers import TrainerCallback

        clock = self

        class _Callback(TrainerCallback):
            def on_step_begin(self, args, state, control, **kwargs):
                clock._sync()
                clock._start = time.perf_counter()

            def on_step_end(self, args, state, control, **kwargs):
                clock._sync()
                clock.steps.append(time.perf_counter() - clock._start)

            def on_log(self, args, state, control, logs=None, **kwargs):
                if logs and "num_tokens" in logs:
                    clock.tokens[state.global_step] = float(logs["num_tokens"])

        self.callback = _Callback()
        self.steps: list[float] = []
        self.tokens: dict[int, float] = {}
        self._start = 0.0

    @staticmethod
    def _sync():
        import torch

        if torch.cuda.is_available():
            torch.cuda.synchronize()

    def measured(self, warmup: int) -> tuple[float, float]:
        """(seconds, tokens) over the steps after ``warmup`` (trl counts tokens per process and step)."""
        steps = self.steps[warmup:]
        first, last = warmup, len(self.steps)
        tokens = self.tokens.get(last, 0.0) - self.tokens.get(first, 0.0)
        return sum(steps), tokens


@contextlib.contextmanager
def default_callback(callback):
    """Every Trainer built inside carries ``callback`` (``run_sft``/``run_hpl`` build theirs internally)."""
    import transformers.trainer as trainer_module

    saved = trainer_module.DEFAULT_CALLBACKS
    trainer_module.DEFAULT_CALLBACKS = [*saved, callback]
    try:
        yield
    finally:
        trainer_module.DEFAULT_CALLBACKS = saved


@contextlib.contextmanager
def grpo_split():
    """Time GRPO's generate and generate+score phases (the rest of a step is the update)."""
    from hieroaction.train.video_grpo import VideoGRPOTrainer

    record = {"generate": [], "generate_and_score": [], "completion_tokens": [], "fast_generation": set()}
    originals = {name: getattr(VideoGRPOTrainer, name) for name in ("_generate", "_generate_and_score_completions")}

    def timed(name, key):
        def wrapper(self, *args, **kwargs):
            StepClock._sync()
            start = time.perf_counter()
            result = originals[name](self, *args, **kwargs)
            StepClock._sync()
            record[key].append(time.perf_counter() - start)
            record["fast_generation"].add(bool(self.fast_generation))
            if name == "_generate_and_score_completions":
                record["completion_tokens"].append(int(result["completion_mask"].sum()))
            return result

        return wrapper

    VideoGRPOTrainer._generate = timed("_generate", "generate")
    VideoGRPOTrainer._generate_and_score_completions = timed("_generate_and_score_completions", "generate_and_score")
    try:
        yield record
    finally:
        for name, fn in originals.items():
            setattr(VideoGRPOTrainer, name, fn)


def device_info() -> dict[str, Any]:
    import torch

    if not torch.cuda.is_available():
        return {"name": device_label("cpu"), "cuda": False, "peak_flops": None,
                "bandwidth": None}
    name = torch.cuda.get_device_name()
    peak, bandwidth = next((v for k, v in CARDS.items() if k in name), (None, None))
    return {"name": name, "cuda": True, "peak_flops": peak, "bandwidth": bandwidth,
            "memory_gb": round(torch.cuda.get_device_properties(0).total_memory / 1e9, 1)}


def reset_memory() -> None:
    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def peak_memory_gb() -> float | None:
    import torch

    return round(torch.cuda.max_memory_allocated() / 1e9, 1) if torch.cuda.is_available() else None


def disk_gb(path: Path) -> float:
    return round(sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e9, 3) if path.exists() else 0.0


def count_parameters(model_dir: Path) -> int:
    import torch
    from transformers import AutoConfig, AutoModelForImageTextToText

    with torch.device("meta"):
        model = AutoModelForImageTextToText.from_config(AutoConfig.from_pretrained(model_dir))
    return sum(p.numel() for p in model.parameters())


# ---------------------------------------------------------------------------------------------------------------
# The four runs
# ---------------------------------------------------------------------------------------------------------------


def overrides(work: Path, table: Path, plan: Plan, model: Path, out: str, steps: int, batch: int) -> list[str]:
    return [
        f"model.path={model}",
        f"data.train={table}",
        f"data.media_root={work / 'media'}",
        f"data.frames_dir={work / 'frames'}",
        f"data.frames={json.dumps(plan.frames)}",
        f"train.output_dir={work / out}",
        f"train.max_steps={steps}",
        f"train.per_device_train_batch_size={batch}",
        "train.gradient_accumulation_steps=1",
        f"train.save_steps={steps}",
        "train.logging_steps=1",
        "train.disable_tqdm=true",
        "train.resume=never",
        "train.warmup_steps=0",
    ]


def sft_rows(config):
    from hieroaction.train.sft import prepare_datasets

    return prepare_datasets(config)["train"]


def stock_setup(model_dir: Path, out: Path):
    """What both stock baselines share: trl's defaults, the model in bf16 on a GPU, no saving, a log every step."""
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    cuda = torch.cuda.is_available()
    model = AutoModelForImageTextToText.from_pretrained(model_dir, dtype=torch.bfloat16 if cuda else torch.float32)
    common = {"output_dir": str(out), "logging_steps": 1, "save_strategy": "no", "report_to": "none", "bf16": cuda,
              "use_cpu": not cuda, "disable_tqdm": True}
    return model, AutoProcessor.from_pretrained(model_dir), common


def stock_sft(work: Path, table: Path, plan: Plan, model_dir: Path) -> dict[str, Any]:
    """trl's SFTTrainer with its defaults (checkpointing on, bf16 on a GPU); the project's collator feeds the video."""
    from trl import SFTConfig, SFTTrainer

    from hieroaction.train.config import SFTRunConfig, config_from_dict
    from hieroaction.train.data import ClipLoader, PromptBuilder, VideoSFTCollator, frame_settings

    config = config_from_dict({}, SFTRunConfig, overrides(work, table, plan, model_dir, "stock_sft", 1, 1))
    settings = frame_settings(config.data.frames)
    rows = sft_rows(config)
    model, processor, common = stock_setup(model_dir, work / "stock_sft")
    args = SFTConfig(
        **common,
        max_steps=plan.sft_steps,
        per_device_train_batch_size=plan.sft_batch,
        remove_unused_columns=False,
        dataset_kwargs={"skip_prepare_dataset": True},
        max_length=None,
    )
    clock = StepClock()
    collator = VideoSFTCollator(processor, ClipLoader(config.data.frames_dir, settings), PromptBuilder(settings))
    trainer = SFTTrainer(model=model, args=args, train_dataset=rows, processing_class=processor,
                         data_collator=collator, callbacks=[clock.callback])
    trainer.train()
    del trainer, model
    return {"clock": clock, "disk_gb": disk_gb(work / "stock_sft")}


def project_sft(work: Path, table: Path, plan: Plan, model_dir: Path) -> dict[str, Any]:
    from hieroaction.train.sft import run_sft

    clock = StepClock()
    with default_callback(clock.callback):
        run_sft(REPO / "configs" / "train" / ("sft_tiny.yaml" if plan.quick else "sft_3b.yaml"),
                overrides(work, table, plan, model_dir, "project_sft", plan.sft_steps, plan.sft_batch)
                + (["train.cpu_threads=null"] if plan.quick else []))
    return {"clock": clock, "disk_gb": disk_gb(work / "project_sft")}


def stock_grpo(work: Path, table: Path, plan: Plan, model_dir: Path) -> dict[str, Any]:
    """trl's GRPOTrainer with its defaults; the only change is the video reaching every forward pass."""
    from trl import GRPOConfig

    from hieroaction.rewards import HierarchicalReward, RewardConfig
    from hieroaction.train.config import HPLRunConfig, config_from_dict
    from hieroaction.train.data import ClipLoader, frame_settings
    from hieroaction.train.hpl import prepare_hpl_datasets
    from hieroaction.train.video_grpo import VideoGRPOTrainer

    config = config_from_dict({}, HPLRunConfig, overrides(work, table, plan, model_dir, "stock_grpo", 1, 2))
    rows = prepare_hpl_datasets(config)["train"]
    model, processor, common = stock_setup(model_dir, work / "stock_grpo")
    args = GRPOConfig(
        **common,
        max_steps=plan.grpo_steps,
        per_device_train_batch_size=plan.grpo_batch,
        num_generations=plan.generations,
        max_completion_length=plan.completion_tokens,
    )
    clock = StepClock()
    trainer = VideoGRPOTrainer(
        model=model, reward_funcs=[HierarchicalReward(RewardConfig())], args=args, train_dataset=rows,
        processing_class=processor, callbacks=[clock.callback],
        video_loader=ClipLoader(config.data.frames_dir, frame_settings(config.data.frames)), encode_clips_once=False,
    )
    trainer.train()
    del trainer, model
    return {"clock": clock, "disk_gb": disk_gb(work / "stock_grpo")}


def project_hpl(work: Path, table: Path, plan: Plan, model_dir: Path) -> dict[str, Any]:
    from hieroaction.train.hpl import run_hpl

    clock = StepClock()
    extra = [f"hpl.num_generations={plan.generations}", f"hpl.max_completion_length={plan.completion_tokens}",
             "hpl.fast_generation=true",  # hpl_3b.yaml's setting; hpl_tiny.yaml leaves it off
             "hpl.allow_cut_answers=true"]  # a speed measurement: the rollout length is the fixed variable
    if plan.quick:
        extra.append("train.cpu_threads=null")
    with default_callback(clock.callback):
        run_hpl(REPO / "configs" / "train" / ("hpl_tiny.yaml" if plan.quick else "hpl_3b.yaml"),
                overrides(work, table, plan, model_dir, "project_hpl", plan.grpo_steps, plan.grpo_batch) + extra)
    return {"clock": clock, "disk_gb": disk_gb(work / "project_hpl")}


# ---------------------------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------------------------


def sft_figures(result: dict[str, Any], plan: Plan, params: int, device: dict[str, Any]) -> dict[str, Any]:
    seconds, tokens = result["clock"].measured(plan.warmup_steps)
    tokens_per_s = tokens / seconds if seconds > 0 else None
    mfu = 6 * params * tokens_per_s / device["peak_flops"] if tokens_per_s and device["peak_flops"] else None
    return {
        "steps_measured": len(result["clock"].steps) - plan.warmup_steps,
        "seconds_per_step": round(seconds / max(1, len(result["clock"].steps) - plan.warmup_steps), 3),
        "tokens_per_s": None if tokens_per_s is None else round(tokens_per_s, 1),
        "mfu": None if mfu is None else round(mfu, 4),
        "peak_gpu_memory_gb": result["peak_gpu_memory_gb"],
        "disk_gb": result["disk_gb"],
    }


def grpo_figures(result: dict[str, Any], split: dict[str, list], plan: Plan, weight_bytes: int,
                 device: dict[str, Any]) -> dict[str, Any]:
    warm = plan.warmup_steps if len(result["clock"].steps) > plan.warmup_steps else 0
    steps = result["clock"].steps[warm:]
    generate = split["generate"][warm:]
    gen_score = split["generate_and_score"][warm:]
    completion = split["completion_tokens"][warm:]
    step_s = sum(steps) / len(steps)
    gen_s = sum(generate) / len(generate)
    score_s = sum(gen_score) / len(gen_score) - gen_s
    tokens = sum(completion) / len(completion)
    bound = plan.grpo_batch * device["bandwidth"] / weight_bytes if device["bandwidth"] else None
    gen_tps = plan.grpo_batch * plan.completion_tokens / gen_s  # decode steps x rows (upper: every row to the end)
    paths = split["fast_generation"]
    return {
        "generation": "mixed" if len(paths) != 1 else ("fast" if paths == {True} else "generate"),
        "steps_measured": len(steps),
        "seconds_per_step": round(step_s, 3),
        "generate_s": round(gen_s, 3),
        "score_s": round(score_s, 3),
        "update_s": round(step_s - gen_s - score_s, 3),
        "completion_tokens_per_step": round(tokens, 1),
        "completion_tokens_per_s_of_step": round(tokens / step_s, 1),
        "generation_tokens_per_s": round(gen_tps, 1),
        "generation_bound_tokens_per_s": None if bound is None else round(bound, 1),
        "peak_gpu_memory_gb": result["peak_gpu_memory_gb"],
        "disk_gb": result["disk_gb"],
    }


def ratio(a, b):
    return None if not a or not b else round(a / b, 2)


def table(report: dict[str, Any]) -> str:
    def f(value, spec=""):
        return "-" if value is None else format(value, spec)

    s, g = report["sft"], report["grpo"]
    lines = [
        f"device: {report['device']['name']}   model: {report['model']['parameters'] / 1e6:,.1f} M parameters   "
        f"{'QUICK (CPU, tiny preset): not GPU figures' if report['quick'] else ''}",
        "| run | s/step | tokens/s | MFU | gen s | score s | update s | gen tok/s (bound) | peak GPU GB | disk GB | x stock |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in ("stock", "project"):
        r = s[name]
        x = report["ratios"]["sft_tokens_per_s"] if name == "project" else None
        lines.append(f"| SFT {name} | {f(r['seconds_per_step'])} | {f(r['tokens_per_s'])} | {f(r['mfu'], '.1%')} | | | | "
                     f"| {f(r['peak_gpu_memory_gb'])} | {f(r['disk_gb'])} | {f(x)} |")
    for name in ("stock", "project"):
        r = g[name]
        x = report["ratios"]["grpo_completion_tokens_per_s"] if name == "project" else None
        lines.append(f"| GRPO {name} | {f(r['seconds_per_step'])} | {f(r['completion_tokens_per_s_of_step'])} | | "
                     f"{f(r['generate_s'])} | {f(r['score_s'])} | {f(r['update_s'])} | "
                     f"{f(r['generation_tokens_per_s'])} ({f(r['generation_bound_tokens_per_s'])}) | "
                     f"{f(r['peak_gpu_memory_gb'])} | {f(r['disk_gb'])} | {f(x)} |")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    from hieroaction.train.entry import setup_logging

    setup_logging()
    plan = plan_for(args.quick)
    if not args.quick and not torch.cuda.is_available():
        raise SystemExit("error: the full benchmark needs a CUDA GPU (use --quick for the CPU smoke run)")
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    device = device_info()
    model_dir = build_model(work / "model", args.quick, "cuda" if device["cuda"] else "cpu")
    table_path = prepare_data(work, plan)
    params = count_parameters(model_dir)
    weight_bytes = params * (2 if device["cuda"] else 4)
    results: dict[str, Any] = {}
    splits: dict[str, Any] = {}
    for name, fn in (("stock_sft", stock_sft), ("project_sft", project_sft), ("stock_grpo", stock_grpo),
                     ("project_hpl", project_hpl)):
        reset_memory()
        with grpo_split() as split:
            results[name] = fn(work, table_path, plan, model_dir)
        results[name]["peak_gpu_memory_gb"] = peak_memory_gb()
        splits[name] = split
        if not args.keep:
            shutil.rmtree(work / name, ignore_errors=True)
    report: dict[str, Any] = {
        "benchmark": "gpu_train",
        "quick": plan.quick,
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "device": device,
        "libraries": _versions(),
        "plan": asdict(plan),
        "model": {"parameters": params, "path": str(model_dir)},
        "sft": {"stock": sft_figures(results["stock_sft"], plan, params, device),
                "project": sft_figures(results["project_sft"], plan, params, device)},
        "grpo": {"stock": grpo_figures(results["stock_grpo"], splits["stock_grpo"], plan, weight_bytes, device),
                 "project": grpo_figures(results["project_hpl"], splits["project_hpl"], plan, weight_bytes, device)},
    }
    report["ratios"] = {
        "sft_tokens_per_s": ratio(report["sft"]["project"]["tokens_per_s"], report["sft"]["stock"]["tokens_per_s"]),
        "grpo_completion_tokens_per_s": ratio(report["grpo"]["project"]["completion_tokens_per_s_of_step"],
                                              report["grpo"]["stock"]["completion_tokens_per_s_of_step"]),
    }
    report["wall_s"] = round(time.perf_counter() - started, 1)
    return report


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for name in ("torch", "transformers", "trl", "accelerate", "peft", "datasets"):
        with contextlib.suppress(md.PackageNotFoundError):
            out[name] = md.version(name)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="CPU smoke run with the tiny preset (not GPU figures)")
    parser.add_argument("--workdir", default=str(REPO / "runs" / "bench_gpu_train"), help="model, data, runs")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="JSON result (default %(default)s)")
    parser.add_argument("--keep", action="store_true", help="keep each run's output folder")
    args = parser.parse_args(argv)
    report = run(args)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(table(report))
    print(f"wrote {out} ({report['wall_s']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
