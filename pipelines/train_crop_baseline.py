"""Train the crop-only CNN baseline on a dataset's training split.

    python -m pipelines.train_crop_baseline --data DATASET_ROOT --out MODEL_DIR [--steps N]

The crops of the split are held in memory (``seagull.baselines.crop_cnn``): fine for Seagull-3k
(3,261 regions) and the mini reproduction; the saved folder is evaluated like any model with
``seagull evaluate --model MODEL_DIR``.
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    from seagull.baselines.crop_cnn import CropBaselineConfig, train_crop_baseline
    from seagull.data.split import SPLITS
    from seagull_cli import setup_logging
    from seagull_cli._args import positive_int, seed

    p = argparse.ArgumentParser(prog="python -m pipelines.train_crop_baseline",
                                description=__doc__)
    p.add_argument("--data", required=True, help="dataset root holding manifest.json and rois/")
    p.add_argument("--out", required=True, help="model folder (created)")
    p.add_argument("--split", default="train", choices=SPLITS)
    p.add_argument("--steps", type=positive_int, default=2000)
    p.add_argument("--batch-size", type=positive_int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--arch", default="resnet10t", help="timm backbone (random init)")
    p.add_argument("--crop-size", type=positive_int, default=224, help="crop side in pixels")
    p.add_argument("--threads", type=positive_int, help="torch threads")
    p.add_argument("--seed", type=seed, default=0)
    args = p.parse_args(argv)
    setup_logging()
    train_crop_baseline(args.data, args.out, steps=args.steps, batch_size=args.batch_size,
                        lr=args.lr, seed=args.seed, split=args.split, threads=args.threads,
                        config=CropBaselineConfig(arch=args.arch, crop_size=args.crop_size))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
