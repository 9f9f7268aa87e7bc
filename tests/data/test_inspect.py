"""``seagull inspect``: histograms, clean fractions, errors and overlays of a small dataset."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image
from pycocotools import mask as mask_utils

from seagull.cli import main as seagull
from seagull.data.inspect import report
from seagull.data.schema import to_table
from seagull.data.store import DatasetLayout


def _png(value):
    buf = io.BytesIO()
    Image.fromarray(np.full((32, 48, 3), value, np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def _region(quality, importance, distortions, top):
    mask = np.zeros((32, 48), bool)
    mask[top:top + 16, 4:44] = True
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"roi_id": f"r{top}", "kind": "object",
            "mask": {"size": [32, 48], "counts": rle["counts"].decode()},
            "bbox": [4.0, float(top), 40.0, 16.0], "area": 640, "quality": quality,
            "importance": importance, "importance_pair": None, "distortions": distortions}


def _dataset(root):
    layout = DatasetLayout.open(root)
    blur = {"type": "blur", "severity": 0.3, "level": "severe"}
    rows = [
        {"image_id": "a", "reference_id": "ref", "source_id": "s", "split": "train",
         "distortion": "blur", "level": 0, "width": 48, "height": 32, "format": "png",
         "encoded": _png(200), "regions": [_region(0.95, None, [], 0), _region(0.97, None, [], 16)]},
        {"image_id": "b", "reference_id": "ref", "source_id": "s", "split": "train",
         "distortion": "blur", "level": 19, "width": 48, "height": 32, "format": "png",
         "encoded": _png(90), "regions": [_region(0.3, 0.9, [blur], 0),
                                          _region(0.95, 0.1, [], 16)]},
    ]
    layout.stage_part("s", "blur", {"rois": to_table(rows, "rois")})
    layout.finalise_source("s")
    layout.finalise_source("e", {"source": "bad.nef", "source_id": "e", "stage": "render",
                                 "error": "RawDecodeError", "message": "bad.nef: truncated"})


def test_report_counts_words_per_level_and_clean_fractions(tmp_path):
    _dataset(tmp_path / "ds")
    rep = report(str(tmp_path / "ds"))
    assert rep["rois_rows"] == 2 and rep["regions"] == 4
    assert rep["regions_without_importance"] == 2
    assert rep["quality"]["blur/0"] == {"bad": 0, "poor": 0, "fair": 0, "good": 0,
                                        "excellent": 2}
    assert rep["quality"]["blur/19"]["poor"] == 1 and rep["quality"]["blur/19"]["excellent"] == 1
    assert rep["importance"]["blur/19"] == {"unimportant": 1, "minor": 0, "normal": 0,
                                           "important": 0, "essential": 1}
    assert rep["severity"] == {"blur/19": {"extreme": 0, "severe": 1, "moderate": 0,
                                           "minor": 0, "trivial": 0}}
    assert rep["clean_fraction"] == {"blur/0": 1.0, "blur/19": 0.5}
    assert [e["source"] for e in rep["errors"]] == ["bad.nef"]


def test_inspect_command_prints_the_report_and_writes_overlays(tmp_path, capsys):
    _dataset(tmp_path / "ds")
    assert seagull(["inspect", str(tmp_path / "ds"), "--overlays", str(tmp_path / "ov")]) == 0
    text = capsys.readouterr().out
    assert "blur/19" in text and "bad.nef: RawDecodeError at render" in text
    (png,) = list((tmp_path / "ov").glob("*.png"))
    drawn = np.asarray(Image.open(png))
    assert drawn.shape == (32, 48, 3)
    assert not np.array_equal(drawn, np.full_like(drawn, 90))  # regions were drawn on it
    assert seagull(["inspect", str(tmp_path / "empty")]) == 2


def test_a_damaged_shard_is_reported_and_the_rest_still_counted(tmp_path, capsys):
    import shutil

    _dataset(tmp_path / "ds")
    layout = DatasetLayout.open(str(tmp_path / "ds"))
    (good,) = layout.shards("rois")
    damaged = tmp_path / "ds" / "rois" / "t.parquet"
    damaged.write_bytes(Path(good).read_bytes()[:100])  # a copy cut short: no footer
    shutil.copy(good, tmp_path / "ds" / "rois" / "u.parquet")  # another source, intact
    rep = report(str(tmp_path / "ds"))
    assert rep["rois_rows"] == 4  # s and u, two renders each
    assert [d["shard"] for d in rep["damaged_shards"]] == [str(damaged)]
    assert seagull(["inspect", str(tmp_path / "ds"), "--overlays", str(tmp_path / "ov"),
                    "--sources", "5"]) == 0
    out = capsys.readouterr().out
    assert f"damaged shards (not counted above; rebuild or restore them)\n  {damaged}: " in out
    assert len(list((tmp_path / "ov").glob("*.png"))) == 2  # the readable sources only
    (tmp_path / "afile").write_text("")
    assert seagull(["inspect", str(tmp_path / "ds"), "--overlays", str(tmp_path / "afile")]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'afile'}: cannot write overlays there" in err
    assert len(err.strip().splitlines()) == 1
