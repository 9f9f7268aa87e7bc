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
    assert ids.source_id("ab" * 32) != ids.source_id("ac" * 32)
    assert len({ids.source_id("ab" * 32), ids.unread_source_id("ab" * 32),
                ids.duplicate_source_id("x.dng", "ab" * 32)}) == 3  # kinds never collide
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


@pytest.mark.parametrize(("names", "group"), [
    (["raws/moto_left.dng", "raws/moto_right.dng", "raws/moto.dng", "raws/moto-Left.nef",
      "raws/moto_left-2.dng"], "raws/moto"),
    (["s3://bucket/x/burst-1.dng", "s3://bucket/x/burst-2.dng", "s3://bucket/x/burst-12.dng",
      "s3://bucket/x/burst-07.dng", "s3://bucket/x/burst.dng"], "s3://bucket/x/burst"),
    (["IMG_1234.CR2", "IMG_1234-2.CR2", "IMG_1234-3.dng"], "IMG_1234"),
    ([r"C:\raws\pair_left.dng", r"C:\raws\pair_RIGHT.dng"], r"C:\raws\pair"),
])
def test_split_group_joins_stereo_views_and_numbered_copies(names, group):
    assert [split.split_group(n) for n in names] == [group] * len(names)


@pytest.mark.parametrize(("name", "group"), [
    ("raws/chelsea.dng", "raws/chelsea"),  # every other file is a group of its own
    ("raws/burst-001.dng", "raws/burst-001"),  # three digits: not a sequence number
    ("raws/2024-06-15.dng", "raws/2024-06-15"),  # a date stays whole
    ("raws/trip_2024-06-15.dng", "raws/trip_2024-06-15"),
    ("raws/x_lefty.dng", "raws/x_lefty"),
    ("raws/left.dng", "raws/left"),  # a marker alone is a name
    ("raws/-1.dng", "raws/-1"),
    ("raws/.hidden", "raws/.hidden"),
    ("a.tar.gz", "a.tar"),  # only the last extension goes
    ("elsewhere/moto_left.dng", "elsewhere/moto"),  # the folder is part of the group
])
def test_split_group_keeps_other_names_whole(name, group):
    assert split.split_group(name) == group


def test_a_stereo_pair_lands_in_one_split_for_every_seed():
    """The factory's split of a source: both views of a pair share it, whatever the seed."""
    from seagull.data.factory import FactoryParams, source_row

    left, right = "/data/raws/motorcycle_left.dng", "/data/raws/motorcycle_right.dng"
    seen = set()
    for seed in range(300):
        for fraction in (0.05, 0.3, 0.5):
            params = FactoryParams(test_fraction=fraction, seed=seed)
            a = source_row(left, ids.source_id("1" * 64), params)["split"]
            b = source_row(right, ids.source_id("2" * 64), params)["split"]
            # Named relative to their folder, the pair keeps its split wherever the folder is.
            named = {source_row(f"{root}/{n}", ids.source_id("1" * 64), params, n)["split"]
                     for root in ("/data/raws", "/mnt/elsewhere")
                     for n in ("motorcycle_left.dng", "motorcycle_right.dng")}
            assert len(named) == 1
            assert a == b, (seed, fraction)
            seen.add(a)
    assert seen == {"train", "test"}  # the pair's split does vary with the seed
    # Other photos of that folder draw their own split: over 300 seeds some differ from it.
    other = "/data/raws/chelsea.dng"
    differs = sum(split.split_by_hash(split.split_group(other), 0.5, s)
                  != split.split_by_hash(split.split_group(left), 0.5, s) for s in range(300))
    assert 100 < differs < 200


def test_held_out_groups_spread_over_the_names_and_keep_pairs_whole():
    names = [f"raws/{n}.dng" for n in "abcdefghi"] + ["raws/moto_left.dng",
                                                      "raws/moto_right.dng", "raws/zed.dng"]
    # 11 groups (the pair is one): the first, the last and evenly between.
    assert split.held_out_groups(names, 5) == {"raws/a", "raws/c", "raws/f", "raws/i", "raws/zed"}
    assert split.held_out_groups(names, 1) == {"raws/zed"}
    assert split.held_out_groups(reversed(names), 3) == {"raws/a", "raws/f", "raws/zed"}
    assert "raws/moto" in split.held_out_groups(names, 10)  # both views go together
    assert len(split.held_out_groups(names, 10)) == 10
    for n in (0, 11):
        with pytest.raises(InvalidArgumentError, match=f"cannot hold out {n} of 11 photo"):
            split.held_out_groups(names, n)


def _dataset_with_names(root, names):
    """A fixture dataset whose sources src000… have RAW files of these names."""
    from rois_fixtures import write_dataset

    from seagull.data.store import DatasetLayout, write_table_atomic

    write_dataset(root, n_images=2 * len(names))
    layout = DatasetLayout.open(str(root))
    (root / "images").mkdir()
    for i, name in enumerate(names):
        row = {"image_id": f"img{i}", "source_id": f"src{i:03d}", "source": f"/raws/{name}",
               "split": "train", "distortion": "reference", "level": None, "isp_params": "{}",
               "width": 4, "height": 4, "format": "png", "encoded": None}
        write_table_atomic(layout.fs, layout.shard_path("images", f"src{i:03d}"),
                           schema.to_table([row], "images"))
    return root


def test_mini_hold_out_takes_whole_split_groups(tmp_path):
    import json

    import pyarrow.parquet as pq

    from seagull.data.holdout import hold_out_sources
    from seagull.errors import ConfigError

    names = ["zebra.dng", "moto_right.dng", "apple.dng", "moto_left.dng"]
    root = _dataset_with_names(tmp_path / "ds", names)
    # Groups by name: apple, moto (the pair), zebra. Two held out are the first and the last
    # group; the pair is never cut and trains whole.
    assert hold_out_sources(str(root), 2) == {"train": ["src003", "src001"],
                                              "test": ["src002", "src000"]}
    for table in ("rois", "images"):
        splits = {p.stem: set(pq.read_table(p).column("split").to_pylist())
                  for p in (root / table).glob("*.parquet")}
        assert splits == {"src000": {"test"}, "src001": {"train"}, "src002": {"test"},
                          "src003": {"train"}}
    manifest = json.loads((root / "manifest.json").read_text())
    assert manifest["holdout"]["test_names"] == ["apple.dng", "zebra.dng"]
    assert hold_out_sources(str(root), 1) == {"train": ["src002", "src003", "src001"],
                                              "test": ["src000"]}
    pair = _dataset_with_names(tmp_path / "pair", ["moto_left.dng", "moto_right.dng"])
    with pytest.raises(ConfigError, match="cannot hold out 1 of 1 photo group"):
        hold_out_sources(str(pair), 1)
