"""Helpers shared by the serve tests: a synthetic scene, PNG bytes, free ports."""

from __future__ import annotations

import io
import socket

import numpy as np

API_KEY = "test-key-7f3a"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def scene(width: int = 128, height: int = 96, seed: int = 0) -> np.ndarray:
    """A small test image: a red rectangle and a yellow disc on a blue-grey background, mild
    noise (so segments have texture). The rectangle spans x 16..63, y 20..71."""
    rng = np.random.default_rng(seed)
    image = np.empty((height, width, 3), dtype=np.float32)
    image[:] = (70, 90, 130)
    image[20:72, 16:64] = (200, 40, 30)
    yy, xx = np.mgrid[:height, :width]
    image[(xx - 96) ** 2 + (yy - 48) ** 2 < 18 ** 2] = (230, 210, 40)
    image += rng.normal(0, 4, image.shape)
    return image.clip(0, 255).astype(np.uint8)


RECT = (16, 20, 64, 72)  # x0, y0, x1, y1 of the rectangle in scene()


def png_bytes(image: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()
