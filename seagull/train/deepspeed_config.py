"""The DeepSpeed configuration of a run, derived from its ``TrainConfig`` (nothing else)."""

from __future__ import annotations

from seagull.train.config import TrainConfig


def deepspeed_config(cfg: TrainConfig) -> dict:
    """A DeepSpeed config dict: ZeRO stage, batch split, precision, gradient clipping.

    The optimizer and schedule are not in it: training builds ``torch.optim.AdamW`` and a
    ``LambdaLR`` itself and hands both to ``deepspeed.initialize`` (one code path for CPU and
    GPU; DeepSpeed's fused optimizers need a compiler on CPU, see ``deepspeed_on_cpu``).
    ``stage3_param_persistence_threshold: 0`` makes ZeRO-3 partition even the small tensors of
    the tiny preset, so stage 3 is really exercised in tests. ``contiguous_gradients`` only on
    GPUs (bf16 runs): there it keeps a large model's gradients from fragmenting device memory;
    on CPUs it is a copy of every gradient at every micro-batch, ~6 % of a tiny-preset step
    (bench/train.py).
    """
    zero: dict = {"stage": cfg.zero_stage, "overlap_comm": False,
                  "contiguous_gradients": bool(cfg.bf16)}
    if cfg.zero_stage == 3:
        zero.update({"stage3_param_persistence_threshold": 0,
                     "stage3_gather_16bit_weights_on_model_save": False})
    return {
        "train_batch_size": cfg.global_batch,
        "train_micro_batch_size_per_gpu": cfg.micro_batch,
        "gradient_accumulation_steps": cfg.grad_accum,
        "gradient_clipping": 1.0,
        "zero_optimization": zero,
        "bf16": {"enabled": bool(cfg.bf16)},
        "fp16": {"enabled": False},
        "zero_allow_untested_optimizer": True,
        "steps_per_print": 10**9,  # progress is ours (metrics.csv, console)
        "wall_clock_breakdown": False,
    }
