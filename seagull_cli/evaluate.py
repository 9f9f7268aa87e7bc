"""``seagull evaluate``: a saved model on a dataset split → predictions, report, tables, plots.

Writes to ``--out``: ``predictions.parquet`` (one row per region, label and prediction side by
side), ``report.json`` (the paper's metrics), ``report.md`` (Tables 1 and 2) and PNG plots.
Runs on Ray Data (``pipelines/evaluate.py``): a local Ray started on demand, or ``--address``.
Its flags are the fields of ``pipelines.evaluate.EvaluateConfig``.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from pipelines.evaluate import EvaluateConfig
    from seagull_cli._config import add_config_arguments

    add_config_arguments(parser, EvaluateConfig)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from pipelines.evaluate import EvaluateConfig
    from pipelines.evaluate import run as evaluate
    from seagull.evaluation import table1_markdown
    from seagull_cli._config import from_args

    config = from_args(EvaluateConfig, args)
    report = evaluate(config)
    print(table1_markdown({config.name or Path(config.model).name: report}))
    print(f"wrote {config.out}")
    return 0
