"""Readers for the two pickle shapes every AQA dataset ships: a dict keyed by sample key, and a split list of keys.

Why shared: FineDiving and MTL-AQA differ only in how a key looks; a wrong kind of file must be refused the same way
(a structural error naming the file and the field) before any per-sample check runs.
"""

from __future__ import annotations

import reprlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hieroaction.datasets.records import AnnotationFormatError
from hieroaction.datasets.safe_pickle import load_pickle

KeyNormalizer = Callable[[Any], tuple]
KEY_ERRORS = (TypeError, ValueError, IndexError, RecursionError)  # a key nested 5000 deep cannot even be printed


def load_keyed_dict(
    path: Path, normal_key: KeyNormalizer, key_desc: str, value_kinds: tuple[type, ...] = (dict,), what: str = "a dict"
) -> dict[tuple, Any]:
    """One per-sample dict with normalised keys; ``key_desc`` (e.g. ``(video_id, sample_id)``) goes into errors."""
    data = load_pickle(path)
    if not isinstance(data, dict):
        raise AnnotationFormatError(path, "annotations", f"expected a dict keyed by {key_desc}, got {type(data).__name__}")
    out: dict[tuple, Any] = {}
    for key, value in data.items():
        try:
            out[normal_key(key)] = value
        except KEY_ERRORS:
            raise AnnotationFormatError(path, "key", f"expected {key_desc}, got {reprlib.repr(key)}") from None
    first = next(iter(data.values()), None)
    if first is not None and not isinstance(first, value_kinds):
        # one look tells the wrong kind of file; per-sample defects are quarantined later
        raise AnnotationFormatError(path, "value", f"expected {what} per sample, got {type(first).__name__}")
    return out


def load_split_keys(path: Path, normal_key: KeyNormalizer, key_desc: str) -> list[tuple]:
    """A split file: a list of sample keys, normalised."""
    keys = load_pickle(path)
    if not isinstance(keys, list | tuple):
        raise AnnotationFormatError(path, "split", f"expected a list of {key_desc}, got {type(keys).__name__}")
    try:
        return [normal_key(k) for k in keys]
    except KEY_ERRORS:
        raise AnnotationFormatError(path, "split", f"expected a list of {key_desc} keys") from None
