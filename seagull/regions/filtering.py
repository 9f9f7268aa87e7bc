"""Which proposed regions are kept: the area floor and near-duplicate removal (docs/method.md)."""

from __future__ import annotations

import numpy as np

# Regions under 32×32 pixels are dropped (the paper's floor).
MIN_REGION_AREA = 32 * 32
# Two masks whose IoU exceeds this are the same region; the better-scored one is kept.
DEDUP_IOU = 0.85


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two H×W bool masks (0 when both are empty)."""
    union = np.count_nonzero(a | b)
    return np.count_nonzero(a & b) / union if union else 0.0


def filter_regions(regions, *, min_area: int = MIN_REGION_AREA, iou_threshold: float = DEDUP_IOU):
    """Drop regions under ``min_area`` pixels and near-duplicates; keep order by score.

    Regions are visited best score first (objects before components on ties); one whose mask
    IoU with an already kept region exceeds ``iou_threshold`` is dropped. Each kept region
    keeps its kind. Returns a new list, best first.
    """
    ranked = sorted(regions, key=lambda r: (-float(r.score), r.kind != "object"))
    kept, areas, boxes = [], [], []
    for region in ranked:
        area = region.area
        if area < min_area:
            continue
        x, y, w, h = region.bbox
        duplicate = False
        for other, other_area, (ox, oy, ow, oh) in zip(kept, areas, boxes):
            # IoU can exceed the threshold only if the areas are close and the boxes overlap.
            if min(area, other_area) <= iou_threshold * max(area, other_area):
                continue
            if x >= ox + ow or ox >= x + w or y >= oy + oh or oy >= y + h:
                continue
            if mask_iou(region.mask, other.mask) > iou_threshold:
                duplicate = True
                break
        if not duplicate:
            kept.append(region)
            areas.append(area)
            boxes.append((x, y, w, h))
    return kept
