"""Writing dataset folders: atomic Parquet shards, per-source resume, the manifest.

Layout of a dataset at ``ROOT`` (a local path or any pyarrow filesystem URI)::

    ROOT/manifest.json
    ROOT/images/<source_id>.parquet     the catalogue rows of one source
    ROOT/rois/<source_id>.parquet       the distorted images of one source with their regions
    ROOT/errors/<source_id>.parquet     one row when the source is bad
    ROOT/_staging/<source_id>/...       parts of sources in progress (readers never look here)

Why shards are per source, and why a source is written in one go: one RAW becomes 1 + T·L
image rows and many thousands of regions that reach the writer at different times. A source is
*complete* only when its ``rois`` shard exists, and that shard is written last, from parts
staged under ``_staging/``, to a dot-prefixed temporary that is then renamed into place. A
killed run therefore leaves only complete shards (and ignorable ``_``/``.`` names), and a rerun
redoes exactly the sources without a shard. Ray Data's own checkpointing marks an input row
done when *some* of its output rows are written, which loses rows after a crash (docs/method.md).

On object stores (s3://, gs://) "rename" is a copy of a whole object: a reader still never
sees a partial ``*.parquet`` object, which is the property that matters.
"""

from __future__ import annotations

import json
import logging
import os
import posixpath
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from seagull.data.schema import SCHEMA_VERSION, SCHEMAS, TABLES
from seagull.errors import DatasetError, OutputError

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
STAGING = "_staging"
# Regions of ~16 images per row group: a reader streams a shard without loading all of it.
ROWS_PER_GROUP = 16


def resolve_filesystem(uri: str | Path) -> tuple[pafs.FileSystem, str]:
    """``(filesystem, path)`` for a local path or a pyarrow URI (``s3://b/k``, ``file:///x``)."""
    text = str(uri)
    if "://" in text:
        try:
            return pafs.FileSystem.from_uri(text)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError) as exc:
            raise OutputError(f"{text}: cannot open this filesystem URI ({exc})") from None
    return pafs.LocalFileSystem(), str(Path(text).expanduser().absolute())


def absolute_location(text: str | None) -> str | None:
    """A local path made absolute (as a record, or for processes with another working folder);
    a URI (``s3://…``) and None as they are."""
    if text is None or "://" in str(text):
        return text
    return os.path.abspath(os.path.expanduser(str(text)))


def is_hidden(name: str) -> bool:
    """Names readers skip: helpers, markers and temporaries start with ``_`` or ``.``."""
    return name.startswith(("_", "."))


