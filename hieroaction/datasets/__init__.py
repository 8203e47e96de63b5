"""Dataset adapters that all produce the canonical :class:`Sample` record.

Loaders return a :class:`LoadResult` (good samples, quarantined ones with reasons, warning counts);
:func:`~hieroaction.datasets.validate.validate_samples` (Great Expectations, imported lazily) checks the table.
"""

from hieroaction.datasets.finediving import FINEDIVING_SUBACTIONS, load_finediving
from hieroaction.datasets.manifest import load_manifest, write_manifest
from hieroaction.datasets.mtl_aqa import load_mtl_aqa
from hieroaction.datasets.paths import bundled_root
from hieroaction.datasets.records import AnnotationFormatError, DatasetReadError, LoadResult, Quarantined
from hieroaction.datasets.safe_pickle import PickleReadError, UnsafePickleError, load_pickle
from hieroaction.datasets.sample import Sample, Step, VideoRef, read_jsonl, steps_from_frame_labels, write_jsonl

__all__ = [
    "FINEDIVING_SUBACTIONS",
    "AnnotationFormatError",
    "DatasetReadError",
    "LoadResult",
    "PickleReadError",
    "Quarantined",
    "Sample",
    "Step",
    "UnsafePickleError",
    "VideoRef",
    "bundled_root",
    "load_finediving",
    "load_manifest",
    "load_mtl_aqa",
    "load_pickle",
    "read_jsonl",
    "steps_from_frame_labels",
    "validate_samples",
    "write_jsonl",
    "write_manifest",
]


def __getattr__(name: str):
    """``validate_samples`` is resolved on first use: it pulls in Great Expectations (~4 s of imports)."""
    if name == "validate_samples":
        from hieroaction.datasets.validate import validate_samples

        return validate_samples
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
