"""The training stream mixes photos, types and levels as a uniform shuffle of the epoch would.

The tables here have the factory's layout (``seagull.data.store``: one shard per source photo,
its rows sorted by distortion type then level, row groups of 16 rows), where reading shards
whole, even in a shuffled order, gives batches of two or three photos. Each epoch is read the
way a training worker reads it (micro-batches of 8 through the local shuffle buffer) and its
batches are compared with those of uniformly random permutations of the same records.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from rois_fixtures import make_rows, ordered

from pipelines.read_rois import shuffled_records
from seagull.data.reader import RowGroup, row_groups, shuffle_windows

TYPES = ("blur", "colorfulness", "noise", "compression", "contrast", "exposure")
BATCH = 8  # the tiny preset's micro-batch of 4 × 2 workers, or one worker's batch of 8


def write_factory_layout(root, n_sources: int, levels: tuple[int, ...], size: int = 32) -> dict:
    """A ``rois`` table in the factory's layout; returns image_id → (source, type, level)."""
    from seagull.data.schema import SCHEMA_VERSION, to_table
    from seagull.data.store import DatasetLayout, write_table_atomic

    per_source = len(TYPES) * len(levels)
    rows = make_rows(n_sources * per_source, size=size)
    (root / "rois").mkdir(parents=True)
    layout = DatasetLayout.open(str(root))
    photos = {}
    for s in range(n_sources):
        mine = rows[s * per_source:(s + 1) * per_source]
        for row, (t, level) in zip(mine, [(t, v) for t in TYPES for v in levels]):
            row.update(image_id=f"s{s:03d}-{t}-{level:02d}", source_id=f"src{s:03d}",
                       reference_id=f"ref{s:03d}", split="train", distortion=t, level=level)
            photos[row["image_id"]] = (row["source_id"], t, level)
        write_table_atomic(layout.fs, layout.shard_path("rois", f"src{s:03d}"),
                           to_table(mine, "rois"))
    (root / "manifest.json").write_text(json.dumps({
        "dataset": "factory-layout", "schema_version": SCHEMA_VERSION,
        "counts": {"rois": len(rows)}}))
    return photos


@pytest.fixture(scope="module")
def few_photos(tmp_path_factory):
    """8 photos × 48 renders (6 types × 8 levels), ~120 regions per photo, 3 row groups each."""
    root = tmp_path_factory.mktemp("few-photos")
    return root, write_factory_layout(root, 8, (0, 3, 6, 9, 12, 15, 17, 19))


@pytest.fixture(scope="module")
def many_photos(tmp_path_factory):
    """64 photos × 24 renders (6 types × 4 levels), 2 row groups each."""
    root = tmp_path_factory.mktemp("many-photos")
    return root, write_factory_layout(root, 64, (0, 6, 12, 19), size=16)


def epoch_batches(ds, epoch: int, seed: int = 0) -> list[list[str]]:
    """One epoch as a training worker reads it (pipelines/train_worker.py)."""
    return [t.column("image_id").to_pylist()
            for t in ds.iter_batches(batch_size=BATCH, batch_format="pyarrow", drop_last=True,
                                     local_shuffle_buffer_size=64,
                                     local_shuffle_seed=seed + epoch)]


def mixing(batches: list, photos: dict) -> dict[str, float]:
    """Per batch: distinct photos, types and levels (means), and the share from one photo."""
    def distinct(field):
        return [len({photos[i][field] for i in b}) for b in batches]

    sources = distinct(0)
    return {"photos": float(np.mean(sources)), "types": float(np.mean(distinct(1))),
            "levels": float(np.mean(distinct(2))),
            "one_photo": float(np.mean([n == 1 for n in sources]))}


def uniform_mixing(image_ids: list[str], photos: dict, epochs: int = 400) -> dict:
    """Mean and spread of ``mixing`` over uniformly random permutations of the epoch."""
    rng = np.random.default_rng(12345)
    n = len(image_ids) // BATCH
    runs = []
    for _ in range(epochs):
        perm = rng.permutation(np.asarray(image_ids))
        runs.append(mixing([perm[i * BATCH:(i + 1) * BATCH] for i in range(n)], photos))
    return {k: (float(np.mean([r[k] for r in runs])), float(np.std([r[k] for r in runs])))
            for k in runs[0]}


def assert_like_uniform(got: dict, uniform: dict, slack: dict | None = None) -> None:
    """Each statistic within 4 standard deviations of a uniform epoch's (plus ``slack``)."""
    for key, (mean, sd) in uniform.items():
        tolerance = 4 * sd + (slack or {}).get(key, 0.0) + 1e-9
        assert abs(got[key] - mean) <= tolerance, (key, got[key], mean, tolerance)


def region_ids(root) -> list[str]:
    import pyarrow.dataset as pads

    regions = pads.dataset(str(root / "rois")).to_table(columns=["regions"]).column("regions")
    return sorted(r["roi_id"] for rs in regions.to_pylist() for r in rs)


