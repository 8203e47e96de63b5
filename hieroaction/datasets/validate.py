"""Validate canonical samples with Great Expectations 1.x: reject what is broken, count what is merely odd.

Why GX on a derived table: per-sample rules that span several fields (steps inside the clip, frame labels vs frame
range, the judges' score rule) are computed here into one column each, so every rule is a plain column expectation
whose unexpected rows GX reports by row. Rejections quarantine the sample with the field, value and reason; the
score-rule check is a *warning* (docs/DATASETS.md: a few percent of real samples break it by annotation noise).

``validate_samples`` is a pure function of its inputs (no files written), so a Dagster asset check can call it.
Great Expectations is imported inside it: the import alone costs ~4 s.
"""

from __future__ import annotations

import math
import threading
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hieroaction.datasets.checks import DIFFICULTY_RANGE, JUDGE_RANGE, SCORE_RANGE, split_checked
from hieroaction.datasets.dive_codes import DiveCodeError, parse_code
from hieroaction.datasets.media import allow_outside_default, missing_media, path_problem
from hieroaction.datasets.records import Quarantined
from hieroaction.datasets.sample import Sample
from hieroaction.datasets.score_rule import JUDGE_COUNTS, SCORE_RULE_TOLERANCE, expected_score

REQUIRED_COLUMNS = (
    "sample_id",
    "dataset",
    "split",
    "video_kind",
    "video_path",
    "start_frame",
    "end_frame",
    "action_code",
    "final_score",
)
_ROW = "_row"


@dataclass(frozen=True)
class Rule:
    """One expectation over the table, plus how to tell a person which field and value broke it."""

    name: str
    column: str
    field: str
    reason: str
    expectation: Callable[[Any], Any]  # gxe module -> expectation instance
    value: Callable[[Sample, dict[str, Any]], Any]
    severity: str = "reject"  # "reject" quarantines, "warn" counts


@dataclass
class RuleOutcome:
    """GX's verdict on one rule."""

    name: str
    expectation: str
    column: str
    severity: str
    success: bool
    element_count: int
    unexpected_count: int
    sample_ids: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "expectation": self.expectation,
            "column": self.column,
            "severity": self.severity,
            "success": self.success,
            "element_count": self.element_count,
            "unexpected_count": self.unexpected_count,
            "sample_ids": self.sample_ids[:20],
        }


@dataclass
class ValidationReport:
    """Good samples go on; quarantined ones carry every reason; warnings count the soft problems by name."""

    good: list[Sample]
    quarantined: list[Quarantined]
    warnings: dict[str, int]
    warning_samples: dict[str, list[str]] = field(default_factory=dict)
    failures: list[Quarantined] = field(default_factory=list)  # one per (sample, broken rule)
    results: list[RuleOutcome] = field(default_factory=list)
    gx_success: bool = True

    @property
    def count_in(self) -> int:
        return len(self.good) + len(self.quarantined)

    @property
    def success(self) -> bool:
        """True when nothing had to be quarantined (warnings do not fail validation)."""
        return not self.quarantined

    def to_dict(self) -> dict[str, Any]:
        return {
            "samples": self.count_in,
            "good": len(self.good),
            "success": self.success,
            "quarantined": [q.to_dict() for q in self.quarantined],
            "warnings": dict(self.warnings),
            "expectations": [r.to_dict() for r in self.results],
        }


# ---------------------------------------------------------------------------------------------------------------
# The derived table: one row per sample, one column per rule.


def _blank_to_none(value: Any) -> Any:
    return None if value is None or (isinstance(value, str) and not value.strip()) else value


def _float_or_nan(value: Any) -> float:
    try:
        return float(value) if value is not None else math.nan
    except (TypeError, ValueError):
        return math.nan


def _valid_code(code: Any) -> bool | None:
    if not isinstance(code, str) or not code.strip():
        return None  # the not-null rule reports it
    try:
        parse_code(code)
    except DiveCodeError:
        return False
    return True


def _frame_range(sample: Sample) -> tuple[Any, Any]:
    video = sample.video
    return (getattr(video, "start_frame", None), getattr(video, "end_frame", None))


def _num_frames(sample: Sample) -> float:
    start, end = _frame_range(sample)
    try:
        return float(int(end) - int(start) + 1)
    except (TypeError, ValueError):
        return math.nan


