"""User manifests: bring your own videos and labels as JSONL or CSV, get canonical samples.

Why flat columns: a spreadsheet user can fill a CSV by hand; the JSONL form is the same names, one object per line
(the nested form written by :func:`~hieroaction.datasets.sample.write_jsonl` is accepted too).

Columns (``examples/manifest/README.md`` has the full description):

=================  ========  =================================================================================
name               required  meaning
=================  ========  =================================================================================
sample_id          yes       unique id, e.g. ``mine/clip007``
split              yes       ``train`` / ``test`` / ``val`` ...
video_path         yes       video file or frame folder, relative to the media root (docs/UNTRUSTED_INPUT.md)
video_kind         no        ``video`` or ``frames``; default: ``video`` if the path has a video suffix
start_frame        yes       first frame number of the clip in the source (inclusive)
end_frame          yes       last frame number (inclusive)
action_code        yes       FINA dive number such as ``5253b`` (stored lower case)
final_score        yes       the score label
dataset            no        defaults to ``manifest``
difficulty         no        DD
judge_scores       no        list of judges' awards (CSV: JSON list ``[8.5, 9.0, 9.0]``)
steps              no        list of ``{label_id, name, first, last}`` (clip-relative, inclusive; CSV: JSON)
frame_labels       no        per-frame sub-action ids (CSV: JSON list); steps are derived from them if absent
source_key         no        JSON list identifying the sample in its source
extra              no        JSON object, kept as is
=================  ========  =================================================================================
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from hieroaction.datasets.checks import not_unicode, sample_problems
from hieroaction.datasets.media import missing_media
from hieroaction.datasets.records import DatasetReadError, LoadResult, Quarantined, quarantine_exception
from hieroaction.datasets.sample import Sample, Step, VideoRef, steps_from_frame_labels

DEFAULT_DATASET = "manifest"
REQUIRED_COLUMNS = ("sample_id", "split", "video_path", "start_frame", "end_frame", "action_code", "final_score")
OPTIONAL_COLUMNS = (
    "video_kind",
    "dataset",
    "difficulty",
    "judge_scores",
    "steps",
    "frame_labels",
    "source_key",
    "extra",
)
COLUMNS = (
    REQUIRED_COLUMNS[:3]
    + ("video_kind",)
    + REQUIRED_COLUMNS[3:]
    + tuple(c for c in OPTIONAL_COLUMNS if c != "video_kind")
)
JSON_COLUMNS = ("judge_scores", "steps", "frame_labels", "source_key", "extra")
VIDEO_SUFFIXES = {".mp4", ".mkv", ".avi", ".mov", ".webm", ".m4v", ".mpg", ".mpeg"}


class ManifestError(DatasetReadError):
    """The manifest file as a whole cannot be used (missing, unknown format, missing required columns)."""


class _RowProblem(Exception):
    def __init__(self, field: str, value: Any, reason: str):
        super().__init__(reason)
        self.field, self.value, self.reason = field, value, reason


def manifest_format(path: str | Path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix == ".csv":
        return "csv"
    raise ManifestError(f"{path}: unknown manifest format {suffix!r} (use .jsonl or .csv)")


def load_manifest(
    path: str | Path,
    *,
    media_root: str | Path | None = None,
    subaction_names: Mapping[int, str] | None = None,
    allow_outside_root: bool | None = None,
) -> LoadResult:
    """Read a JSONL or CSV manifest. Bad rows are quarantined with the field and value; good rows go on.

    ``subaction_names`` names steps derived from ``frame_labels`` (default: FineDiving's table).
    """
    path = Path(path)
    fmt = manifest_format(path)
    if not path.is_file():
        raise ManifestError(f"{path}: manifest file not found")
    if subaction_names is None:
        from hieroaction.datasets.finediving import FINEDIVING_SUBACTIONS

        subaction_names = FINEDIVING_SUBACTIONS
    samples: list[Sample] = []
    origins: list[str] = []
    quarantined: list[Quarantined] = []
    first_line: dict[str, str] = {}
    for row_id, row in _read_rows(path, fmt, quarantined):
        sid = _row_sample_id(row, row_id)
        try:
            sample = sample_from_row(row, subaction_names)
        except _RowProblem as exc:
            quarantined.append(Quarantined(sid, exc.field, exc.value, exc.reason, where=row_id))
            continue
        except Exception as exc:  # noqa: BLE001 - a hostile row quarantines that row only (datasets.records.isolate)
            quarantined.append(_with_where(quarantine_exception(sid, "row", None, exc, "bad-row"), row_id))
            continue
        problems = sample_problems(sample, row_id)  # numbers, sizes, frame ranges: the one check (datasets.checks)
        if problems:
            quarantined.append(Quarantined(sid, problems[0].field, problems[0].value,
                                           "; ".join(f"{p.field}: {p.reason}" for p in problems), where=row_id))
            continue
        if sample.sample_id in first_line:
            reason = f"duplicate sample_id: the first row with it ({first_line[sample.sample_id]}) is kept"
            quarantined.append(Quarantined(sid, "sample_id", sample.sample_id, reason, where=row_id))
            continue
        first_line[sample.sample_id] = row_id
        if media_root is not None:
            reason = missing_media(sample, media_root, allow_outside_root=allow_outside_root)
            if reason:
                quarantined.append(Quarantined(sid, "video_path", sample.video.path, reason, where=row_id))
                continue
        samples.append(sample)
        origins.append(row_id)
    return LoadResult(samples, quarantined, {}, {}, source=str(path), origins=origins)


MAX_LINE_CHARS = 1_000_000  # one manifest row (a JSON line or a CSV record)
MAX_CELL_CHARS = 131_072  # one CSV cell (Python's csv default limit, kept: larger cells are quarantined)
MAX_JSON_DEPTH = 16  # nesting in any JSON value of a row
MAX_ID_CHARS = 512


def _row_sample_id(row: Mapping[str, Any], row_id: str) -> str:
    """The row's sample id for messages (its line when it has none, or a useless one)."""
    value = row.get("sample_id")
    if isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip():
        text = str(value)
        return text if len(text) <= 80 else text[:77] + "..."
    return row_id


def _depth(value: Any) -> int:
    """Nesting depth of parsed JSON, without recursion (a hostile value may be thousands deep)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > MAX_JSON_DEPTH:
            return depth
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return deepest


def _lines(text: str) -> list[str]:
    """The file's lines, split at ``\n`` only: ``str.splitlines`` also splits at U+2028, U+0085, form feeds...,
    which JSON allows inside strings (one good row became three bad ones and the line numbers after it shifted)."""
    lines = [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]
    return lines[:-1] if lines and lines[-1] == "" else lines


def _parse_json(text: str) -> Any:
    """``json.loads`` that reports hostile input as ``ValueError`` (nesting, size) instead of crashing."""
    if len(text) > MAX_LINE_CHARS:
        raise ValueError(f"longer than {MAX_LINE_CHARS:,} characters")
    try:
        value = json.loads(text)
    except RecursionError:
        raise ValueError(f"nested deeper than {MAX_JSON_DEPTH} levels") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc.msg})") from None
    if _depth(value) > MAX_JSON_DEPTH:
        raise ValueError(f"nested deeper than {MAX_JSON_DEPTH} levels")
    if "\\u" in text and not_unicode(value):  # JSON writes the escape in lower case only
        raise ValueError("text is not valid Unicode (a lone surrogate escape such as \\ud800)")
    return value


def _read_rows(path: Path, fmt: str, quarantined: list[Quarantined]) -> Iterable[tuple[str, dict[str, Any]]]:
    """Yield ("<file>:<line>", row dict). Unparseable or oversized rows are quarantined under ``<file>:<line>``."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{path}: cannot read manifest ({exc})") from exc
    if fmt == "jsonl":
        for lineno, line in enumerate(_lines(text), start=1):
            if not line.strip():
                continue
            row_id = f"{path.name}:{lineno}"
            try:
                row = _parse_json(line)
            except ValueError as exc:
                quarantined.append(Quarantined(row_id, "line", line[:200], str(exc), where=row_id))
                continue
            if not isinstance(row, dict):
                quarantined.append(Quarantined(row_id, "line", row, "expected a JSON object per line", where=row_id))
                continue
            yield row_id, row
        return
    consumed = 0

    def lines():
        nonlocal consumed
        for line in _lines(text):
            consumed += 1
            yield line

    reader = csv.DictReader(lines())
    try:
        fieldnames = reader.fieldnames or []
    except csv.Error as exc:
        raise ManifestError(f"{path}: line 1: cannot read the CSV header ({exc})") from None
    missing = [c for c in REQUIRED_COLUMNS if c not in fieldnames]
    if missing:
        raise ManifestError(f"{path}: CSV manifest lacks required column(s) {', '.join(missing)}")
    while True:
        start = consumed + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            row_id = f"{path.name}:{consumed}"
            quarantined.append(Quarantined(row_id, "row", None, f"unreadable CSV record ({exc})", where=row_id))
            continue
        row_id = f"{path.name}:{start}"
        sid = _row_sample_id(row, row_id)
        parsed: dict[str, Any] = {}
        for key, value in row.items():
            if key is None:
                quarantined.append(Quarantined(sid, "row", value, "more cells than columns", where=row_id))
                break
            value = "" if value is None else value
            if value.strip() == "":
                continue
            if len(value) > MAX_CELL_CHARS:
                quarantined.append(
                    Quarantined(sid, key, value[:200], f"cell longer than {MAX_CELL_CHARS:,} characters", where=row_id)
                )
                break
            if key in JSON_COLUMNS:
                try:
                    value = _parse_json(value)
                except ValueError as exc:
                    quarantined.append(Quarantined(sid, key, value, str(exc), where=row_id))
                    break
            parsed[key] = value
        else:
            yield row_id, parsed


