"""Schemas, ids and splits of seagull.data."""

from __future__ import annotations

import pyarrow as pa
import pytest

from seagull.data import ids, schema, split
from seagull.errors import DatasetError, InvalidArgumentError


def _roi_row(**over):
    row = {"image_id": "i", "reference_id": "r", "source_id": "s", "split": "train",
           "distortion": "noise", "level": 3, "width": 4, "height": 2, "format": "png",
           "encoded": b"\x89PNG", "regions": [{
               "roi_id": "x", "kind": "object", "mask": {"size": [2, 4], "counts": "0800"},
               "bbox": [0.0, 0.0, 4.0, 2.0], "area": 8, "quality": 0.5, "importance": None,
               "importance_pair": [0.7, 1.0],
               "distortions": [{"type": "noise", "severity": 0.5, "level": "moderate"}]}]}
    row.update(over)
    return row


def test_rois_rows_round_trip_with_nested_regions_and_large_binary():
    table = schema.to_table([_roi_row()], "rois")
    assert table.schema.field("encoded").type == pa.large_binary()
    region_type = table.schema.field("regions").type.value_type
    assert [f.name for f in region_type] == ["roi_id", "kind", "mask", "bbox", "area", "quality",
                                             "importance", "importance_pair", "distortions"]
    back = table.to_pylist()[0]
    assert back["regions"][0]["importance"] is None
    assert back["regions"][0]["distortions"][0]["level"] == "moderate"
    schema.check_schema(table.schema, "rois", "t")


def test_rows_that_do_not_fit_and_foreign_tables_are_dataset_errors():
    with pytest.raises(DatasetError, match="rois rows do not fit"):
        schema.to_table([_roi_row(width="wide")], "rois")
    with pytest.raises(DatasetError, match="rois rows do not fit"):
        schema.to_table([{k: v for k, v in _roi_row().items() if k != "encoded"}], "rois")
    with pytest.raises(DatasetError, match="not a seagull 'rois' table of schema version 1"):
        schema.check_schema(pa.schema([("image_id", pa.string())]), "rois", "x.parquet")
    with pytest.raises(DatasetError, match="found table 'images'"):
        schema.check_schema(schema.IMAGES_SCHEMA, "rois", "x.parquet")


def test_ids_are_deterministic_and_change_with_every_input():
    base = ids.image_id("src", "noise", 3, {"sigma": 0.1, "seed": 1}, "isp-1")
    assert base == ids.image_id("src", "noise", 3, {"seed": 1, "sigma": 0.1}, "isp-1")
    assert len(base) == ids.ID_HEX and int(base, 16) >= 0
    others = {ids.image_id("src2", "noise", 3, {"sigma": 0.1, "seed": 1}, "isp-1"),
              ids.image_id("src", "blur", 3, {"sigma": 0.1, "seed": 1}, "isp-1"),
              ids.image_id("src", "noise", 4, {"sigma": 0.1, "seed": 1}, "isp-1"),
              ids.image_id("src", "noise", 3, {"sigma": 0.2, "seed": 1}, "isp-1"),
              ids.image_id("src", "noise", 3, {"sigma": 0.1, "seed": 1}, "isp-2")}
    assert base not in others and len(others) == 5
    assert ids.source_id("a.dng", 10) != ids.source_id("a.dng", 11)
    assert ids.roi_id(base, 0, "abc") != ids.roi_id(base, 1, "abc")
    with pytest.raises(ValueError, match="non-finite"):
        ids.stable_id("x", float("nan"))


def test_split_by_hash_is_per_source_and_near_the_ratio():
    keys = [f"source-{i}" for i in range(4000)]
    splits = [split.split_by_hash(k, 0.05, seed=7) for k in keys]
    share = splits.count("test") / len(keys)
    assert 0.04 < share < 0.06
    assert splits == [split.split_by_hash(k, 0.05, seed=7) for k in keys]  # deterministic
    assert splits != [split.split_by_hash(k, 0.05, seed=8) for k in keys]  # seed matters
    assert {split.split_by_hash(k, 0.0) for k in keys[:50]} == {"train"}
    assert {split.split_by_hash(k, 1.0) for k in keys[:50]} == {"test"}
    with pytest.raises(InvalidArgumentError):
        split.split_by_hash("a", 1.5)


def test_split_exact_takes_exactly_the_share_and_ignores_order():
    keys = [f"img{i}.jpg" for i in range(968)]
    a = split.split_exact(keys, 0.2, seed=1)
    assert sum(v == "test" for v in a.values()) == round(968 * 0.2)
    assert a == split.split_exact(list(reversed(keys)) + keys[:10], 0.2, seed=1)
    assert a != split.split_exact(keys, 0.2, seed=2)
