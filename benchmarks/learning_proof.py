"""Learning proof on this machine: SFT then HPL on rendered dives, measured on held-out dives.

What it does (every step is the project's real code path):
1. draws labelled dives from the real FineDiving label distribution (``hieroaction.synth.draw_samples``), renders
   them as frame folders (``render_dataset``) and extracts sampled frames (``hieroaction.video.extract``);
2. builds the ``small`` preset (random weights, tokenizer trained on the grammar);
3. SFT (``hieroaction.train.sft.run_sft``, settings of ``configs/train/sft_small.yaml``) for a fixed number of
   steps, timed (the issue asks for at most 10 CPU minutes);
4. HPL (``hieroaction.train.hpl.run_hpl``, ``configs/train/hpl_small.yaml``) from the SFT model;
5. evaluates the starting, SFT and HPL models on held-out dives with greedy decoding: format validity, action-code
   accuracy (against the majority-code and uniform chance rates), mean hierarchical reward (all four levels),
   Spearman rho and RL2 of the score, step tIoU.

Prints a Markdown table and writes it with the settings to ``benchmarks/LEARNING.md`` (``--out``). Numbers are as
measured: nothing is tuned after the fact or hard-coded.

    .venv/bin/python benchmarks/learning_proof.py                   # the full proof (~15-25 min on 2 free cores)
    .venv/bin/python benchmarks/learning_proof.py --quick --out -    # plumbing check with the tiny preset (~2 min)
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shutil
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

log = logging.getLogger("learning_proof")


@dataclass
class Plan:
    preset: str
    n_train: int
    n_test: int
    sft_steps: int
    hpl_steps: int
    frames: dict[str, Any]
    render_size: int
    max_new_tokens: int
    sft_config: Path
    hpl_config: Path
    seed: int = 0


def sft_frames(path: Path) -> dict[str, Any]:
    """The frame settings the SFT config trains with (HPL and the evaluation must see the same frames)."""
    from dataclasses import asdict

    from hieroaction.train.config import SFTRunConfig, load_config

    return asdict(load_config(path, SFTRunConfig).data.frames)


def plan_from_args(args) -> Plan:
    if args.quick:
        plan = Plan(
            preset="tiny",
            n_train=16,
            n_test=8,
            sft_steps=4,
            hpl_steps=2,
            frames={"sampler": "uniform", "count": 4, "size": 56},
            render_size=56,
            max_new_tokens=24,
            sft_config=REPO / "configs/train/sft_tiny.yaml",
            hpl_config=REPO / "configs/train/hpl_tiny.yaml",
        )
    else:
        plan = Plan(
            preset="small",
            n_train=args.train,
            n_test=args.test,
            sft_steps=args.sft_steps,
            hpl_steps=args.hpl_steps,
            frames=sft_frames(REPO / "configs/train/sft_small.yaml"),
            render_size=112,
            max_new_tokens=args.max_new_tokens,
            sft_config=REPO / "configs/train/sft_small.yaml",
            hpl_config=REPO / "configs/train/hpl_small.yaml",
        )
    return plan


# ---------------------------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------------------------


def prepare_data(work: Path, plan: Plan):
    """Draw, render and extract; returns (train samples, test samples, train table, test table, frame settings)."""
    from hieroaction.datasets.sample import write_jsonl
    from hieroaction.synth import draw_samples, render_dataset
    from hieroaction.train.config import FramesConfig
    from hieroaction.train.data import frame_settings
    from hieroaction.video.extract import extract_frames

    train = draw_samples(plan.n_train, seed=plan.seed, split="train")
    test = draw_samples(plan.n_test, seed=plan.seed + 1000, split="test")
    assert not {s.sample_id for s in train} & {s.sample_id for s in test}
    media = work / "media"
    rendered = render_dataset(
        train + test, media, layout="frames", seed=plan.seed, workers=2, size=plan.render_size, progress=False
    )
    train, test = rendered[: len(train)], rendered[len(train) :]
    settings = frame_settings(FramesConfig(**plan.frames))
    result = extract_frames(rendered, media, work / "frames", settings, workers=2, progress=False)
    if result.quarantined:
        raise RuntimeError(f"frame extraction quarantined {len(result.quarantined)} rendered clips: {result.reasons()}")
    write_jsonl(train, work / "train.jsonl")
    write_jsonl(test, work / "test.jsonl")
    return train, test, work / "train.jsonl", work / "test.jsonl", settings


# ---------------------------------------------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------------------------------------------


def evaluate(model_dir, test, train, work: Path, settings, reward_config, max_new_tokens: int) -> dict[str, Any]:
    """Greedy answers for every held-out dive, scored with the project's metrics and the hierarchical reward."""
    from hieroaction.evaluate.inference import GenerationSettings, generate_assessments
    from hieroaction.metrics.assessment import answer_metrics
    from hieroaction.model.loading import load_model
    from hieroaction.rewards import COLUMNS, HierarchicalReward
    from hieroaction.train.data import ClipLoader, build_rows, score_range_of

    model, processor = load_model(model_dir, device="cpu")
    rows = build_rows(test, with_target=False, with_prompt=True, score_range=score_range_of(train), settings=settings)
    if rows.quarantined:
        raise RuntimeError(f"held-out rows quarantined: {rows.quarantined[:3]}")
    rows = rows.rows
    loader = ClipLoader(work / "frames", settings)
    start = time.perf_counter()
    out = generate_assessments(
        model,
        processor,
        lambda i: loader(rows[i]),
        [r["prompt"] for r in rows],
        GenerationSettings(max_new_tokens=max_new_tokens, batch_size=8),
        progress=False,
    )
    seconds = time.perf_counter() - start
    metrics = answer_metrics(out.completions, test, train, n_boot=200)  # the evaluation report's metric path
    reward = HierarchicalReward(reward_config)
    totals = reward(out.completions, **{c: [r[c] for r in rows] for c in COLUMNS})  # no trainer state: all levels
    levels = reward.last_components
    return {
        "model": str(model_dir),
        "format_validity": metrics["format_validity"],
        "action_accuracy": metrics["action_accuracy"],
        "action_parts": {k.removeprefix("part_accuracy_"): v for k, v in metrics.items() if k.startswith("part_accuracy_")}
        or None,
        "reward_mean": sum(totals) / len(totals),
        "reward_levels": {k: sum(levels[k]) / len(totals) for k in ("format", "action", "steps", "score")},
        "spearman": metrics["srcc"],
        "spearman_ci95": metrics["srcc_ci95"],
        "rl2_x100": metrics["rl2_x100"],
        "score_missing": metrics["n_fallback"],
        "tiou_mean": metrics.get("tiou_mean", float("nan")),
        "generation_seconds": round(seconds, 1),
        "example": out.completions[0],
    }


