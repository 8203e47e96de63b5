"""Which frame settings make the action parts readable from the vision tower? Pretrain briefly, then probe.

For one frame setting (frames per clip, pixel size): builds the ``small`` architecture with random weights, runs
the vision pretraining (``hieroaction.model.vision_pretrain``) for ``--steps`` steps on dives of its own seed, then
fits a linear probe per action part (group, rotation, somersaults, twists, position, and the whole code) on the frozen
tower's pooled tokens of 600 training dives and scores it on 256 held-out dives (different draw seeds), against the
majority rate of each part. A cheap stand-in for "can the language model read this from the tower at all?".

It also probes execution, what the judges' awards read: a ridge regression of each dive's mean award on the same
features, scored by Spearman rho and mean absolute error against always answering the training mean. The awards
decide the score (DD x awards), so a tower that does not carry them bounds SRCC whatever the language model learns.

    .venv/bin/python benchmarks/tower_probe.py --frames 32 --size 56 --steps 1500
    .venv/bin/python benchmarks/tower_probe.py --checkpoint runs/model_small   # the tower of a built preset, frozen
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))
from machine_info import cpu_capability, cpu_name  # noqa: E402


def tower_features(model, processor, clips: np.ndarray) -> np.ndarray:
    """Per clip: the mean merged token of each temporal patch, concatenated over time."""
    import torch

    visual = model.model.visual
    visual.eval()
    features = []
    with torch.no_grad():
        for i in range(0, len(clips), 16):
            batch = processor.video_processor(videos=list(clips[i : i + 16]), return_tensors="pt")
            out = visual(batch["pixel_values_videos"], grid_thw=batch["video_grid_thw"])
            tokens = out.pooler_output if hasattr(out, "pooler_output") else out
            grid = batch["video_grid_thw"]
            for part, t in zip(tokens.split((grid.prod(-1) // 4).tolist()), grid[:, 0].tolist(), strict=True):
                features.append(part.view(int(t), -1, part.shape[-1]).mean(1).reshape(-1).numpy())
    return np.stack(features)


def linear_probe(train_x, train_y, test_x, test_y, epochs: int = 300) -> tuple[float, float]:
    """Held-out accuracy of a softmax regression, and of always answering the training majority."""
    import torch

    torch.manual_seed(0)  # the probe's initial weights: the same features give the same accuracy
    classes = sorted(set(train_y), key=str)
    index = {c: i for i, c in enumerate(classes)}
    target = torch.tensor([index[c] for c in train_y])
    linear = torch.nn.Linear(train_x.shape[1], len(classes))
    optimizer = torch.optim.Adam(linear.parameters(), lr=3e-3, weight_decay=1e-3)
    for _ in range(epochs):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(linear(train_x), target).backward()
        optimizer.step()
    predicted = [classes[i] for i in linear(test_x).argmax(-1).tolist()]
    majority = max(set(train_y), key=list(train_y).count)
    return (float(np.mean([p == y for p, y in zip(predicted, test_y, strict=True)])),
            float(np.mean([y == majority for y in test_y])))


def ridge_probe(train_x, train_y, test_x, test_y, alpha: float = 10.0) -> dict:
    """Held-out fit of a ridge regression: Spearman rho, mean absolute error, and the error of the training mean.

    Why ridge in closed form: a few hundred dives and a few thousand features; the penalty keeps the fit from
    memorising the training dives, and closed form has no learning rate to tune."""
    from scipy.stats import spearmanr

    x, y = np.asarray(train_x, dtype=np.float64), np.asarray(train_y, dtype=np.float64)
    gram = x @ x.T + alpha * np.eye(len(x))  # dual form: dives < features
    weights = x.T @ np.linalg.solve(gram, y - y.mean())
    predicted = np.asarray(test_x, dtype=np.float64) @ weights + y.mean()
    truth = np.asarray(test_y, dtype=np.float64)
    rho = spearmanr(predicted, truth).statistic
    return {"spearman": round(float(rho), 3) if np.isfinite(rho) else None,
            "mae": round(float(np.mean(np.abs(predicted - truth))), 3),
            "mae_of_training_mean": round(float(np.mean(np.abs(y.mean() - truth))), 3)}


def main(argv=None) -> int:
    import torch
    from transformers import Qwen2_5_VLForConditionalGeneration

    from hieroaction.datasets.dive_codes import parse_code
    from hieroaction.metrics.actions import PARTS, dive_parts
    from hieroaction.model import presets
    from hieroaction.model.vision_pretrain import VisionPretrainConfig, pretrain_vision
    from hieroaction.synth.draw import draw_samples
    from hieroaction.synth.render import plan_dive, render_frame
    from hieroaction.video.sampling import uniform_indices

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--size", type=int, default=56)
    parser.add_argument("--steps", type=int, default=1500, help="vision pretraining steps (0: the random tower)")
    parser.add_argument("--pretrain-dives", type=int, default=1000)
    parser.add_argument("--orientation-weight", type=float, default=1.0, help="0: body-state targets only")
    parser.add_argument("--checkpoint", help="probe this checkpoint's tower as it is, e.g. a built preset's folder or "
                        "preset:small (no pretraining here)")
    parser.add_argument("--train-dives", type=int, default=600)
    parser.add_argument("--test-dives", type=int, default=256)
    parser.add_argument("--json", default="-", help="write the result here (default: print only)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    pretrain_steps = 0 if args.checkpoint else args.steps  # a checkpoint's tower is probed as it is
    if args.checkpoint:
        from hieroaction.evaluate.checkpoint import CheckpointError, open_checkpoint

        try:
            model, processor = open_checkpoint(args.checkpoint, require_marker=False, dtype="float32", device="cpu")
        except CheckpointError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    else:
        spec = replace(presets.PRESETS["small"], min_pixels=28 * 28, max_pixels=args.size * args.size)
        tokenizer = presets.train_tokenizer(presets.dive_vocabulary_texts(), spec.vocab_size)
        processor = presets.build_processor(tokenizer, spec)
        torch.manual_seed(0)
        model = Qwen2_5_VLForConditionalGeneration(presets.build_config(spec, tokenizer))
    cpu = time.process_time()
    pretraining = None
    if pretrain_steps:
        settings = VisionPretrainConfig(steps=args.steps, train_dives=args.pretrain_dives, frames=args.frames,
                                        size=args.size, orientation_weight=args.orientation_weight)
        pretraining = pretrain_vision(model, processor, settings).to_dict()
    pretrain_cpu = time.process_time() - cpu

    def clips(samples):
        out = []
        for sample in samples:
            plan = plan_dive(sample, 0)
            indices = uniform_indices(plan.num_frames, args.frames)
            out.append(np.stack([render_frame(plan, int(t), args.size) for t in indices]))
        return np.stack(out)

    train = draw_samples(args.train_dives, seed=0, split="train")
    test = draw_samples(args.test_dives, seed=1000, split="test")
    train_x, test_x = tower_features(model, processor, clips(train)), tower_features(model, processor, clips(test))
    mean, std = train_x.mean(0), train_x.std(0) + 1e-5
    train_x = torch.tensor((train_x - mean) / std, dtype=torch.float32)
    test_x = torch.tensor((test_x - mean) / std, dtype=torch.float32)
    result = {"checkpoint": args.checkpoint, "frames": args.frames, "size": args.size,
              "steps": pretrain_steps, "orientation_weight": None if args.checkpoint else args.orientation_weight,
              "pretrain_cpu_s": round(pretrain_cpu, 1),
              "pretraining": pretraining, "machine": {"cpu": cpu_name(), "cpu_capability": cpu_capability()},
              "probes": {}}
    for part in (*PARTS, "code"):
        def label(sample, part=part):
            dive = parse_code(sample.action_code)
            return dive.code if part == "code" else dive_parts(dive)[part]

        accuracy, majority = linear_probe(train_x, [label(s) for s in train], test_x, [label(s) for s in test])
        result["probes"][part] = {"accuracy": round(accuracy, 3), "majority": round(majority, 3)}
    result["execution"] = ridge_probe(train_x.numpy(), [float(np.mean(s.judge_scores)) for s in train],
                                      test_x.numpy(), [float(np.mean(s.judge_scores)) for s in test])
    text = json.dumps(result, indent=2)
    print(text)
    if args.json != "-":
        Path(args.json).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
