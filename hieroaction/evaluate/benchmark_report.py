"""The benchmark report: systems side by side on the same samples, as JSON (machines), Markdown (people) and plots.

Layout written by :func:`write_report` into ``out_dir``::

    report.json         every number, the versions, the generation settings, the fallback rule, gates
    report.md           the same for a reader: main table, per-class table, published results apart, examples
    predictions.jsonl   one line per (system, sample): the completion, parsed fields, score used, tIoU
    plots/score_scatter.png, plots/step_tiou.png, plots/part_confusion_<system>.png

Why every report carries versions (code, data, each checkpoint, grammar): a number is only comparable with another
when one knows what produced both.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from hieroaction.datasets.sample import Sample
from hieroaction.evaluate.published import PUBLISHED_TITLE, published_rows
from hieroaction.metrics import FISHER_Z_MIN_SAMPLES
from hieroaction.metrics.assessment import (
    FALLBACK_RULE,
    SampleRecord,
    part_confusions,
    per_class_rows,
    records_from_completions,
    step_tiou_by_label,
    system_metrics,
)
from hieroaction.metrics.json_safe import json_safe

REPORT_SCHEMA = "hieroaction.evaluation/1"
REPORT_JSON = "report.json"
REPORT_MD = "report.md"
PREDICTIONS_JSONL = "predictions.jsonl"
PLOTS_DIR = "plots"


@dataclass
class SystemResult:
    """One evaluated system: a VLM checkpoint (``kind="vlm"``) or a number-only baseline (``kind="regressor"``)."""

    name: str
    kind: str
    records: list[SampleRecord]
    source: str = ""
    version: dict | str = ""
    details: dict = field(default_factory=dict)

    @property
    def answers(self) -> bool:
        return self.kind == "vlm"


def vlm_result(
    name: str, samples: Sequence[Sample], completions: Sequence[str], fallback: float, **kwargs
) -> SystemResult:
    """A :class:`SystemResult` from ``(sample, completion)`` pairs: parse, compare, keep every record."""
    return SystemResult(name, "vlm", records_from_completions(samples, completions, fallback), **kwargs)


def build_report(
    samples: Sequence[Sample],
    systems: Sequence[SystemResult],
    *,
    split: str,
    versions: dict,
    fallback: tuple[float, str],
    primary: str | None = None,
    generation: dict | None = None,
    data: dict | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    examples: int = 3,
) -> dict:
    """Every number of the report as one JSON-able dict (NaN/inf become ``null``)."""
    from hieroaction.reasoning import GRAMMAR_VERSION

    ids = [s.sample_id for s in samples]
    for system in systems:
        if [r.sample_id for r in system.records] != ids:
            raise ValueError(f"system {system.name!r} was not scored on the same samples, in the same order")
    names = [s.name for s in systems]
    if len(set(names)) != len(names):
        raise ValueError(f"system names must be unique, got {names}")
    primary = primary or (names[0] if names else None)
    report = {
        "schema": REPORT_SCHEMA,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "versions": dict(versions, grammar=GRAMMAR_VERSION),
        "split": split,
        "data": dict(data or {}, n_samples=len(samples), datasets=_counts(s.dataset for s in samples)),
        "generation": generation or {},
        "score_fallback": {"value": fallback[0], "source": fallback[1], "rule": FALLBACK_RULE},
        "primary": primary,
        "systems": {},
        "published": {"title": PUBLISHED_TITLE, "rows": published_rows()},
        "examples": [],
        "plots": {},
    }
    for system in systems:
        report["systems"][system.name] = {
            "kind": system.kind,
            "source": system.source,
            "version": system.version,
            "details": system.details,
            "metrics": system_metrics(system.records, answers=system.answers, n_boot=n_boot, seed=seed),
            "per_class": per_class_rows(system.records, answers=system.answers),
        }
    report["examples"] = _examples(samples, systems, examples)
    return json_safe(report)


def _counts(values) -> dict[str, int]:
    out: dict[str, int] = {}
    for value in values:
        out[value] = out.get(value, 0) + 1
    return out


def _examples(samples: Sequence[Sample], systems: Sequence[SystemResult], count: int) -> list[dict]:
    """A few sample assessments: spread over the score range (lowest, middle, highest gold score)."""
    if not samples or count <= 0:
        return []
    from hieroaction.reasoning import render_target

    order = sorted(range(len(samples)), key=lambda i: samples[i].final_score)
    picks = sorted({order[round(k * (len(order) - 1) / max(1, count - 1))] for k in range(count)})
    out = []
    for i in picks:
        sample = samples[i]
        entry = {
            "sample_id": sample.sample_id,
            "action_code": sample.action_code,
            "gold_score": sample.final_score,
            "gold_answer": render_target(sample),
            "answers": {},
        }
        for system in systems:
            record = system.records[i]
            entry["answers"][system.name] = {
                "text": record.completion,
                "score": record.score,
                "score_valid": record.score_valid,
                "problems": record.problems,
                "tiou": record.tiou,
            }
        out.append(entry)
    return out


# --------------------------------------------------------------------------------------------------- writing


def write_report(
    report: dict, systems: Sequence[SystemResult], out_dir: str | Path, example_clips: dict | None = None
) -> dict[str, Path]:
    """Write JSON, Markdown, predictions and plots into ``out_dir``; returns the paths written.

    ``example_clips``: ``{sample_id: (frames, frame_indices, num_frames)}`` for the report's example dives; each one
    given is also drawn as an assessment picture (the primary system's answer against the gold steps)."""
    from hieroaction.evaluate.plots import plot_part_confusion, plot_score_scatter, plot_step_tiou

    out = Path(out_dir)
    plots = out / PLOTS_DIR
    plots.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}

    paths["score_scatter"] = plot_score_scatter(
        plots / "score_scatter.png",
        {
            s.name: ([r.gold_score for r in s.records], [r.score for r in s.records], [r.score_valid for r in s.records])
            for s in systems
        },
        title=f"Predicted vs true score ({report.get('split')} split, n={report['data']['n_samples']})",
        subtitles={name: _scatter_subtitle(system["metrics"]) for name, system in report["systems"].items()},
    )
    answering = [s for s in systems if s.answers]
    if any(r.gold_steps for s in answering for r in s.records):
        paths["step_tiou"] = plot_step_tiou(plots / "step_tiou.png", {s.name: step_tiou_by_label(s.records) for s in answering})
    for system in answering:
        confusions = part_confusions(system.records)
        if confusions:
            paths[f"part_confusion_{system.name}"] = plot_part_confusion(
                plots / f"part_confusion_{_safe(system.name)}.png", confusions, title=f"Action-part confusion: {system.name}"
            )
    for example in report.get("examples") or []:
        clip = (example_clips or {}).get(example["sample_id"])
        if clip is not None:
            key = f"assessment_{_safe(example['sample_id'])}"
            paths[key] = _plot_example(plots / f"{key}.png", example, report.get("primary"), clip)
    report["plots"] = {key: str(path.relative_to(out)) for key, path in paths.items()}

    paths["predictions"] = out / PREDICTIONS_JSONL
    with open(paths["predictions"], "w", encoding="utf-8") as fh:
        for system in systems:
            for record in system.records:
                fh.write(json.dumps(json_safe(dict(system=system.name, **record.to_dict())), ensure_ascii=False) + "\n")
    paths["json"] = out / REPORT_JSON
    paths["json"].write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    paths["markdown"] = out / REPORT_MD
    paths["markdown"].write_text(render_markdown(report), encoding="utf-8")
    return paths