def steps_problem(sample: Sample) -> str | None:
    """Why the steps are unusable (out of order, gap/overlap, outside the clip), or ``None`` if fine or absent."""
    steps = sample.steps or ()
    num = _num_frames(sample)
    previous = None
    for i, step in enumerate(steps):
        if step.first > step.last:
            return f"step {i} ({step.name}) ends before it starts: {step.first}..{step.last}"
        if step.first < 0 or (not math.isnan(num) and step.last > num - 1):
            return f"step {i} ({step.name}) {step.first}..{step.last} is outside the clip 0..{int(num) - 1}"
        if previous is not None:
            if step.first <= previous.last:
                return f"step {i} ({step.name}) starts at {step.first}, before step {i - 1} ends at {previous.last}"
            if step.first != previous.last + 1:
                return f"gap between step {i - 1} (ends {previous.last}) and step {i} (starts {step.first})"
        previous = step
    return None


def _frame_labels_match(sample: Sample) -> bool | None:
    if sample.frame_labels is None:
        return None
    return float(len(sample.frame_labels)) == _num_frames(sample)


def _unknown_subactions(sample: Sample, known: set[int]) -> list[int]:
    ids = {s.label_id for s in sample.steps or ()} | set(sample.frame_labels or ())
    return sorted(i for i in ids if i not in known)


def _judges(sample: Sample) -> list[float]:
    return [float(j) for j in sample.judge_scores or ()]


def _score_rule_ok(sample: Sample) -> tuple[bool | None, float | None]:
    judges = _judges(sample)
    if not judges or sample.difficulty is None or sample.final_score is None:
        return None, None
    expected = expected_score(float(sample.difficulty), judges)
    if expected is None:
        return None, None
    return abs(expected - float(sample.final_score)) <= SCORE_RULE_TOLERANCE, round(expected, 4)


def _path_allowed(sample: Sample, allow_outside_root: bool) -> bool | None:
    if allow_outside_root:
        return None
    return path_problem(getattr(sample.video, "path", "") or "") is None


def build_table(
    samples: Sequence[Sample],
    media_root: str | Path | None = None,
    allow_outside_root: bool | None = None,
    origins: Sequence[str] | None = None,
):
    """The pandas table GX validates (also handy for summaries). Row ``_row`` is the index into ``samples``."""
    import pandas as pd

    from hieroaction.datasets.finediving import FINEDIVING_SUBACTIONS

    known = set(FINEDIVING_SUBACTIONS)
    allow = allow_outside_default(allow_outside_root)
    origins = list(origins or [])
    first_of_id: dict[Any, int] = {}  # a repeated id: the first sample keeps it, the others are quarantined
    for i, s in enumerate(samples):
        first_of_id.setdefault(s.sample_id, i)
    splits_of_id: dict[Any, set] = defaultdict(set)
    splits_of_clip: dict[Any, set] = defaultdict(set)
    for i, s in enumerate(samples):
        if first_of_id[s.sample_id] != i:
            continue  # a repeat is quarantined as such; it does not make its first a leak
        splits_of_id[s.sample_id].add(s.split)
        splits_of_clip[(s.video.kind, s.video.path, *_frame_range(s))].add(s.split)

    rows = []
    for i, s in enumerate(samples):
        start, end = _frame_range(s)
        judges = _judges(s)
        rule_ok, expected = _score_rule_ok(s)
        first = first_of_id[s.sample_id]
        id_splits = splits_of_id[s.sample_id]
        clip_splits = splits_of_clip[(s.video.kind, s.video.path, start, end)]
        problem = steps_problem(s) if s.steps else None
        media_reason = missing_media(s, media_root, allow_outside_root=allow) if media_root is not None else None
        rows.append(
            {
                _ROW: i,
                "sample_id": _blank_to_none(s.sample_id),
                "dataset": _blank_to_none(s.dataset),
                "split": _blank_to_none(s.split),
                "video_kind": _blank_to_none(s.video.kind),
                "video_path": _blank_to_none(s.video.path),
                "start_frame": _float_or_nan(start),
                "end_frame": _float_or_nan(end),
                "num_frames": _num_frames(s),
                "action_code": _blank_to_none(s.action_code),
                "action_code_valid": _valid_code(s.action_code),
                "final_score": _float_or_nan(s.final_score),
                "difficulty": _float_or_nan(s.difficulty),
                "judge_count": float(len(judges)) if judges else math.nan,
                "judge_min": min(judges) if judges else math.nan,
                "judge_max": max(judges) if judges else math.nan,
                "judges_half_steps": all(abs(j * 2 - round(j * 2)) < 1e-6 for j in judges) if judges else None,
                "id_first": (first == i) if _blank_to_none(s.sample_id) is not None else None,
                "first_at": origins[first] if first < len(origins) and origins[first] else f"sample #{first}",
                "in_one_split": first != i or len(id_splits | clip_splits) <= 1,
                "frame_labels_match": _frame_labels_match(s),
                "steps_valid": (problem is None) if s.steps else None,
                "subactions_known": (not _unknown_subactions(s, known)) if s.dataset == "finediving" else None,
                "media_path_allowed": _path_allowed(s, allow),
                "media_present": (media_reason is None) if media_root is not None else None,
                "score_rule_ok": rule_ok,
                "score_expected": expected,
            }
        )
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------------------------
# The rules.


