from __future__ import annotations

import numpy as np
import pytest

from seagull.regions import MIN_REGION_AREA, Region, filter_regions, mask_iou


def _box_mask(x0, y0, x1, y1, size=(100, 100)):
    m = np.zeros(size, bool)
    m[y0:y1, x0:x1] = True
    return m


def test_area_floor_is_1024_pixels():
    assert MIN_REGION_AREA == 1024
    small = Region(_box_mask(0, 0, 31, 33), "component")        # 1023 px
    exact = Region(_box_mask(50, 50, 82, 82), "object")          # 1024 px
    assert small.area == 1023 and exact.area == 1024
    kept = filter_regions([small, exact])
    assert kept == [exact]


def test_near_duplicates_keep_the_better_score_and_kinds():
    a = Region(_box_mask(0, 0, 60, 60), "component", score=0.7)
    b = Region(_box_mask(0, 0, 60, 61), "object", score=0.9)     # IoU 0.98 with a
    c = Region(_box_mask(0, 0, 60, 30), "component", score=0.95)  # IoU 0.5: distinct
    assert mask_iou(a.mask, b.mask) > 0.95
    kept = filter_regions([a, b, c])
    assert kept == [c, b]
    assert [r.kind for r in kept] == ["component", "object"]
    # a looser threshold keeps all three
    assert len(filter_regions([a, b, c], iou_threshold=0.99)) == 3


def test_region_fields():
    r = Region(_box_mask(10, 20, 50, 60), "object", 0.5)
    assert r.bbox == [10, 20, 40, 40]
    assert r.area == 1600
    from seagull.regions import rle

    assert np.array_equal(rle.decode(r.rle()), r.mask)
    js = r.to_json()
    assert js["kind"] == "object" and js["area"] == 1600 and js["bbox"] == [10, 20, 40, 40]
    with pytest.raises(ValueError):
        Region(r.mask, "thing")
