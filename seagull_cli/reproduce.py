"""``seagull reproduce --mini``: build a small dataset from the sample RAWs, train the small
Seagull, two of its ablations and the crop-only baseline with three seeds each, evaluate all on
held-out photos, print one table of mean ± sd (``pipelines/reproduce.py``; results in
docs/evaluation.md). Its flags are ``--mini`` and the fields of
``pipelines.reproduce.ReproduceConfig``."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from pipelines.reproduce import ReproduceConfig
    from seagull_cli._config import add_config_arguments

    parser.add_argument("--mini", action="store_true", required=True,
                        help="the mini reproduction on the sample photos (the only mode here; "
                             "the full-scale commands are in docs/evaluation.md)")
    add_config_arguments(parser, ReproduceConfig)


def run(args: argparse.Namespace) -> int:
    from pipelines.reproduce import ReproduceConfig
    from pipelines.reproduce import run as reproduce
    from seagull_cli._config import from_args

    result = reproduce(from_args(ReproduceConfig, args))
    print(result["table"])
    print(f"total {result['timings']['total']:.0f} s; results in {args.out}")
    return 0