def _attr(name: str) -> Callable[[Sample, dict], Any]:
    return lambda s, row: getattr(s, name, None)


def _video_attr(name: str) -> Callable[[Sample, dict], Any]:
    return lambda s, row: getattr(s.video, name, None)


def _is_true(column: str) -> Callable[[Any], Any]:
    return lambda gxe: gxe.ExpectColumnValuesToBeInSet(column=column, value_set=[True])


def build_rules(
    media_root: str | Path | None, known_subactions: set[int], allow_outside_root: bool = False
) -> list[Rule]:
    rules: list[Rule] = []
    for column in REQUIRED_COLUMNS:
        if column.startswith("video_") or column.endswith("_frame"):
            attr = column.removeprefix("video_")
            field_name, value = f"video.{attr}", _video_attr(attr)
        else:
            field_name, value = column, _attr(column)
        rules.append(
            Rule(
                f"required_{column}",
                column,
                field_name,
                "required field is missing or empty",
                lambda gxe, c=column: gxe.ExpectColumnValuesToNotBeNull(column=c),
                value,
            )
        )
    rules += [
        Rule(
            "video_kind_known",
            "video_kind",
            "video.kind",
            "must be 'frames' or 'video'",
            lambda gxe: gxe.ExpectColumnValuesToBeInSet(column="video_kind", value_set=["frames", "video"]),
            _video_attr("kind"),
        ),
        Rule(
            "action_code_is_dive_number",
            "action_code_valid",
            "action_code",
            "not a FINA dive number",
            _is_true("action_code_valid"),
            _attr("action_code"),
        ),
        Rule(
            "final_score_range",
            "final_score",
            "final_score",
            f"score outside {SCORE_RANGE[0]}..{SCORE_RANGE[1]}",
            lambda gxe: gxe.ExpectColumnValuesToBeBetween(
                column="final_score", min_value=SCORE_RANGE[0], max_value=SCORE_RANGE[1]
            ),
            _attr("final_score"),
        ),
        Rule(
            "difficulty_range",
            "difficulty",
            "difficulty",
            f"DD outside {DIFFICULTY_RANGE[0]}..{DIFFICULTY_RANGE[1]}",
            lambda gxe: gxe.ExpectColumnValuesToBeBetween(
                column="difficulty", min_value=DIFFICULTY_RANGE[0], max_value=DIFFICULTY_RANGE[1]
            ),
            _attr("difficulty"),
        ),
        Rule(
            "judge_count",
            "judge_count",
            "judge_scores",
            f"number of judges not in {set(JUDGE_COUNTS)}",
            lambda gxe: gxe.ExpectColumnValuesToBeInSet(
                column="judge_count", value_set=[float(n) for n in JUDGE_COUNTS]
            ),
            _attr("judge_scores"),
        ),
        Rule(
            "judge_min",
            "judge_min",
            "judge_scores",
            f"a judge's award is below {JUDGE_RANGE[0]}",
            lambda gxe: gxe.ExpectColumnValuesToBeBetween(column="judge_min", min_value=JUDGE_RANGE[0]),
            _attr("judge_scores"),
        ),
        Rule(
            "judge_max",
            "judge_max",
            "judge_scores",
            f"a judge's award is above {JUDGE_RANGE[1]}",
            lambda gxe: gxe.ExpectColumnValuesToBeBetween(column="judge_max", max_value=JUDGE_RANGE[1]),
            _attr("judge_scores"),
        ),
        Rule(
            "judge_half_points",
            "judges_half_steps",
            "judge_scores",
            "judges award in steps of 0.5",
            _is_true("judges_half_steps"),
            _attr("judge_scores"),
        ),
        Rule(
            "unique_sample_id",
            "id_first",
            "sample_id",
            "sample_id repeats an earlier sample's (the first one is kept)",
            _is_true("id_first"),
            lambda s, row: f"{s.sample_id} (first at {row['first_at']})",
        ),
        Rule(
            "disjoint_splits",
            "in_one_split",
            "split",
            "the same sample id or clip appears in more than one split (leak)",
            _is_true("in_one_split"),
            _attr("split"),
        ),
        Rule(
            "frame_labels_length",
            "frame_labels_match",
            "frame_labels",
            "number of frame labels differs from the clip length",
            _is_true("frame_labels_match"),
            lambda s, row: f"{len(s.frame_labels or ())} labels for {int(row['num_frames'])} frames",
        ),
        Rule(
            "steps_ordered_inside_clip",
            "steps_valid",
            "steps",
            "steps are not ordered, contiguous and inside the clip",
            _is_true("steps_valid"),
            lambda s, row: steps_problem(s),
        ),
        Rule(
            "known_subactions",
            "subactions_known",
            "steps",
            "unknown FineDiving sub-action id",
            _is_true("subactions_known"),
            lambda s, row: _unknown_subactions(s, known_subactions),
        ),
    ]
    if not allow_outside_root:
        rules.append(
            Rule(
                "media_path_allowed",
                "media_path_allowed",
                "video.path",
                "media path must stay inside the media root",
                _is_true("media_path_allowed"),
                lambda s, row: f"{s.video.path!r}: {path_problem(s.video.path or '')}",
            )
        )
    if media_root is not None:
        rules.append(
            Rule(
                "media_present",
                "media_present",
                "video.path",
                "media not found under the media root",
                _is_true("media_present"),
                lambda s, row: missing_media(s, media_root, allow_outside_root=allow_outside_root),
            )
        )
    rules.append(
        Rule(
            "score_rule",
            "score_rule_ok",
            "final_score",
            f"final score differs from DD x judges' rule by more than {SCORE_RULE_TOLERANCE}",
            _is_true("score_rule_ok"),
            lambda s, row: f"{s.final_score} vs rule {row['score_expected']}",
            severity="warn",
        )
    )
    return rules