def _scatter_subtitle(metrics: dict) -> str:
    coverage = metrics.get("score_coverage")
    return (f"SRCC {_fmt(metrics.get('srcc'))}, RL2×100 {_fmt(metrics.get('rl2_x100'), 2)}"
            + (f", {coverage:.0%} parsed" if coverage is not None and coverage < 1 else ""))


def _plot_example(path: Path, example: dict, system: str | None, clip) -> Path:
    """One example dive as :func:`~hieroaction.evaluate.plots.plot_assessment` draws it for ``system``'s answer."""
    from hieroaction.evaluate.plots import plot_assessment
    from hieroaction.reasoning import parse_assessment

    frames, indices, num_frames = clip
    answer = example["answers"].get(system) or next(iter(example["answers"].values()), {})
    parsed = parse_assessment(answer.get("text") or "")
    gold = parse_assessment(example["gold_answer"]).assessment
    title = f"{example['sample_id']} ({system}) — gold {example['action_code']}, score {example['gold_score']:.2f}"
    return plot_assessment(path, frames, indices, num_frames, parsed.assessment, gold=gold, title=title,
                           problems=parsed.problems)


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def _fmt(value, digits: int = 3) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    if isinstance(value, list) and len(value) == 2 and all(isinstance(v, float) for v in value):
        return f"[{value[0]:.3f}, {value[1]:.3f}]"
    return str(value)


