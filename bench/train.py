"""Training throughput: Ray Train + DeepSpeed against plain PyTorch loops, in one run.

    python -m bench.train [--steps 96] [--repeats 3] [--json bench-train.json]

1. CPU, tiny preset, **framework overhead** (the target): ``pipelines.train`` with one worker of
   one thread (ZeRO-2, gloo, the data streamed by Ray Data) against a plain single-process,
   single-thread PyTorch loop (torch AdamW) over the same batches — the tiny preset's global
   batch of 8, as 4 × 2 accumulated micro-batches on both sides. Samples/s count optimizer
   steps after a warm-up. The two sides alternate ``--repeats`` times; each side's median is
   compared, and the spread is shown. Ray is started for each distributed run and shut down
   (and the machine left to settle) before the next plain loop, so the plain side never shares
   the machine with Ray. Reported twice: ``steady`` leaves out the steps that open an epoch,
   ``all`` keeps them (the data feed restarts there). Target: overhead ≤ 15 %, steady.
2. CPU, tiny preset, **scaling** (informative): two workers against two plain loops running at
   once, each fed the batches one worker sees, at global batches 8 and 32 (``--batch-sizes``):
   what the distributed machinery costs on a machine as busy as under the distributed run. On
   two cores this includes Ray's control plane taking its share of the cores the workers need.
3. GPU (when CUDA is present), paper preset with random weights in bf16, plain PyTorch (no Ray,
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
from contextlib import contextmanager
from pathlib import Path

WARMUP_STEPS = 3
STEPS_PER_EPOCH = 48  # two epoch boundaries among the default 96 measured steps
SETTLE_S = 5.0
TARGET = 0.15


def plain_loop(data: str, steps: int, micro_batch: int, threads: int, seed: int = 0,
               offset_steps: int = 0, accum: int = 1) -> dict:
    """Single-process training over the same records the trainer reads: ``accum``
    micro-batches of ``micro_batch`` per optimizer step; samples/s after a warm-up of
    ``WARMUP_STEPS`` steps (``offset_steps`` shifts where in the data it starts)."""
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
    usable = len(records) - len(records) % micro_batch
    times, data_times, tokens = [], [], 0
    for step in range(offset_steps, offset_steps + steps + WARMUP_STEPS):
        measured = step >= offset_steps + WARMUP_STEPS
        start, building = time.perf_counter(), 0.0
        for micro in range(accum):
            built_from = time.perf_counter()
            epoch, offset = divmod((step * accum + micro) * micro_batch, usable)
            chunk = records[offset:offset + micro_batch]
            batch = build_batch([to_sample(r, 1, seed, epoch) for r in chunk], model.prompts,
                                model.config, max_len=cfg.max_seq_len)
            building += time.perf_counter() - built_from
            (model(**batch).loss / accum).backward()
            if measured:
                tokens += int(batch["attention_mask"].sum())
        torch.nn.utils.clip_grad_norm_(model.trainable_parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if measured:
            times.append(time.perf_counter() - start)
            data_times.append(building)
    return {"samples_per_s": micro_batch * accum * len(times) / sum(times),
            "tokens_per_s": tokens / sum(times), "step_s_median": statistics.median(times),
            "data_s_median": statistics.median(data_times)}


def _plain_worker(args: tuple) -> dict:
    return plain_loop(*args)


def concurrent_plain_loops(data: str, steps: int, micro_batch: int, accum: int,
                           processes: int) -> dict:
    """``processes`` single-thread plain loops at once, each over its own part of the data and
    with the batches one distributed worker sees: the machine as busy as under the distributed
    run, without any of its machinery."""
    import multiprocessing as mp

    jobs = [(data, steps, micro_batch, 1, 0, i * (steps + WARMUP_STEPS), accum)
            for i in range(processes)]
    with mp.get_context("spawn").Pool(processes) as pool:
        runs = pool.map(_plain_worker, jobs)
    return {"samples_per_s": sum(r["samples_per_s"] for r in runs),
            "tokens_per_s": sum(r["tokens_per_s"] for r in runs),
            "step_s_median": statistics.median(r["step_s_median"] for r in runs),
            "data_s_median": statistics.median(r["data_s_median"] for r in runs),
            "processes": processes}


@contextmanager
def local_ray():
    """A local Ray of 2 CPUs for one distributed run; afterwards the machine is left to settle
    (Ray's processes take a few seconds to go, and a plain loop started among them runs slow)."""
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        yield
    finally:
        ray.shutdown()
        time.sleep(SETTLE_S)


def ray_run(data: str, out: str, steps: int, global_batch: int, micro_batch: int,
            workers: int) -> dict:
    """``pipelines.train`` for ``steps`` after the warm-up, in a Ray of its own; rates from its
    metrics.csv.

    ``steady`` leaves out the steps that opened an epoch (their time includes the data feed's
    restart); ``all`` counts every measured step; ``epoch_restart_s`` is what an epoch's first
    step took beyond the steady median.
    """
    from pipelines.train import TrainRunConfig, run
    from seagull.train.metrics_log import read_metrics

    with local_ray():
        # The tiny preset, as the plain loop beside it (the command's default is small).
        run(TrainRunConfig(stage=1, data=data, out=out, preset="tiny",
                           max_steps=steps + WARMUP_STEPS,
                           checkpoint_every=steps + WARMUP_STEPS, batch_size=global_batch,
                           micro_batch=micro_batch, workers=workers))
    all_rows = read_metrics(Path(out) / "metrics.csv")
    config = json.loads((Path(out) / "train_config.json").read_text())
    batch = config["train"]["global_batch"]
    opening = {r["step"] for i, r in enumerate(all_rows)
               if i > 0 and r["epoch"] != all_rows[i - 1]["epoch"]}
    rows = all_rows[WARMUP_STEPS:]
    steady = [r for r in rows if r["step"] not in opening]

    def rates(selected: list[dict]) -> dict:
        step_s = [batch / r["samples_per_s"] for r in selected]
        return {"samples_per_s": batch * len(selected) / sum(step_s),
                "tokens_per_s": sum(r["tokens_per_s"] * s for r, s in zip(selected, step_s))
                / sum(step_s),
                "step_s_median": statistics.median(step_s),
                "data_s_median": statistics.median(r["data_s"] for r in selected)}

    restarts = [batch / r["samples_per_s"] for r in rows if r["step"] in opening]
    steady_rates = rates(steady)
    return {"steady": steady_rates, "all": rates(rows),
            "epoch_restart_s": (statistics.mean(restarts) - steady_rates["step_s_median"]
                                if restarts else None),
            "steps_per_epoch": config["steps_per_epoch"],
            "workers": config["train"]["workers"], "global_batch": batch,
            "micro_batch": config["train"]["micro_batch"], "grad_accum": config["grad_accum"]}


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


def spread(runs: list[dict], key: str = "samples_per_s") -> dict:
    """Median, lowest and highest of ``key`` over repeated runs."""
    values = [r[key] for r in runs]
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "runs": values}


