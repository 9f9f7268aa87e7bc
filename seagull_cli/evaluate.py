"""``seagull evaluate``: a saved model on a dataset split → predictions, report, tables, plots.

Writes to ``--out``: ``predictions.parquet`` (one row per region, label and prediction side by
side), ``report.json`` (the paper's metrics), ``report.md`` (Tables 1 and 2) and PNG plots.
Runs on Ray Data (``pipelines/evaluate.py``): a local Ray started on demand, or ``--address``.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from pipelines.evaluate import add_arguments as pipeline_arguments

    pipeline_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from pipelines.evaluate import run_from_args
    from seagull.evaluation import table1_markdown

    report = run_from_args(args)
    print(table1_markdown({args.name or Path(args.model).name: report}))
    print(f"wrote {args.out}")
    return 0
