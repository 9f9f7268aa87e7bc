from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="session")
def photo() -> np.ndarray:
    """A small real photo (astronaut, 160×192 RGB uint8)."""
    from skimage import data, transform

    return (transform.resize(data.astronaut(), (160, 192), anti_aliasing=True) * 255
            ).astype(np.uint8)


def _blur(image: np.ndarray, radius: float) -> np.ndarray:
    from PIL import Image, ImageFilter

    return np.array(Image.fromarray(image).filter(ImageFilter.GaussianBlur(radius)))


def _box_mask(shape, x0, y0, x1, y1) -> np.ndarray:
    m = np.zeros(shape, bool)
    m[y0:y1, x0:x1] = True
    return m


@pytest.fixture(scope="session")
def blur():
    """blur(image, radius): Gaussian blur with PIL."""
    return _blur


@pytest.fixture(scope="session")
def box_mask():
    """box_mask(shape, x0, y0, x1, y1): an H×W bool rectangle."""
    return _box_mask


@pytest.fixture(scope="session")
def topiq_file(tmp_path_factory):
    """TOPIQ-FR with random weights saved the way pyiqa ships its checkpoints."""
    import torch

    from seagull.labels.topiq import build_cfanet

    torch.manual_seed(0)
    net = build_cfanet()
    path = tmp_path_factory.mktemp("topiq") / "topiq_fr_random.pth"
    torch.save({"params": net.state_dict()}, path)
    return path
