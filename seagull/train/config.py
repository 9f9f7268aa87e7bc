"""Training settings: a preset's defaults (``SeagullConfig.training``) plus what the user overrides.

The paper (docs/method.md, "Training"): AdamW, cosine schedule with warm-up, a global batch of 32
reached through gradient accumulation, lr 4e-5 for stage 1 and 1e-5 for stage 2, 1 and 5
epochs, sequences up to 2,048 tokens. The ``tiny`` preset carries its own numbers. The global
batch is split as ``micro_batch × workers × grad_accum``; all three are fixed before training
starts, because every DeepSpeed rank must take the same number of steps.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from seagull.errors import ConfigError

STAGES = (1, 2)
ZERO_STAGES = (2, 3)


@dataclass(frozen=True)
class TrainConfig:
    """Everything one training run needs besides the model and the data.

    ``lr`` is the peak learning rate (reached after ``warmup_steps``), ``global_batch`` counts
    samples per optimizer step over all workers, ``micro_batch`` samples per worker per forward
    pass. ``checkpoint_every`` counts optimizer steps; validation runs at every checkpoint.
    """

    stage: int
    preset: str
    lr: float
    epochs: int
    global_batch: int
    micro_batch: int
    workers: int
    warmup_ratio: float
    weight_decay: float
    max_seq_len: int
    jir_fraction: float
    task_weights: tuple[float, float, float] = (1.0, 1.0, 1.0)  # quality, importance, distortion
    adam_beta2: float = 0.999
    zero_stage: int = 2
    max_steps: int | None = None
    checkpoint_every: int = 50
    val_split: str | None = None
    val_max_regions: int = 64
    seed: int = 0
    bf16: bool = False
    log_every: int = 1

    def __post_init__(self):
        if self.stage not in STAGES:
            raise ConfigError(f"stage must be 1 or 2, got {self.stage}")
        if self.zero_stage not in ZERO_STAGES:
            raise ConfigError(f"ZeRO stage must be one of {ZERO_STAGES}, got {self.zero_stage}")
        for name in ("lr", "global_batch", "micro_batch", "workers", "max_seq_len"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be positive, got {getattr(self, name)}")
        if self.epochs <= 0 and not self.max_steps:
            raise ConfigError("epochs must be positive (or give max_steps)")
        if self.max_steps is not None and self.max_steps <= 0:
            raise ConfigError(f"max_steps must be positive, got {self.max_steps}")
        if self.global_batch % (self.micro_batch * self.workers):
            raise ConfigError(
                f"global batch {self.global_batch} is not a multiple of micro batch "
                f"{self.micro_batch} × {self.workers} workers; change --batch-size or "
                "--micro-batch")
        if not 0 <= self.jir_fraction <= 1:
            raise ConfigError(f"jir_fraction must be in [0, 1], got {self.jir_fraction}")
        if len(self.task_weights) != 3 or min(self.task_weights) < 0 or \
                sum(self.task_weights) <= 0:
            raise ConfigError(f"task_weights must be three non-negative numbers (quality, "
                              f"importance, distortion), got {self.task_weights}")
        if not 0 < self.adam_beta2 < 1:
            raise ConfigError(f"adam_beta2 must be in (0, 1), got {self.adam_beta2}")
        if not 0 <= self.warmup_ratio < 1:
            raise ConfigError(f"warmup_ratio must be in [0, 1), got {self.warmup_ratio}")

    @property
    def grad_accum(self) -> int:
        """Micro-batches each worker accumulates per optimizer step."""
        return self.global_batch // (self.micro_batch * self.workers)

    def steps_per_epoch(self, num_examples: int) -> int:
        """Optimizer steps in one pass over ``num_examples`` (the ragged tail is dropped).

        Ray Data gives each of the W workers ``num_examples // W`` rows (``equal=True``), so
        this is the same number on every rank.
        """
        per_worker = num_examples // self.workers
        steps = per_worker // (self.micro_batch * self.grad_accum)
        if steps == 0:
            raise ConfigError(
                f"{num_examples} training examples are fewer than one global batch of "
                f"{self.global_batch}; lower --batch-size")
        return steps

    def total_steps(self, num_examples: int) -> int:
        """``max_steps`` if given (the data cycles as needed), else epochs × steps per epoch."""
        if self.max_steps:
            return self.max_steps
        return self.epochs * self.steps_per_epoch(num_examples)

    def warmup_steps(self, total_steps: int) -> int:
        return math.ceil(self.warmup_ratio * total_steps)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def train_config(stage: int, model_config, workers: int, *, lr: float | None = None,
                 epochs: int | None = None, global_batch: int | None = None,
                 micro_batch: int | None = None, bf16: bool = False, **overrides) -> TrainConfig:
    """A ``TrainConfig`` from a model config's training defaults; ``None`` means 'the default'.

    ``model_config`` is a ``seagull.model.SeagullConfig`` (its ``training`` field holds the
    preset's defaults). The default micro batch is the largest of 1, 2, 4 that divides the
    per-worker share of the global batch, so no rank ever idles.
    """
    if stage not in STAGES:
        raise ConfigError(f"stage must be 1 or 2, got {stage}")
    defaults = model_config.training
    overrides = {k: v for k, v in overrides.items() if v is not None}
    global_batch = global_batch or defaults.batch_size
    if micro_batch is None:
        share = max(1, global_batch // workers)
        micro_batch = max(m for m in (1, 2, 4) if share % m == 0)
    return TrainConfig(
        stage=stage, preset=model_config.preset,
        lr=lr if lr is not None else (defaults.stage1_lr if stage == 1 else defaults.stage2_lr),
        epochs=epochs if epochs is not None else (
            defaults.stage1_epochs if stage == 1 else defaults.stage2_epochs),
        global_batch=global_batch, micro_batch=micro_batch, workers=workers,
        warmup_ratio=overrides.pop("warmup_ratio", defaults.warmup_ratio),
        weight_decay=overrides.pop("weight_decay", defaults.weight_decay),
        max_seq_len=overrides.pop("max_seq_len", defaults.max_seq_len),
        jir_fraction=overrides.pop("jir_fraction", defaults.jir_fraction),
        task_weights=tuple(overrides.pop("task_weights", defaults.task_weights)),
        adam_beta2=overrides.pop("adam_beta2", defaults.adam_beta2),
        bf16=bf16, **overrides)
