"""``seagull render RAW_FILE --out DIR``: the reference and the distorted renders of one RAW.

Writes ``DIR/reference.png``, ``DIR/<type>_<LL>.png`` (``.jpg`` for compression: the real JPEG
bytes), ``DIR/params.json`` with every parameter used, and with ``--contact-sheet``
``DIR/contact_sheet.png``.
"""

from __future__ import annotations

import argparse

from seagull_cli._args import int_list, positive_int, seed, str_list


def add_arguments(p: argparse.ArgumentParser) -> None:
    from seagull.isp.render import DEFAULT_SEED
    from seagull.labels.levels import DISTORTION_TYPES

    p.add_argument("raw_file", metavar="RAW_FILE", help="any RAW libraw reads (DNG, NEF, CR2 …)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (created)")
    p.add_argument("--long-side", type=positive_int, default=None, metavar="N",
                   help="resize every render to this long side in pixels (default: native)")
    p.add_argument("--types", type=str_list, default=None, metavar="TYPES",
                   help=f"comma list of distortion types: {','.join(DISTORTION_TYPES)} "
                        "(default: all six)")
    p.add_argument("--levels", type=int_list, default=None, metavar="LEVELS",
                   help="comma list of levels 0…19 (default: all)")
    p.add_argument("--seed", type=seed, default=DEFAULT_SEED,
                   help=f"noise seed (default {DEFAULT_SEED}); same seed, same images")
    p.add_argument("--contact-sheet", action="store_true",
                   help="also write contact_sheet.png, a grid of every render")


def run(args: argparse.Namespace) -> int:
    import functools
    import sys

    from tqdm import tqdm

    from seagull.isp.files import write_renders

    progress = functools.partial(tqdm, unit="image", disable=not sys.stderr.isatty())
    manifest = write_renders(args.raw_file, args.out, types=args.types, levels=args.levels,
                             long_side=args.long_side, seed=args.seed,
                             contact_sheet=args.contact_sheet, progress=progress)
    sheet = " and a contact sheet" if args.contact_sheet else ""
    print(f"wrote {len(manifest['images'])} images{sheet} and params.json to {args.out}")
    return 0
