"""Seagull-3k ingest: a ratings file → ``OUT/images/``, ``OUT/rois/``, ``OUT/manifest.json``.

    python -m pipelines.ingest_3k RATINGS --out OUT [--test-fraction 0.2] [--seed S]

(also ``seagull ingest-3k``). A few thousand regions need no cluster: this recipe runs in one
process, and under ``ray job submit`` like any other. The ratings format is in
``docs/ingest-3k.md``.
"""

from __future__ import annotations

import logging
import posixpath
import sys
from dataclasses import dataclass, field

from seagull.data.split import DEFAULT_TEST_FRACTION_3K

log = logging.getLogger(__name__)

SHARD_IMAGES = 256  # images per shard: ~30–100 MB of photographs


@dataclass(frozen=True)
class IngestConfig:
    """Everything ``seagull ingest-3k`` takes (its fields are the command line's flags)."""

    ratings: str = field(metadata={"positional": True, "metavar": "RATINGS",
                                   "help": "ratings file (.csv or .jsonl)"})
    out: str = field(metadata={"help": "dataset folder or URI"})
    test_fraction: float = field(default=DEFAULT_TEST_FRACTION_3K, metadata={
        "help": "share of images in the test split"})
    seed: int = field(default=0, metadata={"help": "split seed"})
    overwrite: bool = field(default=False, metadata={
        "help": "replace a dataset built with other parameters"})

    def __post_init__(self) -> None:
        from seagull.errors import InvalidArgumentError

        if not 0.0 <= self.test_fraction <= 1.0:
            raise InvalidArgumentError(f"--test-fraction {self.test_fraction} is outside [0, 1]")


def run(config: IngestConfig) -> dict:
    """Ingest the ratings ``config`` names; returns the manifest written."""
    return ingest(config.ratings, config.out, config.test_fraction, config.seed,
                  config.overwrite)


def ingest(ratings_path: str, out: str, test_fraction: float = DEFAULT_TEST_FRACTION_3K,
           seed: int = 0, overwrite: bool = False) -> dict:
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


def main(argv: list[str] | None = None) -> int:
    """``python -m pipelines.ingest_3k`` is ``seagull ingest-3k``: one parser, and one error edge (a
    project error is one line and exit 2)."""
    from seagull_cli import main as seagull

    return seagull(["ingest-3k", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
