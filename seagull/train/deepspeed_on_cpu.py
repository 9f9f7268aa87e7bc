"""Running DeepSpeed on CPU-only machines: the one place where DeepSpeed is bent.

Why: DeepSpeed 0.19 targets GPUs. On a CPU-only host (CI, laptops, the 2-core development
machines) it works over gloo with ``DS_ACCELERATOR=cpu``, but (docs/method.md, "DeepSpeed on
CPU"):

- ``deepspeed.comm`` compiles a shared-memory all-reduce op with g++ on first use (~35 s per
  fresh cache). It serves only inference all-reduce, which training never calls, so the build is
  replaced with a function that reports the op as absent (DeepSpeed then uses plain gloo).
- DeepSpeed's FusedAdam / CPUAdam compile too (60–75 s): training builds ``torch.optim.AdamW``
  itself and hands it to ``deepspeed.initialize`` (see ``seagull.train.engine``).
- Outside a launcher (a pytest process, a Ray worker before ``init_distributed``) DeepSpeed wants
  the launcher variables ``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` and
  ``MASTER_PORT``; ``launcher_env`` fills the ones an existing process group does not give.

When it can go: once DeepSpeed ships a CPU accelerator that skips the shared-memory build when
no inference all-reduce is requested (or loads a prebuilt op), drop ``skip_shm_build``; the
optimizer and launcher parts are ordinary configuration, not bends. None of this runs when a GPU
is present.
"""

from __future__ import annotations

import logging
import os

log = logging.getLogger(__name__)

_PATCHED = False


def on_cpu() -> bool:
    """True when this process has no CUDA device (DeepSpeed must use its CPU accelerator)."""
    import torch

    return not torch.cuda.is_available()


def prepare() -> None:
    """Make DeepSpeed usable in this process on a CPU-only host; a no-op where CUDA exists.

    Must run before ``import deepspeed`` picks its accelerator (it reads ``DS_ACCELERATOR``
    once). Idempotent.
    """
    if not on_cpu():
        return
    os.environ.setdefault("DS_ACCELERATOR", "cpu")
    launcher_env()
    skip_shm_build()


def launcher_env() -> None:
    """Fill DeepSpeed's launcher variables from the torch process group, or for one process."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        rank, world = dist.get_rank(), dist.get_world_size()
    else:
        rank, world = 0, 1
    os.environ.setdefault("RANK", str(rank))
    os.environ.setdefault("WORLD_SIZE", str(world))
    os.environ.setdefault("LOCAL_RANK", os.environ.get("RANK", str(rank)))
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", os.environ.get("SEAGULL_MASTER_PORT", "29513"))


def skip_shm_build() -> None:
    """Replace DeepSpeed's shared-memory op build with 'not available' (see the module doc)."""
    global _PATCHED
    if _PATCHED:
        return
    import importlib

    # Not ``import deepspeed.comm.torch as m``: deepspeed.comm's ``torch`` attribute is the real
    # torch package, which that statement would bind instead of the submodule.
    ds_torch = importlib.import_module("deepspeed.comm.torch")
    if hasattr(ds_torch, "build_shm_op"):
        ds_torch.build_shm_op = lambda: None
        log.debug("deepspeed: shared-memory all-reduce op disabled on CPU (not used in training)")
    _PATCHED = True