def chance_rates(train, test) -> dict[str, float]:
    """Action accuracy of always answering the most frequent training code, and of a uniform guess."""
    from hieroaction.reasoning.render import canonical_code

    train_codes = Counter(canonical_code(s.action_code) for s in train)
    majority = train_codes.most_common(1)[0][0]
    hits = sum(canonical_code(s.action_code) == majority for s in test)
    return {"majority_code": majority, "majority": hits / len(test), "uniform": 1 / len(train_codes)}


# ---------------------------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------------------------


def timed(fn, *args, **kwargs):
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn(*args, **kwargs)
    return result, {"wall_s": round(time.perf_counter() - wall, 1), "cpu_s": round(time.process_time() - cpu, 1)}


def data_overrides(
    work: Path, train_table: Path, plan: Plan, out: str, steps: int, model: Path, threads: int | None
) -> list[str]:
    frames = json.dumps(plan.frames)
    return [
        *([f"train.cpu_threads={threads}"] if threads is not None else []),  # else the config's setting
        f"model.path={model}",
        f"data.train={train_table}",
        "data.eval=null",
        f"data.media_root={work / 'media'}",
        f"data.frames_dir={work / 'frames'}",
        f"data.frames={frames}",
        "data.max_samples=null",
        f"train.output_dir={work / out}",
        f"train.max_steps={steps}",
        f"train.save_steps={max(steps, 1)}",
        "train.disable_tqdm=true",
        "train.resume=never",
    ]


