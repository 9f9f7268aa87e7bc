"""A bounded loopback load test: hundreds of requests, a tenth malformed, 16 at a time."""

from __future__ import annotations

import asyncio
import base64
import random
from collections import Counter

import pytest
from serve_helpers import png_bytes, scene

pytestmark = [pytest.mark.ray, pytest.mark.slow]

REQUESTS = 300
CONCURRENCY = 16


def _requests(image_ids: list[str], rng: random.Random) -> list[tuple[str, dict, int]]:
    """(path, httpx kwargs, expected status) — one in ten malformed, the rest valid."""
    good, bad = [], []
    for _ in range(REQUESTS):
        image_id = rng.choice(image_ids)
        x, y = rng.uniform(0, 127), rng.uniform(0, 95)
        kind = rng.random()
        if kind < 0.6:
            tasks = rng.choice([["quality"], ["quality", "importance"], None])
            body = {"image_id": image_id, "point": [x, y]}
            if tasks:
                body["tasks"] = tasks
            good.append(("/v1/assess", {"json": body}, 200))
        elif kind < 0.85:
            good.append(("/v1/segment", {"data": {"image_id": image_id, "point": f"{x},{y}"}},
                         200))
        else:
            x0, y0 = rng.uniform(0, 60), rng.uniform(0, 40)
            good.append(("/v1/assess", {"json": {"image_id": image_id, "tasks": ["quality"],
                                                 "box": [x0, y0, x0 + 40, y0 + 40]}}, 200))
    malformed = [
        ("/v1/assess", {"json": {"image_id": "f" * 32, "point": [1, 1]}}, 404),
        ("/v1/assess", {"content": b'{"image_id":', "headers": {"Content-Type": "application/json"}}, 400),
        ("/v1/assess", {"json": {"image_id": image_ids[0], "point": [999, 1]}}, 422),
        ("/v1/images", {"files": {"image": ("x.png", b"garbage", "image/png")}}, 400),
        ("/v1/images", {"json": {"image": base64.b64encode(b"\x89PNG" + b"0" * 400_000).decode()}}, 413),
        ("/v1/segment", {"json": {"image_id": image_ids[0], "box": [5, 5, 5, 5]}}, 422),
    ]
    for i in range(REQUESTS // 10):
        bad.append(malformed[i % len(malformed)])
    requests = good[: REQUESTS - len(bad)] + bad
    rng.shuffle(requests)
    return requests


def test_load_no_5xx_and_every_answer_right(service):
    import httpx

    with service.client() as client:
        image_ids = [client.post("/v1/images", files={"image": ("s.png", png_bytes(scene(seed=s)),
                                                                "image/png")}).json()["image_id"]
                     for s in (21, 22, 23)]
    requests = _requests(image_ids, random.Random(0))
    assert len(requests) == REQUESTS and sum(s != 200 for *_, s in requests) == REQUESTS // 10

    async def run():
        limits = httpx.Limits(max_connections=CONCURRENCY)
        async with httpx.AsyncClient(base_url=service.url, timeout=600, limits=limits,
                                     headers={"X-API-Key": service.api_key}) as client:
            gate = asyncio.Semaphore(CONCURRENCY)

            async def one(path, kwargs):
                async with gate:
                    response = await client.post(path, **kwargs)
                    return response.status_code, response.json()

            return await asyncio.gather(*(one(p, k) for p, k, _ in requests))

    answers = asyncio.run(run())
    statuses = Counter(status for status, _ in answers)
    assert not [s for s in statuses if s >= 500], statuses
    wrong = [(path, expected, status, body) for (path, _, expected), (status, body)
             in zip(requests, answers) if status != expected]
    assert not wrong, wrong[:5]
    for (path, kwargs, expected), (status, body) in zip(requests, answers):
        if expected != 200:
            assert set(body) == {"error"} and body["error"]["code"]
        elif path == "/v1/assess":
            assert 0.0 <= body["quality"]["score"] <= 1.0 and body["model"]["name"]
        else:
            assert body["mask"]["size"] == [96, 128]
    with service.client() as client:
        stats = client.get("/v1/stats").json()
        assert client.get("/healthz").status_code == 200
    # Regions from concurrent requests were batched together in the Assessor.
    assert stats["assessor"]["largest_batch"] > 1
