"""Which split each sample trains, validates or tests in: the dataset's own split, plus a stable validation carve-out.

Why here: training, the promotion gate, the benchmark report and the CI evaluation must agree on what "validation"
is; the rule is the same whether a Dagster asset, a CLI or a test applies it. The carve-out is by a hash of the
sample id, so a sample never moves between splits when new videos arrive.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import replace

from hieroaction.datasets.sample import Sample

SPLITS = ("train", "val", "test")
VALIDATION_NAMES = ("val", "valid", "validation")
VALIDATION_EVERY = 5  # 1 in 5 training samples validates when the dataset has no validation split of its own


def sample_hash(sample: Sample) -> int:
    """A stable number per sample id (the same on every machine and run)."""
    return int(hashlib.sha1(sample.sample_id.encode("utf-8")).hexdigest()[:8], 16)


def assign_split(sample: Sample, validation_every: int = VALIDATION_EVERY) -> str:
    """``train``/``val``/``test``: a dataset's own validation split, else 1 in ``validation_every`` of train (by hash)."""
    if validation_every < 1:
        raise ValueError(f"validation_every must be >= 1, got {validation_every}")
    if sample.split in VALIDATION_NAMES:
        return "val"
    if sample.split != "train":
        return sample.split
    return "val" if sample_hash(sample) % validation_every == 0 else "train"


def split_samples(samples: Iterable[Sample], validation_every: int = VALIDATION_EVERY) -> dict[str, list[Sample]]:
    """Samples grouped by :func:`assign_split`, each carrying its assigned split; a tiny dataset whose carve-out came
    out empty still gets one validation sample (the promotion gate compares on validation)."""
    by_split: dict[str, list[Sample]] = {name: [] for name in SPLITS}
    for sample in samples:
        split = assign_split(sample, validation_every)
        by_split.setdefault(split, []).append(replace(sample, split=split))
    if not by_split["val"] and len(by_split["train"]) >= 2:
        moved = min(by_split["train"], key=sample_hash)
        by_split["train"].remove(moved)
        by_split["val"].append(replace(moved, split="val"))
    return by_split
