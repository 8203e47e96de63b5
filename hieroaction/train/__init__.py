"""Training: SFT and HPL (GRPO) entry points, runnable by ``accelerate launch`` / ``torchrun``."""
