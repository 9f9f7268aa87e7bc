"""Shared fixtures: sample RAWs made once per session, and one local Ray per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Nothing in the tests may reach a model hub; pyiqa/timm/transformers fail fast offline.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(autouse=True)
def _isolated_weights(tmp_path_factory, monkeypatch):
    """No test sees the developer's own weights or config unless it sets them."""
    empty = tmp_path_factory.mktemp("no-weights")
    monkeypatch.setenv("SEAGULL_WEIGHTS_DIR", str(empty / "weights"))
    monkeypatch.setenv("SEAGULL_CONFIG", str(empty / "config.yaml"))
    for var in ("SEAGULL_SAM_WEIGHTS", "SEAGULL_DETECTOR_WEIGHTS", "SEAGULL_TOPIQ_FR_WEIGHTS",
                "SEAGULL_ENCODER_WEIGHTS", "SEAGULL_LLM_WEIGHTS"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="session")
def sample_dir(tmp_path_factory) -> Path:
    """The project's sample DNGs (all of them), made once per test session."""
    from seagull.samples import DEFAULT_SEED, make_samples

    out = tmp_path_factory.mktemp("samples")
    make_samples(out, seed=DEFAULT_SEED)
    return out


@pytest.fixture(scope="session")
def sample_raw(sample_dir) -> Path:
    """The smallest sample RAW (chelsea, 671×446 = 0.3 MP, odd width) for tests that need one."""
    return sample_dir / "chelsea.dng"


@pytest.fixture(scope="session")
def ray_session():
    """One local Ray for the whole test session, with fractional resources.

    Tests that need Ray take this fixture; it starts Ray on first use and shuts it down at the
    end of the session. Two logical CPUs on a 2-core machine: actors and tasks must ask for
    fractions (docs/method.md: a pool that takes every CPU deadlocks Ray Data).
    """
    import ray

    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
                 configure_logging=False, object_store_memory=1_000_000_000)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="session")
def tiny_sam_file(tmp_path_factory):
    """A tiny SAM (encoder width 64, depth 2) with random weights, saved as a checkpoint."""
    import torch
    from segment_anything.build_sam import _build_sam

    torch.manual_seed(0)
    sam = _build_sam(encoder_embed_dim=64, encoder_depth=2, encoder_num_heads=2,
                     encoder_global_attn_indexes=[1])
    path = tmp_path_factory.mktemp("sam") / "sam_tiny.pth"
    torch.save(sam.state_dict(), path)
    return path
