"""Reasoning targets: the per-split sample tables training and evaluation read, checked against the answer grammar."""

from collections import Counter

import dagster as dg

from orchestration.assets.frames import frames
from orchestration.metadata import counts_table
from orchestration.resources import StorageResource

OWNERS = ["team:hieroaction-ml"]


def read_splits(storage: StorageResource, names=("train", "val", "test")) -> list:
    """The samples of the named split tables (their ``split`` field is the assigned split)."""
    from hieroaction.datasets import read_jsonl

    return [s for name in names if storage.split_table(name).exists() for s in read_jsonl(storage.split_table(name))]


@dg.asset(
    group_name="reasoning",
    kinds={"python"},
    owners=OWNERS,
    deps=[frames],
    description=(
        "The train / val / test sample tables training and evaluation read (`hieroaction.datasets.splits`: the "
        "dataset's own validation split, or a stable 1 in 5 of train), each sample's Stepwise Action Reasoning "
        "target checked to read back through the parser (grammar version in metadata)."
    ),
)
def reasoning_targets(context: dg.AssetExecutionContext, samples, storage: StorageResource) -> dg.MaterializeResult:
    from hieroaction.datasets import write_jsonl
    from hieroaction.datasets.splits import split_samples
    from hieroaction.reasoning import GRAMMAR_VERSION, parse_assessment, render_target

    by_split = split_samples(samples)
    counts = {k: len(v) for k, v in by_split.items()}
    if counts.get("train", 0) == 0 or counts.get("val", 0) == 0:
        raise ValueError(f"training needs train and val samples, got {counts}")
    targets = {s.sample_id: render_target(s) for members in by_split.values() for s in members}
    unparsable = [i for i, target in targets.items() if parse_assessment(target).assessment is None]
    if unparsable:  # the grammar must read back what it writes
        raise ValueError(f"rendered targets that the parser rejects (grammar bug): {unparsable[:5]}")
    storage.splits_dir.mkdir(parents=True, exist_ok=True)
    for split, members in by_split.items():
        write_jsonl(members, storage.split_table(split))
    return dg.MaterializeResult(
        metadata={
            "grammar_version": GRAMMAR_VERSION,
            "samples": sum(counts.values()),
            "splits": dg.MetadataValue.md(counts_table(counts, "split")),
            **{f"n_{split}": count for split, count in counts.items()},
            "actions": len(Counter(s.action_code for s in samples)),
            "example_target": dg.MetadataValue.md("```\n" + next(iter(targets.values()), "") + "\n```"),
            "tables": dg.MetadataValue.path(str(storage.splits_dir)),
        }
    )
