"""A classic AQA score regressor trained on the same frames as the VLM: the literature's reference point.

Why it exists: the published AQA methods (C3D/I3D + MLP, MUSDL, CoRe, TSA) map frames straight to one number and give no
explanation. A report that shows the VLM beside such a regressor, trained on exactly the same train-split frames and
scored on exactly the same test samples, tells a reader whether the stepwise reasoning costs or buys accuracy.

The model is deliberately small so it trains in well under a minute on two CPU cores: a per-frame convolutional encoder
(shared weights), a temporal convolution over the frame features, mean+max pooling over time and an MLP head. As the
"with dive number" protocol of TSA does, it can predict the execution part (score / DD) and multiply by the known
difficulty; the choice is recorded in :class:`RegressorConfig` and therefore in the report.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class RegressorConfig:
    """Everything that determines the baseline's result (recorded in the report)."""

    # defaults sized so 600 train clips fit in a few CPU minutes (16 frames at 48x48 for 60 epochs took 28 min
    # on a loaded 2-core machine); the cost grows with clips x frames x frame_size^2 x epochs
    frames: int = 8  # clips are resampled uniformly to this many frames
    frame_size: int = 32  # square side the frames are resized to
    channels: int = 16  # width of the first conv layer; later layers double it
    epochs: int = 30
    batch_size: int = 16
    learning_rate: float = 3e-3
    weight_decay: float = 1e-4
    seed: int = 0
    use_difficulty: bool = True  # predict score / DD and multiply by DD when every sample has a DD
    threads: int | None = None  # torch intra-op threads while training (None: leave torch's setting)

    def to_dict(self) -> dict:
        return asdict(self)


def clips_to_tensor(clips: Sequence[np.ndarray], frames: int, frame_size: int):
    """Stack uint8 ``(T,H,W,3)`` clips into a float tensor ``(N, frames, 3, S, S)`` in [0, 1].

    Clips may differ in length and size: each is resampled to ``frames`` frames (uniform indices, the same rule as the
    frame sampler) and resized to ``frame_size`` squared with area averaging, so a regressor sees every sample alike.
    """
    import torch
    import torch.nn.functional as F

    from hieroaction.video.checks import check_clip

    out = torch.empty((len(clips), frames, 3, frame_size, frame_size), dtype=torch.float32)
    for i, clip in enumerate(clips):
        array = check_clip(clip, f"clip {i}")  # the check every stage applies
        index = np.linspace(0, array.shape[0] - 1, frames).round().astype(int)
        chosen = torch.from_numpy(np.ascontiguousarray(array[index])).permute(0, 3, 1, 2).float() / 255.0
        out[i] = F.interpolate(chosen, size=(frame_size, frame_size), mode="area")
    return out


def _build_network(config: RegressorConfig):
    import torch
    from torch import nn

    c = config.channels

    class ScoreRegressor(nn.Module):
        """Per-frame conv encoder -> temporal conv -> mean+max pooling -> MLP -> one number."""

        def __init__(self) -> None:
            super().__init__()
            self.frame_encoder = nn.Sequential(
                nn.Conv2d(3, c, 3, stride=2, padding=1),
                nn.BatchNorm2d(c),
                nn.ReLU(),
                nn.Conv2d(c, 2 * c, 3, stride=2, padding=1),
                nn.BatchNorm2d(2 * c),
                nn.ReLU(),
                nn.Conv2d(2 * c, 4 * c, 3, stride=2, padding=1),
                nn.BatchNorm2d(4 * c),
                nn.ReLU(),
                nn.AdaptiveAvgPool2d(1),
                nn.Flatten(),
            )
            self.temporal = nn.Sequential(
                nn.Conv1d(4 * c, 4 * c, 3, padding=1),
                nn.ReLU(),
                nn.Conv1d(4 * c, 4 * c, 3, padding=1),
                nn.ReLU(),
            )
            self.head = nn.Sequential(nn.Linear(8 * c, 4 * c), nn.ReLU(), nn.Linear(4 * c, 1))

        def forward(self, clips: torch.Tensor) -> torch.Tensor:
            n, t = clips.shape[:2]
            features = self.frame_encoder(clips.flatten(0, 1)).view(n, t, -1).transpose(1, 2)
            features = self.temporal(features)
            pooled = torch.cat([features.mean(dim=2), features.amax(dim=2)], dim=1)
            return self.head(pooled).squeeze(1)

    return ScoreRegressor()


