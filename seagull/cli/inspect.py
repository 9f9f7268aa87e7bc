"""``seagull inspect OUT``: counts, label histograms, clean fractions, errors, overlays."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    from seagull.cli._args import positive_int

    p.add_argument("root", metavar="OUT", help="dataset folder or URI (as given to build-100w)")
    p.add_argument("--overlays", metavar="DIR", default=None,
                   help="write PNG overlays of a few sources' regions with their labels to DIR")
    p.add_argument("--sources", type=positive_int, default=3,
                   help="how many sources to draw (default 3)")
    p.add_argument("--json", metavar="FILE", default=None, help="also write the report as JSON")


def run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from seagull.data.inspect import format_report, report, write_overlays
    from seagull.errors import DatasetError, OutputError

    rep = report(args.root)
    if not rep["rois_rows"] and not rep["errors"]:
        raise DatasetError(f"{args.root}: no rois or errors table (not a built dataset?)")
    print(format_report(rep))
    if args.json:
        try:
            Path(args.json).write_text(json.dumps(rep, indent=2, default=str))
        except OSError as exc:
            raise OutputError(f"{args.json}: cannot write the report ({exc.strerror or exc})") \
                from None
    if args.overlays:
        paths = write_overlays(args.root, args.overlays, args.sources)
        print(f"\n{len(paths)} overlays in {args.overlays}")
    return 0