# ---------------------------------------------------------------------------------------------------------------
# Running GX.

_definitions: dict[tuple[str, ...], Any] = {}
_definitions_lock = threading.Lock()


def _validation_definition(rules: list[Rule]):
    """One GX validation definition per rule set, built once per process.

    Why cache: building the context and suite costs GX ~1 s of bookkeeping on this machine, far more than running
    it; the definition holds no data (the dataframe arrives as a batch parameter), so reuse changes no result.
    """
    key = tuple(rule.name for rule in rules)
    with _definitions_lock:
        if key in _definitions:
            return _definitions[key]
        import great_expectations as gx
        import great_expectations.expectations as gxe
        from great_expectations.data_context.types.base import (
            DataContextConfig,
            InMemoryStoreBackendDefaults,
            ProgressBarsConfig,
        )

        config = DataContextConfig(
            store_backend_defaults=InMemoryStoreBackendDefaults(),
            analytics_enabled=False,
            progress_bars=ProgressBarsConfig(globally=False),
        )
        context = gx.get_context(mode="ephemeral", project_config=config)
        batch = (
            context.data_sources.add_pandas("hieroaction_samples")
            .add_dataframe_asset(name="samples")
            .add_batch_definition_whole_dataframe("all_samples")
        )
        expectations = []
        for rule in rules:
            expectation = rule.expectation(gxe)
            expectation.meta = {"rule": rule.name, "severity": rule.severity}
            expectations.append(expectation)
        suite = context.suites.add(gx.ExpectationSuite(name="hieroaction_sample_rules", expectations=expectations))
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name="hieroaction_sample_rules", data=batch, suite=suite)
        )
        _definitions[key] = (definition, threading.Lock())
        return _definitions[key]


def _run_gx(table, rules: list[Rule]):
    """Run the rules as one GX suite on the table; returns GX's validation result."""
    definition, lock = _validation_definition(rules)
    with lock:  # one run at a time per definition: GX's in-memory stores are not documented as thread-safe
        return definition.run(
            batch_parameters={"dataframe": table},
            result_format={"result_format": "COMPLETE", "unexpected_index_column_names": [_ROW]},
        )


