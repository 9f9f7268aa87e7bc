"""Benchmark of the Seagull-100w factory on the sample RAWs, and a projection to full scale.

    python bench/factory.py [--sources 3] [--long-side 256] [--types noise,blur]
                            [--levels 0,10,19] [--json bench-factory.json]

Measures, in one run:
(a) each stage of the factory for each source, in this process (``seagull.data.factory``
    functions, one source after another): render reference, segment, render distortions,
    label + stage, finalise — seconds per source, and per region for labelling;
(b) the same sources through the Ray Data pipeline (``pipelines.build_100w``) on the local Ray:
    sources/s and regions/s, and the ratio (b)/(a) of throughputs.

Then projects the full dataset (8,146 RAWs → 8,146 × 121 ≈ 986 k images, ~33 M regions) on
N CPU nodes, from the measured per-stage CPU costs: pixel-bound stages (render, label) are
scaled by the pixel ratio (1024 / long side)², labelling by the paper's regions per image
(33 M / 977,520 distorted images), and the work spread over every core at the measured Ray
efficiency of (b). GPU rows need a speed-up of the model stages that this CPU machine cannot
measure: ``--gpu-speedup`` (default 20) is an assumption and is printed as one. Prints a table
and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

FULL_SOURCES = 8146
FULL_RENDERS = 121
PAPER_REGIONS = 33_000_000
PAPER_DISTORTED = FULL_SOURCES * 120


def stage_costs(paths, out, params) -> dict:
    """Seconds per stage (summed over the sources), regions, sources: one process."""
    from seagull.data.factory import (
        Components,
        LabelStage,
        SegmentStage,
        render_distorted,
        render_reference,
        source_row,
    )
    from seagull.data.ids import source_id
    from seagull.data.sources import file_sha256
    from seagull.data.store import DatasetLayout

    comps = Components().resolved()
    t = time.perf_counter()
    segment = SegmentStage(params, comps)
    label = LabelStage(out, comps)
    load = time.perf_counter() - t
    totals = {"render_reference": 0.0, "segment": 0.0, "render_distorted": 0.0, "label": 0.0,
              "finalise": 0.0}
    regions = images = 0
    for path in paths:
        sid = source_id(file_sha256(str(path)))
        row = source_row(str(path), sid, params, path.name)
        t = time.perf_counter()
        row = render_reference(row, params, comps)
        totals["render_reference"] += time.perf_counter() - t
        t = time.perf_counter()
        row = segment(row)
        totals["segment"] += time.perf_counter() - t
        t = time.perf_counter()
        parts = render_distorted(row, params, comps)
        totals["render_distorted"] += time.perf_counter() - t
        t = time.perf_counter()
        statuses = [label(p) for p in parts]
        totals["label"] += time.perf_counter() - t
        regions += sum(s["n_regions"] for s in statuses)
        images += sum(s["n_images"] for s in statuses)
        t = time.perf_counter()
        DatasetLayout.open(out).finalise_source(sid)
        totals["finalise"] += time.perf_counter() - t
    return {"seconds": totals, "model_load_s": load, "regions": regions, "images": images,
            "sources": len(paths)}


def projection(costs: dict, long_side: int, ray_efficiency: float, nodes: list[int],
               cores: int, gpus: list[int], gpu_speedup: float) -> list[dict]:
    n = costs["sources"]
    sec = costs["seconds"]
    pixel_ratio = (1024 / long_side) ** 2
    renders_per_source = costs["images"] / n
    per_render = (sec["render_reference"] + sec["render_distorted"]) / n / renders_per_source
    per_region_label = sec["label"] / max(costs["regions"], 1)
    full = {
        "render": per_render * FULL_RENDERS * FULL_SOURCES * pixel_ratio,
        "segment": sec["segment"] / n * FULL_SOURCES * pixel_ratio,
        "label": per_region_label * PAPER_REGIONS * pixel_ratio,
        "finalise": sec["finalise"] / n * FULL_SOURCES * pixel_ratio,
    }
    total = sum(full.values())
    rows = []
    for k in nodes:
        hours = total / (k * cores * ray_efficiency) / 3600
        rows.append({"config": f"{k} CPU node(s) × {cores} cores", "hours": hours,
                     "cpu_hours": total / 3600})
    model = full["segment"] + full["label"]
    cpu_part = full["render"] + full["finalise"]
    for g in gpus:
        # GPUs take the model stages; the rendering stays on 8 CPU cores per GPU.
        hours = max(model / gpu_speedup / g, cpu_part / (g * 8 * ray_efficiency)) / 3600
        rows.append({"config": f"{g} GPU(s) + {8 * g} cores (assumed {gpu_speedup:g}× on models)",
                     "hours": hours, "cpu_hours": total / 3600})
    return [dict(r, stage_cpu_hours={s: v / 3600 for s, v in full.items()}) for r in rows]


def main(argv=None) -> int:
    from seagull_cli._args import int_list, positive_int, str_list

    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sources", type=positive_int, default=3)
    p.add_argument("--long-side", type=positive_int, default=256)
    p.add_argument("--types", type=str_list, default=["noise", "blur", "compression"])
    p.add_argument("--levels", type=int_list, default=[0, 10, 19])
    p.add_argument("--points", type=positive_int, default=16)
    p.add_argument("--nodes", type=int_list, default=[1, 8, 32, 128])
    p.add_argument("--cores-per-node", type=positive_int, default=32)
    p.add_argument("--gpus", type=int_list, default=[8, 32])
    p.add_argument("--gpu-speedup", type=float, default=20.0)
    p.add_argument("--json", default="bench-factory.json")
    args = p.parse_args(argv)

    import ray

    from pipelines.build_100w import build
    from seagull.data.factory import FactoryParams
    from seagull.samples import DEFAULT_SEED, SAMPLES, make_samples

    names = [s.name for s in SAMPLES][: args.sources]
    tmp = Path(tempfile.mkdtemp(prefix="bench-factory-"))
    make_samples(tmp / "raw", seed=DEFAULT_SEED, names=names)
    paths = sorted((tmp / "raw").glob("*.dng"))
    params = FactoryParams(types=tuple(args.types), levels=tuple(args.levels),
                           long_side=args.long_side, points=args.points)

    t = time.perf_counter()
    costs = stage_costs(paths, str(tmp / "serial"), params)
    serial_s = time.perf_counter() - t

    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False,
             configure_logging=False)
    t = time.perf_counter()
    manifest = build(str(tmp / "raw"), str(tmp / "ray"), params, progress=False)
    ray_s = time.perf_counter() - t
    ray.shutdown()

    regions = manifest["counts"]["regions"]
    serial_rate = len(paths) / serial_s
    ray_rate = len(paths) / ray_s
    cores = os.cpu_count() or 1
    efficiency = min(1.0, ray_rate / (serial_rate * cores))
    rows = [
        ("(a) one process, stage by stage", serial_s, len(paths) / serial_s, regions / serial_s),
        ("(b) Ray Data pipeline (local)", ray_s, ray_rate, regions / ray_s),
    ]
    print(f"\nfactory on {len(paths)} sample RAWs, {len(args.types)} types × "
          f"{len(args.levels)} levels, long side {args.long_side}, {cores} CPUs")
    print(f"{'run':36s}{'seconds':>10s}{'sources/s':>12s}{'regions/s':>12s}")
    for name, s, sps, rps in rows:
        print(f"{name:36s}{s:10.1f}{sps:12.3f}{rps:12.1f}")
    print(f"ratio (b)/(a) throughput: {ray_rate / serial_rate:.2f}  "
          f"(per-core efficiency used for projection: {efficiency:.2f})")
    print("\nper-stage seconds per source, one process:")
    for stage, s in costs["seconds"].items():
        print(f"  {stage:18s}{s / len(paths):8.2f}")
    print(f"  labelling per region: {costs['seconds']['label'] / max(costs['regions'], 1) * 1e3:.1f}"
          f" ms; model loading once: {costs['model_load_s']:.1f} s")

    proj = projection(costs, args.long_side, efficiency, args.nodes, args.cores_per_node,
                      args.gpus, args.gpu_speedup)
    print(f"\nprojection: {FULL_SOURCES} RAWs → {FULL_SOURCES * FULL_RENDERS:,} images, "
          f"~{PAPER_REGIONS / 1e6:.0f} M regions, long side 1024")
    print(f"{'configuration':58s}{'hours':>10s}")
    for r in proj:
        print(f"{r['config']:58s}{r['hours']:10.1f}")
    print("stage CPU-hours: " + ", ".join(f"{k} {v:,.0f}" for k, v in
                                          proj[0]["stage_cpu_hours"].items()))
    Path(args.json).write_text(json.dumps({
        "sources": len(paths), "long_side": args.long_side, "types": args.types,
        "levels": args.levels, "cpus": cores, "serial_s": serial_s, "ray_s": ray_s,
        "regions": regions, "stage_costs": costs, "ray_efficiency": efficiency,
        "projection": proj, "producers": manifest["producers"]}, indent=2))
    print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
