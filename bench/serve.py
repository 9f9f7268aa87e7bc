"""Benchmark of the Serve application on a local Ray: caches, latency under load, replicas.

    python -m bench.serve [--requests 64] [--image-side 512] [--out bench/results/serve.json]

Measures, over loopback HTTP:
1. first vs. second click on the same image (the second is served from both per-image caches;
   target: second ≤ 15 % of first), with all three tasks and with quality only;
2. p50/p99 latency and throughput of cached clicks at concurrency 1, 4 and 16;
3. throughput at concurrency 16 with 1 and with 2 Assessor replicas.

Absolute times depend on the machine (and on whoever else uses it); the ratios, measured in
one run, are what to compare. Prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import statistics
import sys
import time
from pathlib import Path


def _image(side: int, seed: int):
    """A photo (scikit-image's astronaut) resized to side×side and shifted per seed, so each
    seed is a new image to the caches."""
    import numpy as np
    from PIL import Image
    from skimage import data

    photo = Image.fromarray(data.astronaut()).resize((side, side), Image.BILINEAR)
    array = np.roll(np.asarray(photo), seed * 7, axis=1)
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def _percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


async def _timed_clicks(url, image_id, n, concurrency, tasks, seed):
    import random

    import httpx

    rng = random.Random(seed)
    gate = asyncio.Semaphore(concurrency)
    latencies = []
    async with httpx.AsyncClient(base_url=url, timeout=600,
                                 limits=httpx.Limits(max_connections=concurrency)) as client:
        async def one():
            body = {"image_id": image_id, "point": [rng.uniform(0, 1) * 0.98 * SIDE[0],
                                                    rng.uniform(0, 1) * 0.98 * SIDE[0]],
                    "tasks": tasks}
            async with gate:
                started = time.perf_counter()
                response = await client.post("/v1/assess", json=body)
                latencies.append(time.perf_counter() - started)
                if response.status_code != 200:
                    raise RuntimeError(f"{response.status_code}: {response.text[:200]}")

        started = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(n)))
        wall = time.perf_counter() - started
    return {"concurrency": concurrency, "requests": n, "p50_s": _percentile(latencies, 50),
            "p99_s": _percentile(latencies, 99), "throughput_rps": n / wall}


SIDE = [512]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.serve", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=64, help="requests per load level")
    parser.add_argument("--image-side", type=int, default=512, help="test image side, pixels")
    parser.add_argument("--trials", type=int, default=3, help="first/second click pairs")
    parser.add_argument("--port", type=int, default=8471)
    parser.add_argument("--out", default="bench/results/serve.json")
    args = parser.parse_args(argv)
    SIDE[0] = args.image_side

    import httpx
    import ray
    from ray import serve

    from serve.local import app_args, local_options, read_config, run_local

    ray.init(num_cpus=2, include_dashboard=False, configure_logging=False, log_to_driver=False)
    config = read_config()
    params = app_args(config, torch_threads=1)
    url = f"http://127.0.0.1:{args.port}"
    results: dict = {"image_side": args.image_side, "requests": args.requests}
    try:
        run_local(params, local_options(config), port=args.port, name="bench")
        client = httpx.Client(base_url=url, timeout=600)

        # 1. First vs second click, per task set.
        clicks = []
        for tasks in (["quality", "importance", "distortion"], ["quality"]):
            for trial in range(args.trials):
                image = _image(args.image_side, seed=len(clicks) + 1)
                image_id = client.post("/v1/images", files={"image": ("b.png", image)}).json()[
                    "image_id"]
                times, caches = [], []
                for point in ([0.45, 0.35], [0.6, 0.7]):
                    body = {"image_id": image_id, "tasks": tasks,
                            "point": [point[0] * args.image_side, point[1] * args.image_side]}
                    started = time.perf_counter()
                    response = client.post("/v1/assess", json=body)
                    times.append(time.perf_counter() - started)
                    response.raise_for_status()
                    caches.append(response.headers["X-Seagull-Cache"])
                clicks.append({"tasks": ",".join(tasks), "first_s": times[0],
                               "second_s": times[1], "ratio": times[1] / times[0],
                               "first_cache": caches[0], "second_cache": caches[1]})
        results["clicks"] = clicks

        # 2. Cached clicks under load.
        image_id = client.post("/v1/images", files={"image": ("b.png", _image(args.image_side,
                                                                             99))}).json()["image_id"]
        client.post("/v1/assess", json={"image_id": image_id, "point": [5, 5]})  # warm caches
        load = []
        for concurrency in (1, 4, 16):
            load.append(asyncio.run(_timed_clicks(url, image_id, args.requests, concurrency,
                                                  ["quality", "importance"], concurrency)))
        results["load"] = load

        # 3. One vs two Assessor replicas at concurrency 16.
        replicas = []
        for count in (1, 2):
            options = local_options(config)
            options["Assessor"].pop("autoscaling_config", None)
            options["Assessor"]["num_replicas"] = count
            run_local(params, options, port=args.port, name="bench")
            # A redeploy starts new replicas: the store and the caches are empty again.
            image_id = client.post("/v1/images", files={"image": ("b.png", _image(
                args.image_side, 99))}).json()["image_id"]
            client.post("/v1/assess", json={"image_id": image_id, "point": [5, 5]})
            row = asyncio.run(_timed_clicks(url, image_id, args.requests, 16,
                                            ["quality", "importance"], 100 + count))
            replicas.append(dict(row, assessor_replicas=count))
        results["replicas"] = replicas
        client.close()
    finally:
        serve.shutdown()
        ray.shutdown()

    print(f"\nSeagull Serve benchmark ({args.image_side}² image, tiny model, classical segmenter)")
    print(f"{'tasks':<32}{'first s':>9}{'second s':>10}{'ratio':>8}  caches (2nd)")
    for row in results["clicks"]:
        print(f"{row['tasks']:<32}{row['first_s']:>9.3f}{row['second_s']:>10.3f}"
              f"{row['ratio']:>8.1%}  {row['second_cache']}")
    print(f"\n{'concurrency':<14}{'p50 s':>8}{'p99 s':>8}{'req/s':>8}")
    for row in results["load"]:
        print(f"{row['concurrency']:<14}{row['p50_s']:>8.3f}{row['p99_s']:>8.3f}"
              f"{row['throughput_rps']:>8.2f}")
    print(f"\n{'assessor replicas':<18}{'req/s':>8}{'p50 s':>8}")
    for row in results["replicas"]:
        print(f"{row['assessor_replicas']:<18}{row['throughput_rps']:>8.2f}{row['p50_s']:>8.3f}")
    median_ratio = statistics.median(r["ratio"] for r in results["clicks"])
    results["median_second_over_first"] = median_ratio
    results["target_second_over_first"] = 0.15
    print(f"\nmedian second/first click: {median_ratio:.1%} (target ≤ 15 %)")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"written {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
