"""The Arrow schemas of the dataset tables, defined once (docs/dataset.md, "Output and its
guarantees").

Tables and their rows
- ``images``: the catalogue, one row per render (a reference, a distorted render, or an
  authentic Seagull-3k image). ``encoded`` holds the bytes of references only; the bytes of a
  distorted or authentic image live in its ``rois`` row, so a reader never needs a join.
- ``rois``: one row per distorted (or authentic) image with all its regions nested.
- ``errors``: one row per bad source.

Every schema carries ``seagull.table`` and ``seagull.schema_version`` in its metadata; a reader
refuses a table of another version (``check_schema``).

Units and conventions: scores (``quality``, ``importance``, ``severity``, ``importance_pair``)
lie on [0, 1], 1 best (``seagull.labels.levels``); ``bbox`` is COCO ``[x, y, w, h]`` in pixels;
``area`` is in pixels; ``mask`` is COCO RLE (``size`` = [height, width], ``counts`` the
compressed string); ``level`` of a render is 0…19 (null for authentic images); the ``level`` of
a distortion entry is the severity word (extreme … trivial). ``importance`` is null where it is
undefined (a render without a visible whole-image drop; Seagull-3k rows without ratings).
"""

from __future__ import annotations

import pyarrow as pa

from seagull.data.split import SPLITS  # noqa: F401 - its one home is the light split module
from seagull.errors import DatasetError

SCHEMA_VERSION = 1

# Distortion names a row may carry besides the six types.
REFERENCE = "reference"
AUTHENTIC = "authentic"  # a Seagull-3k photograph: no reference, distortions from ratings

REGION_KINDS = ("object", "component")

DISTORTION_ENTRY = pa.struct([
    pa.field("type", pa.string(), nullable=False),
    pa.field("severity", pa.float64(), nullable=False),
    pa.field("level", pa.string(), nullable=False),
])

RLE = pa.struct([
    pa.field("size", pa.list_(pa.int32()), nullable=False),  # [height, width]
    pa.field("counts", pa.string(), nullable=False),
])

REGION = pa.struct([
    pa.field("roi_id", pa.string(), nullable=False),
    pa.field("kind", pa.string(), nullable=False),
    pa.field("mask", RLE, nullable=False),
    pa.field("bbox", pa.list_(pa.float64()), nullable=False),
    pa.field("area", pa.int64(), nullable=False),
    pa.field("quality", pa.float64()),
    pa.field("importance", pa.float64()),
    pa.field("importance_pair", pa.list_(pa.float64())),
    pa.field("distortions", pa.list_(DISTORTION_ENTRY), nullable=False),
])


def _meta(table: str) -> dict[bytes, bytes]:
    return {b"seagull.table": table.encode(), b"seagull.schema_version": str(SCHEMA_VERSION).encode()}


IMAGES_SCHEMA = pa.schema([
    pa.field("image_id", pa.string(), nullable=False),
    pa.field("source_id", pa.string(), nullable=False),
    pa.field("source", pa.string(), nullable=False),
    pa.field("split", pa.string(), nullable=False),
    pa.field("distortion", pa.string(), nullable=False),
    pa.field("level", pa.int16()),
    pa.field("isp_params", pa.string(), nullable=False),  # JSON object
    pa.field("width", pa.int32(), nullable=False),
    pa.field("height", pa.int32(), nullable=False),
    pa.field("format", pa.string(), nullable=False),  # "png" | "jpeg"
    pa.field("encoded", pa.large_binary()),
], metadata=_meta("images"))

ROIS_SCHEMA = pa.schema([
    pa.field("image_id", pa.string(), nullable=False),
    pa.field("reference_id", pa.string()),  # null for authentic images
    pa.field("source_id", pa.string(), nullable=False),
    pa.field("split", pa.string(), nullable=False),
    pa.field("distortion", pa.string(), nullable=False),
    pa.field("level", pa.int16()),
    pa.field("width", pa.int32(), nullable=False),
    pa.field("height", pa.int32(), nullable=False),
    pa.field("format", pa.string(), nullable=False),
    pa.field("encoded", pa.large_binary(), nullable=False),
    pa.field("regions", pa.list_(REGION), nullable=False),
], metadata=_meta("rois"))

ERRORS_SCHEMA = pa.schema([
    pa.field("source", pa.string(), nullable=False),  # the input path or URI as given
    pa.field("source_id", pa.string(), nullable=False),
    pa.field("stage", pa.string(), nullable=False),
    pa.field("error", pa.string(), nullable=False),  # the error's type name
    pa.field("message", pa.string(), nullable=False),
], metadata=_meta("errors"))

SCHEMAS: dict[str, pa.Schema] = {
    "images": IMAGES_SCHEMA, "rois": ROIS_SCHEMA, "errors": ERRORS_SCHEMA,
}
TABLES: tuple[str, ...] = tuple(SCHEMAS)


def to_table(rows: list[dict], table: str) -> pa.Table:
    """Rows (dicts with the schema's field names) → a ``pa.Table`` of ``table``'s schema.

    Raises ``DatasetError`` naming the table when a row does not fit (missing or mistyped
    field), instead of pyarrow's long message.
    """
    schema = SCHEMAS[table]
    names = set(schema.names)
    for i, row in enumerate(rows):
        missing = names - row.keys()
        if missing:
            raise DatasetError(f"{table} rows do not fit the schema: row {i} lacks "
                               f"{sorted(missing)}")
    try:
        result = pa.Table.from_pylist(rows, schema=schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError, KeyError, TypeError) as exc:
        raise DatasetError(f"{table} rows do not fit the schema: {exc}") from None
    # pyarrow does not enforce nullable=False; the top-level columns are checked here.
    nulls = [f.name for f in schema if not f.nullable and result.column(f.name).null_count]
    if nulls:
        raise DatasetError(f"{table} rows do not fit the schema: null in {nulls}")
    return result


def check_schema(schema: pa.Schema, table: str, where: str) -> None:
    """Raise ``DatasetError`` unless ``schema`` is version ``SCHEMA_VERSION`` of ``table``."""
    meta = schema.metadata or {}
    found_table = meta.get(b"seagull.table", b"").decode()
    found_version = meta.get(b"seagull.schema_version", b"").decode()
    if found_table != table or found_version != str(SCHEMA_VERSION):
        raise DatasetError(
            f"{where}: not a seagull {table!r} table of schema version {SCHEMA_VERSION} "
            f"(found table {found_table or '?'!r}, version {found_version or '?'})")
    missing = [f.name for f in SCHEMAS[table] if f.name not in schema.names]
    if missing:
        raise DatasetError(f"{where}: {table} table lacks column(s) {missing}")
