"""Streaming a dataset's tables through Ray Data: complete shards, projection, shard shuffling,
and the training stream over the same shards (its mixing: test_training_shuffle.py)."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest
from rois_fixtures import make_rows, ordered, write_dataset

from pipelines.read_rois import ray_table
from seagull.errors import DatasetError


@pytest.fixture(scope="module")
def eight_sources(tmp_path_factory):
    """16 images from 8 sources, one shard each, plus a part-written shard in staging."""
    root = write_dataset(tmp_path_factory.mktemp("ray-table"), n_images=16)
    staging = root / "rois" / "_staging"
    staging.mkdir()
    pq.write_table(pq.read_table(next((root / "rois").glob("*.parquet"))),
                   staging / "src999.parquet")
    return root


def shard_order(ds) -> list[str]:
    seen: list[str] = []
    for row in ds.iter_rows():
        if row["source_id"] not in seen:
            seen.append(row["source_id"])
    return seen


def test_reads_every_row_of_the_complete_shards_only(ray_session, eight_sources):
    ds = ray_table(str(eight_sources), "rois", columns=["image_id", "split", "source_id"])
    rows = ds.take_all()
    assert sorted(r["image_id"] for r in rows) == [f"img{i:03d}" for i in range(16)]
    assert set(rows[0]) == {"image_id", "split", "source_id"}
    assert "src999" not in {r["source_id"] for r in rows}
    # The reader must not change the caller's choice of Ray Data's Parquet reader.
    context = ray_session.data.DataContext.get_current()
    if hasattr(context, "use_datasource_v2"):
        assert context.use_datasource_v2 == type(context)().use_datasource_v2


def test_a_table_without_shards_is_a_clear_error(ray_session, tmp_path):
    (tmp_path / "rois").mkdir()
    with pytest.raises(DatasetError, match=r"rois: no rois shard"):
        ray_table(str(tmp_path), "rois")


def test_shard_order_changes_each_execution_and_repeats_with_the_seed(ray_session,
                                                                      eight_sources):
    with ordered(ray_session):
        first = ray_table(str(eight_sources), "rois", columns=["source_id"], shuffle_seed=3)
        orders = [shard_order(first) for _ in range(3)]
        again = ray_table(str(eight_sources), "rois", columns=["source_id"], shuffle_seed=3)
        assert [shard_order(again) for _ in range(3)] == orders
        unshuffled = shard_order(ray_table(str(eight_sources), "rois", columns=["source_id"]))
    assert unshuffled == [f"src{i:03d}" for i in range(8)]
    assert all(sorted(order) == unshuffled for order in orders)
    assert len({tuple(order) for order in orders + [unshuffled]}) >= 3


def test_the_training_stream_yields_every_training_region_once_per_epoch(ray_session,
                                                                        eight_sources):
    from pipelines.read_rois import training_stream

    expected = sorted(region["roi_id"] for row in make_rows(16) if row["split"] == "train"
                      for region in row["regions"])
    ds = training_stream(str(eight_sources), stage=1, seed=0)
    for _ in range(2):  # a second execution: the next epoch
        assert sorted(r["roi_id"] for r in ds.iter_rows()) == expected