@pytest.mark.ray
def test_an_epoch_mixes_photos_types_and_levels_like_a_uniform_shuffle(ray_session,
                                                                        few_photos):
    from pipelines.read_rois import training_stream

    root, photos = few_photos
    ds = training_stream(str(root), stage=1, seed=0)
    records = [r["roi_id"] for r in ds.iter_rows()]
    assert sorted(records) == region_ids(root)  # every region once, none twice
    image_ids = [r["image_id"] for r in ds.iter_rows()]
    uniform = uniform_mixing(image_ids, photos)
    # What a uniform permutation of this epoch gives: ~5.3 of 8 photos and ~4.6 of 6 types per
    # batch of 8 (reading shards whole gave ~2.5 photos per batch).
    assert uniform["photos"][0] == pytest.approx(5.26, abs=0.03)
    assert uniform["types"][0] == pytest.approx(4.61, abs=0.03)
    for epoch in range(2):
        batches = epoch_batches(ds, epoch)
        assert len(batches) == len(records) // BATCH
        assert_like_uniform(mixing(batches, photos), uniform)


def rows_by_group(root) -> dict[tuple[str, int], list[str]]:
    """(shard path, row group) → the image ids of its regions (one per training record)."""
    import pyarrow.parquet as pq

    out = {}
    for group in row_groups(str(root), "rois"):
        rows = pq.ParquetFile(group.path).read_row_group(group.index).to_pylist()
        out[(group.path, group.index)] = [row["image_id"] for row in rows
                                          for _ in row["regions"]]
    return out


@pytest.mark.ray
def test_a_table_larger_than_a_window_is_shuffled_uniformly_within_windows(ray_session,
                                                                          many_photos):
    from pipelines.read_rois import training_stream

    root, photos = many_photos
    groups = row_groups(str(root), "rois")
    window = -(-sum(g.nbytes for g in groups) // 8)  # an eighth of the table, rounded up
    plan = shuffle_windows(groups, seed=0, epoch=0, window_bytes=window)
    assert len(plan) == 8 and all(len({g.path for g in w}) >= 12 for w in plan)
    ds = training_stream(str(root), stage=1, seed=0, window_bytes=window)
    with ordered(ray_session):  # windows in the plan's order, as the simulation below
        batches = epoch_batches(ds, 0)
        rois = [r["roi_id"] for r in ds.iter_rows()]
    assert sorted(rois) == region_ids(root)
    # The expectation: each window a uniform random permutation of its own records.
    members = rows_by_group(root)
    rng = np.random.default_rng(12345)
    runs = []
    for _ in range(200):
        epoch = np.concatenate([rng.permutation(
            [i for g in w for i in members[(g.path, g.index)]]) for w in plan])
        n = len(epoch) // BATCH
        runs.append(mixing([epoch[i * BATCH:(i + 1) * BATCH] for i in range(n)], photos))
    within = {k: (float(np.mean([r[k] for r in runs])), float(np.std([r[k] for r in runs])))
              for k in runs[0]}
    # 16 row groups of ~15 photos per window: ~6.3 photos per batch (a uniform epoch: 7.58).
    assert within["photos"][0] == pytest.approx(6.3, abs=0.05)
    assert_like_uniform(mixing(batches, photos), within)


@pytest.mark.ray
def test_the_order_repeats_with_the_seed_and_changes_each_epoch(ray_session, few_photos):
    root, _ = few_photos
    window = sum(g.nbytes for g in row_groups(str(root), "rois")) // 5

    def records(row):
        return [{"roi_id": r["roi_id"], "image_id": row["image_id"]} for r in row["regions"]]

    def stream(seed):  # five windows: five read tasks
        return shuffled_records(str(root), "rois", records, seed,
                                columns=["image_id", "regions"], window_bytes=window)

    with ordered(ray_session):
        first = stream(7)
        epochs = [[r["roi_id"] for r in first.iter_rows()] for _ in range(3)]
        again = stream(7)
        assert [[r["roi_id"] for r in again.iter_rows()] for _ in range(3)] == epochs
        other = [r["roi_id"] for r in stream(8).iter_rows()]
    expected = region_ids(root)
    assert all(sorted(e) == expected for e in epochs) and sorted(other) == expected
    assert len({tuple(e) for e in epochs + [other]}) == 4


def test_the_epoch_plan_deals_every_row_group_once():
    groups = [RowGroup(f"s{i // 3}.parquet", i % 3, 16, 1000 + 100 * (i % 4)) for i in range(23)]
    total = sum(g.nbytes for g in groups)  # 26,200 bytes
    plan = shuffle_windows(groups, seed=0, epoch=0, window_bytes=6000)
    assert len(plan) == 5  # the fewest windows of about 6,000 bytes
    assert all(sum(g.nbytes for g in w) <= total / 5 + 1300 for w in plan)
    def key(g):
        return g.path, g.index

    assert sorted((g for w in plan for g in w), key=key) == sorted(groups, key=key)
    assert shuffle_windows(groups, seed=0, epoch=0, window_bytes=6000) == plan
    assert shuffle_windows(groups, seed=0, epoch=1, window_bytes=6000) != plan
    assert shuffle_windows(groups, seed=1, epoch=0, window_bytes=6000) != plan
    whole = shuffle_windows(groups, seed=0, epoch=0)  # a small table: one window
    assert len(whole) == 1 and sorted(whole[0], key=key) == groups and whole[0] != groups
