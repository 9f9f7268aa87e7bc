"""Evaluate a saved model on a dataset split, on Ray Data.

Recipe: read the ``rois`` shards → keep ``split`` → a pool of actors, each loading the model
once, turns batches of images into prediction rows (``seagull.evaluation.prediction_rows``) →
the rows are gathered, sorted and written with the report (``seagull.evaluation.write_outputs``).

    python -m pipelines.evaluate --model RUN/model --data DATASET --split test --out REPORT
    ray job submit -- python -m pipelines.evaluate ...   (on a cluster: --address / RAY_ADDRESS)
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path

from seagull.data.split import SPLITS

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


@dataclass(frozen=True)
class EvaluateConfig:
    """Everything ``seagull evaluate`` takes (its fields are the command line's flags)."""

    model: str = field(metadata={"help": "a saved model folder (Seagull save_pretrained, a "
                                         "training run's folder holding model/, or a crop "
                                         "baseline)"})
    data: str = field(metadata={"help": "dataset root holding manifest.json and rois/"})
    out: str = field(metadata={"help": "report folder (created)"})
    split: str = field(default="test", metadata={"choices": SPLITS,
                                                 "help": "the split to evaluate on"})
    name: str | None = field(default=None, metadata={
        "help": "the model's name in the tables (default: the folder)"})
    actors: int = field(default=1, metadata={
        "help": "inference actors, each loading the model once"})
    cpus_per_actor: float = field(default=0.5, metadata={
        "help": "CPUs each actor reserves; keep it fractional on small machines"})
    batch_size: int = field(default=2, metadata={"help": "images per actor call"})
    threads: int = field(default=1, metadata={"help": "torch threads per actor"})
    no_global: bool = field(default=False, metadata={
        "help": "ablation: switch the global tokens off at inference"})
    no_local: bool = field(default=False, metadata={
        "help": "ablation: switch the local tokens off at inference"})
    feature_cache: str | None = field(default=None, metadata={
        "metavar": "DIR", "help": "a folder of frozen-encoder features shared with training "
                                  "and other evaluations (as seagull train --feature-cache): "
                                  "each image is encoded once for all of them"})
    address: str | None = field(default=None, metadata={
        "help": "Ray cluster address (default: RAY_ADDRESS or a local Ray started on demand)"})

    def __post_init__(self) -> None:
        from seagull.errors import InvalidArgumentError

        if self.split not in SPLITS:
            raise InvalidArgumentError(f"split must be one of {SPLITS}, got {self.split!r}")
        if not self.cpus_per_actor > 0:
            raise InvalidArgumentError(f"--cpus-per-actor must be positive, got "
                                       f"{self.cpus_per_actor}")
        for name in ("actors", "batch_size", "threads"):
            if getattr(self, name) <= 0:
                raise InvalidArgumentError(f"--{name.replace('_', '-')} must be positive, got "
                                           f"{getattr(self, name)}")


def run(config: EvaluateConfig) -> dict:
    """Run the evaluation and write every output to ``config.out``; return the report.

    ``actors`` × ``cpus_per_actor`` CPUs go to inference (fractional, so that Ray Data's read
    tasks keep a CPU on a small machine: docs/method.md); ``batch_size`` images per actor call.
    ``feature_cache``: a folder of frozen-encoder features (as ``seagull train --feature-cache``)
    that the actors read and fill, so images another run encoded are not encoded again.
    """
    c = config
    model_dir, data_root, out_dir, split = c.model, c.data, c.out, c.split
    actors, cpus_per_actor, batch_size, threads = c.actors, c.cpus_per_actor, c.batch_size, \
        c.threads
    use_global = False if c.no_global else None
    use_local = False if c.no_local else None
    name, address, feature_cache = c.name, c.address, c.feature_cache
    import pyarrow as pa
    import ray

    from pipelines.read_rois import ray_table
    from seagull.assessors import model_kind
    from seagull.data.reader import check_shards, table_dataset
    from seagull.evaluation import PREDICTIONS_SCHEMA, write_outputs

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


def main(argv: list[str] | None = None) -> int:
    """``python -m pipelines.evaluate`` is ``seagull evaluate``: one parser, and one error edge (a
    project error is one line and exit 2)."""
    from seagull_cli import main as seagull

    return seagull(["evaluate", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
