"""``seagull ingest-3k RATINGS --out OUT``: Seagull-3k style human ratings → dataset tables.

Its flags are the fields of ``pipelines.ingest_3k.IngestConfig``."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    from pipelines.ingest_3k import IngestConfig
    from seagull_cli._config import add_config_arguments

    add_config_arguments(p, IngestConfig)


def run(args: argparse.Namespace) -> int:
    from pipelines.ingest_3k import IngestConfig, run
    from seagull_cli._config import from_args

    config = from_args(IngestConfig, args)
    m = run(config)
    c = m["counts"]
    print(f"ingested {c['ratings']} ratings: {c['regions']} regions of {c['images']} images "
          f"({c['images_by_split']['train']} train, {c['images_by_split']['test']} test) "
          f"into {config.out}")
    return 0
