from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="session")
def photo() -> np.ndarray:
    """A small real photo (astronaut, 192×256 RGB uint8)."""
    from skimage import data, transform

    return (transform.resize(data.astronaut(), (192, 256), anti_aliasing=True) * 255
            ).astype(np.uint8)
