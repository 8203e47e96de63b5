"""Dataset adapters that all produce the canonical :class:`Sample` record."""

from hieroaction.datasets.sample import Sample, Step, VideoRef

__all__ = ["Sample", "Step", "VideoRef"]