def _with_where(record: Quarantined, where: str) -> Quarantined:
    from dataclasses import replace

    return replace(record, where=where)


def _need(row: Mapping[str, Any], name: str) -> Any:
    value = row.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise _RowProblem(name, value, "required field is missing or empty")
    return value


def _text(row: Mapping[str, Any], name: str, limit: int) -> str:
    """A required text field: a string (or a plain number), at most ``limit`` characters."""
    value = _need(row, name)
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _RowProblem(name, value, "expected text")
    text = str(value)
    if len(text) > limit:
        raise _RowProblem(name, text[:80] + "...", f"longer than {limit} characters")
    return text


def _as_int(name: str, value: Any) -> int:
    try:
        if isinstance(value, bool) or float(value) != int(float(value)):
            raise ValueError
        return int(float(value))
    except (TypeError, ValueError, OverflowError):
        raise _RowProblem(name, value, "expected an integer") from None


def _as_float(name: str, value: Any) -> float:
    try:
        if isinstance(value, bool):
            raise ValueError
        return float(value)
    except (TypeError, ValueError):
        raise _RowProblem(name, value, "expected a number") from None


def _video_kind(row: Mapping[str, Any], path: str) -> str:
    kind = row.get("video_kind")
    if kind in (None, ""):
        return "video" if Path(path).suffix.lower() in VIDEO_SUFFIXES else "frames"
    if kind not in ("video", "frames"):
        raise _RowProblem("video_kind", kind, "expected 'video' or 'frames'")
    return kind


