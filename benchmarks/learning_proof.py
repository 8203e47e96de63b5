"""Learning proof: SFT then HPL on rendered dives, per training seed, measured on held-out dives with intervals.

What it does (every step is the project's real code path):
1. draws one held-out set of dives (its own draw seed, never used for training) and, per training seed, a training
   set; renders them (``hieroaction.synth``) and extracts the sampled frames (``hieroaction.video.extract``);
2. builds the preset once (``hieroaction.model.presets``: tokenizer, random weights, vision pretraining on dives of
   yet another seed), shared by the seeds as a pretrained checkpoint would be;
3. per seed: SFT (``run_sft``, ``configs/train/sft_<preset>.yaml``), then HPL (``run_hpl``,
   ``configs/train/hpl_<preset>.yaml``) from the SFT model, ``train.seed`` = the seed;
4. per seed and system: greedy answers on every held-out dive, scored by the benchmark report's own path
   (``hieroaction.metrics.assessment``: per-sample records, then ``system_metrics``) plus the hierarchical reward
   with every level active; each metric with a 95% bootstrap interval and HPL - SFT with a 95% paired-bootstrap
   interval (``hieroaction.metrics.bootstrap``).

Writes ``benchmarks/results/learning.json`` (``--json``) and prints a Markdown summary (``--out`` writes it).
Numbers are as measured: nothing is tuned after the fact or hard-coded.

    .venv/bin/python benchmarks/learning_proof.py                                  # small preset, CPU, 2 seeds
    .venv/bin/python benchmarks/learning_proof.py --preset medium --device cuda   # the same proof on a GPU
    .venv/bin/python benchmarks/learning_proof.py --quick --json - --out -         # plumbing check (tiny preset)
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import resource
import shutil
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from hieroaction.metrics.json_safe import dumps as strict_json  # noqa: E402 - after the path the script runs from

log = logging.getLogger("learning_proof")
TEST_DRAW_SEED = 7_000_000  # the held-out dives' draw seed: no training draw (the training seeds) reaches it
PAIRED_KEYS = ("reward_mean", "srcc", "action_accuracy", "format_validity", "tiou@0.5", "tiou_mean", "rl2_x100")
SAMPLE_SEED = 1000  # sampled pass k of every system draws with seed SAMPLE_SEED + k
LEVELS = ("format", "action", "steps", "score")


@dataclass
class Plan:
    preset: str
    device: str
    seeds: list[int]
    n_train: int
    n_test: int
    sft_steps: int
    hpl_steps: int
    frames: dict[str, Any]
    max_new_tokens: int
    sft_config: Path
    hpl_config: Path
    n_boot: int = 1000
    parallel: int = 1
    cpu_threads: int | None = 1
    eval_batch: int = 8
    sampled: int = 0  # sampled answers per held-out dive and system, besides the greedy one (HPL's objective)
    overrides: dict[str, list[str]] = field(default_factory=dict)  # "sft"/"hpl": KEY=VALUE after the configs
    quick: bool = False  # the plumbing run: answers cut off at a few tokens on purpose
    build_seed: int = 0  # the preset build's seed (its random weights and the tower's pretraining draws)


def stage_config(preset: str, stage: str) -> Path:
    return REPO / "configs" / "train" / f"{stage}_{preset}.yaml"


def config_frames(path: Path) -> dict[str, Any]:
    """The frame settings the SFT config trains with (HPL and the evaluation must see the same frames)."""
    from hieroaction.train.config import SFTRunConfig, load_config

    return asdict(load_config(path, SFTRunConfig).data.frames)


def plan_from_args(args) -> Plan:
    from hieroaction.train.config import ConfigError, HPLRunConfig, SFTRunConfig, load_config

    preset = "tiny" if args.quick else args.preset
    sft_config, hpl_config = stage_config(preset, "sft"), stage_config(preset, "hpl")
    for path in (sft_config, hpl_config):
        if not path.is_file():
            raise SystemExit(f"no training config for preset {preset!r}: {path} is missing")
    stage_sets = {"sft": list(getattr(args, "sft_set", None) or []), "hpl": list(getattr(args, "hpl_set", None) or [])}
    try:  # a bad --sft-set/--hpl-set stops here, in one line, before any work
        sft = load_config(sft_config, SFTRunConfig, stage_sets["sft"])
        hpl = load_config(hpl_config, HPLRunConfig, stage_sets["hpl"])
    except ConfigError as exc:
        raise SystemExit(str(exc)) from None
    if args.quick:
        return Plan(preset, args.device, args.seeds or [0, 1], 16, 8, 4, 2,
                    {"sampler": "uniform", "count": 4, "size": 56}, 24, sft_config, hpl_config, n_boot=100,
                    parallel=args.parallel, cpu_threads=args.cpu_threads, sampled=args.sampled, overrides=stage_sets,
                    quick=True, build_seed=getattr(args, "build_seed", 0))
    sft_steps = args.sft_steps or sft.train.max_steps
    hpl_steps = args.hpl_steps or hpl.train.max_steps
    return Plan(preset, args.device, args.seeds or [0, 1], args.train, args.test, sft_steps, hpl_steps,
                config_frames(sft_config), args.max_new_tokens, sft_config, hpl_config, n_boot=args.n_boot,
                parallel=args.parallel, cpu_threads=args.cpu_threads, eval_batch=args.eval_batch, overrides=stage_sets,
                sampled=args.sampled, build_seed=getattr(args, "build_seed", 0))


def use_device_threads(plan: Plan) -> None:
    """This process's torch threads, and on a GPU TF32 for what still runs in float32 (the build's vision
    pretraining; training runs under bf16 autocast): both per process, so each seed's worker calls it too."""
    import torch

    if plan.cpu_threads:
        torch.set_num_threads(plan.cpu_threads)
    if plan.device.startswith("cuda"):
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True


