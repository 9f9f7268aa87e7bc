"""Benchmark: the ISP's 121 renders of one RAW against a plain render and a naive pipeline.

Measures, in one run on the same sample RAW:

- (a) one plain ``rawpy`` default render (open + ``postprocess(use_camera_wb=True)``);
- (b) a naive pipeline: for each of the 121 variants, open the RAW afresh, inject noise into the
  raw data (noise variants), run a default ``postprocess``, apply a simple version of the
  distortion (PIL filters and enhancers, an 8-bit exposure gain, a JPEG save) and write the file
  with the imaging library's default PNG settings; timed with and without the file writes;
- (c) this ISP: ``render_variants`` over all 121 variants, arrays only; and ``seagull render``
  as a whole process (interpreter start, imports, renders and the 121 files written).

Prints a table with the ratios (b)/(c) and (c)/(a) and writes JSON. Each timing is the best of
``--repeat`` runs, as wall-clock and as CPU time (this process's threads plus its child
processes): on a shared, loaded machine the wall clock measures the neighbours too, the CPU
time measures the work.

    python bench/isp.py [--sample chelsea | --raw FILE] [--repeat 2] [--json PATH]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _cpu_seconds() -> float:
    """CPU time of this process (all threads) and of its finished child processes."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def best_of(repeat: int, fn) -> tuple[float, float]:
    """(best wall-clock seconds, best CPU seconds) of ``repeat`` calls of ``fn``."""
    walls, cpus = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), _cpu_seconds()
        fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(_cpu_seconds() - c0)
    return min(walls), min(cpus)


def plain_render(path: Path) -> np.ndarray:
    import rawpy

    with rawpy.imread(str(path)) as raw:
        return raw.postprocess(use_camera_wb=True)


def naive_variant(path: Path, distortion: str, level: int, params: dict, out: Path | None
                  ) -> None:
    """One variant the straightforward way: everything from the file, every time."""
    import rawpy
    from PIL import Image, ImageEnhance, ImageFilter

    with rawpy.imread(str(path)) as raw:
        if distortion == "noise":
            mosaic = raw.raw_image.astype(np.float32)
            black = float(np.mean(raw.black_level_per_channel))
            span = raw.white_level - black
            x = np.maximum((mosaic - black) / span, 0)
            std = np.sqrt(x / params["electrons_at_white"] + params["read_noise"] ** 2)
            rng = np.random.default_rng(level)
            noisy = mosaic + rng.standard_normal(x.shape, dtype=np.float32) * std * span
            raw.raw_image[:] = np.clip(np.rint(noisy), 0, raw.white_level).astype(np.uint16)
        rgb = raw.postprocess(use_camera_wb=True)
    im = Image.fromarray(rgb)
    if distortion == "exposure":
        im = Image.fromarray(np.clip(rgb * 2.0 ** params["ev"], 0, 255).astype(np.uint8))
    elif distortion == "blur":
        im = im.filter(ImageFilter.GaussianBlur(params["sigma_fraction"] * max(im.size)))
    elif distortion == "contrast":
        im = ImageEnhance.Contrast(im).enhance(params["slope"])
    elif distortion == "colorfulness":
        im = ImageEnhance.Color(im).enhance(params["chroma_scale"])
    if distortion == "compression":
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=params["quality"])
        data = buf.getvalue()
        if out is not None:
            (out / f"{distortion}_{level:02d}.jpg").write_bytes(data)
        return
    if out is not None:
        name = "reference" if distortion == "reference" else f"{distortion}_{level:02d}"
        im.save(out / f"{name}.png")  # the imaging library's default PNG settings


def naive_pipeline(path: Path, out: Path | None) -> None:
    from seagull.isp import LEVELS, TABLE

    naive_variant(path, "reference", 0, {}, out)
    for distortion, table in TABLE.items():
        for level in LEVELS:
            naive_variant(path, distortion, level, table[level], out)


def isp_arrays(path: Path) -> int:
    from seagull.isp import render_variants

    return sum(1 for _ in render_variants(path))