def _steps(value: Any, names: Mapping[int, str]) -> tuple[Step, ...]:
    if not isinstance(value, list):
        raise _RowProblem("steps", value, "expected a list of {label_id, name, first, last}")
    steps = []
    for i, step in enumerate(value):
        if not isinstance(step, dict):
            raise _RowProblem(f"steps[{i}]", step, "expected an object {label_id, name, first, last}")
        for key in ("label_id", "first", "last"):
            if key not in step:
                raise _RowProblem(f"steps[{i}].{key}", None, "missing")
        label = _as_int(f"steps[{i}].label_id", step["label_id"])
        name = step.get("name") or names.get(label, f"sub-action {label}")
        steps.append(
            Step(
                label, str(name), _as_int(f"steps[{i}].first", step["first"]), _as_int(f"steps[{i}].last", step["last"])
            )
        )
    return tuple(steps)


def sample_from_row(row: Mapping[str, Any], subaction_names: Mapping[int, str] | None = None) -> Sample:
    """One manifest row (flat, or the nested canonical form) -> :class:`Sample`; raises on a bad field."""
    names = subaction_names or {}
    if isinstance(row.get("video"), dict):  # canonical nested form (write_jsonl output)
        for name in ("sample_id", "split"):  # Sample.from_dict would make null or [..] the text "None" / "[..]"
            _text(row, name, MAX_ID_CHARS)
        try:
            return Sample.from_dict(dict(row))
        except (KeyError, TypeError, ValueError) as exc:
            raise _RowProblem(
                "video" if isinstance(exc, KeyError) else "row", str(exc), "not a canonical sample"
            ) from None
    sid = _text(row, "sample_id", MAX_ID_CHARS)
    video_path = _text(row, "video_path", 4096)
    start = _as_int("start_frame", _need(row, "start_frame"))
    end = _as_int("end_frame", _need(row, "end_frame"))
    code = _need(row, "action_code")
    if not isinstance(code, str):
        raise _RowProblem("action_code", code, "expected a dive number string")
    difficulty = row.get("difficulty")
    judges = row.get("judge_scores") or []
    if not isinstance(judges, list):
        raise _RowProblem("judge_scores", judges, "expected a list of numbers")
    labels = row.get("frame_labels")
    if labels is not None and (not isinstance(labels, list)):
        raise _RowProblem("frame_labels", labels, "expected a list of integers")
    frame_labels = None if labels is None else tuple(_as_int("frame_labels", x) for x in labels)
    if row.get("steps") is not None:
        steps = _steps(row["steps"], names)
    elif frame_labels:
        steps = steps_from_frame_labels(frame_labels, dict(names))
    else:
        steps = ()
    source_key = row.get("source_key") or []
    extra = row.get("extra") or {}
    if not isinstance(source_key, list | tuple):
        raise _RowProblem("source_key", source_key, "expected a list")
    if not isinstance(extra, dict):
        raise _RowProblem("extra", extra, "expected an object")
    return Sample(
        sample_id=sid,
        dataset=str(row.get("dataset") or DEFAULT_DATASET),
        split=_text(row, "split", 64),
        video=VideoRef(_video_kind(row, video_path), video_path, start, end),  # type: ignore[arg-type]
        action_code=code.strip().lower(),
        final_score=_as_float("final_score", _need(row, "final_score")),
        difficulty=None if difficulty in (None, "") else _as_float("difficulty", difficulty),
        judge_scores=tuple(_as_float("judge_scores", j) for j in judges),
        steps=steps,
        frame_labels=frame_labels,
        source_key=tuple(source_key),
        extra=dict(extra),
    )


