"""Experiment (the issue's stretch goal): noise added in linear light instead of re-demosaicing.

With a *linear* demosaic (libraw's LINEAR, i.e. bilinear), the render of a noisy mosaic is the
render of the clean mosaic plus the demosaiced noise, up to libraw's clipping and rounding. So a
noise level could cost one bilinear interpolation of the noise and a 3×3 colour matrix instead
of a full ``postprocess``. This script measures, for the 20 noise levels of one sample RAW:

- the re-demosaiced result: ``postprocess(LINEAR)`` of each noisy mosaic (16-bit linear);
- the shortcut: ``postprocess(LINEAR)`` of the clean mosaic once, plus the noise interpolated
  and colour-converted in numpy the way libraw does (per-channel ``scale_mul``, bilinear with
  weights 2 for orthogonal and 1 for diagonal neighbours, ``rgb_cam``);

and prints the difference (in 8-bit display levels after the renderer's tone curve) and the
time of each. The renderer itself keeps AHD, which is not linear, so it does not use this.

    python bench/isp_linear_noise.py [--sample chelsea] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def bilinear_noise(delta: np.ndarray, colors: np.ndarray, scale_mul: np.ndarray,
                   rgb_cam: np.ndarray) -> np.ndarray:
    """Demosaic a noise mosaic ``delta`` (H×W, DN) bilinearly and convert it to linear sRGB in
    libraw's 16-bit output units (H×W×3 float32)."""
    from scipy.ndimage import correlate

    weights = np.array([[1, 2, 1], [2, 0, 2], [1, 2, 1]], dtype=np.float32)
    colors = np.where(colors == 3, 1, colors)  # the second green is green
    planes = np.empty(delta.shape + (3,), dtype=np.float32)
    for c in range(3):
        mask = (colors == c).astype(np.float32)
        value = delta * np.float32(scale_mul[c]) * mask
        num = correlate(value, weights, mode="mirror")
        den = correlate(mask, weights, mode="mirror")
        planes[..., c] = np.where(mask > 0, value, num / np.maximum(den, 1e-6))
    return planes @ rgb_cam[:, :3].T.astype(np.float32)


def main(argv: list[str] | None = None) -> int:
    import rawpy

    from seagull.isp import TABLE, ops
    from seagull.isp.render import auto_bright_white, saturation_level
    from seagull.samples import make_samples

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sample", default="chelsea")
    parser.add_argument("--json", type=Path,
                        default=ROOT / "bench" / "results" / "isp_linear_noise.json")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        path = make_samples(tmp, names=[args.sample])[0]
        raw = rawpy.imread(str(path))
        saturation = saturation_level(raw)
        # The renderer's settings with a LINEAR demosaic (white level frozen, as it does).
        settings = {"use_camera_wb": True, "demosaic_algorithm": rawpy.DemosaicAlgorithm.LINEAR,
                    "output_bps": 16, "gamma": (1, 1), "no_auto_bright": True,
                    "adjust_maximum_thr": 0.0, "user_sat": saturation}
        clean = raw.raw_image.copy()
        colors = raw.raw_colors.copy()
        black = np.asarray(raw.black_level_per_channel, dtype=np.float32)[colors]
        pre_mul = np.asarray(raw.camera_whitebalance[:3], dtype=np.float64)
        scale_mul = pre_mul / pre_mul.min() * 65535.0 / saturation
        clean16 = raw.postprocess(**settings)
        white = auto_bright_white(clean16)
        rows = []
        for level in range(20):
            p = TABLE["noise"][level]
            noisy = ops.inject_noise(clean, black, float(raw.white_level),
                                     p["electrons_at_white"], p["read_noise"],
                                     np.random.default_rng([0, level]))
            t0 = time.process_time()
            raw.raw_image[:] = noisy
            exact16 = raw.postprocess(**settings)
            raw.raw_image[:] = clean
            t_exact = time.process_time() - t0
            t0 = time.process_time()
            delta = noisy.astype(np.float32) - clean.astype(np.float32)
            approx16 = clean16 + bilinear_noise(delta, colors, scale_mul, raw.color_matrix)
            t_approx = time.process_time() - t0
            exact = ops.encode_display(exact16.astype(np.float32) / white, white)
            approx = ops.encode_display(approx16 / white, white)
            diff = np.abs(exact.astype(int) - approx.astype(int))
            residual = np.std(exact.astype(float) - ops.encode_display(
                clean16.astype(np.float32) / white, white))
            rows.append({"level": level, "mean_abs_diff": float(diff.mean()),
                         "p99_abs_diff": float(np.percentile(diff, 99)),
                         "noise_std": float(residual),
                         "seconds_exact": t_exact, "seconds_shortcut": t_approx})
        raw.close()
    print(f"Noise in linear light vs re-demosaiced (LINEAR demosaic), {args.sample}, 8-bit levels")
    print("| level | noise std | mean |diff| | p99 |diff| | exact ms | shortcut ms |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(f"| {r['level']} | {r['noise_std']:.2f} | {r['mean_abs_diff']:.3f} | "
              f"{r['p99_abs_diff']:.0f} | {r['seconds_exact'] * 1000:.0f} | "
              f"{r['seconds_shortcut'] * 1000:.0f} |")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"benchmark": "isp_linear_noise", "sample": args.sample,
                                     "levels": rows}, indent=1) + "\n")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