def write_table_atomic(fs: pafs.FileSystem, path: str, table: pa.Table | list[pa.Table],
                       row_group_size: int = ROWS_PER_GROUP) -> None:
    """Write ``table`` (or consecutive tables of one schema) as Parquet at ``path``, atomically.

    The data go to ``.<name>.<random>.tmp`` beside ``path``, which is then moved onto ``path``;
    a crash leaves at most a dot-prefixed temporary, never a partial ``path``.
    """
    parts = table if isinstance(table, list) else [table]
    if not parts:
        raise ValueError("nothing to write")
    folder, name = posixpath.split(path)
    tmp = posixpath.join(folder, f".{name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        fs.create_dir(folder, recursive=True)
        with pq.ParquetWriter(tmp, parts[0].schema, filesystem=fs, compression="zstd") as writer:
            for part in parts:
                writer.write_table(part, row_group_size=row_group_size)
        fs.move(tmp, path)
    except OSError as exc:
        try:
            fs.delete_file(tmp)
        except OSError:
            pass
        raise OutputError(f"cannot write {path}: {exc}") from None


def read_table(fs: pafs.FileSystem, path: str) -> pa.Table:
    with fs.open_input_file(path) as fh:
        return pq.read_table(fh)


@dataclass(frozen=True)
class DatasetLayout:
    """Where each table, the staging area and the manifest of a dataset live."""

    fs: pafs.FileSystem
    root: str
    uri: str  # as given by the user

    @classmethod
    def open(cls, uri: str | Path) -> DatasetLayout:
        fs, root = resolve_filesystem(uri)
        return cls(fs, root.rstrip("/") or "/", str(uri))

    def table_dir(self, table: str) -> str:
        if table not in SCHEMAS:
            raise ValueError(f"unknown table {table!r}; tables: {TABLES}")
        return posixpath.join(self.root, table)

    def shard_path(self, table: str, source_id: str) -> str:
        """The deterministic shard of ``source_id`` in ``table``."""
        return posixpath.join(self.table_dir(table), f"{source_id}.parquet")

    def staging_dir(self, source_id: str | None = None) -> str:
        base = posixpath.join(self.root, STAGING)
        return base if source_id is None else posixpath.join(base, source_id)

    @property
    def manifest_path(self) -> str:
        return posixpath.join(self.root, MANIFEST)

    def exists(self) -> bool:
        return self.fs.get_file_info(self.root).type == pafs.FileType.Directory

    def shards(self, table: str) -> list[str]:
        """Paths of the complete shards of ``table`` (visible ``*.parquet`` files), sorted."""
        info = self.fs.get_file_info(pafs.FileSelector(self.table_dir(table),
                                                        allow_not_found=True))
        return sorted(i.path for i in info if i.type == pafs.FileType.File
                      and i.base_name.endswith(".parquet") and not is_hidden(i.base_name))

    def completed_sources(self) -> set[str]:
        """Sources whose rows are all written: a ``rois`` shard, or an ``errors`` shard."""
        done = set()
        for table in ("rois", "errors"):
            done.update(posixpath.basename(p)[: -len(".parquet")] for p in self.shards(table))
        return done

    # --- staging: parts of one source, merged into its shards when all have arrived ---

    def stage_part(self, source_id: str, part: str, tables: dict[str, pa.Table]) -> None:
        """Write the rows of one part of a source (e.g. one distortion type) to staging."""
        for table, rows in tables.items():
            path = posixpath.join(self.staging_dir(source_id), f"{part}.{table}.parquet")
            write_table_atomic(self.fs, path, rows)

    def staged(self, source_id: str, table: str) -> list[str]:
        info = self.fs.get_file_info(pafs.FileSelector(self.staging_dir(source_id),
                                                        allow_not_found=True))
        suffix = f".{table}.parquet"
        return sorted(i.path for i in info if i.type == pafs.FileType.File
                      and i.base_name.endswith(suffix) and not is_hidden(i.base_name))

    def finalise_source(self, source_id: str, error_row: dict | None = None) -> dict[str, int]:
        """Merge a source's staged parts into its shards (``rois`` last) and drop staging.

        With ``error_row`` the source is bad: its ``errors`` shard is written instead and any
        staged part is discarded. Returns the row counts written per table.
        """
        from seagull.data.schema import to_table

        counts: dict[str, int] = {}
        if error_row is not None:
            write_table_atomic(self.fs, self.shard_path("errors", source_id),
                               to_table([error_row], "errors"))
            counts["errors"] = 1
        else:
            for table in ("images", "rois"):  # rois last: its shard marks the source done
                parts = [read_table(self.fs, p) for p in self.staged(source_id, table)]
                if not parts:
                    parts = [SCHEMAS[table].empty_table()]
                counts[table] = sum(p.num_rows for p in parts)
                if table == "rois":
                    counts["regions"] = sum(
                        int(pc.sum(pc.list_value_length(p.column("regions"))).as_py() or 0)
                        for p in parts)
                # The footer carries the counts, so a manifest is summed without reading rows.
                schema = SCHEMAS[table].with_metadata(
                    {**SCHEMAS[table].metadata, **{f"seagull.count.{k}".encode(): str(v).encode()
                                                   for k, v in counts.items() if k == table
                                                   or k == "regions"}})
                parts = [p.cast(schema) for p in parts]
                write_table_atomic(self.fs, self.shard_path(table, source_id), parts)
        self.drop_staging(source_id)
        return counts

    def drop_source(self, source_id: str) -> None:
        """Remove every row of one source (its shards and staging): a file that changed under
        the same name is rebuilt under its new id, and its old rows must not stay beside."""
        for table in TABLES:
            path = self.shard_path(table, source_id)
            if self.fs.get_file_info(path).type == pafs.FileType.File:
                self.fs.delete_file(path)
        self.drop_staging(source_id)

    def drop_staging(self, source_id: str | None = None) -> None:
        path = self.staging_dir(source_id)
        if self.fs.get_file_info(path).type == pafs.FileType.Directory:
            self.fs.delete_dir(path)

    def drop_all(self) -> None:
        """Remove every table, the staging area and the manifest (``--overwrite``)."""
        for table in TABLES:
            if self.fs.get_file_info(self.table_dir(table)).type == pafs.FileType.Directory:
                self.fs.delete_dir(self.table_dir(table))
        self.drop_staging()
        if self.fs.get_file_info(self.manifest_path).type == pafs.FileType.File:
            self.fs.delete_file(self.manifest_path)

    def shard_counts(self, table: str) -> dict[str, int]:
        """Rows (and, for ``rois``, regions) over the complete shards of ``table``, summed from
        the Parquet footers (no row is read)."""
        totals = {"rows": 0, "regions": 0}
        for path in self.shards(table):
            with self.fs.open_input_file(path) as fh:
                meta = pq.read_metadata(fh)
            totals["rows"] += meta.num_rows
            kv = meta.metadata or {}
            totals["regions"] += int(kv.get(b"seagull.count.regions", b"0"))
        return totals

    # --- manifest ---

    def read_manifest(self) -> dict | None:
        if self.fs.get_file_info(self.manifest_path).type != pafs.FileType.File:
            return None
        with self.fs.open_input_stream(self.manifest_path) as fh:
            try:
                return json.loads(fh.read().decode())
            except ValueError as exc:
                raise DatasetError(f"{self.manifest_path}: not valid JSON ({exc})") from None

    def write_manifest(self, manifest: dict) -> None:
        """Write ``manifest.json`` atomically (temporary + move); every table folder exists
        afterwards, empty where the table has no rows (an ``errors/`` of a clean build)."""
        data = json.dumps(manifest, indent=2, sort_keys=True).encode()
        tmp = posixpath.join(self.root, f".{MANIFEST}.{uuid.uuid4().hex[:12]}.tmp")
        try:
            for table in SCHEMAS:
                self.fs.create_dir(self.table_dir(table), recursive=True)
            with self.fs.open_output_stream(tmp) as fh:
                fh.write(data)
            self.fs.move(tmp, self.manifest_path)
        except OSError as exc:
            raise OutputError(f"cannot write {self.manifest_path}: {exc}") from None


def new_manifest(dataset: str, params: dict[str, Any], producers: dict[str, dict]) -> dict:
    """A manifest before any row is counted (``status`` "running")."""
    return {
        "dataset": dataset,
        "schema_version": SCHEMA_VERSION,
        "status": "running",
        "params": params,
        "producers": producers,
        "counts": {},
    }


def producer(name: str, version: str, weights_hash: str | None) -> dict[str, str]:
    """A manifest ``producers`` entry: weights hash, or the word ``fallback`` without weights."""
    return {"name": str(name), "version": str(version), "weights": weights_hash or "fallback"}


def check_rerun(existing: dict | None, dataset: str, params: dict[str, Any], where: str,
                overwrite: bool = False) -> None:
    """Refuse to add rows to a dataset built with other parameters (unless ``overwrite``).

    ``params`` holds only what determines rows (not resources or ``max_sources``).
    """
    if existing is None or overwrite:
        return
    if existing.get("dataset") != dataset:
        raise DatasetError(f"{where} holds a {existing.get('dataset')!r} dataset, not {dataset!r};"
                           " use another folder or --overwrite")
    if existing.get("schema_version") != SCHEMA_VERSION:
        raise DatasetError(f"{where} has schema version {existing.get('schema_version')}, this "
                           f"code writes {SCHEMA_VERSION}; use another folder or --overwrite")
    old = existing.get("params", {})
    changed = sorted(k for k in set(old) | set(params) if old.get(k) != params.get(k))
    if changed:
        detail = ", ".join(f"{k}: {old.get(k)!r} → {params.get(k)!r}" for k in changed)
        raise DatasetError(f"{where} was built with other parameters ({detail}); rerun with the "
                           "same ones to resume, or give --overwrite to rebuild")


def check_producers(existing: dict | None, producers: dict[str, dict], where: str,
                    overwrite: bool = False) -> None:
    """Refuse to mix rows of different ISP/segmenter/labeller builds in one dataset."""
    if existing is None or overwrite:
        return
    old = existing.get("producers", {})
    changed = sorted(k for k in producers if k in old and old[k] != producers[k])
    if changed:
        detail = "; ".join(f"{k}: {old[k]} → {producers[k]}" for k in changed)
        raise DatasetError(f"{where} was built by other components ({detail}); "
                           "give --overwrite to rebuild")
