"""``seagull reproduce --mini``: build a small dataset from the sample RAWs, train the small
Seagull, two of its ablations and the crop-only baseline with three seeds each, evaluate all on
held-out photos, print one table of mean ± sd (``pipelines/reproduce.py``; results in
docs/evaluation.md)."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from pipelines.reproduce import add_arguments as pipeline_arguments

    pipeline_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from pipelines.reproduce import run_mini, settings_from_args

    result = run_mini(settings_from_args(args))
    print(result["table"])
    print(f"total {result['timings']['total']:.0f} s; results in {args.out}")
    return 0
