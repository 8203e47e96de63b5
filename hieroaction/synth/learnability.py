"""Are the labels really in the pixels? Train a tiny video model on rendered dives and test it on held-out ones.

Why: a renderer whose labels cannot be learned would make every downstream accuracy figure meaningless. A small
per-frame CNN with a temporal convolution, trained for a couple of CPU minutes, must recover the body position and
the take-off group far above chance and rank the scores (Spearman rho) clearly above zero on dives it never saw
(drawn with a different seed, so different scenes, cameras and labels).

The baseline is the classic two-stage AQA recipe at toy scale: find the athlete (here: background subtraction
against the clip's per-pixel median, then the densest foreground window), crop a small window around them in every
frame, and learn from the crops. The CNN gets two channels per crop: the foreground mask (shape, free of the
random colours) and the grey-level difference to the background (the chest stripe, face and splash). Cropping and
dropping colour are what make a couple of CPU minutes enough.
"""

from __future__ import annotations

import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass

import numpy as np

from hieroaction.datasets.dive_codes import POSITIONS
from hieroaction.synth.draw import draw_samples
from hieroaction.synth.render import render_sample
from hieroaction.video.sampling import uniform_indices

POSITION_CLASSES = tuple(POSITIONS.values())  # straight, pike, tuck, free
GROUP_CLASSES = (1, 2, 3, 4, 5, 6)


@dataclass(frozen=True)
class LearnabilityConfig:
    train: int = 600
    test: int = 200
    frames: int = 16
    size: int = 64
    seconds: float = 120.0  # training time budget
    steps: int | None = None  # or a fixed number of steps (reproducible: what the test uses)
    seed: int = 0
    workers: int = 2
    threads: int = 1  # on a shared 2-core machine one thread trains faster than two
    batch: int = 32
    crop: int = 28


def _render_one(args) -> np.ndarray:
    sample, seed, frames, size = args
    # the baseline subtracts a static background: it needs the wide fixed shot
    return render_sample(sample, seed, size=size, indices=uniform_indices(sample.num_frames, frames), camera="fixed")


def render_arrays(samples, frames: int, size: int, seed: int, workers: int, crop: int = 24) -> dict[str, np.ndarray]:
    """Clips ``(N, T, H, W, 3)`` uint8 plus the label arrays the model is scored on."""
    jobs = [(s, seed, frames, size) for s in samples]
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            clips = list(pool.map(_render_one, jobs, chunksize=8))
    else:
        clips = [_render_one(job) for job in jobs]
    return {
        "clips": crop_channels(diver_crops(np.stack(clips), crop)),
        "position": np.array([POSITION_CLASSES.index(s.dive.position) for s in samples]),
        "group": np.array([GROUP_CLASSES.index(s.dive.group) for s in samples]),
        "score": np.array([s.final_score for s in samples], dtype=np.float32),
    }


