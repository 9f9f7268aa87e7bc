"""One running Seagull service per test session (a local Ray, Serve on a free loopback port)."""

from __future__ import annotations

import io
import socket
from dataclasses import dataclass

import numpy as np
import pytest

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


@dataclass
class Service:
    url: str
    api_key: str
    max_upload_bytes: int
    max_pixels: int

    def client(self, **kwargs):
        import httpx

        kwargs.setdefault("timeout", 300)
        return httpx.Client(base_url=self.url, headers={"X-API-Key": self.api_key}, **kwargs)


@pytest.fixture(scope="module")
def service(ray_session):
    """The application from serve/config.yaml with local overrides, an API key and small
    limits, on 127.0.0.1; shut down at the end of each module that uses it — its replicas hold
    CPUs of the shared Ray, and later tests (training's data feed) need them back."""
    from ray import serve

    from serve.local import app_args, local_options, read_config, run_local

    config = read_config()
    limits = {"max_upload_bytes": 256 * 1024, "max_pixels": 600 * 600}
    args = app_args(config, api_key=API_KEY, torch_threads=1, max_prompts=8,
                    request_timeout_s=240, **limits)
    port = free_port()
    run_local(args, local_options(config), port=port, name="seagull-test")
    try:
        yield Service(f"http://127.0.0.1:{port}", API_KEY, **limits)
    finally:
        serve.shutdown()
