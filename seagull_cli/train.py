"""``seagull train --stage 1|2 --data DATASET_ROOT --out RUN_DIR``: Ray Train + DeepSpeed.

Its flags are the fields of ``pipelines.train.TrainRunConfig``."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    from pipelines.train import TrainRunConfig
    from seagull_cli._config import add_config_arguments

    add_config_arguments(p, TrainRunConfig)


def run(args: argparse.Namespace) -> int:
    from pipelines.train import TrainRunConfig, run, summary_line
    from seagull_cli._config import from_args

    print(summary_line(run(from_args(TrainRunConfig, args))))
    return 0
