"""``seagull ingest-3k RATINGS --out OUT``: Seagull-3k style human ratings → dataset tables."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    from pipelines.ingest_3k import add_arguments as pipeline_arguments

    pipeline_arguments(p)


def run(args: argparse.Namespace) -> int:
    from pipelines.ingest_3k import ingest

    m = ingest(args.ratings, args.out, args.test_fraction, args.seed, args.overwrite)
    c = m["counts"]
    print(f"ingested {c['ratings']} ratings: {c['regions']} regions of {c['images']} images "
          f"({c['images_by_split']['train']} train, {c['images_by_split']['test']} test) "
          f"into {args.out}")
    return 0