def run(args) -> dict[str, Any]:
    import torch

    from hieroaction.model.presets import PRESET_INFO_FILE, build_offline_model
    from hieroaction.train.config import HPLRunConfig, SFTRunConfig, load_config
    from hieroaction.train.hpl import HPLSettings, run_hpl
    from hieroaction.train.sft import run_sft

    plan = plan_from_args(args)
    if args.cpu_threads is not None:
        torch.set_num_threads(args.cpu_threads)
    work = Path(args.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    for stale in ("sft", "hpl"):
        shutil.rmtree(work / stale, ignore_errors=True)
    log.info("plan: %s", plan)

    (train, test, train_table, _, settings), data_time = timed(prepare_data, work, plan)
    log.info("data ready: %d train, %d held-out dives (%s)", len(train), len(test), data_time)
    model_dir, build_time = timed(build_offline_model, plan.preset, work / f"model_{plan.preset}", seed=plan.seed)
    preset_info = json.loads((model_dir / PRESET_INFO_FILE).read_text())

    sft_config = load_config(
        plan.sft_config,
        SFTRunConfig,
        data_overrides(work, train_table, plan, "sft", plan.sft_steps, model_dir, args.cpu_threads),
    )
    sft_final, sft_time = timed(run_sft, sft_config)
    log.info("SFT done: %s", sft_time)

    hpl_config = load_config(
        plan.hpl_config,
        HPLRunConfig,
        data_overrides(work, train_table, plan, "hpl", plan.hpl_steps, sft_final, args.cpu_threads),
    )
    reward_config = HPLSettings.from_dict(hpl_config.hpl).reward_config()
    hpl_final, hpl_time = timed(run_hpl, hpl_config)
    log.info("HPL done: %s", hpl_time)

    results = {}
    for name, path in (("start", model_dir), ("sft", sft_final), ("hpl", hpl_final)):
        results[name] = evaluate(path, test, train, work, settings, reward_config, plan.max_new_tokens)
        log.info("%s: %s", name, {k: v for k, v in results[name].items() if k != "example"})
    from hieroaction.model.artifacts import RUN_INFO_FILE

    hpl_state = json.loads((hpl_final / RUN_INFO_FILE).read_text())
    return {
        "plan": {k: str(v) if isinstance(v, Path) else v for k, v in plan.__dict__.items()},
        "machine": {
            "cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "cpu_threads_setting": args.cpu_threads,
            "load_average_at_end": os.getloadavg(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "torch": torch.__version__,
        },
        "times": {"data": data_time, "model_build": build_time, "sft": sft_time, "hpl": hpl_time},
        "vision_pretraining": preset_info.get("vision_pretraining"),
        "chance": chance_rates(train, test),
        "results": results,
        "hpl_training_rewards": hpl_state.get("reward_means"),
        "sft_config": sft_config.train.__dict__,
        "hpl_settings": hpl_config.hpl,
        "hpl_train": hpl_config.train.__dict__,
    }


# ---------------------------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------------------------


def fmt(value, digits=3) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return "nan" if value != value else f"{value:.{digits}f}"
    return str(value)


def table(report: dict[str, Any]) -> str:
    r, chance = report["results"], report["chance"]
    rows = [
        ("format validity", None, "format_validity"),
        (
            f"action-code accuracy (chance: majority {chance['majority']:.3f}, uniform {chance['uniform']:.3f})",
            None,
            "action_accuracy",
        ),
        ("mean hierarchical reward (all levels)", None, "reward_mean"),
        ("  format level", "format", None),
        ("  action level", "action", None),
        ("  steps level", "steps", None),
        ("  score level", "score", None),
        ("Spearman rho (score)", None, "spearman"),
        ("RL2 x 100 (score)", None, "rl2_x100"),
        ("answers without a readable score", None, "score_missing"),
        ("step tIoU (mean)", None, "tiou_mean"),
    ]
    lines = ["| held-out metric | start (random) | SFT | HPL |", "|---|---|---|---|"]
    for label, level, key in rows:
        cells = []
        for name in ("start", "sft", "hpl"):
            value = r[name]["reward_levels"][level] if level else r[name][key]
            cells.append(fmt(value))
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def vision_lines(report: dict[str, Any]) -> list[str]:
    """What the preset build did before SFT (the offline stand-in for a pretrained vision tower)."""
    pretraining = report.get("vision_pretraining")
    build = report["times"].get("model_build", {})
    if not pretraining:
        return [f"- model build (random weights, tokenizer): wall {build.get('wall_s')} s; no vision pretraining"]
    settings, result = pretraining["settings"], pretraining["result"]
    return [
        f"- model build: vision pretraining (`hieroaction/model/vision_pretrain.py`) {settings['steps']} steps x "
        f"{settings['clips_per_step']} clips on {settings['train_dives']} rendered dives of their own seed, body-state "
        f"labels only (no dive codes, scores or steps): process CPU {result['cpu_seconds']} s (build wall "
        f"{build.get('wall_s')} s; reused when already built); held-out per-frame body state {result['heldout_accuracy']:.3f} "
        f"(majority {result['heldout_majority']:.3f}; random tower {result['start_accuracy']:.3f}), in-flight position "
        f"{result['heldout_position_accuracy']:.3f} (majority {result['heldout_position_majority']:.3f})"
    ]


def markdown(report: dict[str, Any]) -> str:
    plan, times, r = report["plan"], report["times"], report["results"]
    sft, hpl = r["sft"], r["hpl"]
    checks = [
        ("SFT format validity >= 0.95", sft["format_validity"] >= 0.95),
        (
            "SFT action accuracy far above chance (>= 2x the better of majority and uniform)",
            sft["action_accuracy"] >= 2 * max(report["chance"]["majority"], report["chance"]["uniform"]),
        ),
        ("SFT within 10 CPU minutes (wall clock)", times["sft"]["wall_s"] <= 600),
        ("HPL mean hierarchical reward > SFT's", hpl["reward_mean"] > sft["reward_mean"]),
        ("HPL Spearman rho > SFT's", (hpl["spearman"] or -9) > (sft["spearman"] or -9)),
    ]
    text = [
        "# Learning proof (CPU)",
        "",
        "Produced by `benchmarks/learning_proof.py`; numbers as measured on this machine, not tuned afterwards.",
        "",
        *([f"**{report['label']}**", ""] if report.get("label") else []),
        f"- preset `{plan['preset']}`; {plan['n_train']} rendered training dives, {plan['n_test']} held-out dives "
        f"(different draws); frames {plan['frames']}",
        *vision_lines(report),
        f"- SFT: {plan['sft_steps']} steps ({plan['sft_config']}): wall {times['sft']['wall_s']} s, "
        f"process CPU {times['sft']['cpu_s']} s",
        f"- HPL: {plan['hpl_steps']} GRPO steps ({plan['hpl_config']}): wall {times['hpl']['wall_s']} s, "
        f"process CPU {times['hpl']['cpu_s']} s",
        f"- data (draw + render + extract): wall {times['data']['wall_s']} s",
        f"- machine: {report['machine']['cpus']} CPUs, torch threads {report['machine']['torch_threads']}, "
        f"load average at the end {tuple(round(x, 1) for x in report['machine']['load_average_at_end'])} "
        "(the machine is shared: wall times include waiting for the CPU)",
        "- evaluation: greedy decoding, max "
        f"{plan['max_new_tokens']} new tokens; hierarchical reward with every level active (the last stage)",
        "",
        table(report),
        "",
        "| check | result |",
        "|---|---|",
        *[f"| {name} | {'yes' if ok else 'NO'} |" for name, ok in checks],
        "",
        f"HPL training-reward means over its steps: `{json.dumps(report['hpl_training_rewards'])}`",
        "",
        "Example held-out answer after HPL:",
        "```",
        hpl["example"],
        "```",
        "",
        "Reproduce: `.venv/bin/python benchmarks/learning_proof.py` (add `--quick --out -` for a plumbing run).",
    ]
    return "\n".join(text).replace(f"{REPO}/", "") + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny preset, a few samples and steps (plumbing only)")
    parser.add_argument("--work", default=str(REPO / "runs" / "learning_proof"), help="working folder (data, runs)")
    parser.add_argument("--train", type=int, default=600, help="training dives")
    parser.add_argument("--test", type=int, default=64, help="held-out dives")
    parser.add_argument("--sft-steps", dest="sft_steps", type=int, default=None, help="SFT steps (default: config)")
    parser.add_argument("--hpl-steps", dest="hpl_steps", type=int, default=None, help="HPL steps (default: config)")
    parser.add_argument("--max-new-tokens", dest="max_new_tokens", type=int, default=300)
    parser.add_argument(
        "--cpu-threads",
        dest="cpu_threads",
        type=int,
        default=None,
        help="torch threads (1 is fastest on a busy machine)",
    )
    parser.add_argument("--label", default="", help="a line printed at the top of the report (e.g. 'reduced run')")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "LEARNING.md"), help="Markdown file, or - for none")
    args = parser.parse_args(argv)
    from hieroaction.train.entry import setup_logging

    setup_logging()
    if not args.quick:
        from hieroaction.train.config import HPLRunConfig, SFTRunConfig, load_config

        if args.sft_steps is None:
            args.sft_steps = load_config(REPO / "configs/train/sft_small.yaml", SFTRunConfig).train.max_steps
        if args.hpl_steps is None:
            args.hpl_steps = load_config(REPO / "configs/train/hpl_small.yaml", HPLRunConfig).train.max_steps
    report = run(args)
    report["label"] = args.label
    work = Path(args.work)
    (work / "learning_report.json").write_text(json.dumps(report, indent=2, default=str))
    text = markdown(report)
    print(text)
    if args.out != "-":
        Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
