"""Seagull-3k ingest: a ratings file → ``OUT/images/``, ``OUT/rois/``, ``OUT/manifest.json``.

    python -m pipelines.ingest_3k RATINGS --out OUT [--test-fraction 0.2] [--seed S]

(also ``seagull ingest-3k``). A few thousand regions need no cluster: this recipe runs in one
process, and under ``ray job submit`` like any other. The ratings format is in
``docs/ingest-3k.md``.
"""

from __future__ import annotations

import argparse
import logging
import posixpath
import sys

log = logging.getLogger(__name__)

SHARD_IMAGES = 256  # images per shard: ~30–100 MB of photographs


def ingest(ratings_path: str, out: str, test_fraction: float = 0.2, seed: int = 0,
           overwrite: bool = False) -> dict:
    """Run the ingest; returns the manifest written."""
    from pathlib import Path

    from seagull.data.ingest_3k import DATASET_3K, FORMAT_VERSION, build_rows
    from seagull.data.schema import to_table
    from seagull.data.store import (
        DatasetLayout,
        check_rerun,
        new_manifest,
        producer,
        write_table_atomic,
    )
    from seagull.labels.aggregate import read_ratings
    from seagull.weights import file_sha256

    layout = DatasetLayout.open(out)
    params = {"test_fraction": test_fraction, "seed": seed, "ratings_sha256":
              file_sha256(ratings_path), "format_version": FORMAT_VERSION}
    check_rerun(layout.read_manifest(), DATASET_3K, params, out, overwrite)
    if overwrite:
        layout.drop_all()
    ratings = read_ratings(ratings_path)
    base = str(Path(ratings_path).resolve().parent)
    rows = build_rows(ratings, base, test_fraction, seed)
    log.info("%d ratings → %d regions of %d images", rows.n_ratings, rows.n_regions,
             len(rows.images))
    manifest = new_manifest(DATASET_3K, params, {
        "labeller": producer("seagull.labels.aggregate", "1", None) | {"weights": "none"}})
    layout.write_manifest(manifest)
    for start in range(0, len(rows.images), SHARD_IMAGES):
        name = f"part-{start // SHARD_IMAGES:05d}"
        for table, table_rows in (("images", rows.images), ("rois", rows.rois)):
            path = posixpath.join(layout.table_dir(table), f"{name}.parquet")
            write_table_atomic(layout.fs, path,
                               to_table(table_rows[start:start + SHARD_IMAGES], table))
    from seagull.data.split import SPLITS

    splits = {s: sum(r["split"] == s for r in rows.images) for s in SPLITS}
    manifest.update(status="complete", counts={
        "images": len(rows.images), "rois": len(rows.rois), "regions": rows.n_regions,
        "ratings": rows.n_ratings, "errors": 0, "images_by_split": splits})
    layout.write_manifest(manifest)
    return manifest


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("ratings", metavar="RATINGS", help="ratings file (.csv or .jsonl)")
    p.add_argument("--out", required=True, help="dataset folder or URI")
    p.add_argument("--test-fraction", type=float, default=0.2,
                   help="share of images in the test split (default 0.2)")
    p.add_argument("--seed", type=int, default=0, help="split seed (default 0)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace a dataset built with other parameters")


def main(argv: list[str] | None = None) -> int:
    """``python -m pipelines.ingest_3k`` is ``seagull ingest-3k``: one parser, and one error edge (a
    project error is one line and exit 2)."""
    from seagull_cli import main as seagull

    return seagull(["ingest-3k", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
