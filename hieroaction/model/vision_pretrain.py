"""Vision pretraining for the offline presets: teach a random vision tower what a body looks like before SFT.

Why: a real Qwen2.5-VL checkpoint arrives with a vision tower pretrained on web-scale imagery that already tells a
tucked body from a straight one. The offline presets start from random weights, and a ViT trained from scratch does
not learn shapes from a few hundred clips in CPU minutes: a linear probe on the random ``small`` tower, trained with
the tower on 600 rendered clips (6400 clip views), stayed at chance on held-out clips for both take-off group and
body position (measured; ``benchmarks/LEARNING.md``).

This stage stands in for that generic pretraining. It shows the tower clips rendered from dives drawn with their
own seed (so never a clip used for training or evaluation later) and teaches, per frame, what the renderer drew:
the body state (standing, handstand, straight, pike, tuck, free, twisting or entering the water) and the body's
orientation (``ORIENTATION``: rotation angle as sine and cosine, the chest stripe's side as it turns in a twist,
which way the diver faces, which way the body spins). Orientation is what the language model must count: the
number of somersaults is the number of turns of the angle, the twists the sign changes of the stripe. A generic
pose-estimation pretraining gives a real tower the same kind of knowledge. It never sees a dive code, a score, a
judge award or a step boundary. A linear head on the tower's merged tokens of each temporal patch learns the two
frames' targets and is thrown away; only the tower keeps what it learnt.
"""

from __future__ import annotations

import logging
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from multiprocessing import current_process, get_context

import numpy as np

log = logging.getLogger(__name__)

BODY_STATES = ("takeoff", "handstand", "straight", "pike", "tuck", "free", "twist", "entry")
FLIGHT_POSITIONS = ("straight", "pike", "tuck", "free")
# Per-frame orientation targets (each in [-1, 1]), regressed next to the body state.
ORIENTATION = ("sin_rotation", "cos_rotation", "stripe_side", "facing", "spin")


@dataclass(frozen=True)
class VisionPretrainConfig:
    """How long and on what. ``frames``/``size`` should match the SFT frame settings (uniform sampler)."""

    steps: int = 1500
    clips_per_step: int = 8
    learning_rate: float = 1e-3  # peak: linear warm-up over the first 5% of the steps, cosine decay to 0 after
    train_dives: int = 1000
    heldout_dives: int = 64
    frames: int = 32
    size: int = 56
    orientation_weight: float = 1.0  # weight of the orientation regression next to the body-state loss (0: off)
    seed: int = 424242  # draw seed: sample ids ``synth/424242/*`` are used by nothing else in the project
    threads: int | None = None
    workers: int | None = None  # rendering processes (None: one per core, at most 16); the clips do not depend on it


@dataclass
class PretrainResult:
    steps: int
    cpu_seconds: float
    first_loss: float  # mean training loss of the first tenth of the steps
    final_loss: float  # ... and of the last tenth
    heldout_accuracy: float  # per frame, body state
    heldout_majority: float  # always answering the most frequent state
    heldout_position_accuracy: float  # frames in a somersault position (straight, pike, tuck, free)
    heldout_position_majority: float
    start_accuracy: float  # the random tower, before training
    heldout_angle_error_deg: float = float("nan")  # in-flight frames: mean error of the rotation angle read back
    wall_seconds: float = float("nan")  # the training steps' wall time (on a GPU, cpu_seconds says little)

    def to_dict(self) -> dict:
        return asdict(self)


def orientation_targets(plan, t: int) -> list[float]:
    """The :data:`ORIENTATION` targets of clip frame ``t``, from the renderer's own state of that frame."""
    from hieroaction.synth.render import FACING, frame_state

    state = frame_state(plan, t)[0]
    spin = 0.0
    if state.phase in ("somersault", "twist"):
        previous = frame_state(plan, max(t - 1, 0))[0].theta
        following = frame_state(plan, min(t + 1, plan.num_frames - 1))[0].theta
        spin = float(np.sign(following - previous))
    return [float(np.sin(state.theta)), float(np.cos(state.theta)), float(state.front),
            float(FACING[plan.dive.rotation]), spin]


