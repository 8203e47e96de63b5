"""What an adapter hands back: the good samples, the quarantined ones with their reasons, and warning counts.

Why one shape: the CLI, the validation step and the Dagster assets all report "counts in = good + quarantined" and
the same warning names, whichever dataset the samples came from.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from hieroaction.datasets.sample import Sample


class DatasetReadError(Exception):
    """The annotation files cannot be read safely or have the wrong overall structure (nothing is loaded)."""


class AnnotationFormatError(DatasetReadError):
    """A file holds the wrong kind of object, e.g. a split list where an annotation dict was expected."""

    def __init__(self, path, field: str, problem: str):
        self.path = str(path)
        self.field = field
        self.problem = problem
        super().__init__(f"{path}: field {field!r}: {problem}")


@dataclass(frozen=True)
class Quarantined:
    """A sample held back, with the field and value that caused it (so a person can find and fix it)."""

    sample_id: str
    field: str
    value: Any
    reason: str
    where: str = ""  # "<file>:<line>" when the sample came from a line of a file

    def to_dict(self) -> dict[str, Any]:
        record = {
            "id": self.sample_id,
            "field": self.field,
            "value": _jsonable(self.value),
            "reason": self.reason,
        }
        if self.where:
            record["where"] = self.where
        return record

    def __str__(self) -> str:
        place = f"{self.where}: " if self.where else ""
        return f"{place}{self.sample_id}: {self.field}={_short(self.value)}: {self.reason}"


def one_line(exc: BaseException, limit: int = 300) -> str:
    """An exception as one short line: its type and message, whitespace collapsed (for quarantine reasons)."""
    text = " ".join(str(exc).split()) or "(no message)"
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return f"{type(exc).__name__}: {text}"


def quarantine_exception(sample_id: str, field: str, value: Any, exc: BaseException, kind: str = "error") -> Quarantined:
    """The record for a sample whose processing raised ``exc``: ``reason`` is ``"<kind>: <Type>: <message>"``."""
    return Quarantined(str(sample_id), field, value, f"{kind}: {one_line(exc)}")


def isolate(sample_id: str, field: str, value: Any, work, *args, kind: str = "error", catch=Exception, **kwargs):
    """Run ``work(*args, **kwargs)`` for one sample: ``(result, None)``, or ``(None, Quarantined)`` when it raised.

    The per-sample isolation policy shared by extraction, evaluation and training data loading: whatever one sample
    raises (``Exception``, including ``MemoryError`` and ``RecursionError``) quarantines that sample with a one-line
    reason and the caller goes on with the next one. ``KeyboardInterrupt``/``SystemExit`` still stop the run.
    ``catch`` narrows what counts as the sample's fault where our own code runs in between: loading clips while
    training or evaluating catches :data:`hieroaction.video.checks.CLIP_LOAD_ERRORS` only, so a bug still raises.
    """
    try:
        return work(*args, **kwargs), None
    except catch as exc:  # the policy is exactly "anything one sample raises" unless the caller narrowed it
        return None, quarantine_exception(sample_id, field, value, exc, kind)


@dataclass
class LoadResult:
    """Samples read from one source. ``warnings`` counts soft problems by name; ``warning_samples`` lists who."""

    samples: list[Sample]
    quarantined: list[Quarantined] = field(default_factory=list)
    warnings: dict[str, int] = field(default_factory=dict)
    warning_samples: dict[str, list[str]] = field(default_factory=dict)
    source: str = ""
    origins: list[str] = field(default_factory=list)  # "<file>:<line>" of each sample, when it came from a line

    @property
    def count_in(self) -> int:
        return len(self.samples) + len(self.quarantined)

    def splits(self) -> dict[str, int]:
        return dict(sorted(Counter(s.split for s in self.samples).items()))


class WarningTally:
    """Collects named warnings and the sample ids behind each (shared by the adapters)."""

    def __init__(self) -> None:
        self.samples: dict[str, list[str]] = {}

    def add(self, name: str, sample_id: str) -> None:
        self.samples.setdefault(name, []).append(sample_id)

    @property
    def counts(self) -> dict[str, int]:
        return {name: len(ids) for name, ids in sorted(self.samples.items())}


MAX_VALUE_CHARS = 500  # a quarantined value is shown, not stored: a 10 MB cell is cut to this


def _jsonable(value: Any, depth: int = 0) -> Any:
    """Quarantine values go into JSON reports: numpy scalars/arrays and tuples become plain Python; long or deeply
    nested values (untrusted input) are cut short so a report never grows with the attack."""
    if depth > 8:
        return "..."
    if hasattr(value, "tolist") and not isinstance(value, str):
        value = value.tolist()
    if isinstance(value, tuple | list):
        items = [_jsonable(v, depth + 1) for v in value[:20]]
        return items + ["..."] if len(value) > 20 else items
    if isinstance(value, dict):
        items = list(value.items())
        return {str(k)[:100]: _jsonable(v, depth + 1) for k, v in items[:20]}
    if isinstance(value, str):
        return value if len(value) <= MAX_VALUE_CHARS else value[:MAX_VALUE_CHARS] + "..."
    if value is None or isinstance(value, bool | int | float):
        return value
    return _jsonable(repr(value), depth + 1)


def _short(value: Any, limit: int = 80) -> str:
    text = repr(_jsonable(value))
    return text if len(text) <= limit else text[: limit - 3] + "..."
