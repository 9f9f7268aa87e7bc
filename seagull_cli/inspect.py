"""``seagull inspect OUT``: counts, label histograms, clean fractions, errors, overlays, and the
label audit (``OUT/audit.json``, ``OUT/audit.png``; ``--strict`` fails a build it flags)."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    from seagull_cli._args import positive_int

    p.add_argument("root", metavar="OUT", help="dataset folder or URI (as given to build-100w)")
    p.add_argument("--overlays", metavar="DIR", default=None,
                   help="write PNG overlays of a few sources' regions with their labels to DIR")
    p.add_argument("--sources", type=positive_int, default=3,
                   help="how many sources to draw (default 3)")
    p.add_argument("--json", metavar="FILE", default=None, help="also write the report as JSON")
    p.add_argument("--strict", action="store_true",
                   help="exit 2 when the label audit flags the build (default: warn, exit 0)")


def run(args: argparse.Namespace) -> int:
    import json
    import sys
    from pathlib import Path

    from seagull.data.audit import audit, format_audit, write_audit
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
    result = audit(args.root)
    print("\n" + format_audit(result))
    json_path, png_path = write_audit(args.root, result)
    print(f"\naudit written to {json_path} and {png_path}")
    if args.overlays:
        paths = write_overlays(args.root, args.overlays, args.sources)
        print(f"\n{len(paths)} overlays in {args.overlays}")
    if not result["ok"]:
        flags = result["flags"]
        more = f" and {len(flags) - 1} more" if len(flags) > 1 else ""
        if args.strict:
            raise DatasetError(f"{args.root}: the label audit flags the build ({flags[0]}{more});"
                               f" see {json_path}")
        print(f"seagull inspect: warning: the label audit flags the build ({flags[0]}{more}); "
              "--strict makes this an error", file=sys.stderr)
    return 0