def _name(sample: Sample, row: int) -> str:
    """The sample id, or where to find the sample when it has none."""
    if isinstance(sample.sample_id, str) and sample.sample_id.strip():
        return sample.sample_id
    return f"<sample #{row} without id, video {getattr(sample.video, 'path', None)!r}>"


def validate_samples(
    samples: Sequence[Sample],
    media_root: str | Path | None = None,
    *,
    allow_outside_root: bool | None = None,
    origins: Sequence[str] | None = None,
) -> ValidationReport:
    """Check samples against every rule; quarantine rejections (with sample id, field, value, reason).

    ``media_root``: when given, each sample's frame folder / video file must exist under it (symlinks resolved).
    Media paths that are absolute, climb out with ``..`` or are URLs are rejected unless ``allow_outside_root``
    (default: the ``HIEROACTION_ALLOW_OUTSIDE_MEDIA_ROOT`` switch, off).
    ``origins``: ``"<file>:<line>"`` of each sample (``LoadResult.origins``), named in its quarantine record.
    Numbers and sizes are checked first by :func:`hieroaction.datasets.checks.sample_problems` (NaN, infinities,
    absurd frame numbers), so Great Expectations only sees well-formed rows.
    """
    from hieroaction.datasets.finediving import FINEDIVING_SUBACTIONS

    samples, origins, malformed = split_checked(samples, origins)
    if not samples:
        return ValidationReport([], malformed, {}, {}, list(malformed), [], not malformed)
    allow = allow_outside_default(allow_outside_root)
    table = build_table(samples, media_root, allow, origins)
    rules = build_rules(media_root, set(FINEDIVING_SUBACTIONS), allow)
    by_name = {r.name: r for r in rules}
    gx_result = _run_gx(table, rules)
    records = table.to_dict("records")

    failures_by_row: dict[int, list[Quarantined]] = defaultdict(list)
    warning_samples: dict[str, list[str]] = {}
    outcomes: list[RuleOutcome] = []
    for result in gx_result.results:
        config = result.expectation_config
        rule = by_name[config.meta["rule"]]
        if result.exception_info and result.exception_info.get("raised_exception"):
            raise RuntimeError(f"GX failed on rule {rule.name}: {result.exception_info.get('exception_message')}")
        rows = [int(item[_ROW]) for item in result.result.get("unexpected_index_list") or []]
        ids = [_name(samples[r], r) for r in rows]
        outcomes.append(
            RuleOutcome(
                rule.name,
                config.type,
                rule.column,
                rule.severity,
                bool(result.success),
                int(result.result.get("element_count", len(samples))),
                int(result.result.get("unexpected_count", len(rows))),
                ids,
            )
        )
        if rule.severity == "warn":
            if rows:
                warning_samples[rule.name] = ids
            continue
        for r in rows:
            value = rule.value(samples[r], records[r])
            failures_by_row[r].append(Quarantined(_name(samples[r], r), rule.field, value, rule.reason))

    good, quarantined, failures = [], [], []
    for i, sample in enumerate(samples):
        problems = failures_by_row.get(i)
        if not problems:
            good.append(sample)
            continue
        failures.extend(problems)
        first = problems[0]
        reason = "; ".join(f"{p.field}: {p.reason}" for p in problems)
        where = origins[i] if i < len(origins) else ""
        quarantined.append(Quarantined(first.sample_id, first.field, first.value, reason, where=where))
    warnings = {name: len(ids) for name, ids in warning_samples.items()}
    success = bool(gx_result.success) and not malformed
    return ValidationReport(
        good, malformed + quarantined, warnings, warning_samples, malformed + failures, outcomes, success
    )


def read_checked_samples(
    paths: Sequence[str | Path], *, allow_outside_root: bool | None = None
) -> tuple[list[Sample], list[Quarantined]]:
    """Samples from sample tables / manifests (one or several files), validated like any dataset: bad lines and
    bad samples are quarantined with file, line and field; the rest come back in file order.

    Why for evaluation inputs too: gold labels are untrusted input. A negative, absurd or NaN gold score would
    otherwise be scored silently or fail only after the model has run."""
    from hieroaction.datasets.manifest import load_manifest

    samples: list[Sample] = []
    origins: list[str] = []
    quarantined: list[Quarantined] = []
    for path in paths:
        loaded = load_manifest(path, allow_outside_root=allow_outside_root)
        samples += loaded.samples
        origins += loaded.origins
        quarantined += loaded.quarantined
    report = validate_samples(samples, allow_outside_root=allow_outside_root, origins=origins)
    return report.good, quarantined + report.quarantined
