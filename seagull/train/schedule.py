"""The learning-rate schedule: linear warm-up, then cosine decay to zero (docs/method.md)."""

from __future__ import annotations

import math


def cosine_with_warmup(step: int, total_steps: int, warmup_steps: int) -> float:
    """The multiplier of the peak learning rate for optimizer step ``step`` (0-based).

    Rises linearly from 1/(warmup+1) to 1 over ``warmup_steps`` steps, then follows half a
    cosine from 1 down to 0 at ``total_steps``; stays at 0 beyond it.
    """
    if step < warmup_steps:
        return (step + 1) / (warmup_steps + 1)
    decay_steps = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / decay_steps)
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def lr_lambda(total_steps: int, warmup_steps: int):
    """The schedule as a ``torch.optim.lr_scheduler.LambdaLR`` function of the step."""
    return lambda step: cosine_with_warmup(step, total_steps, warmup_steps)
