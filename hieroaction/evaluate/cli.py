"""``hieroaction evaluate`` (benchmark report + CI regression gate) and ``hieroaction assess VIDEO``.

How ``evaluate`` finds its data: ``--samples`` is the canonical sample table (JSON lines of ``Sample``, e.g. written by
``hieroaction synth`` or the pipeline), one file with every split or one ``--samples`` per split file; ``--split``
picks the evaluated samples, ``--train-split`` the ones that train the regressor baseline and give the missing-score
fallback. Frames come from ``--frames DIR`` (the clip store of
``hieroaction frames extract``, keyed by the sampling settings) and/or ``--media-root DIR`` (decode the media the
samples point at; also the fallback for clips missing from the store). Sampling settings default to the checkpoint's
training config (``config.yaml`` beside the weights), else 16 uniform 112x112 frames.

Exit codes: 0 report written and every gate passed; 1 a ``--fail-under``/``--fail-over`` gate failed; 2 bad input
(missing file, not a checkpoint, unknown metric), with a one-line message on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys

EXIT_GATE_FAILED = 1
EXIT_BAD_INPUT = 2


def register(subparsers) -> None:
    _register_evaluate(subparsers)
    _register_assess(subparsers)


def _add_frame_options(parser) -> None:
    parser.add_argument("--sampler", choices=("uniform", "tsa", "core", "all"), help="frame sampler (default: the checkpoint's)")
    parser.add_argument("--count", type=int, help="frames per clip (default: the checkpoint's, else 16)")
    parser.add_argument("--size", help="frame size HxW or one number (default: the checkpoint's, else 112x112)")


def _add_generation_options(parser, batch_size: int) -> None:
    parser.add_argument("--max-new-tokens", type=int, default=384)
    parser.add_argument("--batch-size", type=int, default=batch_size, help="videos per generate call (left-padded)")
    parser.add_argument("--dtype", help="e.g. bf16 (default: bf16 on GPU, float32 on CPU)")
    parser.add_argument("--device", help="e.g. cuda, cpu (default: CUDA when available)")


def _register_evaluate(subparsers) -> None:
    p = subparsers.add_parser(
        "evaluate",
        help="benchmark checkpoints side by side; write the report; fail on a metric regression",
        description=__doc__.split("\n\n")[1],
    )
    p.add_argument("--checkpoint", help="the checkpoint under test (a HieroAction checkpoint folder or preset:NAME)")
    p.add_argument("--name", default="checkpoint", help="its name in the report (e.g. hpl)")
    p.add_argument("--baseline", action="append", default=[], metavar="NAME=PATH",
                   help="another system on the same samples, e.g. zero-shot=models/base sft=runs/sft/final (repeatable)")
    p.add_argument("--samples", action="append", default=[], metavar="FILE",
                   help="canonical sample table (.jsonl); repeat for one file per split (train.jsonl, test.jsonl)")
    p.add_argument("--frames", help="extracted clip store (hieroaction frames extract --out)")
    p.add_argument("--media-root", help="decode from the media under this folder (and for clips missing from --frames)")
    p.add_argument("--split", default="test")
    p.add_argument("--train-split", default="train", help="trains the regressor baseline; gives the fallback score")
    p.add_argument("--limit", type=int, help="only the first N samples of the split")
    p.add_argument("--no-regressor", action="store_true", help="skip the classic score-regressor baseline")
    p.add_argument("--regressor-epochs", type=int, default=30)
    p.add_argument("--out", default="runs/eval", help="report folder (default runs/eval)")
    p.add_argument("--data-version", help="data version to record (e.g. the DVC hash); default: hash of the samples")
    p.add_argument("--fail-under", action="append", default=[], metavar="METRIC=BOUND",
                   help="exit 1 when METRIC of the checkpoint < BOUND, e.g. srcc=0.80 (repeatable)")
    p.add_argument("--fail-over", action="append", default=[], metavar="METRIC=BOUND",
                   help="exit 1 when METRIC > BOUND, e.g. rl2_x100=5 (repeatable)")
    p.add_argument("--report", help="check the gates on an existing report.json instead of evaluating")
    p.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples for the SRCC interval")
    p.add_argument("--examples", type=int, default=3, help="sample assessments in the report")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    _add_frame_options(p)
    _add_generation_options(p, batch_size=8)
    p.set_defaults(func=run_evaluate)


def _register_assess(subparsers) -> None:
    p = subparsers.add_parser("assess", help="assess one video file step by step with a checkpoint")
    p.add_argument("video", help="any video file (mp4, mkv, webm, ...)")
    p.add_argument("--checkpoint", help="HieroAction checkpoint folder (default: $HIEROACTION_CHECKPOINT)")
    p.add_argument("--json", action="store_true", help="print the assessment as JSON")
    p.add_argument("--plot", metavar="PNG", help="also draw the assessment: frames shown, step spans, judgements, score")
    _add_frame_options(p)
    _add_generation_options(p, batch_size=1)
    p.set_defaults(func=run_assess)


def _fail(message: str) -> int:
    print(f"error: {' '.join(str(message).split())}", file=sys.stderr)
    return EXIT_BAD_INPUT


def _frame_settings(args, checkpoint):
    from hieroaction.evaluate.checkpoint import training_frame_settings
    from hieroaction.video.sampling import FrameSettings

    trained = training_frame_settings(checkpoint) if checkpoint else None
    base = trained or FrameSettings()
    if args.sampler is None and args.count is None and args.size is None:
        return base
    size = base.size if args.size is None else (None if args.size in ("native", "none") else args.size)
    sampler = args.sampler or base.sampler
    count = args.count if args.count is not None else (base.count if sampler == base.sampler else None)
    return FrameSettings(sampler, count, size)


def _generation(args):
    from hieroaction.evaluate.inference import GenerationSettings

    if args.max_new_tokens < 1 or args.batch_size < 1:
        raise ValueError("--max-new-tokens and --batch-size must be at least 1")
    return GenerationSettings(
        max_new_tokens=args.max_new_tokens, batch_size=args.batch_size, dtype=args.dtype, device=args.device
    )


def _print_gates(results) -> None:
    for result in results:
        print(result.describe(), file=sys.stderr if not result.passed else sys.stdout)


def run_evaluate(args: argparse.Namespace) -> int:
    from hieroaction.evaluate.gates import GateError, parse_gates

    try:
        gates = parse_gates(args.fail_under, args.fail_over)
    except GateError as exc:
        return _fail(exc)
    if args.report:
        return _gate_existing_report(args.report, gates, args.name if args.name != "checkpoint" else None)
    from hieroaction.metrics.assessment import METRIC_NAMES

    unknown = [g.metric for g in gates if g.metric not in METRIC_NAMES]
    if unknown:  # say so before an hour of generation, not after
        return _fail(f"unknown metric {unknown[0]!r} in a gate; known metrics: {', '.join(METRIC_NAMES)}")
    return _evaluate(args, gates)


def _gate_existing_report(path: str, gates, system) -> int:
    from pathlib import Path

    from hieroaction.evaluate.gates import check_gates

    file = Path(path)
    if not file.is_file():
        return _fail(f"report not found: {file}")
    try:
        report = json.loads(file.read_text(encoding="utf-8"))
        results = check_gates(report, gates, system)
    except (ValueError, KeyError, TypeError) as exc:
        return _fail(f"cannot check {file}: {exc}")
    _print_gates(results)
    return 0 if all(r.passed for r in results) else EXIT_GATE_FAILED


def _evaluate(args, gates) -> int:
    from pathlib import Path

    from hieroaction.datasets.records import DatasetReadError
    from hieroaction.datasets.validate import read_checked_samples
    from hieroaction.evaluate.baseline import RegressorConfig
    from hieroaction.evaluate.checkpoint import CheckpointError, check_checkpoint
    from hieroaction.evaluate.clips import ClipSource
    from hieroaction.evaluate.gates import GateError
    from hieroaction.evaluate.run import SystemSpec, run_evaluation

    if not args.samples:
        return _fail("--samples FILE is required (the canonical sample table, .jsonl)")
    if not args.frames and not args.media_root:
        return _fail("give --frames DIR (extracted clips) and/or --media-root DIR (decode the media)")
    for samples_file in map(Path, args.samples):
        if not samples_file.is_file():
            what = "is a folder, not a file" if samples_file.is_dir() else "not found"
            return _fail(f"samples file {what}: {samples_file}")
    for option, folder in (("--frames", args.frames), ("--media-root", args.media_root)):
        if folder and not Path(folder).is_dir():
            return _fail(f"{option} folder not found: {folder}")
    try:  # an --out that cannot be a folder is found now, not after an hour of generation
        Path(args.out).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return _fail(f"--out {args.out}: cannot make the report folder ({exc.strerror or exc})")
    systems = []
    try:
        for item in args.baseline:
            name, sep, path = item.partition("=")
            if not sep or not name or not path:
                return _fail(f"--baseline {item!r}: expected NAME=PATH, e.g. zero-shot=models/base")
            systems.append(SystemSpec(name, check_checkpoint(path, require_marker=False), require_marker=False))
        if args.checkpoint:
            systems.append(SystemSpec(args.name, check_checkpoint(args.checkpoint)))
        settings = _frame_settings(args, args.checkpoint)
        generation = _generation(args)
        samples, input_quarantined = read_checked_samples(args.samples)  # before any model is loaded
    except (CheckpointError, DatasetReadError) as exc:
        return _fail(exc)
    except (ValueError, KeyError, TypeError) as exc:
        return _fail(f"bad input: {exc}")
    if not systems and args.no_regressor:
        return _fail("nothing to evaluate: give --checkpoint and/or --baseline, or keep the regressor")
    if gates and not args.checkpoint:
        return _fail("--fail-under/--fail-over check the --checkpoint system: give --checkpoint")
    names = [s.name for s in systems]
    if len(set(names)) != len(names):
        return _fail(f"system names must be unique, got {names}")

    _warn_quarantined(input_quarantined)
    try:
        result = run_evaluation(
            samples,
            ClipSource(settings, frames_dir=Path(args.frames) if args.frames else None,
                       media_root=Path(args.media_root) if args.media_root else None),
            systems,
            args.out,
            split=args.split,
            train_split=args.train_split,
            primary=args.name if args.checkpoint else None,
            generation=generation,
            regressor=None if args.no_regressor else RegressorConfig(epochs=args.regressor_epochs),
            data_version=args.data_version,
            gates=gates,
            limit=args.limit,
            examples=args.examples,
            n_boot=args.bootstrap,
            progress=not args.quiet,
            input_quarantined=input_quarantined,
        )
    except (CheckpointError, GateError) as exc:
        return _fail(exc)
    except ValueError as exc:
        return _fail(f"cannot evaluate: {exc}")
    print(f"report: {result.paths['markdown']} (json: {result.paths['json']})")
    for name, system in result.report["systems"].items():
        m = system["metrics"]
        shown = ", ".join(f"{k}={_short(m.get(k))}" for k in ("n", "srcc", "rl2_x100", "format_validity", "action_accuracy", "tiou@0.5") if k in m)
        print(f"  {name}: {shown}")
    if result.quarantined:
        print(f"  quarantined: {len(result.quarantined)} samples (see report.json data.quarantined)")
    _print_gates(result.gates)
    return 0 if result.passed else EXIT_GATE_FAILED


def _check_writable_file(path: str) -> None:
    """``AssessError`` when ``path`` cannot be written as a file: it is a folder, or a parent is a file."""
    from pathlib import Path

    from hieroaction.evaluate.assess import AssessError

    target = Path(path)
    if target.is_dir():
        raise AssessError(f"cannot write {path}: it is a folder")
    blocker = next((p for p in target.parents if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        raise AssessError(f"cannot write {path}: {blocker} is a file, not a folder")


def _warn_quarantined(records, shown: int = 20) -> None:
    """One line per bad input sample on stderr (file:line, id, field, reason); all of them go into the report."""
    for record in records[:shown]:
        print(f"warning: left out: {' '.join(str(record).split())}", file=sys.stderr)
    if len(records) > shown:
        print(f"warning: left out {len(records) - shown} more input samples (report.json data.input_quarantined)",
              file=sys.stderr)


def _short(value) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return "n/a" if value is None else str(value)


def run_assess(args: argparse.Namespace) -> int:
    import os

    from hieroaction.evaluate.assess import AssessError, assess_video, format_assessment, plot_video_assessment
    from hieroaction.evaluate.checkpoint import CheckpointError
    from hieroaction.evaluate.inference import NonFiniteOutputError

    checkpoint = args.checkpoint or os.environ.get("HIEROACTION_CHECKPOINT")
    if not checkpoint:
        return _fail("no checkpoint: pass --checkpoint PATH or set HIEROACTION_CHECKPOINT")
    try:
        settings = _frame_settings(args, checkpoint)
        if args.plot and not args.plot.lower().endswith(".png"):
            raise AssessError(f"--plot writes a PNG: give a file name ending in .png, got {args.plot}")
        if args.plot:
            _check_writable_file(args.plot)  # before the model runs, not after
        result = assess_video(args.video, checkpoint, settings=settings, generation=_generation(args))
    except (AssessError, CheckpointError) as exc:
        return _fail(exc)
    except NonFiniteOutputError as exc:
        return _fail(f"checkpoint {checkpoint}: {exc}")
    except ValueError as exc:
        return _fail(f"bad input: {exc}")
    print(json.dumps(result.to_dict(), indent=2, ensure_ascii=False) if args.json else format_assessment(result))
    if args.plot:
        try:
            print(f"plot: {plot_video_assessment(result, args.plot)}", file=sys.stderr if args.json else sys.stdout)
        except OSError as exc:
            return _fail(f"cannot write {args.plot}: {exc.strerror or exc}")
    return 0
