"""Seagull training samples on Ray Data: one row per region of a ``rois`` table.

    ds = read_samples("s3://bucket/seagull-100w", split="train")
    for batch in ds.iter_batches(batch_size=32): ...

Each row: ``image`` (H×W×3 uint8), ``mask`` (H×W bool), ``image_id``, ``roi_id``, ``split``,
``distortion``, ``level``, ``kind``, ``bbox``, ``area``, ``quality``, ``importance`` and
``distortions`` (JSON text of the ``{type, severity, level}`` list). The conversion is
``seagull.data.reader.samples_from_row``; this module only spreads it over Ray.

It is also the one home of the recipes' Ray Data readers: ``ray_table`` (a table's shards as a
streamed dataset), ``shuffled_records`` (records in a seeded well-mixed order planned by
``seagull.data.reader``) and ``training_stream`` (the trainer's feed built on it).
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable

from seagull.data.reader import (
    SHUFFLE_WINDOW_BYTES,
    row_groups,
    shuffle_windows,
    window_records,
)
from seagull.data.store import DatasetLayout
from seagull.errors import DatasetError


def _samples(row: dict) -> list[dict]:
    import json

    from seagull.data.reader import samples_from_row

    out = []
    for s in samples_from_row(row, decode=True):
        out.append({"image_id": s.image_id, "roi_id": s.roi_id, "split": s.split,
                    "distortion": s.distortion, "level": s.level, "kind": s.kind,
                    "bbox": s.bbox, "area": s.area, "quality": s.quality,
                    "importance": s.importance, "distortions": json.dumps(s.distortions),
                    "image": s.image, "mask": s.mask})
    return out


def read_samples(root: str, split: str | None = None, num_cpus: float = 0.5):
    """A ``ray.data.Dataset`` of samples of the dataset at ``root`` (streamed, not loaded)."""
    from seagull.data.reader import table_dataset

    table_dataset(root, "rois")  # schema check and a clear error on an empty folder
    ds = ray_table(root, "rois")
    if split is not None:
        ds = ds.filter(lambda row: row["split"] == split)
    return ds.flat_map(_samples, num_cpus=num_cpus)


def ray_table(root: str, table: str, columns: list[str] | None = None,
              shuffle_seed: int | None = None):
    """The complete shards of ``root/table/`` as a streamed ``ray.data.Dataset``.

    Read with Ray Data's file-based Parquet reader, which lists the shards and reads their
    footers once, here. The newer ``ListFiles → ReadFiles`` chain (``read_parquet``'s default
    in recent Ray) lists them again at every execution: about a second before the first row on
    a quiet machine, paid by training at every epoch (bench/train.py measures it).
    ``shuffle_seed`` shuffles the order shards are read in, differently but reproducibly at each
    execution; rows stay in their shard's order (``shuffled_records`` mixes rows and records).
    """
    import ray.data

    layout = DatasetLayout.open(root)
    shards = layout.shards(table)
    if not shards:
        raise DatasetError(f"{posixpath.join(str(root), table)}: no {table} shard")
    shuffle = None if shuffle_seed is None else ray.data.FileShuffleConfig(seed=shuffle_seed)
    context = ray.data.DataContext.get_current()
    newer = getattr(context, "use_datasource_v2", None)
    try:
        if newer is not None:
            context.use_datasource_v2 = False
        return ray.data.read_parquet(shards, filesystem=layout.fs, columns=columns,
                                     shuffle=shuffle)
    finally:
        if newer is not None:
            context.use_datasource_v2 = newer


def shuffled_records(root: str, table: str, to_records: Callable[[dict], list[dict]], seed: int,
                     columns: list[str] | None = None,
                     window_bytes: int = SHUFFLE_WINDOW_BYTES):
    """``to_records(row)`` of every row of ``root/table/``, as a ``ray.data.Dataset`` streamed in
    a seeded order that is new at each execution (epoch) and the same for the same seed.

    Each execution deals the table's row groups out in a random order, in windows of about
    ``window_bytes`` (``shuffle_windows``); one read task per window reads its rows and emits
    their records in a uniformly random order (``window_records``). A table that fits in one
    window is shuffled uniformly; a larger one in windows, each spanning row groups (photos) of
    the whole table. No step reads more than a window before the window's first record, and
    every record comes once per execution. Footers are read here, once.
    """
    import ray.data
    from ray.data.block import BlockMetadata
    from ray.data.datasource import Datasource, ReadTask

    fs = DatasetLayout.open(root).fs
    groups = row_groups(root, table)
    largest = (min(window_bytes, sum(g.nbytes for g in groups))
               + max((g.nbytes for g in groups), default=0))

    class _Source(Datasource):
        def estimate_inmemory_data_size(self) -> int:
            return sum(g.nbytes for g in groups)

        def get_read_tasks(self, parallelism: int, per_task_row_limit: int | None = None,
                           data_context=None) -> list[ReadTask]:
            import pyarrow as pa

            # Ray Data counts the executions of a dataset (its file shuffle reseeds by it too).
            epoch = int(getattr(data_context, "_execution_idx", 0) or 0)
            tasks = []
            for w, window in enumerate(shuffle_windows(groups, seed, epoch, window_bytes)):
                def read(window=window, w=w):
                    for chunk in window_records(fs, window, to_records, (seed, epoch, w),
                                                columns):
                        yield pa.Table.from_pylist(chunk)

                meta = BlockMetadata(num_rows=None, size_bytes=sum(g.nbytes for g in window),
                                     input_files=sorted({g.path for g in window}),
                                     exec_stats=None)
                tasks.append(ReadTask(read, meta, per_task_row_limit=per_task_row_limit))
            return tasks

        def get_name(self) -> str:
            return "ShuffledRecords"

    # A read task holds its window's rows, and more while converting them (1–1.4 × the window,
    # measured): reserve twice the window, so a node starts only as many as its memory holds.
    return ray.data.read_datasource(_Source(), memory=max(1, 2 * largest))


def training_stream(data: str, stage: int, seed: int, jir_fraction: float = 0.5,
                    window_bytes: int | None = None):
    """The training split of ``data``'s ``rois`` table as a Ray Data stream of records, in a
    seeded order that is new at each epoch (``shuffled_records``;
    ``window_bytes`` overrides the size of its shuffle windows)."""
    import ray.data

    from seagull.train.examples import RECORD_FIELDS, records_for_stage

    # The per-step progress line is the console's; Ray Data's bars would bury it.
    ray.data.DataContext.get_current().enable_progress_bars = False

    def records(row: dict) -> list[dict]:
        if row["split"] != "train":
            return []
        return records_for_stage(row, stage, seed, jir_fraction)

    # A shard holds one photo, its rows sorted by type then level: shards read whole, even in
    # a shuffled order, give batches of one photo and one type. Row groups of the whole table
    # are dealt into windows and each window's records shuffled uniformly instead, so nothing
    # reads more than a window before its first record (a block-order or full shuffle is an
    # all-to-all step that reads the whole table first).
    ds = shuffled_records(data, "rois", records, seed,
                          columns=["image_id", "split", "distortion", "level", "encoded",
                                   "regions"],
                          window_bytes=window_bytes or SHUFFLE_WINDOW_BYTES)
    return ds.select_columns(list(RECORD_FIELDS))
