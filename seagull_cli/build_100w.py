"""``seagull build-100w --raw-dir URI --out URI``: the Seagull-100w dataset on Ray Data.

Its flags are the fields of ``pipelines.build_100w.BuildConfig``."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    from pipelines.build_100w import BuildConfig
    from seagull_cli._config import add_config_arguments

    add_config_arguments(p, BuildConfig)


def run(args: argparse.Namespace) -> int:
    from pipelines.build_100w import BuildConfig, run, summary
    from seagull_cli._config import from_args

    config = from_args(BuildConfig, args)
    print(summary(run(config), config.out))
    return 0