MAIN_COLUMNS = (
    ("n", "n"),
    ("srcc", "SRCC"),
    ("srcc_ci95", "SRCC 95% CI"),
    ("rl2_x100", "RL2×100"),
    ("score_coverage", "score parsed"),
    ("srcc_parsed", "SRCC (parsed only)"),
    ("format_validity", "format valid"),
    ("action_accuracy", "action acc."),
    ("step_edit_distance", "step edit dist."),
    ("tiou@0.5", "tIoU@0.5"),
    ("tiou@0.75", "tIoU@0.75"),
)
PART_COLUMNS = ("group", "rotation", "somersaults", "twists", "position")


def render_markdown(report: dict) -> str:
    """The human report. Published numbers on real videos are a separate, labelled table."""
    versions = report["versions"]
    lines = [
        f"# HieroAction benchmark report — {report['split']} split",
        "",
        f"Created {report['created']}. Primary system: **{report.get('primary')}**.",
        "",
        "## Versions",
        "",
        "| what | version |",
        "|---|---|",
        f"| code | `{versions.get('code')}` |",
        f"| data | `{versions.get('data')}` |",
        f"| answer grammar | `{versions.get('grammar')}` |",
    ]
    for name, system in report["systems"].items():
        version = system.get("version")
        if isinstance(version, dict):
            version = version.get("id") or json.dumps(version)
        lines.append(f"| checkpoint `{name}` | `{version}` ({system.get('source')}) |")
    data = report["data"]
    lines += [
        "",
        "## Data",
        "",
        f"{data['n_samples']} samples evaluated ({', '.join(f'{k}: {v}' for k, v in data.get('datasets', {}).items())}); "
        f"{len(data.get('quarantined', []))} quarantined (bad or missing media, listed in report.json).",
    ]
    if data.get("clips"):
        lines.append(f"Frames: `{json.dumps(data['clips'].get('settings'))}`.")
    if report.get("generation"):
        lines.append("Generation: " + ", ".join(f"{k}={v}" for k, v in report["generation"].items()) + ".")
    fallback = report["score_fallback"]
    lines += ["", f"Missing scores: {fallback['rule']} Fallback here: {_fmt(fallback['value'], 2)} ({fallback['source']}).", ""]

    lines += ["## Results on the evaluated samples (same samples for every system)", ""]
    lines.append("| system | kind | " + " | ".join(title for _, title in MAIN_COLUMNS) + " |")
    lines.append("|---|---|" + "---|" * len(MAIN_COLUMNS))
    for name, system in report["systems"].items():
        m = system["metrics"]
        kind = system["kind"] + (" (× gold DD)" if system.get("details", {}).get("uses_difficulty") else "")
        lines.append(f"| {name} | {kind} | " + " | ".join(_fmt(m.get(key)) for key, _ in MAIN_COLUMNS) + " |")
    if any(s.get("details", {}).get("uses_difficulty") for s in report["systems"].values()):
        lines += ["", "The regressor predicts the execution part (score / DD) from the frames and multiplies by the gold "
                  "DD, as TSA's 'with dive number' protocol does; the VLMs must infer the dive (and its DD) themselves."]
    lines += ["", "Action-part accuracy (answering systems):", ""]
    lines.append("| system | " + " | ".join(PART_COLUMNS) + " |")
    lines.append("|---|" + "---|" * len(PART_COLUMNS))
    for name, system in report["systems"].items():
        if system["kind"] == "vlm":
            m = system["metrics"]
            lines.append(f"| {name} | " + " | ".join(_fmt(m.get(f"part_accuracy_{p}")) for p in PART_COLUMNS) + " |")

    lines += ["", "## Per class (action code)", ""]
    names = list(report["systems"])
    lines.append("| class | n | " + " | ".join(f"SRCC {n}" for n in names) + " | " + " | ".join(f"RL2×100 {n}" for n in names) + " |")
    lines.append("|---|---|" + "---|" * (2 * len(names)))
    rows_by_system = {n: {row["class"]: row for row in report["systems"][n]["per_class"]["rows"]} for n in names}
    classes = list(rows_by_system[names[0]]) if names else []
    for cls in classes:
        n = rows_by_system[names[0]][cls]["n"]
        cells = [_fmt(rows_by_system[s].get(cls, {}).get("srcc")) for s in names]
        cells += [_fmt(rows_by_system[s].get(cls, {}).get("rl2_x100")) for s in names]
        lines.append(f"| {cls} | {n} | " + " | ".join(cells) + " |")
    per_class = {s: report["systems"][s]["per_class"] for s in names}
    minimum = next(iter(per_class.values()), {}).get("fisher_z_min_samples", FISHER_Z_MIN_SAMPLES)
    lines.append(
        f"| **Fisher-z mean** (classes with n ≥ {minimum}) | | "
        + " | ".join(_fmt(per_class[s]["fisher_z_srcc"]) for s in names)
        + " | " + " | ".join("" for _ in names) + " |"
    )
    covered = {s: (p.get("fisher_z_classes", 0), p.get("fisher_z_samples", 0)) for s, p in per_class.items()}
    if len(set(covered.values())) == 1:
        classes, samples = next(iter(covered.values()), (0, 0))
        coverage = f"{classes} classes and {samples} samples"
    else:
        coverage = "; ".join(f"{s}: {c} classes, {n} samples" for s, (c, n) in covered.items())
    lines += ["", f"The Fisher-z mean averages rho over the classes with at least {minimum} test samples and a defined "
              f"rho ({coverage}); smaller classes give rho of ±1 or ±0.5 by construction and are shown, not averaged.",
              ""]

    published = report["published"]
    lines += [f"## {published['title']}", "", "| benchmark | method | venue | SRCC | RL2×100 |", "|---|---|---|---|---|"]
    for row in published["rows"]:
        lines.append(f"| {row['benchmark']} | {row['method']} | {row['venue']} | {_fmt(row['srcc'], 4)} | {_fmt(row['rl2_x100'], 4)} |")

    if report.get("plots"):
        lines += ["", "## Plots", ""]
        for key, path in report["plots"].items():
            lines.append(f"![{key}]({path})")
            lines.append("")

    if report.get("gates"):
        lines += ["## Regression gates", "", "| metric | system | value | bound | passed |", "|---|---|---|---|---|"]
        for gate in report["gates"]:
            lines.append(f"| {gate['metric']} | {gate['system']} | {_fmt(gate['value'])} | {gate['op']} {gate['bound']} | {_fmt(gate['passed'])} |")
        lines.append("")

    if report.get("examples"):
        lines += ["## Sample assessments", ""]
        for example in report["examples"]:
            lines += [f"### {example['sample_id']} — {example['action_code']}, gold score {_fmt(example['gold_score'], 2)}", ""]
            lines += ["Gold (rendered from the labels):", "", "```", example["gold_answer"], "```", ""]
            for name, answer in example["answers"].items():
                if answer.get("text") is None:
                    lines.append(f"**{name}**: score {_fmt(answer['score'], 2)} (number only)")
                    lines.append("")
                    continue
                status = "valid" if not answer["problems"] else "; ".join(answer["problems"][:4])
                lines += [f"**{name}** (score used {_fmt(answer['score'], 2)}, {status}):", "", "```", answer["text"] or "(empty)", "```", ""]
    return "\n".join(lines) + "\n"
