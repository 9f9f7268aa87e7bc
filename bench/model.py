"""Benchmark of the Seagull model and its predictor caches.

    PYTHONPATH=. python bench/model.py [--regions 8] [--repeats 3] [--out bench/results/model.json]

CPU, tiny preset:
- latency of one region after ``set_image`` (quality + importance, closed-set);
- N regions after one ``set_image`` against N independent full passes (encoder + the whole
  prompt through the LLM, per region and task): the ratio is what the encoder and prefix caches
  buy (target ≥ 5× at N = 8);
- prefill tokens per region and task, with and without the prefix cache;
- parameter counts of both presets (``paper`` built on the meta device).
GPU (only where CUDA is present; otherwise the table says so): the ``paper`` preset with random
weights in bf16, per-region latency cached against uncached.
Timings are medians of ``--repeats`` runs; only ratios measured in the same run are compared.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch

TASKS = ("quality", "importance")


def _median_time(fn, repeats: int, sync=lambda: None) -> float:
    times = []
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _regions(h: int, w: int, n: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        x0, y0 = rng.integers(0, w // 2), rng.integers(0, h // 2)
        x1, y1 = x0 + rng.integers(w // 8, w // 2), y0 + rng.integers(h // 8, h // 2)
        m = np.zeros((h, w), bool)
        m[y0:y1, x0:x1] = True
        out.append(m)
    return out


def full_pass_scores(model, image: np.ndarray, mask: np.ndarray) -> list[torch.Tensor]:
    """One region scored as an uncached model would: everything from the pixels, per task."""
    from seagull.labels import instructions as ins
    from seagull.model.batch import build_batch
    from seagull.model.scoring import level_probabilities

    out = []
    for task in TASKS:
        stem = ins.ANSWER_STEMS[task]
        batch = build_batch([{"image": image, "mask": mask, "question": ins.AIR_QUESTIONS[task],
                              "answer": stem}], model.prompts, model.config)
        length = len(model.prompts.prompt_ids(ins.AIR_QUESTIONS[task])) + \
            len(model.prompts.stem_ids(task))
        with torch.no_grad():
            logits = model(input_ids=batch["input_ids"][:, :length],
                           attention_mask=batch["attention_mask"][:, :length],
                           images=batch["images"], coverage=batch["coverage"],
                           crops=batch["crops"], logits_to_keep=1).logits[:, -1]
        out.append(level_probabilities(logits, model.prompts.level_ids(task)))
    return out


def bench_tiny(n: int, repeats: int) -> dict:
    from seagull.labels import instructions as ins
    from seagull.model import SeagullModel, SeagullPredictor

    torch.manual_seed(0)
    model = SeagullModel.from_preset("tiny").eval()
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)
    masks = _regions(480, 640, n)
    predictor = SeagullPredictor(model)

    def cached_n():
        predictor.set_image(image)
        predictor.assess(masks, tasks=TASKS)

    def one_region():
        predictor.assess(masks[0], tasks=TASKS)

    def independent_n():
        for m in masks:
            full_pass_scores(model, image, m)

    predictor.set_image(image)
    # The cached scores must be the full pass's (the benchmark measures equal work).
    ref = full_pass_scores(model, image, masks[0])
    got = [predictor.level_probabilities(masks[:1], t) for t in TASKS]
    max_diff = max(float((a - b).abs().max()) for a, b in zip(ref, got))
    t_set = _median_time(lambda: predictor.set_image(image), repeats)
    t_one = _median_time(one_region, repeats)
    t_cached = _median_time(cached_n, repeats)
    t_full = _median_time(independent_n, repeats)
    prompts = model.prompts
    per_region = {t: len(prompts.region_ids(ins.AIR_QUESTIONS[t])) + len(prompts.stem_ids(t))
                  for t in TASKS}
    return {
        "regions": n, "set_image_s": t_set, "one_region_s": t_one,
        "cached_n_regions_s": t_cached, "independent_n_full_passes_s": t_full,
        "speedup": t_full / t_cached, "target_speedup": 5.0,
        "max_score_difference": max_diff,
        "prefill_tokens_per_region": {
            "with_prefix_cache": sum(per_region.values()),
            "without_prefix_cache": sum(per_region.values()) + len(TASKS) * len(
                prompts.prefix_ids),
            "prefix_tokens": len(prompts.prefix_ids)},
    }


def parameter_counts() -> dict:
    from seagull.model import SeagullModel

    return {"tiny": SeagullModel.from_preset("tiny").count_parameters(),
            "paper": SeagullModel.from_preset("paper", device="meta").count_parameters()}


def bench_paper_gpu(n: int, repeats: int) -> dict:
    if not torch.cuda.is_available():
        return {"skipped": "no CUDA device: the paper-preset GPU benchmark did not run"}
    from seagull.model import SeagullModel, SeagullPredictor

    torch.manual_seed(0)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.bfloat16)  # build 7 B random parameters directly in bf16
    try:
        model = SeagullModel.from_preset("paper", random_init=True, device="cuda",
                                         dtype=torch.bfloat16).eval()
    finally:
        torch.set_default_dtype(previous)
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (768, 1024, 3), dtype=np.uint8)
    masks = _regions(768, 1024, n)
    predictor = SeagullPredictor(model)
    sync = torch.cuda.synchronize
    predictor.set_image(image)
    predictor.assess(masks, tasks=TASKS)  # warm-up
    t_set = _median_time(lambda: predictor.set_image(image), repeats, sync)
    t_cached = _median_time(lambda: predictor.assess(masks, tasks=TASKS), repeats, sync)
    t_uncached = _median_time(lambda: predictor.assess(masks, tasks=TASKS, use_cache=False),
                              repeats, sync)
    return {"device": torch.cuda.get_device_name(), "dtype": "bfloat16", "regions": n,
            "prefix_tokens": predictor.prefix_tokens, "set_image_s": t_set,
            "per_region_cached_s": t_cached / n, "per_region_uncached_s": t_uncached / n,
            "speedup": t_uncached / t_cached,
            "peak_memory_gib": torch.cuda.max_memory_allocated() / 2 ** 30}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--regions", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default="bench/results/model.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    tiny = bench_tiny(args.regions, args.repeats)
    counts = parameter_counts()
    gpu = bench_paper_gpu(args.regions, args.repeats)

    n = tiny["regions"]
    print(f"\ntiny preset, CPU ({args.threads} threads), {n} regions, tasks {', '.join(TASKS)}")
    print(f"  {'set_image (encoder + prefix prefill)':46s} {tiny['set_image_s'] * 1e3:9.1f} ms")
    print(f"  {'one region after set_image':46s} {tiny['one_region_s'] * 1e3:9.1f} ms")
    print(f"  {f'{n} regions after one set_image':46s} {tiny['cached_n_regions_s'] * 1e3:9.1f} ms")
    print(f"  {f'{n} independent full passes':46s} "
          f"{tiny['independent_n_full_passes_s'] * 1e3:9.1f} ms")
    print(f"  {'speed-up (target >= 5x)':46s} {tiny['speedup']:9.1f} x")
    print(f"  {'max |cached - full| probability':46s} {tiny['max_score_difference']:9.2e}")
    pre = tiny["prefill_tokens_per_region"]
    print(f"  prefill tokens per region: {pre['with_prefix_cache']} with the prefix cache, "
          f"{pre['without_prefix_cache']} without (prefix {pre['prefix_tokens']})")
    print("\nparameters")
    print(f"  {'part':10s} {'tiny':>14s} {'paper':>16s}")
    for part in counts["paper"]:
        print(f"  {part:10s} {counts['tiny'][part]:14,d} {counts['paper'][part]:16,d}")
    print("\npaper preset, GPU, bf16, random weights")
    if "skipped" in gpu:
        print(f"  {gpu['skipped']}")
    else:
        print(f"  {gpu['device']}: set_image {gpu['set_image_s'] * 1e3:.1f} ms, per region "
              f"{gpu['per_region_cached_s'] * 1e3:.1f} ms cached vs "
              f"{gpu['per_region_uncached_s'] * 1e3:.1f} ms uncached ({gpu['speedup']:.1f}x), "
              f"peak {gpu['peak_memory_gib']:.1f} GiB")

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"tiny_cpu": tiny, "parameters": counts, "paper_gpu": gpu},
                              indent=1))
    print(f"\nwritten {out}")


if __name__ == "__main__":
    main()