def isp_process(path: Path, out: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    subprocess.run([sys.executable, "-m", "seagull", "-q", "render", str(path), "--out",
                    str(out)], check=True, env=env, stdout=subprocess.DEVNULL)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sample", default="chelsea", help="sample RAW name (default chelsea)")
    parser.add_argument("--raw", type=Path, default=None, help="a RAW file instead of a sample")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "isp.json")
    args = parser.parse_args(argv)

    import rawpy  # noqa: F401  (imports are not part of any timing but the process one)
    import scipy.ndimage  # noqa: F401
    from PIL import Image  # noqa: F401

    from seagull.isp import ISP_VERSION
    from seagull.samples import make_samples

    with tempfile.TemporaryDirectory(prefix="bench-isp-") as tmp:
        tmp = Path(tmp)
        path = args.raw or make_samples(tmp / "samples", names=[args.sample])[0]
        shape = plain_render(path).shape
        n = isp_arrays(path)  # warm-up, and the count
        out_b, out_c = tmp / "naive", tmp / "isp"
        out_b.mkdir()
        t_a = best_of(args.repeat, lambda: plain_render(path))
        t_b_arrays = best_of(args.repeat, lambda: naive_pipeline(path, None))
        t_b = best_of(args.repeat, lambda: naive_pipeline(path, out_b))
        t_c_arrays = best_of(args.repeat, lambda: isp_arrays(path))
        t_c_files = best_of(args.repeat, lambda: isp_process(path, out_c))
        bytes_b = sum(p.stat().st_size for p in out_b.iterdir())
        bytes_c = sum(p.stat().st_size for p in out_c.iterdir() if p.name != "params.json")
        n_files = sum(1 for p in out_c.iterdir() if p.name != "params.json")
        assert n_files == n == 121, (n_files, n)

    rows = [
        ("(a) rawpy default render, 1 image", t_a, 1, ""),
        ("(b) naive, 121 variants, arrays only", t_b_arrays, 121, ""),
        ("(b) naive, 121 variants, files written", t_b, 121, f"{bytes_b / 1e6:.1f} MB"),
        ("(c) this ISP, 121 renders, arrays only", t_c_arrays, 121, ""),
        ("(c) seagull render process, 121 files", t_c_files, 121, f"{bytes_c / 1e6:.1f} MB"),
    ]
    ratios = {}
    for k, clock in enumerate(("wall", "cpu")):
        ratios[clock] = {
            "b_over_c_arrays": t_b[k] / t_c_arrays[k],
            "b_arrays_over_c_arrays": t_b_arrays[k] / t_c_arrays[k],
            "b_over_c_files": t_b[k] / t_c_files[k],
            "c_arrays_over_a": t_c_arrays[k] / t_a[k],
            "c_files_over_a": t_c_files[k] / t_a[k],
        }
    name = path.name if args.raw else f"{args.sample}.dng"
    load = os.getloadavg()[0]
    print(f"ISP benchmark: {name} ({shape[1]}×{shape[0]}), best of {args.repeat}, "
          f"ISP {ISP_VERSION}, {os.cpu_count()} CPUs, load average {load:.1f}")
    print(f"| {'measurement':40s} | wall s | CPU s | CPU per image | output |")
    print(f"| {'-' * 40} | -----: | ----: | ------------: | --- |")
    for label, (wall, cpu), count, note in rows:
        print(f"| {label:40s} | {wall:6.2f} | {cpu:5.2f} | {cpu / count * 1000:10.1f} ms "
              f"| {note} |")
    print()
    print("| ratio | wall | CPU | target |")
    print("| --- | ---: | ---: | --- |")
    for key, label, target in [
        ("b_over_c_arrays", "(b) files / (c) arrays", "≥ 2.5×"),
        ("b_arrays_over_c_arrays", "(b) arrays / (c) arrays", ""),
        ("b_over_c_files", "(b) files / (c) process with files", "≥ 2×"),
        ("c_arrays_over_a", "(c) arrays / (a)", ""),
        ("c_files_over_a", "(c) process with files / (a)", ""),
    ]:
        print(f"| {label} | {ratios['wall'][key]:.2f}× | {ratios['cpu'][key]:.2f}× | {target} |")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({
        "benchmark": "isp", "isp_version": ISP_VERSION, "raw": name,
        "size": [shape[1], shape[0]], "repeat": args.repeat, "cpus": os.cpu_count(),
        "load_average": load,
        "seconds": {clock: {"a_plain": t_a[k], "b_naive_arrays": t_b_arrays[k],
                            "b_naive_files": t_b[k], "c_isp_arrays": t_c_arrays[k],
                            "c_isp_process_files": t_c_files[k]}
                    for k, clock in enumerate(("wall", "cpu"))},
        "bytes": {"b_naive": bytes_b, "c_isp": bytes_c},
        "ratios": ratios,
    }, indent=1) + "\n")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