def diver_crops(clips: np.ndarray, crop: int = 32, threshold: float = 60.0) -> np.ndarray:
    """Per frame, a ``crop`` x ``crop`` window of (frame - clip median background) centred on the foreground blob.

    ``clips``: ``(N, T, H, W, 3)`` uint8. Returns ``(N, T, crop, crop, 3)`` float32 in about [-1, 1].
    """
    n, t, height, width, _ = clips.shape
    background = np.median(clips, axis=1).astype(np.float32)
    out = np.zeros((n, t, crop, crop, 3), dtype=np.float32)
    half = crop // 2
    window = max(3, crop // 4)
    for i in range(n):
        diff = clips[i].astype(np.float32) - background[i][None]
        strength = np.maximum(np.abs(diff).sum(-1) - threshold, 0.0)  # (T, H, W)
        # Densest foreground window (a box filter by integral images), robust to thin edges of a drifting camera.
        integral = np.pad(strength.cumsum(1).cumsum(2), ((0, 0), (1, 0), (1, 0)))
        boxes = (integral[:, window:, window:] - integral[:, :-window, window:]
                 - integral[:, window:, :-window] + integral[:, :-window, :-window])
        padded = np.pad(diff, ((0, 0), (half, half), (half, half), (0, 0)))
        for j in range(t):
            flat = int(boxes[j].argmax())
            if boxes[j].flat[flat] <= 0:
                cy, cx = height // 2, width // 2
            else:
                cy, cx = divmod(flat, boxes.shape[2])
                cy, cx = cy + window // 2, cx + window // 2
            out[i, j] = padded[j, cy : cy + crop, cx : cx + crop]
    return out / 255.0


def crop_channels(crops: np.ndarray, threshold: float = 60.0) -> np.ndarray:
    """``(N, T, h, w, 3)`` difference crops -> ``(N, T, 2, h, w)`` float32: foreground mask, grey difference."""
    mask = (np.abs(crops).sum(-1) > threshold / 255.0).astype(np.float32)
    grey = np.clip(crops.mean(-1) * 4.0, -1.0, 1.0).astype(np.float32)
    return np.stack([mask, grey], axis=2)


def _model(frames: int):
    import torch
    from torch import nn

    class TinyVideoNet(nn.Module):
        """Per-frame CNN (max-pooled over space) -> temporal conv -> mean+max over time -> three heads."""

        def __init__(self):
            super().__init__()
            self.frame = nn.Sequential(
                nn.Conv2d(2, 12, 3, padding=1), nn.BatchNorm2d(12), nn.ReLU(), nn.MaxPool2d(2),
                nn.Conv2d(12, 24, 3, padding=1), nn.BatchNorm2d(24), nn.ReLU(), nn.MaxPool2d(2),
                nn.Conv2d(24, 48, 3, stride=2, padding=1), nn.BatchNorm2d(48), nn.ReLU(),
                nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(192, 96), nn.ReLU(),
            )
            self.time = nn.Sequential(nn.Conv1d(96, 96, 3, padding=1), nn.ReLU())
            self.position = nn.Linear(192, len(POSITION_CLASSES))
            self.group = nn.Linear(192, len(GROUP_CLASSES))
            self.score = nn.Sequential(nn.Linear(192, 64), nn.ReLU(), nn.Linear(64, 1))

        def forward(self, clips):  # (N, T, 2, H, W) float
            n, t = clips.shape[:2]
            feats = self.frame(clips.flatten(0, 1)).view(n, t, -1).transpose(1, 2)  # (N, C, T)
            feats = self.time(feats)
            pooled = torch.cat([feats.mean(2), feats.amax(2)], dim=1)
            return self.position(pooled), self.group(pooled), self.score(pooled).squeeze(1)

    return TinyVideoNet()


def _to_tensor(crops: np.ndarray):
    import torch

    return torch.from_numpy(np.ascontiguousarray(crops))


def train_and_evaluate(train: dict, test: dict, config: LearnabilityConfig) -> dict:
    import torch
    from scipy.stats import spearmanr

    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    model = _model(config.frames)
    optimiser = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    mean, std = float(train["score"].mean()), float(train["score"].std() or 1.0)
    x_train = _to_tensor(train["clips"])
    y_pos = torch.from_numpy(train["position"])
    y_group = torch.from_numpy(train["group"])
    y_score = torch.from_numpy((train["score"] - mean) / std)
    rng = np.random.default_rng(config.seed)
    started, steps, epochs = time.perf_counter(), 0, 0
    model.train()

    def done() -> bool:
        return time.perf_counter() - started >= config.seconds or (config.steps is not None and steps >= config.steps)

    while not done():
        order = rng.permutation(len(x_train))
        for first in range(0, len(order), config.batch):
            batch = torch.from_numpy(order[first : first + config.batch])
            clips = x_train[batch]
            pos, group, score = model(clips)
            loss = (torch.nn.functional.cross_entropy(pos, y_pos[batch])
                    + torch.nn.functional.cross_entropy(group, y_group[batch])
                    + torch.nn.functional.smooth_l1_loss(score, y_score[batch]))
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            steps += 1
            if done():
                break
        epochs += 1
    train_seconds = time.perf_counter() - started
    model.eval()
    with torch.no_grad():
        outputs = [model(_to_tensor(test["clips"][i : i + 64])) for i in range(0, len(test["clips"]), 64)]
    pos = torch.cat([o[0] for o in outputs]).argmax(1).numpy()
    group = torch.cat([o[1] for o in outputs]).argmax(1).numpy()
    score = torch.cat([o[2] for o in outputs]).numpy() * std + mean
    rho = float(spearmanr(score, test["score"]).statistic)
    return {
        "position_accuracy": float((pos == test["position"]).mean()),
        "position_chance": _majority_share(train["position"], test["position"]),
        "group_accuracy": float((group == test["group"]).mean()),
        "group_chance": _majority_share(train["group"], test["group"]),
        "score_spearman": rho,
        "train_steps": steps,
        "train_epochs": epochs,
        "train_seconds": round(train_seconds, 1),
    }


def _majority_share(train_labels: np.ndarray, test_labels: np.ndarray) -> float:
    """Chance level: the accuracy of always answering the most common training class."""
    majority = np.bincount(train_labels).argmax()
    return float((test_labels == majority).mean())


def run_learnability(config: LearnabilityConfig | None = None) -> dict:
    """Draw, render, train and evaluate; returns the metrics plus timings and the config."""
    config = config or LearnabilityConfig()
    started = time.perf_counter()
    train_samples = draw_samples(config.train, seed=config.seed * 2 + 1, split="train")
    test_samples = draw_samples(config.test, seed=config.seed * 2 + 2, split="test")
    train = render_arrays(train_samples, config.frames, config.size, config.seed, config.workers, config.crop)
    test = render_arrays(test_samples, config.frames, config.size, config.seed + 1000, config.workers, config.crop)
    render_seconds = time.perf_counter() - started
    result = train_and_evaluate(train, test, config)
    result["render_seconds"] = round(render_seconds, 1)
    result["config"] = asdict(config)
    return result


def format_table(result: dict) -> str:
    """A Markdown table of the learnability result."""
    rows = [
        ("body position accuracy (4 classes)", result["position_accuracy"], result["position_chance"]),
        ("take-off group accuracy (6 classes)", result["group_accuracy"], result["group_chance"]),
        ("score Spearman rho", result["score_spearman"], 0.0),
    ]
    lines = ["| label | held-out result | chance |", "|---|---|---|"]
    lines += [f"| {name} | {value:.3f} | {chance:.3f} |" for name, value, chance in rows]
    return "\n".join(lines)