def row_from_sample(sample: Sample) -> dict[str, Any]:
    """The flat manifest row for a sample (JSON-able values; empty optional fields omitted)."""
    data = sample.to_dict()
    row: dict[str, Any] = {
        "sample_id": sample.sample_id,
        "split": sample.split,
        "video_path": sample.video.path,
        "video_kind": sample.video.kind,
        "start_frame": sample.video.start_frame,
        "end_frame": sample.video.end_frame,
        "action_code": sample.action_code,
        "final_score": sample.final_score,
        "dataset": sample.dataset,
    }
    if sample.difficulty is not None:
        row["difficulty"] = sample.difficulty
    for name in ("judge_scores", "steps", "frame_labels", "source_key", "extra"):
        if data.get(name):
            row[name] = data[name]
    return row


def write_manifest(samples: Iterable[Sample], path: str | Path) -> Path:
    """Write samples as a manifest (format from the suffix: ``.jsonl`` or ``.csv``); returns the path."""
    path = Path(path)
    fmt = manifest_format(path)
    rows = [row_from_sample(s) for s in samples]
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        if fmt == "jsonl":
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        else:
            writer = csv.DictWriter(fh, fieldnames=list(COLUMNS))
            writer.writeheader()
            for row in rows:
                writer.writerow(
                    {k: json.dumps(v, ensure_ascii=False) if k in JSON_COLUMNS else v for k, v in row.items()}
                )
    return path
