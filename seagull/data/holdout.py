"""The held-out photos of an experiment: whole split groups moved into the test split.

``hold_out_sources(root, n)`` applies to a built dataset the rule the main job applies to its
photo lists (``seagull.data.split.held_out_groups`` of the RAW file names: the first, the last
and evenly between); the mini reproduction uses it. It rewrites the ``split`` column of the
chosen sources' shards in place.
"""

from __future__ import annotations

import posixpath

import pyarrow as pa
import pyarrow.parquet as pq

from seagull.data.split import held_out_groups, split_group
from seagull.data.store import DatasetLayout, read_table, write_table_atomic
from seagull.errors import ConfigError, InvalidArgumentError


def hold_out_sources(root: str, holdout: int) -> dict[str, list[str]]:
    """Make ``holdout`` photos (whole split groups) the test split, the others train.

    The groups are ``seagull.data.split.held_out_groups`` of the sources' RAW file names (the
    ``images`` table's ``source``): the first, the last and evenly between in name order, the
    main job's rule. A source of unknown name (no ``images`` shard) is a group of its own, named
    by its id. A split group (a stereo pair, a burst) is never cut, so the test split may hold
    more than ``holdout`` sources. Rewrites the ``split`` column of each source's ``rois`` and
    ``images`` shards atomically; returns ``{"train": [...], "test": [...]}`` source ids in
    name order.
    """
    layout = DatasetLayout.open(root)
    shards = layout.shards("rois")
    sources = [posixpath.basename(s)[: -len(".parquet")] for s in shards]
    names = {sid: source_name(layout, sid) or f"source-{sid}" for sid in sources}
    try:
        held = held_out_groups(names.values(), holdout)
    except InvalidArgumentError as exc:
        raise ConfigError(f"{root}: {exc}") from None
    sources.sort(key=lambda sid: (split_group(names[sid]), names[sid], sid))
    test_ids = [sid for sid in sources if split_group(names[sid]) in held]
    test = set(test_ids)
    for table in ("rois", "images"):
        for sid in sources:
            path = layout.shard_path(table, sid)
            if layout.fs.get_file_info(path).type.name != "File":
                continue
            t = read_table(layout.fs, path)
            split = pa.array(["test" if sid in test else "train"] * t.num_rows, pa.string())
            idx = t.schema.get_field_index("split")
            t = t.set_column(idx, t.schema.field("split"), split)
            write_table_atomic(layout.fs, path, t)
    manifest = layout.read_manifest() or {}
    manifest["holdout"] = {"test_sources": test_ids,
                           "test_names": [names[s] for s in test_ids],
                           "rule": "seagull.data.split.held_out_groups of the RAW file names: "
                                   "the first, the last and evenly between, whole groups"}
    layout.write_manifest(manifest)
    return {"train": [sid for sid in sources if sid not in test], "test": test_ids}


def source_name(layout: DatasetLayout, sid: str) -> str:
    """The RAW file name of source ``sid`` (from its ``images`` shard), or '' when that shard
    is missing or cannot be read."""
    path = layout.shard_path("images", sid)
    try:
        if layout.fs.get_file_info(path).type.name != "File":
            return ""
        with layout.fs.open_input_file(path) as fh:
            column = pq.read_table(fh, columns=["source"]).column("source")
    except (OSError, ValueError, KeyError, pa.ArrowException):
        return ""
    return posixpath.basename(str(column[0]).rstrip("/")) if len(column) else ""
