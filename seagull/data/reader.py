"""Reading dataset tables: whole folders as Arrow, and (image, region, labels) samples.

``open_table(root, "rois")`` is a ``pyarrow.dataset`` over ``ROOT/rois/`` (complete shards
only: names starting with ``_`` or ``.`` are ignored, which pyarrow does by default too).
``iter_samples(root)`` streams one ``Sample`` per region for a plain Python training loop;
``samples_from_row(row)`` is the same conversion for one ``rois`` row, which the Ray Data reader
(``pipelines/read_rois.py``) applies with ``flat_map``. ``row_groups``, ``shuffle_windows`` and
``window_records`` are the plan and the reading of the training feed's well-mixed order; the
feed itself, like every use of Ray Data, lives with the recipes (``pipelines/read_rois.py``:
``ray_table``, ``shuffled_records``), so this library never imports Ray.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterator, Sequence
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


# ---- the shuffled record stream (training) ---------------------------------------------------
# Rows (their images) a shuffling read task holds at once: the window. docs/training.md, "The
# data feed", says how much mixing a window gives and what it costs.
SHUFFLE_WINDOW_BYTES = 2**30
_CHUNK_RECORDS = 64  # records per Arrow table a read task yields (Ray Data re-blocks them)


@dataclass(frozen=True)
class RowGroup:
    """One row group of one shard: the unit the shuffle deals out. ``nbytes``: its rows'
    uncompressed size, from the shard's footer."""

    path: str
    index: int
    rows: int
    nbytes: int


def row_groups(root: str, table: str) -> list[RowGroup]:
    """Every row group of ``root/table/``'s complete shards, from their footers (read once)."""
    import pyarrow.parquet as pq

    layout = DatasetLayout.open(root)
    shards = layout.shards(table)
    if not shards:
        raise DatasetError(f"{posixpath.join(str(root), table)}: no {table} shard")
    out = []
    for shard in shards:
        with layout.fs.open_input_file(shard) as fh:
            meta = pq.read_metadata(fh)
        for i in range(meta.num_row_groups):
            group = meta.row_group(i)
            if group.num_rows:
                out.append(RowGroup(shard, i, group.num_rows, group.total_byte_size))
    return out


def shuffle_windows(groups: Sequence[RowGroup], seed: int, epoch: int,
                    window_bytes: int = SHUFFLE_WINDOW_BYTES) -> list[list[RowGroup]]:
    """An epoch's plan: all row groups in a seeded random order, cut into the fewest windows of
    about ``window_bytes`` each (equal shares of the table; a window exceeds ``window_bytes`` by
    less than one row group). Pure: the same ``(seed, epoch)`` gives the same plan."""
    if not groups:
        return []
    order = np.random.default_rng([seed, epoch]).permutation(len(groups))
    sizes = np.array([groups[i].nbytes for i in order], dtype=np.float64)
    total = float(sizes.sum())
    n_windows = max(1, int(np.ceil(total / max(1, window_bytes))))
    middles = np.cumsum(sizes) - sizes / 2  # each group goes where its middle byte falls
    which = np.minimum((middles / max(total, 1.0) * n_windows).astype(int), n_windows - 1)
    windows: list[list[RowGroup]] = [[] for _ in range(n_windows)]
    for i, w in zip(order, which):
        windows[w].append(groups[i])
    return [w for w in windows if w]


def window_records(fs, window: Sequence[RowGroup], to_records: Callable[[dict], list[dict]],
                   seed: Sequence[int], columns: list[str] | None = None
                   ) -> Iterator[list[dict]]:
    """The records (``to_records(row)``) of all rows of ``window``'s row groups in a uniformly
    random order, seeded by ``seed``; yielded in lists of ``_CHUNK_RECORDS``.

    The window's rows are read whole (one row group at a time) and held once: a row's records
    share its image, and a record's reference is dropped as it is yielded.
    """
    import pyarrow.parquet as pq

    records: list[dict | None] = []
    for group in window:
        with fs.open_input_file(group.path) as fh:
            rows = pq.ParquetFile(fh).read_row_group(group.index, columns=columns,
                                                     use_threads=False).to_pylist()
        for row in rows:
            records.extend(to_records(row))
    order = np.random.default_rng(list(seed)).permutation(len(records))
    for start in range(0, len(order), _CHUNK_RECORDS):
        chunk = []
        for i in order[start:start + _CHUNK_RECORDS]:
            chunk.append(records[i])
            records[i] = None
        yield chunk
