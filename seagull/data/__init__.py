"""Dataset tables: Arrow schemas, deterministic ids and splits, atomic sharded writing with
per-source resume, the manifest, source discovery, the factory's stages, and readers.

This package never imports Ray; ``pipelines/`` runs its functions on Ray Data.
"""

from seagull.data.ids import image_id, roi_id, source_id, stable_id
from seagull.data.schema import (
    ERRORS_SCHEMA,
    IMAGES_SCHEMA,
    ROIS_SCHEMA,
    SCHEMA_VERSION,
    SCHEMAS,
    check_schema,
    to_table,
)
from seagull.data.split import split_by_hash, split_exact
from seagull.data.store import DatasetLayout, check_rerun, write_table_atomic

__all__ = [
    "ERRORS_SCHEMA", "IMAGES_SCHEMA", "ROIS_SCHEMA", "SCHEMAS", "SCHEMA_VERSION", "DatasetLayout",
    "check_rerun", "check_schema", "image_id", "roi_id", "source_id", "split_by_hash",
    "split_exact", "stable_id", "to_table", "write_table_atomic",
]
