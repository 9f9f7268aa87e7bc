"""Evaluate a saved model on a dataset split, on Ray Data.

Recipe: read the ``rois`` shards → keep ``split`` → a pool of actors, each loading the model
once, turns batches of images into prediction rows (``seagull.evaluation.prediction_rows``) →
the rows are gathered, sorted and written with the report (``seagull.evaluation.write_outputs``).

    python -m pipelines.evaluate --model RUN/model --data DATASET --split test --out REPORT
    ray job submit -- python -m pipelines.evaluate ...   (on a cluster: --address / RAY_ADDRESS)
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

log = logging.getLogger("pipelines.evaluate")

# Columns of the rois table the assessors need (everything but the catalogue fields).
ROIS_COLUMNS = ["image_id", "source_id", "split", "distortion", "encoded", "regions"]


class AssessBatch:
    """Ray Data actor: the model is loaded once, in ``__init__``; ``__call__`` maps a batch of
    ``rois`` rows (Arrow) to prediction rows (Arrow, ``PREDICTIONS_SCHEMA``)."""

    def __init__(self, model_dir: str, split: str, use_global, use_local, threads: int,
                 feature_cache: str | None = None):
        from seagull.assessors import load_assessor

        self.split = split
        self.assessor = load_assessor(model_dir, use_global=use_global, use_local=use_local,
                                      threads=threads, feature_cache=feature_cache)

    def __call__(self, batch):
        import pyarrow as pa

        from seagull.evaluation import PREDICTIONS_SCHEMA, prediction_rows

        rows = []
        for row in batch.to_pylist():
            rows.extend(prediction_rows(self.assessor, row, self.split))
        return pa.Table.from_pylist(rows, schema=PREDICTIONS_SCHEMA)


def _ready_output(out: Path) -> None:
    """``out`` exists as a writable folder, or ``OutputError`` naming it."""
    import os

    from seagull.errors import OutputError

    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{out}: cannot write the evaluation there ({exc.strerror or exc})") \
            from None
    if not os.access(out, os.W_OK):
        raise OutputError(f"{out}: cannot write the evaluation there (not writable)")


def evaluate(model_dir: str | Path, data_root: str | Path, out_dir: str | Path, *,
             split: str = "test", actors: int = 1, cpus_per_actor: float = 0.5,
             batch_size: int = 2, threads: int = 1, use_global: bool | None = None,
             use_local: bool | None = None, name: str | None = None,
             address: str | None = None, feature_cache: str | Path | None = None) -> dict:
    """Run the evaluation and write every output to ``out_dir``; return the report.

    ``actors`` × ``cpus_per_actor`` CPUs go to inference (fractional, so that Ray Data's read
    tasks keep a CPU on a small machine: docs/method.md); ``batch_size`` images per actor call.
    ``feature_cache``: a folder of frozen-encoder features (as ``seagull train --feature-cache``)
    that the actors read and fill, so images another run encoded are not encoded again.
    """
    import pyarrow as pa
    import ray

    from pipelines.read_rois import ray_table
    from seagull.assessors import model_kind
    from seagull.data.reader import check_shards, table_dataset
    from seagull.data.schema import SPLITS
    from seagull.errors import InvalidArgumentError
    from seagull.evaluation import PREDICTIONS_SCHEMA, write_outputs

    if split not in SPLITS:
        raise InvalidArgumentError(f"split must be one of {SPLITS}, got {split!r}")
    kind = model_kind(model_dir)  # fail before Ray starts when the folder is wrong
    check_shards(str(data_root), "rois")  # a damaged shard named now, not deep inside Ray
    table_dataset(str(data_root), "rois")  # schema check, clear error when there are no shards
    _ready_output(Path(out_dir))  # before the work, not after it
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, configure_logging=False,
                 log_to_driver=False)
    ds = ray_table(str(data_root), "rois", columns=ROIS_COLUMNS)
    predicted = ds.map_batches(
        AssessBatch,
        fn_constructor_kwargs={"model_dir": str(model_dir), "split": split,
                               "use_global": use_global, "use_local": use_local,
                               "threads": threads,
                               "feature_cache": None if feature_cache is None
                               else str(Path(feature_cache).resolve())},
        batch_size=batch_size, batch_format="pyarrow", num_cpus=cpus_per_actor,
        compute=ray.data.ActorPoolStrategy(size=actors))
    parts = [t for t in (ray.get(ref) for ref in predicted.to_arrow_refs()) if t.num_rows]
    table = (pa.concat_tables([p.cast(PREDICTIONS_SCHEMA) for p in parts]) if parts
             else PREDICTIONS_SCHEMA.empty_table())
    if table.num_rows:  # the file must not depend on the order the actors finished in
        table = table.sort_by([("image_id", "ascending"), ("roi_id", "ascending")])
    notes = [f"model: {model_dir} ({kind})", f"data: {data_root}, split {split}"]
    if use_global is False:
        notes.append("global tokens switched off at inference")
    if use_local is False:
        notes.append("local tokens switched off at inference")
    report = write_outputs(table, out_dir, name=name or Path(str(model_dir)).name, notes=notes)
    log.info("evaluated %d regions: quality SROCC %.4f, importance SROCC %.4f → %s",
             table.num_rows, report["quality"]["srocc"], report["importance"]["srocc"], out_dir)
    return report


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared by ``seagull evaluate`` and ``python -m pipelines.evaluate``."""
    from seagull.data.split import SPLITS
    from seagull_cli._args import positive_int

    parser.add_argument("--model", required=True,
                        help="a saved model folder (Seagull save_pretrained, a training run's "
                             "folder holding model/, or a crop baseline)")
    parser.add_argument("--data", required=True,
                        help="dataset root holding manifest.json and rois/")
    parser.add_argument("--split", default="test", choices=SPLITS)
    parser.add_argument("--out", required=True, help="report folder (created)")
    parser.add_argument("--name", help="the model's name in the tables (default: the folder)")
    parser.add_argument("--actors", type=positive_int, default=1,
                        help="inference actors, each loading the model once (default 1)")
    parser.add_argument("--cpus-per-actor", type=float, default=0.5,
                        help="CPUs each actor reserves; keep it fractional on small machines")
    parser.add_argument("--batch-size", type=positive_int, default=2,
                        help="images per actor call (default 2)")
    parser.add_argument("--threads", type=positive_int, default=1,
                        help="torch threads per actor (default 1)")
    parser.add_argument("--no-global", action="store_true",
                        help="ablation: switch the global tokens off at inference")
    parser.add_argument("--no-local", action="store_true",
                        help="ablation: switch the local tokens off at inference")
    parser.add_argument("--feature-cache", metavar="DIR",
                        help="a folder of frozen-encoder features shared with training and "
                             "other evaluations (as seagull train --feature-cache): each image "
                             "is encoded once for all of them")
    parser.add_argument("--address", help="Ray cluster address (default: RAY_ADDRESS or a "
                                          "local Ray started on demand)")


def run_from_args(args: argparse.Namespace) -> dict:
    if not args.cpus_per_actor > 0:
        from seagull.errors import InvalidArgumentError

        raise InvalidArgumentError(f"--cpus-per-actor must be positive, got {args.cpus_per_actor}")
    return evaluate(args.model, args.data, args.out, split=args.split, actors=args.actors,
                    cpus_per_actor=args.cpus_per_actor, batch_size=args.batch_size,
                    threads=args.threads, use_global=False if args.no_global else None,
                    use_local=False if args.no_local else None, name=args.name,
                    address=args.address, feature_cache=args.feature_cache)


def main(argv: list[str] | None = None) -> int:
    """``python -m pipelines.evaluate`` is ``seagull evaluate``: one parser, and one error edge (a
    project error is one line and exit 2)."""
    from seagull_cli import main as seagull

    return seagull(["evaluate", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
