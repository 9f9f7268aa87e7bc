"""Atomic shards, per-source completion, manifest checks and the sample reader."""

from __future__ import annotations

import os

import numpy as np
import pyarrow.dataset as pads
import pytest
from pycocotools import mask as mask_utils

from seagull.data import store
from seagull.data.factory import decode_image
from seagull.data.reader import iter_samples
from seagull.data.schema import to_table
from seagull.errors import DatasetError


def _png(h=24, w=32, value=90):
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.full((h, w, 3), value, np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def _rois_rows(source_id, n=2):
    mask = np.zeros((24, 32), bool)
    mask[4:20, 2:30] = True
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    region = {"roi_id": "r", "kind": "component",
              "mask": {"size": [24, 32], "counts": rle["counts"].decode()},
              "bbox": [2.0, 4.0, 28.0, 16.0], "area": int(mask.sum()), "quality": 0.4,
              "importance": 0.3, "importance_pair": [0.8, 0.9],
              "distortions": [{"type": "blur", "severity": 0.4, "level": "severe"}]}
    return [{"image_id": f"{source_id}-{i}", "reference_id": f"{source_id}-ref",
             "source_id": source_id, "split": "train" if i % 2 == 0 else "test",
             "distortion": "blur", "level": i, "width": 32, "height": 24, "format": "png",
             "encoded": _png(value=10 * i), "regions": [region] * (i + 1)} for i in range(n)]


def test_atomic_write_leaves_no_partial_file_on_failure(tmp_path, monkeypatch):
    layout = store.DatasetLayout.open(tmp_path / "ds")
    path = layout.shard_path("rois", "abc")

    original = store.pq.ParquetWriter.write_table
    calls = []

    def write_then_crash(self, table, row_group_size=None):
        calls.append(table.num_rows)
        original(self, table, row_group_size=row_group_size)
        raise OSError("disk full")

    monkeypatch.setattr(store.pq.ParquetWriter, "write_table", write_then_crash)
    with pytest.raises(store.OutputError, match="disk full"):
        store.write_table_atomic(layout.fs, path, to_table(_rois_rows("abc"), "rois"))
    assert calls == [2]  # rows reached the disk before the crash
    assert os.listdir(tmp_path / "ds" / "rois") == []  # neither the shard nor the temporary
    assert layout.completed_sources() == set()


def test_a_source_is_complete_only_when_its_rois_shard_is_written(tmp_path):
    layout = store.DatasetLayout.open(tmp_path / "ds")
    rows = _rois_rows("s1", n=3)
    layout.stage_part("s1", "blur", {"rois": to_table(rows[:2], "rois")})
    layout.stage_part("s1", "noise", {"rois": to_table(rows[2:], "rois")})
    # Staged parts and a stray temporary are invisible to readers and to resume.
    (tmp_path / "ds" / "rois").mkdir(parents=True)
    (tmp_path / "ds" / "rois" / ".s2.parquet.1234.tmp").write_bytes(b"partial")
    assert layout.completed_sources() == set()
    counts = layout.finalise_source("s1")
    assert counts == {"images": 0, "rois": 3, "regions": 1 + 2 + 3}
    assert layout.completed_sources() == {"s1"}
    assert not (tmp_path / "ds" / "_staging" / "s1").exists()
    assert layout.shard_counts("rois") == {"rows": 3, "regions": 6}
    table = pads.dataset(str(tmp_path / "ds" / "rois")).to_table()  # pyarrow skips . and _
    assert sorted(table.column("image_id").to_pylist()) == ["s1-0", "s1-1", "s1-2"]
    layout.finalise_source("bad", {"source": "x.nef", "source_id": "bad", "stage": "render",
                                   "error": "RawDecodeError", "message": "x.nef: truncated"})
    assert layout.completed_sources() == {"s1", "bad"}


def test_manifest_refuses_other_parameters_unless_overwrite(tmp_path):
    layout = store.DatasetLayout.open(tmp_path / "ds")
    assert layout.read_manifest() is None
    params = {"types": ["noise"], "levels": [0, 19], "seed": 0}
    layout.write_manifest(store.new_manifest("seagull-100w", params, {}))
    existing = layout.read_manifest()
    store.check_rerun(existing, "seagull-100w", dict(params), "OUT")  # same: fine
    with pytest.raises(DatasetError, match=r"levels: \[0, 19\] → \[0, 10, 19\]"):
        store.check_rerun(existing, "seagull-100w", {**params, "levels": [0, 10, 19]}, "OUT")
    store.check_rerun(existing, "seagull-100w", {**params, "seed": 1}, "OUT", overwrite=True)
    with pytest.raises(DatasetError, match="'seagull-3k'"):
        store.check_rerun(existing, "seagull-3k", params, "OUT")
    seg = store.producer("sam-vit-b", "1", None)
    assert seg["weights"] == "fallback"
    with pytest.raises(DatasetError, match="other components"):
        store.check_producers({"producers": {"segmenter": seg}},
                              {"segmenter": store.producer("sam-vit-b", "1", "ab12")}, "OUT")
    # No temporary is left beside the manifest: only the (empty) table folders.
    rest = sorted(n for n in os.listdir(tmp_path / "ds") if n != "manifest.json")
    assert rest == ["errors", "images", "rois"]
    assert not any(os.listdir(tmp_path / "ds" / n) for n in rest)


def test_iter_samples_streams_regions_with_decoded_images_and_masks(tmp_path):
    layout = store.DatasetLayout.open(tmp_path / "ds")
    layout.stage_part("s1", "blur", {"rois": to_table(_rois_rows("s1", n=3), "rois")})
    layout.finalise_source("s1")
    samples = list(iter_samples(str(tmp_path / "ds")))
    assert len(samples) == 6
    first = samples[0]
    assert first.image.shape == (24, 32, 3) and first.image.dtype == np.uint8
    assert first.mask.shape == (24, 32) and first.mask.sum() == first.area == 16 * 28
    assert first.quality == 0.4 and first.distortions[0]["level"] == "severe"
    assert np.array_equal(decode_image(first.encoded), first.image)
    assert [s.split for s in iter_samples(str(tmp_path / "ds"), split="test")] == ["test"] * 2
    lazy = next(iter_samples(str(tmp_path / "ds"), decode=False))
    assert lazy.image is None and lazy.mask is None
    with pytest.raises(DatasetError, match="no rois shard"):
        next(iter_samples(str(tmp_path / "empty")))


def test_manifest_leaves_every_table_folder_readable(tmp_path):
    import pyarrow.dataset as pads

    layout = store.DatasetLayout.open(tmp_path / "ds")
    layout.write_manifest(store.new_manifest("seagull-100w", {"seed": 0}, {}))
    for table in ("images", "rois", "errors"):
        assert (tmp_path / "ds" / table).is_dir()
    # A clean build's errors/ is empty, and readable as such.
    assert pads.dataset(str(tmp_path / "ds" / "errors")).count_rows() == 0
