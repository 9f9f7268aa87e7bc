"""Reading dataset tables: whole folders as Arrow, and (image, region, labels) samples.

``open_table(root, "rois")`` is a ``pyarrow.dataset`` over ``ROOT/rois/`` (complete shards
only: names starting with ``_`` or ``.`` are ignored, which pyarrow does by default too).
``iter_samples(root)`` streams one ``Sample`` per region for a plain Python training loop;
``samples_from_row(row)`` is the same conversion for one ``rois`` row, which the Ray Data reader
(``pipelines/read_rois.py``) applies with ``flat_map``.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow.dataset as pads

from seagull.data.factory import decode_image, decode_mask
from seagull.data.schema import SCHEMAS, SPLITS, check_schema
from seagull.data.store import DatasetLayout
from seagull.errors import DatasetError, InvalidArgumentError


@dataclass
class Sample:
    """One training sample: a region of an image and its labels.

    ``image`` H×W×3 uint8 RGB (None when not decoded: then ``encoded`` holds the bytes);
    ``mask`` H×W bool (None when not decoded); scores on [0, 1] as in the ``rois`` schema;
    ``distortions`` a list of ``{type, severity, level}`` (empty: the region is clean).
    """

    image_id: str
    roi_id: str
    split: str
    distortion: str
    level: int | None
    kind: str
    bbox: list[float]
    area: int
    quality: float | None
    importance: float | None
    distortions: list[dict]
    encoded: bytes
    rle: dict
    image: np.ndarray | None = None
    mask: np.ndarray | None = None


def table_dataset(root: str, table: str) -> pads.Dataset:
    """A ``pyarrow.dataset`` over ``root/table/``, schema-checked."""
    layout = DatasetLayout.open(root)
    shards = layout.shards(table)
    if not shards:
        raise DatasetError(f"{posixpath.join(str(root), table)}: no {table} shard")
    ds = pads.dataset(shards, filesystem=layout.fs, format="parquet", schema=SCHEMAS[table])
    first = pads.dataset(shards[0], filesystem=layout.fs, format="parquet")
    check_schema(first.schema, table, shards[0])
    return ds


def samples_from_row(row: dict, decode: bool = True) -> list[Sample]:
    """The samples of one ``rois`` row (a dict with the schema's fields), one per region."""
    image = decode_image(row["encoded"]) if decode and row["regions"] else None
    out = []
    for region in row["regions"]:
        out.append(Sample(
            image_id=row["image_id"], roi_id=region["roi_id"], split=row["split"],
            distortion=row["distortion"], level=row["level"], kind=region["kind"],
            bbox=list(region["bbox"]), area=int(region["area"]), quality=region["quality"],
            importance=region["importance"], distortions=list(region["distortions"]),
            encoded=row["encoded"], rle=dict(region["mask"]), image=image,
            mask=decode_mask(region["mask"]) if decode else None))
    return out


def iter_samples(root: str, split: str | None = None, decode: bool = True,
                 batch_rows: int = 8) -> Iterator[Sample]:
    """Stream every region of ``root``'s ``rois`` table (optionally one split) as a ``Sample``.

    Reads ``batch_rows`` images at a time, so memory stays at a few images whatever the size.
    """
    if split is not None and split not in SPLITS:
        raise InvalidArgumentError(f"split must be one of {SPLITS}, got {split!r}")
    ds = table_dataset(root, "rois")
    expr = None if split is None else (pads.field("split") == split)
    for batch in ds.to_batches(filter=expr, batch_size=batch_rows):
        for row in batch.to_pylist():
            yield from samples_from_row(row, decode=decode)


def ray_table(root: str, table: str, columns: list[str] | None = None,
              shuffle_seed: int | None = None):
    """The complete shards of ``root/table/`` as a streamed ``ray.data.Dataset``.

    Read with Ray Data's file-based Parquet reader, which lists the shards and reads their
    footers once, here. The newer ``ListFiles → ReadFiles`` chain (``read_parquet``'s default
    in recent Ray) lists them again at every execution: about a second before the first row on
    a quiet machine, paid by training at every epoch (bench/train.py measures it).
    ``shuffle_seed`` shuffles the order shards are read in, differently but reproducibly at each
    execution; rows stay in their shard's order (training mixes them with a local buffer).
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


def unreadable_shards(root: str, table: str) -> dict[str, str]:
    """The shards of ``root/table/`` whose Parquet footer cannot be read: path → reason.

    Reads only each footer (a few kilobytes), so it is cheap next to reading the rows.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    layout = DatasetLayout.open(root)
    bad = {}
    for shard in layout.shards(table):
        try:
            with layout.fs.open_input_file(shard) as fh:
                pq.read_metadata(fh)
        except (OSError, ValueError, pa.ArrowException) as exc:
            bad[shard] = (str(exc).strip().splitlines() or [exc.__class__.__name__])[0][:160]
    return bad


def check_shards(root: str, table: str) -> None:
    """``DatasetError`` naming the first damaged shard of ``root/table/``, if any."""
    bad = unreadable_shards(root, table)
    if bad:
        shard, reason = next(iter(bad.items()))
        more = f"; {len(bad) - 1} more damaged" if len(bad) > 1 else ""
        raise DatasetError(f"{shard}: damaged {table} shard ({reason}){more}")
