"""``seagull train --stage 1|2 --data DATASET_ROOT --out RUN_DIR``: Ray Train + DeepSpeed."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    from pipelines.train import add_arguments as pipeline_arguments

    pipeline_arguments(p)


def run(args: argparse.Namespace) -> int:
    from pipelines.train import launch, summary_line

    print(summary_line(launch(args)))
    return 0