def synthetic_data(folder: Path, global_batch: int) -> str:
    """The benchmark's dataset: ``STEPS_PER_EPOCH`` optimizer steps per epoch (3 regions per
    image, one stage-1 record each), all in the training split."""
    from seagull.train.synthetic import write_rois_dataset

    return write_rois_dataset(folder, n_images=-(-STEPS_PER_EPOCH * global_batch // 3),
                              test_images=0)


def compare(steps: int, repeats: int, global_batch: int, micro_batch: int,
            workers: int) -> dict:
    """``repeats`` alternating runs of each side: Ray Train + DeepSpeed with ``workers``
    workers, and as many single-thread plain loops at once, each fed one worker's batches."""
    accum = global_batch // (micro_batch * workers)
    plain_runs, ray_runs = [], []
    with tempfile.TemporaryDirectory() as tmp:
        data = synthetic_data(Path(tmp) / "data", global_batch)
        for repeat in range(repeats):
            print(f"  repeat {repeat + 1}/{repeats}: {workers} plain loop(s)", flush=True)
            if workers == 1:
                plain_runs.append(plain_loop(data, steps, micro_batch, 1, accum=accum))
            else:
                plain_runs.append(concurrent_plain_loops(data, steps, micro_batch, accum,
                                                         workers))
            print(f"  repeat {repeat + 1}/{repeats}: Ray Train + DeepSpeed, {workers} "
                  "worker(s)", flush=True)
            ray_runs.append(ray_run(data, str(Path(tmp) / f"run{repeat}"), steps,
                                    global_batch, micro_batch, workers))
    plain = spread(plain_runs)
    steady = spread([r["steady"] for r in ray_runs])
    every = spread([r["all"] for r in ray_runs])
    restarts = [r["epoch_restart_s"] for r in ray_runs if r["epoch_restart_s"] is not None]
    return {"global_batch": global_batch, "micro_batch": micro_batch, "grad_accum": accum,
            "workers": workers, "steps": steps, "repeats": repeats,
            "steps_per_epoch": ray_runs[0]["steps_per_epoch"],
            "plain": plain, "ray_steady": steady, "ray_all": every,
            "plain_step_s": statistics.median(r["step_s_median"] for r in plain_runs),
            "ray_step_s": statistics.median(r["steady"]["step_s_median"] for r in ray_runs),
            "data_s": statistics.median(r["steady"]["data_s_median"] for r in ray_runs),
            "epoch_restart_s": statistics.median(restarts) if restarts else None,
            "overhead": 1 - steady["median"] / plain["median"],
            "overhead_with_epoch_restarts": 1 - every["median"] / plain["median"],
            "plain_runs": plain_runs, "ray_runs": ray_runs}


def print_comparison(title: str, c: dict, target: float | None = None) -> None:
    def cell(s: dict) -> str:
        return f"{s['median']:.1f} ({s['min']:.1f}–{s['max']:.1f})"

    print(f"\n{title}: global batch {c['global_batch']} = {c['micro_batch']} × "
          f"{c['workers']} worker(s) × {c['grad_accum']} accumulated; {c['steps']} steps after "
          f"{WARMUP_STEPS} of warm-up, {c['steps_per_epoch']} per epoch; median (lowest–highest) "
          f"of {c['repeats']} runs each")
    plain_name = "plain PyTorch" + (f", {c['workers']} loops at once" if c["workers"] > 1 else "")
    print(f"  {plain_name:<40}{cell(c['plain']):>26} samples/s  step {c['plain_step_s']:.3f} s")
    print(f"  {'Ray Train + DeepSpeed, steady':<40}{cell(c['ray_steady']):>26} samples/s  "
          f"step {c['ray_step_s']:.3f} s (data {c['data_s']:.3f} s)")
    print(f"  {'Ray Train + DeepSpeed, with epoch restarts':<40}{cell(c['ray_all']):>26} "
          "samples/s")
    if c["epoch_restart_s"] is not None:
        print(f"  an epoch's first step: +{c['epoch_restart_s']:.2f} s (the data feed restarts)")
    line = (f"  overhead: {c['overhead']:+.1%} steady, {c['overhead_with_epoch_restarts']:+.1%} "
            "with epoch restarts")
    if target is not None:
        line += f" ({'meets' if c['overhead'] <= target else 'misses'} the ≤ {target:.0%} target)"
    print(line)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=96, help="measured steps per run")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each side (default 3)")
    parser.add_argument("--batch-sizes", type=lambda t: [int(v) for v in t.split(",")],
                        default=[8, 32],
                        help="global batches of the two-worker scaling table (default 8,32: "
                             "the tiny preset's and the paper's, through accumulation)")
    parser.add_argument("--micro-batch", type=int, default=4, help="per worker (default 4)")
    parser.add_argument("--json", default="bench-train.json", help="where to write results")
    parser.add_argument("--skip-cpu", action="store_true", help="only the GPU table")
    parser.add_argument("--skip-scaling", action="store_true",
                        help="only the framework-overhead comparison on CPUs")
    args = parser.parse_args(argv)

    import torch

    results: dict = {"target_overhead": TARGET}
    if not args.skip_cpu:
        print("framework overhead: one worker against one plain loop", flush=True)
        overhead = compare(args.steps, args.repeats, 8, args.micro_batch, workers=1)
        results["framework_overhead"] = overhead
        if not args.skip_scaling:
            results["scaling"] = []
            for batch in args.batch_sizes:
                print(f"scaling: two workers against two plain loops at once, batch {batch}",
                      flush=True)
                results["scaling"].append(compare(args.steps, args.repeats, batch,
                                                  args.micro_batch, workers=2))
        print_comparison("CPU, tiny preset, framework overhead", overhead, TARGET)
        for c in results.get("scaling", []):
            print_comparison("CPU, tiny preset, two workers against two plain loops", c)

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
