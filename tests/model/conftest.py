"""Fixtures for the model tests: one tiny model per session, small images and masks."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="session", autouse=True)
def _few_threads():
    import torch

    torch.set_num_threads(1)  # two shared cores: one thread is faster than contention


@pytest.fixture(scope="session")
def tiny_tokenizer():
    from seagull.model.llm import train_tiny_tokenizer

    return train_tiny_tokenizer()


@pytest.fixture(scope="session")
def tiny_model(tiny_tokenizer):
    import torch

    from seagull.model import SeagullModel

    torch.manual_seed(0)
    return SeagullModel.from_preset("tiny", tokenizer=tiny_tokenizer).eval()


@pytest.fixture(scope="session")
def image() -> np.ndarray:
    """A 72×96 RGB image: smooth gradients on the left, noise on the right."""
    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:72, 0:96]
    base = np.stack([x * 2.5, y * 3.0, (x + y) * 1.4], -1)
    base[:, 48:] += rng.normal(0, 50, base[:, 48:].shape)
    return np.clip(base, 0, 255).astype(np.uint8)


def box_mask(shape, x0, y0, x1, y1) -> np.ndarray:
    mask = np.zeros(shape, bool)
    mask[y0:y1, x0:x1] = True
    return mask


@pytest.fixture(scope="session")
def masks(image) -> list[np.ndarray]:
    """Seven different regions of ``image``, from large to a few pixels."""
    h, w = image.shape[:2]
    out = [box_mask((h, w), *b) for b in ((0, 0, 40, 30), (50, 30, 96, 72), (10, 10, 90, 60),
                                          (0, 0, 96, 72), (60, 5, 70, 15), (30, 40, 33, 42))]
    yy, xx = np.mgrid[0:h, 0:w]
    out.append((yy - 36) ** 2 + (xx - 48) ** 2 < 15 ** 2)  # a disc
    return out
