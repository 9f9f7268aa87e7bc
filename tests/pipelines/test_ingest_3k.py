"""``seagull ingest-3k``: a ratings file the test writes → rois/images tables with the
hand-computed labels and an 80/20 split by image."""

from __future__ import annotations

import csv
import json

import numpy as np
import pyarrow.dataset as pads
import pytest
from PIL import Image
from pycocotools import mask as mask_utils

from seagull.data.schema import ROIS_SCHEMA, check_schema
from seagull.labels.levels import DISTORTION_TYPES
from seagull_cli import main as seagull


def _rle(mask):
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode()}


@pytest.fixture()
def ratings_file(tmp_path):
    rng = np.random.default_rng(0)
    rows = []
    for i in range(5):
        name = f"img{i}.png" if i != 4 else f"img{i}.jpg"
        Image.fromarray(rng.integers(0, 255, (40, 60, 3), dtype=np.uint8)).save(tmp_path / name)
        left = np.zeros((40, 60), bool)
        left[:, :30] = True
        top = np.zeros((40, 60), bool)
        top[:10, 10:50] = True
        for mask, votes in ((left, [(5, 1, 4, 0), (5, 3, 3, 1), (2, 5, 2, 2)]),
                            (top, [(5, 5, 0, 4), (5, 5, 1, 4)])):
            for annotator, (blur, noise, quality, importance) in enumerate(votes):
                rec = {"image": name, "region": json.dumps(_rle(mask)),
                       "annotator": f"a{annotator}", "quality": quality,
                       "importance": importance}
                rec.update({t: 5 for t in DISTORTION_TYPES}, blur=blur, noise=noise)
                rows.append(rec)
    path = tmp_path / "ratings.csv"
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_ingest_writes_hand_computed_labels_and_splits_by_image(ratings_file, tmp_path):
    out = tmp_path / "3k"
    assert seagull(["ingest-3k", str(ratings_file), "--out", str(out), "--seed", "3"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"]["images"] == 5 and manifest["counts"]["regions"] == 10
    assert manifest["counts"]["images_by_split"] == {"train": 4, "test": 1}

    ds = pads.dataset(str(out / "rois"))
    check_schema(ds.schema, "rois", "rois")
    assert ds.schema.equals(ROIS_SCHEMA, check_metadata=False)
    rows = ds.to_table().to_pylist()
    assert len(rows) == 5
    assert {r["format"] for r in rows} == {"png", "jpeg"}
    images = pads.dataset(str(out / "images")).to_table().to_pylist()
    split_of = {r["image_id"]: r["split"] for r in images}
    assert all(split_of[r["image_id"]] == r["split"] for r in rows)  # one split per image
    for row in rows:
        assert row["width"] == 60 and row["height"] == 40 and row["distortion"] == "authentic"
        by_area = {r["area"]: r for r in row["regions"]}
        left, top = by_area[1200], by_area[400]
        # left: blur (5, 5, 2) → absent; noise (1, 3, 5) → mean(1, 3)/4 = 0.5 → moderate;
        # quality (4, 3, 2)/4 → 0.75; importance (0, 1, 2)/4 → 0.25.
        assert left["distortions"] == [{"type": "noise", "severity": 0.5, "level": "moderate"}]
        assert left["quality"] == pytest.approx(0.75)
        assert left["importance"] == pytest.approx(0.25)
        assert left["bbox"] == [0.0, 0.0, 30.0, 40.0] and left["kind"] == "object"
        # top: blur (5, 5) absent, noise (5, 5) absent → clean; quality 0.5/4, importance 1.
        assert top["distortions"] == []
        assert top["quality"] == pytest.approx(0.125) and top["importance"] == 1.0
        assert Image.open(__import__("io").BytesIO(row["encoded"])).size == (60, 40)


def test_rerun_with_other_parameters_is_refused(ratings_file, tmp_path, capsys):
    out = tmp_path / "3k"
    assert seagull(["ingest-3k", str(ratings_file), "--out", str(out)]) == 0
    assert seagull(["ingest-3k", str(ratings_file), "--out", str(out), "--seed", "9"]) == 2
    assert "other parameters (seed: 0 → 9)" in capsys.readouterr().err
    assert seagull(["ingest-3k", str(ratings_file), "--out", str(out), "--seed", "9",
                    "--overwrite"]) == 0
