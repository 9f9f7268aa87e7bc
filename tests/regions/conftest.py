from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="session")
def photo() -> np.ndarray:
    """A small real photo (astronaut, 192×256 RGB uint8)."""
    from skimage import data, transform

    return (transform.resize(data.astronaut(), (192, 256), anti_aliasing=True) * 255
            ).astype(np.uint8)


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
