"""One running Seagull service per test module (a local Ray, Serve on a free loopback port)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from serve_helpers import API_KEY, free_port


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
