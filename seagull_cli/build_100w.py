"""``seagull build-100w --raw-dir URI --out URI``: the Seagull-100w dataset on Ray Data."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    from pipelines.build_100w import add_arguments as pipeline_arguments

    pipeline_arguments(p)


def run(args: argparse.Namespace) -> int:
    from pipelines.build_100w import run_args, summary

    print(summary(run_args(args), args.out))
    return 0