def check_device(device: str) -> None:
    """Fail before any work when the asked device is not there."""
    import torch

    if device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device is visible to torch (torch.cuda.is_available() is False)")
    if device not in ("cpu", "cuda"):
        raise SystemExit(f"--device must be cpu or cuda, got {device!r}")


# ---------------------------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------------------------


def prepare(samples, folder: Path, plan: Plan, render_seed: int, shared_by: int | None = None):
    """Render ``samples`` at the frame size and extract the sampled frames; returns (samples, table, settings).
    ``shared_by``: how many preparations run at once and share the cores (default: the seeds run at once)."""
    from hieroaction.datasets.sample import write_jsonl
    from hieroaction.synth import render_dataset
    from hieroaction.train.config import FramesConfig
    from hieroaction.train.data import frame_settings
    from hieroaction.video.extract import extract_frames

    settings = frame_settings(FramesConfig(**plan.frames))
    media = folder / "media"
    workers = max(2, min(16, (os.cpu_count() or 2) // max(shared_by or plan.parallel, 1)))
    rendered = render_dataset(samples, media, layout="frames", seed=render_seed, workers=workers, size=settings.size,
                              progress=False)
    result = extract_frames(rendered, media, folder / "frames", settings, workers=workers, progress=False)
    if result.quarantined:
        raise RuntimeError(f"frame extraction quarantined {len(result.quarantined)} rendered clips: {result.reasons()}")
    write_jsonl(rendered, folder / "samples.jsonl")
    return rendered, folder / "samples.jsonl", settings


def test_samples(n: int):
    from hieroaction.synth import draw_samples

    return draw_samples(n, seed=TEST_DRAW_SEED, split="test")


def train_samples(n: int, seed: int):
    from hieroaction.synth import draw_samples

    return draw_samples(n, seed=seed, split="train")


# ---------------------------------------------------------------------------------------------------------------
# One seed: train, answer
# ---------------------------------------------------------------------------------------------------------------


def seed_folder(work: Path, seed: int, answers: str = "answers.json") -> Path:
    """The seed's folder of a finished proof in ``work``, or one line saying what is missing (before any work).
    ``answers``: the answers file that must be there (``answers_sft.json``: SFT finished, HPL maybe not yet)."""
    folder = work / f"seed{seed}"
    needed = [folder / "samples.jsonl", folder / "sft" / "final", folder / answers, work / "test" / "samples.jsonl"]
    missing = [str(p) for p in needed if not p.exists()]
    if missing:
        raise SystemExit(f"{work}: not a finished learning-proof folder for seed {seed} (missing {', '.join(missing)})")
    return folder


def unsaved(models) -> list[str]:
    """Those of ``models`` (folders) that hold no saved model: what a reader of a proof's models checks first."""
    return [str(m) for m in models if not (m / "config.json").is_file()]


def check_frames(work: Path, plan: Plan) -> None:
    """Refuse, in one line and before any work, a plan whose frame settings the proof in ``work`` did not extract
    (e.g. another ``--preset``, or a ``--quick`` proof read without ``--quick``)."""
    from hieroaction.train.config import FramesConfig
    from hieroaction.train.data import frame_settings

    key = frame_settings(FramesConfig(**plan.frames)).key
    if not (work / "test" / "frames" / key).is_dir():
        found = sorted(p.name for p in (work / "test" / "frames").glob("*") if p.is_dir())
        raise SystemExit(f"{work}: the proof extracted frames as {', '.join(found) or 'nothing'}, not {key} "
                         f"(preset {plan.preset!r}): give the --preset (or --quick) it ran with")


def map_jobs(fn, jobs: list, parallel: int) -> list:
    """``fn`` over ``jobs`` in order: in up to ``parallel`` spawned processes (each with its own torch threads), or
    here when one is enough."""
    if parallel > 1 and len(jobs) > 1:
        with ProcessPoolExecutor(min(parallel, len(jobs)), mp_context=get_context("spawn")) as pool:
            return list(pool.map(fn, jobs))
    return [fn(job) for job in jobs]


def add_reader_arguments(parser: argparse.ArgumentParser, what: str) -> None:
    """The options of a script that reads a finished proof's folder (``hpl_sweep.py``, ``hpl_headroom.py``);
    ``what`` names the jobs ``--parallel`` runs at once."""
    parser.add_argument("--work", required=True, help="a finished learning_proof.py working folder")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="the folder of a learning_proof.py --quick run")
    parser.add_argument("--preset", default="small", help="the proof's preset: configs/train/{sft,hpl}_<preset>.yaml")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--parallel", type=int, default=1, help=f"{what} at once (processes)")
    parser.add_argument("--cpu-threads", dest="cpu_threads", type=int, default=1)
    parser.add_argument("--eval-batch", dest="eval_batch", type=int, default=8)
    parser.add_argument("--max-new-tokens", dest="max_new_tokens", type=int, default=384)
    parser.add_argument("--n-boot", dest="n_boot", type=int, default=1000)


def reader_plan(args: argparse.Namespace, hpl_steps: int | None = None,
                answers: str = "answers.json") -> tuple[Plan, Path, Path]:
    """(plan, work folder, seed folder) of a finished proof for a script reading it, every check done before any
    work: the device, the folder's files (``answers``: see :func:`seed_folder`), the frames it extracted."""
    check_device(args.device)
    work = Path(args.work).resolve()
    folder = seed_folder(work, args.seed, answers)
    if args.device == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = ""  # trainers pick CUDA when they see it
    plan = plan_from_args(argparse.Namespace(
        quick=args.quick, preset=args.preset, device=args.device, seeds=[args.seed], train=0, test=0, sft_steps=None,
        hpl_steps=hpl_steps, max_new_tokens=args.max_new_tokens, n_boot=args.n_boot, parallel=1,
        cpu_threads=args.cpu_threads, eval_batch=args.eval_batch, sampled=0))
    check_frames(work, plan)
    return plan, work, folder


def scoring_inputs(plan: Plan, work: Path, folder: Path) -> tuple[list, list, Any, Any]:
    """What a reader of a finished proof answers and scores with: (the seed's training dives, the held-out dives,
    the frame settings, the reward of the HPL config), as the proof itself did."""
    from hieroaction.datasets import read_jsonl
    from hieroaction.train.config import FramesConfig, HPLRunConfig, load_config
    from hieroaction.train.data import frame_settings

    return (read_jsonl(folder / "samples.jsonl"), read_jsonl(work / "test" / "samples.jsonl"),
            frame_settings(FramesConfig(**plan.frames)), load_config(plan.hpl_config, HPLRunConfig, []).hpl.reward_config())


def publish(text: str, report: dict[str, Any], json_path: str) -> None:
    """Print the Markdown table and write the report as JSON (``-``: not written)."""
    print(text)
    if json_path != "-":
        Path(json_path).parent.mkdir(parents=True, exist_ok=True)
        Path(json_path).write_text(strict_json(report, indent=2, default=str) + "\n")


def cpu_seconds() -> float:
    """CPU time of this process and of its ended children (the rendering pools), so a stage that renders in
    processes is charged for them."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def timed(fn, *args, **kwargs):
    wall, cpu = time.perf_counter(), cpu_seconds()
    result = fn(*args, **kwargs)
    return result, {"wall_s": round(time.perf_counter() - wall, 1), "cpu_s": round(cpu_seconds() - cpu, 1)}


def overrides(plan: Plan, folder: Path, table: Path, out: Path, steps: int, model: Path, seed: int) -> list[str]:
    return [
        *([f"train.cpu_threads={plan.cpu_threads}"] if plan.cpu_threads is not None else []),
        f"model.path={model}",
        f"data.train={table}",
        "data.eval=null",
        f"data.media_root={folder / 'media'}",
        f"data.frames_dir={folder / 'frames'}",
        f"data.frames={json.dumps(plan.frames)}",
        "data.max_samples=null",
        f"train.output_dir={out}",
        f"train.max_steps={steps}",
        f"train.save_steps={max(steps, 1)}",
        f"train.seed={seed}",
        "train.disable_tqdm=true",
        "train.resume=never",
    ]


def answers(model_dir: Path, test, train, test_dir: Path, settings, reward_config, plan: Plan,
            sampling: dict[str, Any] | None = None, samples: int = 0) -> dict[str, Any]:
    """Greedy answers on every held-out dive: per-sample records (the report's path) and hierarchical rewards. With
    ``samples`` > 0, also that many answers per dive sampled with ``sampling`` (GenerationSettings fields: temperature,
    top_p, top_k), under ``"sampled"``: the rewards and reward levels of each pass, pass k seeded with
    ``SAMPLE_SEED + k`` for every system, so systems differ by their weights, not their draws. One model load for all
    passes."""
    seeded = [{**sampling, "seed": SAMPLE_SEED + k} for k in range(samples)] if samples else []
    greedy, *passes = answer_passes(model_dir, test, train, test_dir, settings, reward_config, plan, [None, *seeded])
    if passes:
        greedy["sampled"] = {"sampling": sampling, "rewards": [p["rewards"] for p in passes],
                             "reward_levels": [p["reward_levels"] for p in passes]}
    return greedy


def answer_passes(model_dir: Path, test, train, test_dir: Path, settings, reward_config, plan: Plan,
                  samplings: list[dict[str, Any] | None],
                  decoding: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """One :func:`answers` result per entry of ``samplings`` (None: greedy), the model loaded and the rows built
    once for all passes. ``decoding``: GenerationSettings fields for every pass (``num_beams``, say: how
    ``benchmarks/decoding.py`` answers the same models another way)."""
    from hieroaction.evaluate.inference import GenerationSettings, generate_assessments
    from hieroaction.metrics.assessment import fallback_score, records_from_completions
    from hieroaction.model.loading import load_model
    from hieroaction.rewards import COLUMNS, HierarchicalReward
    from hieroaction.train.data import ClipLoader, build_rows, score_range_of

    model, processor = load_model(model_dir, device=plan.device)
    built = build_rows(test, with_target=False, with_prompt=True, score_range=score_range_of(train), settings=settings)
    if built.quarantined:
        raise RuntimeError(f"held-out rows quarantined: {built.quarantined[:3]}")
    rows = built.rows
    loader = ClipLoader(test_dir / "frames", settings)
    fallback = fallback_score(train, test)[0]
    results = []
    for sampling in samplings:
        out, seconds = timed(
            generate_assessments,
            model,
            processor,
            lambda i: loader(rows[i]),
            [r["prompt"] for r in rows],
            GenerationSettings(max_new_tokens=plan.max_new_tokens, batch_size=plan.eval_batch, device=plan.device,
                               **(decoding or {}), **({"do_sample": True, **sampling} if sampling else {})),
            progress=False,
            ids=[r["sample_id"] for r in rows],
        )
        if out.quarantined:  # every seed and model must answer the same held-out dives, as for the rows above
            raise RuntimeError(f"held-out clips quarantined: {[str(q) for q in list(out.quarantined.values())[:3]]}")
        records = records_from_completions(test, out.completions, fallback)
        reward = HierarchicalReward(reward_config)
        totals = reward(out.completions, **{c: [r[c] for r in rows] for c in COLUMNS})  # no trainer state: all levels
        results.append({"records": [r.to_dict() for r in records], "rewards": [float(x) for x in totals],
                        "reward_levels": {k: [float(x) for x in v] for k, v in reward.last_components.items()
                                          if k in LEVELS},
                        "generation": seconds})
    return results


def sampling_settings(hpl_config: Path, temperature: float | None = None) -> dict[str, Any]:
    """How HPL's rollouts sample (``hpl.temperature``, ``top_p``, ``top_k``; ``temperature`` overrides), as
    GenerationSettings fields. An unset top_k stays unset: generate then fills it from the checkpoint's generation
    config and transformers' defaults, as it does for HPL's rollouts (docs/STACK.md)."""
    from hieroaction.train.config import HPLRunConfig, load_config

    hpl = load_config(hpl_config, HPLRunConfig, []).hpl
    settings = {"temperature": float(temperature if temperature is not None else hpl.temperature),
                "top_p": float(hpl.top_p)}
    if hpl.top_k is not None:
        settings["top_k"] = int(hpl.top_k)
    return settings


def run_seed(plan: Plan, work: Path, model_dir: Path, seed: int) -> dict[str, Any]:
    """Render this seed's training dives, SFT, HPL, and answer the held-out dives with both models; returns the
    seed's report. The raw answers (``answers.json``, re-scorable without re-training) and the report
    (``report.json``) are in the seed's folder as soon as the seed ends, so a run stopped later keeps them; SFT's
    (``answers_sft.json``, ``report_sft.json``) as soon as SFT's answers are scored, before HPL starts."""
    from hieroaction.datasets import read_jsonl
    from hieroaction.train.config import HPLRunConfig, SFTRunConfig, load_config
    from hieroaction.train.hpl import HPLSettings, run_hpl
    from hieroaction.train.sft import run_sft

    use_device_threads(plan)
    folder = work / f"seed{seed}"
    for stale in ("sft", "hpl"):
        shutil.rmtree(folder / stale, ignore_errors=True)
    (train, table, settings), data_time = timed(prepare, train_samples(plan.n_train, seed), folder, plan, seed)
    test = read_jsonl(work / "test" / "samples.jsonl")
    sft_config = load_config(plan.sft_config, SFTRunConfig,
                             overrides(plan, folder, table, folder / "sft", plan.sft_steps, model_dir, seed)
                             + plan.overrides.get("sft", []))
    sft_final, sft_time = timed(run_sft, sft_config)
    log.info("seed %d: SFT done %s", seed, sft_time)
    hpl_config = load_config(plan.hpl_config, HPLRunConfig,
                             overrides(plan, folder, table, folder / "hpl", plan.hpl_steps, sft_final, seed)
                             + plan.overrides.get("hpl", []))
    reward_config = HPLSettings.from_dict(hpl_config.hpl).reward_config()
    sampling = sampling_settings(plan.hpl_config) if plan.sampled else None
    systems = {"sft": answers(sft_final, test, train, work / "test", settings, reward_config, plan, sampling,
                              plan.sampled)}
    # SFT's answers and metrics are kept before HPL starts: a run stopped during HPL (a time budget) still has them
    (folder / "answers_sft.json").write_text(strict_json(systems["sft"]))
    sft_report = {"seed": seed, "times": {"data": data_time, "sft": sft_time,
                                          "answers_sft": systems["sft"]["generation"]},
                  "majority": majority_rates([s.action_code for s in train], test),
                  "sft": system_report(systems["sft"], plan.n_boot)}  # seed_report reuses both
    (folder / "report_sft.json").write_text(strict_json(sft_report, indent=1))
    log.info("seed %d: SFT answered %s", seed, systems["sft"]["generation"])
    hpl_final, hpl_time = timed(run_hpl, hpl_config)
    log.info("seed %d: HPL done %s", seed, hpl_time)
    systems["hpl"] = answers(hpl_final, test, train, work / "test", settings, reward_config, plan, sampling,
                             plan.sampled)
    from hieroaction.model.artifacts import RUN_INFO_FILE

    hpl_state = json.loads((hpl_final / RUN_INFO_FILE).read_text())
    times = {"data": data_time, "sft": sft_time, "hpl": hpl_time,
             **{f"answers_{k}": v["generation"] for k, v in systems.items()}}
    (folder / "answers.json").write_text(strict_json(systems))
    report = seed_report(seed, times, sft_report, systems, hpl_state.get("reward_means"), plan)
    (folder / "report.json").write_text(strict_json(report, indent=1))
    return report


def seed_report(seed: int, times: dict[str, Any], sft_report: dict[str, Any], systems: dict[str, Any],
                hpl_training_rewards: dict[str, float] | None, plan: Plan) -> dict[str, Any]:
    """One seed's part of learning.json: every system's metrics with intervals, HPL - SFT, the targets. The majority
    rates and SFT's metrics come from ``sft_report`` (``report_sft.json``, written before HPL), not computed again."""
    report = {"seed": seed, "times": times, "majority": sft_report["majority"], "sft": sft_report["sft"],
              **{name: system_report(data, plan.n_boot) for name, data in systems.items() if name != "sft"},
              "hpl_minus_sft": paired_report(systems["sft"], systems["hpl"], plan.n_boot),
              "hpl_training_rewards": hpl_training_rewards,
              "example_hpl_answer": systems["hpl"]["records"][0]["completion"]}
    if plan.sampled:  # HPL's own objective: the reward of answers sampled as its rollouts sample
        report["sampled"] = {name: sampled_report(data, plan.n_boot) for name, data in systems.items()}
        report["hpl_minus_sft_sampled"] = sampled_paired(systems["sft"], systems["hpl"], plan.n_boot)
    report["targets"] = targets(report)
    return report


def _run_seed_in_worker(args) -> dict[str, Any]:
    from hieroaction.train.entry import setup_logging

    setup_logging()
    return run_seed(*args)


# ---------------------------------------------------------------------------------------------------------------
# Metrics
# ---------------------------------------------------------------------------------------------------------------


def majority_rates(train_codes, test) -> dict[str, Any]:
    """Accuracy of always answering the most frequent training code, and each part's most frequent value."""
    from hieroaction.metrics.actions import PARTS, decode, dive_parts

    train_parts = [dive_parts(decode(c)) for c in train_codes]
    test_parts = [dive_parts(decode(s.action_code)) for s in test]
    code = Counter(decode(c).code for c in train_codes).most_common(1)[0][0]
    rates = {"code": code, "action": sum(decode(s.action_code).code == code for s in test) / len(test),
             "uniform": 1 / len(set(train_codes)), "parts": {}}
    for part in PARTS:
        value = Counter(p[part] for p in train_parts).most_common(1)[0][0]
        rates["parts"][part] = sum(p[part] == value for p in test_parts) / len(test_parts)
    return rates


def system_report(data: dict[str, Any], n_boot: int) -> dict[str, Any]:
    """The benchmark report's metrics of one system, each with its 95% bootstrap interval."""
    from hieroaction.metrics.assessment import SampleRecord, system_metrics
    from hieroaction.metrics.bootstrap import bootstrap_interval, mean_interval

    records = [SampleRecord(**r) for r in data["records"]]
    metrics = system_metrics(records, answers=True, n_boot=n_boot)
    report = {k: metrics.get(k) for k in ("n", "format_validity", "action_accuracy", "srcc", "rl2_x100",
                                          "tiou_mean", "tiou@0.5", "score_coverage")}
    report["part_accuracy"] = {k.removeprefix("part_accuracy_"): v for k, v in metrics.items()
                               if k.startswith("part_accuracy_")}
    report["reward_mean"] = sum(data["rewards"]) / len(data["rewards"])
    report["reward_levels"] = {k: sum(v) / len(v) for k, v in data["reward_levels"].items()}
    intervals = {}
    for key in ("format_validity", "action_accuracy", "tiou@0.5", "tiou_mean", "reward_mean", "srcc", "rl2_x100"):
        statistic = per_sample_statistic(records, data["rewards"], key)
        intervals[key] = bootstrap_interval(len(records), statistic, n_boot=n_boot).to_dict()
    for part, values in part_hits(records).items():
        intervals[f"part_{part}"] = mean_interval(values, n_boot=n_boot).to_dict()
    report["ci95"] = intervals
    return report


def part_hits(records) -> dict[str, list[bool]]:
    from hieroaction.metrics.actions import PARTS, matching_parts

    hits = {part: [] for part in PARTS}
    for r in records:
        for part, ok in matching_parts(r.predicted_code, r.action_code).items():
            hits[part].append(ok)
    return hits


def per_sample_statistic(records, rewards, key: str):
    """``key`` as a statistic of resampled indices, computed as the report computes it."""
    from hieroaction.evaluate.promotion import metric_statistic
    from hieroaction.metrics.bootstrap import mean_statistic

    if key == "reward_mean":
        return mean_statistic(rewards)
    if key == "tiou@0.5":
        return mean_statistic([(r.tiou or 0.0) >= 0.5 for r in records])
    return metric_statistic(records, key)


def paired_report(sft: dict[str, Any], hpl: dict[str, Any], n_boot: int) -> dict[str, Any]:
    """HPL - SFT on the same held-out dives, 95% paired-bootstrap interval per metric (RL2: lower is better)."""
    from hieroaction.metrics.assessment import SampleRecord
    from hieroaction.metrics.bootstrap import paired_interval

    a = [SampleRecord(**r) for r in sft["records"]]
    b = [SampleRecord(**r) for r in hpl["records"]]
    if [r.sample_id for r in a] != [r.sample_id for r in b]:
        raise RuntimeError("SFT and HPL answered different held-out dives")
    return {key: paired_interval(len(a), per_sample_statistic(a, sft["rewards"], key),
                                 per_sample_statistic(b, hpl["rewards"], key), n_boot=n_boot).to_dict()
            for key in PAIRED_KEYS}


def sampled_report(data: dict[str, Any], n_boot: int) -> dict[str, Any]:
    """One system's greedy reward, mean reward of its sampled answers (per dive, then over dives) and best sampled
    reward per dive, each with its 95% bootstrap interval; the share of (dive, sample) pairs where the sample beats
    the greedy answer; per-level greedy and sampled means."""
    import numpy as np

    from hieroaction.metrics.bootstrap import mean_interval

    greedy = np.asarray(data["rewards"], dtype=float)
    sampled = np.asarray(data["sampled"]["rewards"], dtype=float)  # (passes, dives)
    return {
        "n": int(greedy.size), "samples": int(sampled.shape[0]), "sampling": data["sampled"].get("sampling"),
        "greedy_reward": mean_interval(greedy.tolist(), n_boot=n_boot).to_dict(),
        "sampled_reward": mean_interval(sampled.mean(axis=0).tolist(), n_boot=n_boot).to_dict(),
        "best_of_k_reward": mean_interval(sampled.max(axis=0).tolist(), n_boot=n_boot).to_dict(),
        "sample_beats_greedy": float((sampled > greedy[None, :]).mean()),
        "greedy_levels": {k: float(np.mean(data["reward_levels"][k])) for k in LEVELS},
        "sampled_levels": {k: float(np.mean([np.mean(p[k]) for p in data["sampled"]["reward_levels"]]))
                           for k in LEVELS},
    }


def sampled_paired(baseline: dict[str, Any], other: dict[str, Any], n_boot: int) -> dict[str, Any]:
    """``other - baseline`` on the same dives: greedy reward and per-dive mean sampled reward (paired bootstrap)."""
    import numpy as np

    from hieroaction.metrics.bootstrap import paired_mean_interval

    def per_dive_mean(data):
        return np.asarray(data["sampled"]["rewards"], dtype=float).mean(axis=0).tolist()

    return {"greedy_reward": paired_mean_interval(baseline["rewards"], other["rewards"], n_boot=n_boot).to_dict(),
            "sampled_reward": paired_mean_interval(per_dive_mean(baseline), per_dive_mean(other),
                                                   n_boot=n_boot).to_dict()}


def targets(seed_report: dict[str, Any]) -> dict[str, bool]:
    """The issue's "done when" checks for one seed."""
    sft, majority, paired = seed_report["sft"], seed_report["majority"], seed_report["hpl_minus_sft"]
    return {
        "sft_action_accuracy_>=_2x_majority": (sft["action_accuracy"] or 0) >= max(2 * majority["action"], 1e-9),
        "sft_every_part_above_majority": all(sft["part_accuracy"].get(p, 0) > v for p, v in majority["parts"].items()),
        "sft_format_validity_>=_0.95": (sft["format_validity"] or 0) >= 0.95,
        "sft_srcc_>=_0.6": (sft["srcc"] or -1) >= 0.6,
        "hpl_minus_sft_reward_interval_above_0": paired["reward_mean"]["low"] > 0,
        "hpl_minus_sft_srcc_interval_not_below_0": paired["srcc"]["high"] >= 0,
    }


# ---------------------------------------------------------------------------------------------------------------
# Run
# ---------------------------------------------------------------------------------------------------------------


def run(plan: Plan, work: Path) -> dict[str, Any]:
    from hieroaction.model.artifacts import PRESET_INFO_FILE
    from hieroaction.model.presets import build_offline_model

    use_device_threads(plan)
    work.mkdir(parents=True, exist_ok=True)
    log.info("plan: %s", plan)
    _, test_time = timed(prepare, test_samples(plan.n_test), work / "test", plan, TEST_DRAW_SEED, shared_by=1)
    model_dir, build_time = timed(build_offline_model, plan.preset, work / f"model_{plan.preset}", device=plan.device,
                                  seed=plan.build_seed)
    preset_info = json.loads((model_dir / PRESET_INFO_FILE).read_text())
    budgets = check_answer_budgets(plan, work, model_dir)
    per_seed = map_jobs(_run_seed_in_worker, [(plan, work, model_dir, seed) for seed in plan.seeds], plan.parallel)
    return {
        "plan": plan_record(plan),
        "machine": machine(plan),
        "times": {"test_data": test_time, "model_build": build_time},
        "preset": {k: preset_info.get(k) for k in ("preset", "parameters", "spec", "vision_pretraining")},
        "longest_target_tokens": budgets,
        "seeds": per_seed,
        "all_targets_met": all(all(s["targets"].values()) for s in per_seed),
    }


def check_answer_budgets(plan: Plan, work: Path, model_dir: Path) -> dict[str, int]:
    """Before any training: the answering limit leaves room for every held-out dive's complete target answer, and
    HPL's completion limit for every training dive's (a cut-off answer is scored as broken). The quick plumbing run
    answers in a few tokens on purpose, so only HPL's limit is checked there. Returns the longest targets' tokens."""
    from transformers import AutoTokenizer

    from hieroaction.datasets import read_jsonl
    from hieroaction.train.answer_budget import check_generation_limit, longest_target
    from hieroaction.train.config import ConfigError, HPLRunConfig, load_config

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    hpl = load_config(plan.hpl_config, HPLRunConfig, plan.overrides.get("hpl", [])).hpl
    train = [s for seed in plan.seeds for s in train_samples(plan.n_train, seed)]
    try:
        longest = {"train": check_generation_limit(train, tokenizer, hpl.max_completion_length,
                                                   "HPL's max_completion_length (--hpl-set hpl.max_completion_length)")}
        test = read_jsonl(work / "test" / "samples.jsonl")
        longest["test"] = (longest_target(test, tokenizer) if plan.quick
                           else check_generation_limit(test, tokenizer, plan.max_new_tokens, "--max-new-tokens"))
    except ConfigError as exc:
        raise SystemExit(str(exc)) from None
    return {split: t.tokens for split, t in longest.items() if t is not None}


def plan_record(plan: Plan) -> dict[str, Any]:
    """The plan as JSON-able fields (paths as text), for the results file."""
    return {k: str(v) if isinstance(v, Path) else v for k, v in asdict(plan).items()}


def machine(plan: Plan) -> dict[str, Any]:
    import torch
    from machine_info import cpu_capability, cpu_name

    info = {"cpus": os.cpu_count(), "cpu": cpu_name(), "cpu_capability": cpu_capability(),
            "torch_threads": plan.cpu_threads, "load_average_at_end": os.getloadavg(), "platform": platform.platform(),
            "python": platform.python_version(), "torch": torch.__version__, "device": plan.device}
    if plan.device == "cuda":
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


# ---------------------------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------------------------


def fmt(value, digits=3) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return "nan" if value != value else f"{value:.{digits}f}"
    return str(value)


def signed_interval(p: dict[str, Any]) -> str:
    """A difference and its interval as every table of the proof and its readers prints it: ``+0.021 [+0.001, +0.041]``."""
    return f"{p['estimate']:+.3f} [{p['low']:+.3f}, {p['high']:+.3f}]"


def with_ci(report: dict[str, Any], key: str, value=None) -> str:
    ci = report["ci95"].get(key)
    value = report.get(key) if value is None else value
    if not ci or ci["low"] != ci["low"]:
        return fmt(value)
    return f"{fmt(value)} [{fmt(ci['low'], 2)}, {fmt(ci['high'], 2)}]"


def seed_table(s: dict[str, Any]) -> list[str]:
    from hieroaction.metrics.actions import PARTS

    sft, hpl, paired, majority = s["sft"], s["hpl"], s["hpl_minus_sft"], s["majority"]

    def gain(key: str) -> str:
        p = paired.get(key)
        return "" if p is None else signed_interval(p)

    rows = [
        ("format validity", "format_validity", "—"),
        ("action-code accuracy", "action_accuracy", f"{majority['action']:.3f} ({majority['code']})"),
        *[(f"  part: {p}", f"part_{p}", f"{majority['parts'][p]:.3f}") for p in PARTS],
        ("Spearman rho (score)", "srcc", "—"),
        ("RL2 x 100 (lower is better)", "rl2_x100", "—"),
        ("step tIoU@0.5", "tiou@0.5", "—"),
        ("step tIoU (mean)", "tiou_mean", "—"),
        ("mean hierarchical reward", "reward_mean", "—"),
    ]
    lines = [f"**Seed {s['seed']}** (SFT {s['times']['sft']['wall_s']} s wall / {s['times']['sft']['cpu_s']} CPU s, "
             f"HPL {s['times']['hpl']['wall_s']} s / {s['times']['hpl']['cpu_s']} CPU s)", "",
             "| held-out metric [95% CI] | majority | SFT | HPL | HPL - SFT [95% paired CI] |", "|---|---|---|---|---|"]
    for label, key, base in rows:
        if key.startswith("part_"):
            part = key.removeprefix("part_")
            cells = [with_ci(r, key, r["part_accuracy"].get(part)) for r in (sft, hpl)]
        else:
            cells = [with_ci(r, key) for r in (sft, hpl)]
        lines.append(f"| {label} | {base} | {cells[0]} | {cells[1]} | {gain(key)} |")
    if s.get("sampled"):
        def ci(p):
            return f"{p['estimate']:.3f} [{p['low']:.2f}, {p['high']:.2f}]"

        d = s["hpl_minus_sft_sampled"]["sampled_reward"]
        lines.append(f"| mean reward of {s['sampled']['sft']['samples']} sampled answers (HPL's objective) | — | "
                     f"{ci(s['sampled']['sft']['sampled_reward'])} | {ci(s['sampled']['hpl']['sampled_reward'])} | "
                     f"{signed_interval(d)} |")
    lines += ["", "| check | result |", "|---|---|",
              *[f"| {name.replace('_', ' ')} | {'yes' if ok else 'NO'} |" for name, ok in s["targets"].items()], ""]
    return lines


def markdown(report: dict[str, Any]) -> str:
    plan, preset = report["plan"], report["preset"]
    pretraining = preset.get("vision_pretraining") or {}
    lines = [
        f"- preset `{plan['preset']}` ({preset['parameters']:,} parameters), device {plan['device']}; "
        f"{plan['n_train']} training dives per seed, {plan['n_test']} held-out dives (draw seed {TEST_DRAW_SEED}); "
        f"frames {plan['frames']}; SFT {plan['sft_steps']} steps, HPL {plan['hpl_steps']} GRPO steps; seeds "
        f"{plan['seeds']}; greedy answers, at most {plan['max_new_tokens']} new tokens"
        + "".join(f"; {stage.upper()} overrides {', '.join(sets)}" for stage, sets in plan["overrides"].items() if sets),
        f"- model build {report['times']['model_build']['wall_s']} s wall (reused when already built); vision "
        f"pretraining: {json.dumps(pretraining.get('result'))}",
        f"- machine: {report['machine']['cpus']} CPUs, torch threads {report['machine']['torch_threads']}, load "
        f"average at the end {tuple(round(x, 1) for x in report['machine']['load_average_at_end'])}",
        "",
    ]
    for s in report["seeds"]:
        lines += seed_table(s)
    return "\n".join(lines).replace(f"{REPO}/", "") + "\n"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny preset, a few samples and steps (plumbing only)")
    parser.add_argument("--preset", default="small", help="small (CPU) or medium (GPU); configs/train/*_<preset>.yaml")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default %(default)s)")
    parser.add_argument("--seeds", type=int, nargs="+", default=None, help="training seeds (default 0 1)")
    parser.add_argument("--work", default=str(REPO / "runs" / "learning_proof"), help="working folder (data, runs)")
    parser.add_argument("--train", type=int, default=600, help="training dives per seed")
    parser.add_argument("--test", type=int, default=512, help="held-out dives (512: a paired interval about 0.02 wide)")
    parser.add_argument("--sft-steps", dest="sft_steps", type=int, default=None, help="SFT steps (default: config)")
    parser.add_argument("--hpl-steps", dest="hpl_steps", type=int, default=None, help="HPL steps (default: config)")
    parser.add_argument("--max-new-tokens", dest="max_new_tokens", type=int, default=384)
    parser.add_argument("--eval-batch", dest="eval_batch", type=int, default=8)
    parser.add_argument("--sampled", type=int, default=0,
                        help="also answer every held-out dive this many times sampled as HPL's rollouts sample: HPL's "
                             "own objective, with its paired interval (each pass costs one greedy answering's time)")
    parser.add_argument("--sft-set", dest="sft_set", action="append", metavar="KEY=VALUE",
                        help="override of the SFT config (repeatable), as `hieroaction train sft --set`")
    parser.add_argument("--hpl-set", dest="hpl_set", action="append", metavar="KEY=VALUE",
                        help="override of the HPL config (repeatable), as `hieroaction train hpl --set`")
    parser.add_argument("--n-boot", dest="n_boot", type=int, default=1000)
    parser.add_argument("--build-seed", dest="build_seed", type=int, default=0,
                        help="the preset build's seed: its random weights and its vision pretraining's draws")
    parser.add_argument("--parallel", type=int, default=1, help="seeds trained at once (processes; CPU: one per core)")
    parser.add_argument("--cpu-threads", dest="cpu_threads", type=int, default=1, help="torch threads per process")
    parser.add_argument("--json", default=str(REPO / "benchmarks" / "results" / "learning.json"), help="or - for none")
    parser.add_argument("--out", default="-", help="Markdown summary file, or - for stdout only")
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    check_device(args.device)
    if args.sampled < 0:
        raise SystemExit("--sampled must be 0 or more")
    if args.device == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = ""  # trainers pick CUDA when they see it
    from hieroaction.train.entry import setup_logging

    setup_logging()
    plan = plan_from_args(args)
    report = run(plan, Path(args.work).resolve())
    text = markdown(report)
    publish(text, report, args.json)
    if args.out != "-":
        Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
