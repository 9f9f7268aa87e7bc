"""``seagull inspect``: histograms, clean fractions, errors and overlays of a small dataset."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from PIL import Image
from pycocotools import mask as mask_utils

from seagull.data.factory import decode_image
from seagull.data.inspect import MAX_REGIONS, PALETTE, layout_tags, overlay, render_overlay, report
from seagull.data.schema import to_table
from seagull.data.store import DatasetLayout
from seagull_cli import main as seagull


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
    assert png.name == "s_blur_19.png"  # the most distorted render of source s
    drawn = np.asarray(Image.open(png))
    # The 48×32 render enlarged 16 times (768 px on its long side) beside the labels' table.
    assert drawn.shape[0] > 512 and drawn.shape[1] > 768 + 200 and drawn.shape[2] == 3
    rows = DatasetLayout.open(tmp_path / "ds").shards("rois")
    (row,) = [r for r in pq.read_table(rows[0]).to_pylist() if r["image_id"] == "b"]
    title = "source s · blur level 19 · image b · 48×32 px"  # no images shard: the source id
    expected, info = render_overlay(decode_image(row["encoded"]), row["regions"], title=title)
    assert np.array_equal(drawn, expected)  # the same drawing every time
    x0, y0, x1, y1 = info["image_box"]
    assert (x1 - x0, y1 - y0) == (768, 512)
    assert (drawn[y0 + 100, 400] == 90).all()  # inside region 1, away from contour and tag
    assert (drawn[y0 + 100, 64:66] == PALETTE[0]).all()  # region 1's left contour (x 4 → 64)
    assert (drawn[y0 + 100, 62:64] == 0).all()  # the dark halo just outside it
    assert (drawn[y0 + 256, 400] == PALETTE[1]).all()  # region 2's upper contour (y 16 → 256)
    assert seagull(["inspect", str(tmp_path / "empty")]) == 2


def _regions(h, w, boxes, distortions=()):
    """Rectangle regions ``(x, y, bw, bh)`` on an h×w image, with ascending quality."""
    regions = []
    for i, (x, y, bw, bh) in enumerate(boxes):
        mask = np.zeros((h, w), bool)
        mask[y:y + bh, x:x + bw] = True
        rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
        regions.append({"roi_id": f"r{i}", "kind": "object" if i % 2 else "component",
                        "mask": {"size": [h, w], "counts": rle["counts"].decode()},
                        "bbox": [float(x), float(y), float(bw), float(bh)], "area": bw * bh,
                        "quality": 0.1 + 0.05 * i, "importance": None if i == 1 else 0.5,
                        "importance_pair": None, "distortions": list(distortions)})
    return regions


def _boxes_overlap(a, b, gap=0):
    return a[0] < b[2] + gap and b[0] < a[2] + gap and a[1] < b[3] + gap and b[1] < a[3] + gap


def test_layout_tags_never_overlap_stay_inside_and_sit_at_their_anchor():
    sizes = [(24, 20)] * 10
    boxes = layout_tags([(50, 50)] * 10, sizes, (200, 150))  # ten tags wanting one place
    assert boxes[0] == (38, 40, 62, 60)  # the first is centred on its anchor
    assert all(0 <= x0 and 0 <= y0 and x1 <= 200 and y1 <= 150 for x0, y0, x1, y1 in boxes)
    assert all((x1 - x0, y1 - y0) == (24, 20) for x0, y0, x1, y1 in boxes)
    for i, a in enumerate(boxes):
        for b in boxes[:i]:
            assert not _boxes_overlap(a, b, gap=2), (a, b)  # at least 2 px apart
    # The others are as near as the free places allow: all within a few tag sizes.
    assert max(abs((x0 + x1) / 2 - 50) + abs((y0 + y1) / 2 - 50) for x0, y0, x1, y1 in boxes) < 80
    assert layout_tags([(50, 50)] * 10, sizes, (200, 150)) == boxes  # deterministic
    # Anchors at a corner are clamped into the bounds; far apart anchors keep their places.
    assert layout_tags([(0, 0), (199, 149)], [(24, 20)] * 2, (200, 150)) == [
        (0, 0, 24, 20), (176, 130, 200, 150)]


def test_overlay_enlarges_the_render_and_only_contours_and_tags_change_it():
    from scipy.ndimage import binary_dilation, binary_erosion

    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)
    regions = _regions(40, 60, [(2, 2, 20, 15), (30, 5, 25, 30), (10, 25, 15, 12)])
    drawn, info = render_overlay(image, regions, title="t")
    assert info["scale"] == 13  # 60 px → 780 px, the first whole factor reaching 768
    x0, y0, x1, y1 = info["image_box"]
    assert (x0, x1 - x0, y1 - y0) == (0, 780, 520)
    area = drawn[y0:y1, x0:x1]
    big = np.repeat(np.repeat(image, 13, 0), 13, 1)
    allowed = np.zeros(area.shape[:2], bool)
    for i, region in enumerate(regions):
        m = np.zeros((40, 60), bool)
        x, y, w, h = (int(v) for v in region["bbox"])
        m[y:y + h, x:x + w] = True
        m = np.repeat(np.repeat(m, 13, 0), 13, 1)
        line = m & ~binary_erosion(m, iterations=2)
        assert (area[line] == PALETTE[i]).all(axis=1).mean() > 0.9  # its contour, its colour
        allowed |= binary_dilation(m, iterations=2) & ~binary_erosion(m, iterations=2)
    for tx0, ty0, tx1, ty1 in info["tag_boxes"]:
        allowed[ty0 - y0:ty1 - y0, tx0:tx1] = True
    changed = (area != big).any(axis=2)
    assert changed.any() and not (changed & ~allowed).any()  # nothing else is drawn on it
    assert (~allowed).mean() > 0.8  # most of the image is shown as it is
    # Each tag lies inside its own region (at the enlarged size, in canvas coordinates).
    for region, (tx0, ty0, tx1, ty1) in zip(regions, info["tag_boxes"]):
        x, y, w, h = (13 * v for v in region["bbox"])
        assert x <= tx0 and tx1 <= x + w and y <= ty0 - y0 and ty1 - y0 <= y + h
    assert np.array_equal(overlay(image, regions, title="t"), drawn)


def test_the_labels_are_in_a_side_panel_and_no_text_overlaps():
    blur = {"type": "blur", "severity": 0.3, "level": "severe"}
    noise = {"type": "noise", "severity": 0.7, "level": "minor"}
    image = np.full((96, 128, 3), 120, np.uint8)
    regions = _regions(96, 128, [(i * 10, i * 6, 30, 30) for i in range(6)], [blur, noise])
    drawn, info = render_overlay(image, regions, title="a.dng (s) · blur level 19")
    ix0, iy0, ix1, iy1 = info["image_box"]
    px0, py0, px1, py1 = info["panel_box"]
    assert (ix0, ix1 - ix0, iy1 - iy0) == (0, 768, 576)  # 128×96 enlarged 6 times
    assert px0 == ix1 and py0 == iy0 and (px1, py1) == drawn.shape[1::-1]
    assert px1 - px0 > 300  # wide enough for the table's columns
    boxes = info["text_boxes"]
    # The title, six headers, and per region kind, area, quality, importance, two distortions.
    assert len(boxes) == 1 + 6 + 6 * 6
    for i, a in enumerate(boxes):
        assert not _boxes_overlap(a, info["image_box"])  # no text on the image
        for b in boxes[:i]:
            assert not _boxes_overlap(a, b), (a, b)  # no text on text
    assert boxes[0][3] <= iy0  # the title line is above the image
    assert all(px0 <= b[0] and b[2] <= px1 and py0 <= b[1] and b[3] <= py1 for b in boxes[1:])
    panel = drawn[py0:py1, px0:px1]
    assert (panel.max(axis=2) < 60).sum() > 1000  # dark text
    for i in range(6):  # each region's tag colour appears in its row of the table too
        assert (panel == PALETTE[i]).all(axis=2).sum() > 100
    assert (drawn[iy0 + 90 * 6, 600] == 120).all()  # the image's own grey, below the regions


def test_regions_beyond_the_cap_are_not_drawn_and_are_named():
    image = np.full((64, 256, 3), 30, np.uint8)
    regions = _regions(64, 256, [(i * 15, 0, 14, 14) for i in range(MAX_REGIONS + 3)])
    drawn, info = render_overlay(image, regions)
    assert info["shown"] == list(range(1, MAX_REGIONS + 1))
    assert info["omitted"] == [MAX_REGIONS + 1, MAX_REGIONS + 2, MAX_REGIONS + 3]
    assert len(info["tag_boxes"]) == MAX_REGIONS
    # The title, headers, 5 cells per listed region and the line naming the omitted ones.
    assert len(info["text_boxes"]) == 1 + 6 + 5 * MAX_REGIONS + 1
    note = info["text_boxes"][-1]
    assert note[1] >= max(b[3] for b in info["text_boxes"][:-1])  # under the table
    scale = info["scale"]
    x0, y0, x1, _ = info["image_box"]
    omitted_area = drawn[y0:y0 + 14 * scale, x0 + 15 * MAX_REGIONS * scale:x1]
    assert omitted_area.shape[1] > 100 and (omitted_area == 30).all()  # no contours or tags


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
