"""Reasoning targets: the per-split sample tables training reads, and the answer each sample must produce."""

import hashlib
import json
from collections import Counter
from dataclasses import replace
from pathlib import Path

import dagster as dg

from orchestration.assets.frames import frames
from orchestration.metadata import counts_table
from orchestration.resources import StorageResource

OWNERS = ["team:hieroaction-ml"]
VALIDATION_SPLITS = ("val", "valid", "validation")
VALIDATION_EVERY = 5  # carve 1 in 5 training samples when the data has no validation split


def assign_split(sample) -> str:
    """``train``/``val``/``test``: a dataset's own validation split, else a stable 20% of train by sample-id hash.

    Why by hash: the carve-out must not change when new videos arrive (a sample never moves between splits).
    """
    if sample.split in VALIDATION_SPLITS:
        return "val"
    if sample.split != "train":
        return sample.split
    return "val" if _hash(sample) % VALIDATION_EVERY == 0 else "train"


def _hash(sample) -> int:
    return int(hashlib.sha1(sample.sample_id.encode("utf-8")).hexdigest()[:8], 16)


def split_paths(storage: StorageResource) -> dict[str, Path]:
    base = storage.work / "splits"
    return {name: base / f"{name}.jsonl" for name in ("train", "val", "test")}


def read_splits(storage: StorageResource, names=("train", "val", "test")) -> list:
    """The samples of the named split tables (their ``split`` field is the assigned split)."""
    from hieroaction.datasets import read_jsonl

    paths = split_paths(storage)
    return [s for name in names if paths[name].exists() for s in read_jsonl(paths[name])]


@dg.asset(
    group_name="reasoning",
    kinds={"python"},
    owners=OWNERS,
    deps=[frames],
    description=(
        "Stepwise Action Reasoning targets (`hieroaction.reasoning.render_target`, grammar version in metadata) "
        "for every sample with extracted frames, and the train / val / test sample tables training reads "
        "(validation: the dataset's own split, or a stable 20% of train)."
    ),
)
def reasoning_targets(context: dg.AssetExecutionContext, samples, storage: StorageResource) -> dg.MaterializeResult:
    from hieroaction.datasets import write_jsonl
    from hieroaction.reasoning import GRAMMAR_VERSION, parse_assessment, render_target

    by_split: dict[str, list] = {"train": [], "val": [], "test": []}
    for sample in samples:
        split = assign_split(sample)
        by_split.setdefault(split, []).append(replace(sample, split=split))
    if not by_split["val"] and len(by_split["train"]) >= 2:  # tiny datasets: the gate still needs one val sample
        moved = min(by_split["train"], key=_hash)
        by_split["train"].remove(moved)
        by_split["val"].append(replace(moved, split="val"))
    paths = split_paths(storage)
    targets_dir = storage.work / "targets"
    targets_dir.mkdir(parents=True, exist_ok=True)
    unparsable: list[str] = []
    example = ""
    for split, members in by_split.items():
        path = paths.get(split, storage.work / "splits" / f"{split}.jsonl")
        path.parent.mkdir(parents=True, exist_ok=True)
        write_jsonl(members, path)
        with open(targets_dir / f"{split}.jsonl", "w", encoding="utf-8") as fh:
            for sample in members:
                target = render_target(sample)
                if parse_assessment(target).assessment is None:  # the grammar must read back what it wrote
                    unparsable.append(sample.sample_id)
                example = example or target
                row = {"sample_id": sample.sample_id, "split": split, "grammar": GRAMMAR_VERSION, "target": target}
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    if unparsable:
        raise ValueError(f"rendered targets that the parser rejects (grammar bug): {unparsable[:5]}")
    counts = {k: len(v) for k, v in by_split.items()}
    if counts.get("train", 0) == 0 or counts.get("val", 0) == 0:
        raise ValueError(f"training needs train and val samples, got {counts}")
    return dg.MaterializeResult(
        metadata={
            "grammar_version": GRAMMAR_VERSION,
            "samples": sum(counts.values()),
            "splits": dg.MetadataValue.md(counts_table(counts, "split")),
            **{f"n_{split}": count for split, count in counts.items()},
            "actions": len(Counter(s.action_code for s in samples)),
            "example_target": dg.MetadataValue.md("```\n" + example + "\n```"),
            "tables": dg.MetadataValue.path(str(storage.work / "splits")),
        }
    )
