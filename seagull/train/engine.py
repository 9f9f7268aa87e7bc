"""DeepSpeed around a Seagull model: build, step, checkpoint, restore, export.

Knows nothing about Ray: the recipe's worker (``pipelines/train_worker.py``) calls these
functions inside each Ray Train worker, where the torch process group already exists.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager, nullcontext
from pathlib import Path

from seagull.train.config import TrainConfig
from seagull.train.deepspeed_config import deepspeed_config
from seagull.train.schedule import lr_lambda

log = logging.getLogger(__name__)

STATE_TAG = "state"  # the DeepSpeed tag inside a checkpoint folder


def trainable_parameters(model) -> list:
    """The parameters that train: LoRA, MFE, projector (and the tiny preset's LM head)."""
    return [p for p in model.parameters() if p.requires_grad]


def build_engine(model, cfg: TrainConfig, total_steps: int):
    """``deepspeed.initialize`` with torch AdamW and the cosine-with-warm-up schedule.

    Returns the DeepSpeed engine (``engine.module`` is ``model``). Call after the torch process
    group exists (Ray Train sets it up) or in a single process.
    """
    from seagull.train import deepspeed_on_cpu

    deepspeed_on_cpu.prepare()
    import deepspeed
    import torch

    params = trainable_parameters(model)
    if not params:
        raise ValueError("the model has no trainable parameters")
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay,
                                  betas=(0.9, cfg.adam_beta2), eps=1e-8)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lr_lambda(total_steps, cfg.warmup_steps(total_steps)))
    engine, _, _, _ = deepspeed.initialize(model=model, optimizer=optimizer,
                                           lr_scheduler=scheduler, config=deepspeed_config(cfg))
    return engine


def forward_loss(engine, batch: dict):
    """The mean token loss of one micro-batch (the model computes it from ``labels``)."""
    out = engine(**batch)
    return out["loss"] if isinstance(out, dict) else out.loss


def to_device(batch: dict, engine) -> dict:
    """Move a batch to the engine's device; float tensors to bf16 when the engine runs bf16."""
    import torch

    device = engine.device
    half = engine.bfloat16_enabled()
    out = {}
    for key, value in batch.items():
        if isinstance(value, torch.Tensor):
            value = value.to(device, non_blocking=True)
            if half and value.is_floating_point():
                value = value.to(torch.bfloat16)
        out[key] = value
    return out


def current_lr(engine) -> float:
    return float(engine.optimizer.param_groups[0]["lr"])


def save_state(engine, folder: str | Path, client_state: dict) -> None:
    """DeepSpeed state (trainable weights, optimizer, schedule) + ``client_state`` into
    ``folder``; every rank must call it (each writes its own partition)."""
    engine.save_checkpoint(str(folder), tag=STATE_TAG, client_state=client_state,
                           exclude_frozen_parameters=True)


def load_state(engine, folder: str | Path) -> dict:
    """Restore what ``save_state`` wrote; returns its ``client_state``. Every rank calls it."""
    path, client_state = engine.load_checkpoint(str(folder), tag=STATE_TAG,
                                                load_module_strict=False)
    if path is None:
        raise FileNotFoundError(f"{folder}: no DeepSpeed state {STATE_TAG!r} in this checkpoint")
    return client_state or {}


@contextmanager
def full_parameters(engine):
    """Every parameter whole on every rank while inside (ZeRO-3 partitions them; ZeRO-2 does
    not, and this is a no-op). Collective: all ranks must enter together."""
    if engine.zero_optimization_stage() == 3:
        import deepspeed

        with deepspeed.zero.GatheredParameters(list(engine.module.parameters()),
                                               modifier_rank=None):
            yield
    else:
        with nullcontext():
            yield


def export_model(engine, folder: str | Path, rank: int) -> None:
    """``save_pretrained`` of the trained model into ``folder`` (rank 0 writes; all ranks must
    call it, for ZeRO-3's gather)."""
    with full_parameters(engine):
        if rank == 0:
            engine.module.save_pretrained(str(folder))


class Steps:
    """A DeepSpeed engine as ``seagull.train.loop.Engine``: the loss of a micro-batch, the
    backward pass, the (accumulating) step and the current learning rate."""

    def __init__(self, engine):
        self.engine = engine

    def forward_loss(self, inputs: dict):
        return forward_loss(self.engine, to_device(inputs, self.engine))

    def backward(self, loss) -> None:
        self.engine.backward(loss)

    def step(self) -> None:
        self.engine.step()

    def lr(self) -> float:
        return current_lr(self.engine)
