"""``seagull samples make OUT_DIR``: sample RAW files made from photographs in packages."""

from __future__ import annotations

import argparse

from seagull_cli._args import seed, str_list


def add_arguments(p: argparse.ArgumentParser) -> None:
    from seagull.samples import DEFAULT_SEED

    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    make = sub.add_parser("make", help="write the sample DNG files into OUT_DIR")
    make.add_argument("out_dir", metavar="OUT_DIR")
    make.add_argument("--seed", type=seed, default=DEFAULT_SEED,
                      help=f"noise seed (default {DEFAULT_SEED}); same seed, same bytes")
    make.add_argument("--only", type=str_list, default=None, metavar="NAMES",
                      help="comma list of sample names (default: all)")
    sub.add_parser("list", help="list the samples and their sensors")


def run(args: argparse.Namespace) -> int:
    from seagull.samples import SAMPLES, make_samples

    if args.action == "list":
        for s in SAMPLES:
            size = "native" if s.long_side is None else f"long side {s.long_side}"
            print(f"{s.name:14s} {s.sensor.cfa} {s.sensor.bits}-bit ISO{s.iso} {size}")
        return 0
    paths = make_samples(args.out_dir, seed=args.seed, names=args.only, progress=True)
    print(f"wrote {len(paths)} DNG files to {args.out_dir}")
    return 0