@dataclass
class TrainedRegressor:
    """A fitted regressor plus the target normalisation it needs to turn outputs back into scores."""

    network: object
    config: RegressorConfig
    target_mean: float
    target_std: float
    uses_difficulty: bool
    final_train_loss: float

    def predict(self, clips: Sequence[np.ndarray], difficulties: Sequence[float | None] | None = None) -> np.ndarray:
        """Predicted final scores for ``clips`` (``difficulties`` required when the model was fit on score / DD)."""
        import torch

        if self.uses_difficulty and (difficulties is None or any(d is None for d in difficulties)):
            raise ValueError("this regressor predicts score / DD: pass the difficulty (DD) of every clip")
        tensor = clips_to_tensor(clips, self.config.frames, self.config.frame_size)
        self.network.eval()
        outputs = []
        with torch.no_grad():
            for start in range(0, len(tensor), 64):
                outputs.append(self.network(tensor[start : start + 64]))
        raw = torch.cat(outputs).numpy().astype(np.float64) * self.target_std + self.target_mean
        if self.uses_difficulty:
            raw = raw * np.asarray(difficulties, dtype=np.float64)
        return raw


def train_score_regressor(
    clips: Sequence[np.ndarray],
    scores: Sequence[float],
    difficulties: Sequence[float | None] | None = None,
    config: RegressorConfig | None = None,
    *,
    progress: bool = False,
) -> TrainedRegressor:
    """Fit the baseline on train-split clips and their final scores (deterministic for a given seed)."""
    import torch

    config = config or RegressorConfig()
    if len(clips) != len(scores) or len(clips) < 2:
        raise ValueError(f"need at least 2 clips with one score each, got {len(clips)} clips and {len(scores)} scores")
    uses_difficulty = bool(
        config.use_difficulty
        and difficulties is not None
        and all(d is not None and d > 0 for d in difficulties)
    )
    targets = np.asarray(scores, dtype=np.float64)
    if uses_difficulty:
        targets = targets / np.asarray(difficulties, dtype=np.float64)
    mean, std = float(targets.mean()), float(targets.std()) or 1.0

    previous_threads = torch.get_num_threads()
    if config.threads:
        torch.set_num_threads(config.threads)
    try:
        torch.manual_seed(config.seed)
        generator = torch.Generator().manual_seed(config.seed)
        inputs = clips_to_tensor(clips, config.frames, config.frame_size)
        target = torch.tensor((targets - mean) / std, dtype=torch.float32)
        network = _build_network(config)
        optimizer = torch.optim.AdamW(network.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
        steps_per_epoch = math.ceil(len(inputs) / config.batch_size)
        schedule = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=config.learning_rate, total_steps=config.epochs * steps_per_epoch
        )
        epochs = range(config.epochs)
        if progress:
            from tqdm.auto import tqdm

            epochs = tqdm(epochs, desc="score regressor", unit="epoch")
        last_loss = float("nan")
        network.train()
        for _ in epochs:
            order = torch.randperm(len(inputs), generator=generator)
            total = 0.0
            for start in range(0, len(order), config.batch_size):
                batch = order[start : start + config.batch_size]
                if len(batch) < 2:  # BatchNorm needs two samples; the leftover one is seen next epoch
                    continue
                loss = torch.nn.functional.mse_loss(network(inputs[batch]), target[batch])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                schedule.step()
                total += float(loss.detach()) * len(batch)
            last_loss = total / len(order)
    finally:
        torch.set_num_threads(previous_threads)
    return TrainedRegressor(network, config, mean, std, uses_difficulty, last_loss)
