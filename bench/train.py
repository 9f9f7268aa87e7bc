"""Training throughput: Ray Train + DeepSpeed against a plain PyTorch loop, in one run.

    python -m bench.train [--steps 24] [--json bench-train.json]

1. CPU, tiny preset: samples/s of ``pipelines.train`` (2 workers of one thread each, ZeRO-2,
   gloo) against a single-process, single-thread loop (torch AdamW, the same global batch, the
   same decoded samples). Both rates count only optimizer steps after a warm-up; the distributed
   rate includes the data feed's epoch restarts, which the plain loop does not have. The
   overhead compares the rate *per worker* with the plain loop's rate: what the distributed
   machinery (data feed, gradient all-reduce, DeepSpeed) costs per unit of compute. (One loop
   with as many threads as there are workers is no fair baseline on a 2-core machine: torch's
   intra-op threads then compete with everything else and run several times slower.)
   Target: overhead ≤ 15 %.
2. GPU (when CUDA is present), paper preset with random weights in bf16, plain PyTorch (no Ray,
   no DeepSpeed): step time, tokens/s and peak memory of a LoRA step at batch sizes 1–8. Without
   CUDA the table is skipped and the output says so.

Prints tables and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

WARMUP_STEPS = 3


def plain_loop(data: str, steps: int, global_batch: int, threads: int, seed: int = 0) -> dict:
    """Single-process training over the same records the trainer reads; samples/s after a
    warm-up of ``WARMUP_STEPS`` steps."""
    import pyarrow.parquet as pq
    import torch

    from seagull.data.store import DatasetLayout
    from seagull.model import SeagullModel, build_batch
    from seagull.train.examples import records_for_stage, to_sample

    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    model = SeagullModel.from_preset("tiny")
    model.train()
    cfg = model.config.training
    optimizer = torch.optim.AdamW(model.trainable_parameters(), lr=cfg.stage1_lr)
    layout = DatasetLayout.open(data)
    records = [r for shard in layout.shards("rois")
               for row in pq.read_table(shard).to_pylist() if row["split"] == "train"
               for r in records_for_stage(row, 1, seed)]
    times, tokens = [], 0
    for step in range(steps + WARMUP_STEPS):
        start = time.perf_counter()
        epoch, offset = divmod(step * global_batch, len(records) - len(records) % global_batch)
        chunk = records[offset:offset + global_batch]
        batch = build_batch([to_sample(r, 1, seed, epoch) for r in chunk], model.prompts,
                            model.config, max_len=cfg.max_seq_len)
        loss = model(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.trainable_parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if step >= WARMUP_STEPS:
            times.append(time.perf_counter() - start)
            tokens += int(batch["attention_mask"].sum())
    return {"samples_per_s": global_batch * len(times) / sum(times),
            "tokens_per_s": tokens / sum(times), "step_s_median": statistics.median(times)}


def ray_run(data: str, out: str, steps: int) -> dict:
    """``pipelines.train`` for ``steps`` after the warm-up; samples/s from its metrics.csv."""
    from pipelines.train import add_arguments, launch
    from seagull.train.metrics_log import read_metrics

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    launch(parser.parse_args(["--stage", "1", "--data", data, "--out", out, "--max-steps",
                              str(steps + WARMUP_STEPS), "--checkpoint-every",
                              str(steps + WARMUP_STEPS)]))
    rows = read_metrics(Path(out) / "metrics.csv")[WARMUP_STEPS:]
    config = json.loads((Path(out) / "train_config.json").read_text())
    batch = config["train"]["global_batch"]
    step_s = [batch / r["samples_per_s"] for r in rows]
    return {"samples_per_s": batch * len(rows) / sum(step_s),
            "tokens_per_s": sum(r["tokens_per_s"] * s for r, s in zip(rows, step_s))
            / sum(step_s),
            "step_s_median": statistics.median(step_s), "workers": config["train"]["workers"],
            "global_batch": batch}


def gpu_table(batch_sizes=(1, 2, 4, 8), steps: int = 5) -> list[dict]:
    """Paper preset, random weights, bf16, one GPU: a LoRA training step per batch size."""
    import numpy as np
    import torch

    from seagull.labels.instructions import air
    from seagull.model import SeagullModel, build_batch

    model = SeagullModel.from_preset("paper", random_init=True, device="cuda",
                                     dtype=torch.bfloat16)
    model.train()
    optimizer = torch.optim.AdamW(model.trainable_parameters(), lr=1e-5)
    rng = np.random.default_rng(0)
    size = model.config.image_size
    ins = air("quality", {"quality": 0.6})
    rows = []
    for batch_size in batch_sizes:
        samples = []
        for _ in range(batch_size):
            mask = np.zeros((size, size), bool)
            mask[size // 4: 3 * size // 4, size // 4: 3 * size // 4] = True
            samples.append({"image": rng.integers(0, 255, (size, size, 3), dtype=np.uint8),
                            "mask": mask, "question": ins.question, "answer": ins.answer})
        batch = build_batch(samples, model.prompts, model.config)
        batch = {k: (v.cuda().to(torch.bfloat16) if v.is_floating_point() else v.cuda())
                 for k, v in batch.items()}
        torch.cuda.reset_peak_memory_stats()
        times = []
        for step in range(steps + 2):
            torch.cuda.synchronize()
            start = time.perf_counter()
            model(**batch).loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            torch.cuda.synchronize()
            if step >= 2:
                times.append(time.perf_counter() - start)
        step_s = statistics.median(times)
        rows.append({"batch": batch_size, "step_s": step_s,
                     "tokens_per_s": int(batch["attention_mask"].sum()) / step_s,
                     "peak_gib": torch.cuda.max_memory_allocated() / 2**30})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=24, help="measured steps per side")
    parser.add_argument("--images", type=int, default=48,
                        help="synthetic dataset images (3 regions each)")
    parser.add_argument("--json", default="bench-train.json", help="where to write results")
    parser.add_argument("--skip-cpu", action="store_true", help="only the GPU table")
    args = parser.parse_args(argv)

    import torch

    results: dict = {}
    if not args.skip_cpu:
        import ray

        from seagull.train.synthetic import write_rois_dataset

        with tempfile.TemporaryDirectory() as tmp:
            data = write_rois_dataset(Path(tmp) / "data", n_images=args.images, test_images=0)
            ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
                     configure_logging=False)
            distributed = ray_run(data, str(Path(tmp) / "run"), args.steps)
            ray.shutdown()
            plain = plain_loop(data, args.steps, distributed["global_batch"], threads=1)
        per_worker = distributed["samples_per_s"] / distributed["workers"]
        overhead = 1 - per_worker / plain["samples_per_s"]
        results["cpu_tiny"] = {"plain": plain, "ray_deepspeed": distributed,
                               "ray_samples_per_s_per_worker": per_worker,
                               "overhead": overhead, "target_overhead": 0.15}
        print(f"\nCPU, tiny preset, global batch {distributed['global_batch']}, "
              f"{args.steps} steps after {WARMUP_STEPS} warm-up")
        print(f"{'loop':<34}{'samples/s':>10}{'per worker':>12}{'tokens/s':>10}"
              f"{'median step s':>15}")
        workers = distributed["workers"]
        for name, r, n in (("plain PyTorch, 1 process, 1 thread", plain, 1),
                           (f"Ray Train + DeepSpeed, {workers} workers", distributed, workers)):
            print(f"{name:<34}{r['samples_per_s']:>10.2f}{r['samples_per_s'] / n:>12.2f}"
                  f"{r['tokens_per_s']:>10.0f}{r['step_s_median']:>15.3f}")
        verdict = "meets" if overhead <= 0.15 else "misses"
        print(f"overhead per worker {overhead:+.1%} ({verdict} the ≤ 15 % target)")

    if torch.cuda.is_available():
        rows = gpu_table()
        results["gpu_paper_bf16"] = {"device": torch.cuda.get_device_name(0), "rows": rows}
        print(f"\nGPU ({torch.cuda.get_device_name(0)}), paper preset, random weights, bf16, "
              "LoRA step, plain PyTorch")
        print(f"{'batch':>6}{'step s':>10}{'tokens/s':>12}{'peak GiB':>10}")
        for r in rows:
            print(f"{r['batch']:>6}{r['step_s']:>10.3f}{r['tokens_per_s']:>12.0f}"
                  f"{r['peak_gib']:>10.1f}")
    else:
        results["gpu_paper_bf16"] = None
        print("\nno CUDA device: the paper-preset GPU table is skipped")
    Path(args.json).write_text(json.dumps(results, indent=1))
    print(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