def render_clips(dives: int, config: VisionPretrainConfig, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(N, T, H, W, 3)`` uint8 clips (uniformly sampled frames, broadcast camera), ``(N, T)`` body states and
    ``(N, T, len(ORIENTATION))`` orientation targets. Rendered in ``config.workers`` processes: each dive depends on
    its sample and ``seed`` only, so the arrays are the same for any number of workers."""
    from hieroaction.synth.draw import draw_samples

    samples = draw_samples(dives, seed=seed, split="pretrain")
    workers = min(config.workers or min(os.cpu_count() or 1, 16), max(1, len(samples) // 16))
    if current_process().daemon:  # a daemonic process (a multiprocessing.Pool worker) may not start children
        workers = 1
    size = max(1, -(-len(samples) // workers))
    chunks = [samples[i : i + size] for i in range(0, len(samples), size)]  # consecutive: concatenated in draw order
    if len(chunks) > 1:  # spawned: the parent may already hold a CUDA context, which a forked child must not inherit
        with ProcessPoolExecutor(len(chunks), mp_context=get_context("spawn")) as pool:
            parts = list(pool.map(_render_chunk, chunks, [config.frames] * len(chunks), [config.size] * len(chunks),
                                  [seed] * len(chunks)))
    else:
        parts = [_render_chunk(samples, config.frames, config.size, seed)]
    clips, states, orientation = (np.concatenate([part[k] for part in parts]) for k in range(3))
    return clips, states, orientation


def _render_chunk(samples, frames: int, size: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from hieroaction.synth.render import frame_state, plan_dive, render_frame
    from hieroaction.video.sampling import uniform_indices

    clips, states, orientation = [], [], []
    for sample in samples:
        plan = plan_dive(sample, seed)
        indices = uniform_indices(plan.num_frames, frames)
        clips.append(np.stack([render_frame(plan, int(t), size) for t in indices]))
        states.append([BODY_STATES.index(frame_state(plan, int(t))[0].pose_name) for t in indices])
        orientation.append([orientation_targets(plan, int(t)) for t in indices])
    return np.stack(clips), np.asarray(states, dtype=np.int64), np.asarray(orientation, dtype=np.float32)


class _StateHead:
    """Per temporal patch: mean of its merged tokens -> each of its frames' body-state logits and orientation."""

    outputs = len(BODY_STATES) + len(ORIENTATION)

    def __init__(self, hidden: int, temporal_patch: int, merge: int, torch):
        self.temporal_patch, self.merged = temporal_patch, merge * merge
        self.linear = torch.nn.Linear(hidden, temporal_patch * self.outputs)

    def __call__(self, tokens, grid_thw):
        out = []
        for part, t in zip(tokens.split((grid_thw.prod(-1) // self.merged).tolist()), grid_thw[:, 0].tolist(), strict=True):
            pooled = part.view(int(t), -1, part.shape[-1]).mean(1)  # tokens come temporal-patch-major
            out.append(self.linear(pooled).view(int(t) * self.temporal_patch, self.outputs))
        return out  # per clip: (frames, states + orientation)


def pretrain_vision(model, processor, config: VisionPretrainConfig | None = None, progress: bool = False) -> PretrainResult:
    """Train ``model``'s vision tower (in place) on rendered body states; returns what it measured."""
    import torch
    from tqdm.auto import tqdm

    config = config or VisionPretrainConfig()
    if config.steps < 1:
        raise ValueError(f"steps must be at least 1, got {config.steps}")
    if config.frames % 2:
        raise ValueError(f"frames must be even (temporal patches of 2), got {config.frames}")
    if config.threads:
        torch.set_num_threads(config.threads)
    generator = torch.Generator().manual_seed(config.seed)
    train_x, train_y, train_o = render_clips(config.train_dives, config, config.seed)
    held_x, held_y, held_o = render_clips(config.heldout_dives, config, config.seed + 1)
    visual = model.model.visual
    vision = model.config.vision_config
    device = next(visual.parameters()).device  # the tower trains where the model is (CPU, or CUDA for ``medium``)
    head = _StateHead(model.config.text_config.hidden_size, vision.temporal_patch_size, vision.spatial_merge_size, torch)
    head.linear.to(device)
    params = list(visual.parameters()) + list(head.linear.parameters())
    optimizer = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=0.01)
    warmup = max(1, config.steps // 20)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda step: (step + 1) / warmup
        if step < warmup
        else 0.5 * (1 + np.cos(np.pi * (step - warmup) / max(1, config.steps - warmup))),
    )
    video_processor = processor.video_processor

    def logits(clips):
        # on the tower's device: on a GPU the per-step normalisation and patching would otherwise bound the step
        batch = video_processor(videos=list(clips), return_tensors="pt", device=str(device))
        pixels = batch["pixel_values_videos"].to(device, dtype=next(visual.parameters()).dtype)
        grid = batch["video_grid_thw"].to(device)
        out = visual(pixels, grid_thw=grid)
        tokens = out.pooler_output if hasattr(out, "pooler_output") else out
        return torch.cat(head(tokens, grid)).float()

    truth = held_y.reshape(-1)
    in_flight = np.isin(truth, [BODY_STATES.index(p) for p in FLIGHT_POSITIONS])

    held_orientation = held_o.reshape(-1, len(ORIENTATION))
    states = len(BODY_STATES)

    def heldout_outputs() -> tuple[np.ndarray, np.ndarray]:
        """Per held-out frame: whether the body state is right, and the rotation-angle error in degrees."""
        visual.eval()
        with torch.no_grad():
            out = torch.cat([logits(held_x[i : i + 16]) for i in range(0, len(held_x), 16)]).cpu().numpy()
        visual.train()
        angle = np.arctan2(out[:, states], out[:, states + 1])
        true_angle = np.arctan2(held_orientation[:, 0], held_orientation[:, 1])
        error = np.degrees(np.abs(np.angle(np.exp(1j * (angle - true_angle)))))
        return out[:, :states].argmax(-1) == truth, error

    def heldout_hits() -> np.ndarray:
        return heldout_outputs()[0]

    start_accuracy = float(heldout_hits().mean())
    cpu, wall = time.process_time(), time.perf_counter()
    visual.train()
    losses = []
    for _ in tqdm(range(config.steps), desc="vision pretraining", disable=not progress):
        pick = torch.randint(len(train_x), (config.clips_per_step,), generator=generator).numpy()
        out = logits(train_x[pick])
        loss = torch.nn.functional.cross_entropy(out[:, :states], torch.from_numpy(train_y[pick].reshape(-1)).to(device))
        if config.orientation_weight:
            target = torch.from_numpy(train_o[pick].reshape(-1, len(ORIENTATION))).to(device)
            loss = loss + config.orientation_weight * torch.nn.functional.mse_loss(out[:, states:], target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
    cpu_seconds, wall_seconds = time.process_time() - cpu, time.perf_counter() - wall
    counts = np.bincount(truth, minlength=len(BODY_STATES))
    flight_counts = np.bincount(truth[in_flight], minlength=len(BODY_STATES))
    hits, angle_error = heldout_outputs()
    result = PretrainResult(
        steps=config.steps,
        cpu_seconds=round(cpu_seconds, 1),
        first_loss=round(float(np.mean(losses[: max(1, len(losses) // 10)])), 4),
        final_loss=round(float(np.mean(losses[-max(1, len(losses) // 10) :])), 4),
        heldout_accuracy=round(float(hits.mean()), 4),
        heldout_majority=round(float(counts.max() / counts.sum()), 4),
        heldout_position_accuracy=round(float(hits[in_flight].mean()), 4),
        heldout_position_majority=round(float(flight_counts.max() / max(flight_counts.sum(), 1)), 4),
        start_accuracy=round(start_accuracy, 4),
        heldout_angle_error_deg=round(float(angle_error[in_flight].mean()), 1),
        wall_seconds=round(wall_seconds, 1),
    )
    model.zero_grad(set_to_none=True)
    log.info("vision pretraining: %s", result)
    return result
