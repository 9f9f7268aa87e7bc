"""Regions of an image: object- and component-level masks, their filtering, and COCO RLE.

- ``Region``: one mask with its kind (``object`` | ``component``) and a score.
- ``build_segmenter(...)``: SAM (local ViT-H/L/B checkpoint) with a pluggable object detector,
  or the weight-free classical segmentation when no weights are configured. ``encode(image)``
  pays for the image once and returns its state (``SegmenterState``), then ``predict(state, …)``
  answers point and box prompts; ``set_image`` + ``predict(…)`` is the same with the state kept
  on the segmenter (the ``SamPredictor`` pattern), and ``propose`` lists the filtered object and
  component regions.
- ``seagull.regions.rle``: encode/decode/area/bbox of COCO RLE.

Heavy libraries (torch, segment-anything, torchvision, scikit-image) load inside functions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from seagull.data.schema import REGION_KINDS as KINDS  # the one home: the rois schema
from seagull.regions.filtering import DEDUP_IOU, MIN_REGION_AREA, filter_regions, mask_iou
from seagull.regions.segmenter import Segmenter, build_segmenter


@dataclass
class Region:
    """A region of an image.

    mask: H×W bool; kind: "object" (a detected thing) or "component" (a part found from a
    random point); score: the segmenter's confidence in the mask (SAM's predicted IoU, the
    detector's score, or 1.0 for a classical segment), higher is better.
    """

    mask: np.ndarray
    kind: str
    score: float = 1.0
    _bbox: list[int] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"region kind {self.kind!r} is not one of {KINDS}")
        self.mask = np.asarray(self.mask, dtype=bool)
        if self.mask.ndim != 2:
            raise ValueError(f"region mask must be H×W, got shape {self.mask.shape}")

    @property
    def area(self) -> int:
        """Pixels in the mask."""
        return int(self.mask.sum())

    @property
    def bbox(self) -> list[int]:
        """``[x, y, w, h]`` in pixels (``EmptyMaskError`` for an empty mask)."""
        from seagull.regions.rle import mask_bbox

        if self._bbox is None:
            self._bbox = mask_bbox(self.mask)
        return list(self._bbox)

    def rle(self) -> dict:
        """The mask as a JSON-ready COCO RLE ``{"size": [h, w], "counts": str}``."""
        from seagull.regions.rle import encode

        return encode(self.mask)

    def to_json(self) -> dict:
        """The region as one entry of ``regions.json`` (COCO style)."""
        return {"segmentation": self.rle(), "bbox": self.bbox, "area": self.area,
                "kind": self.kind, "score": round(float(self.score), 6)}


__all__ = [
    "DEDUP_IOU",
    "KINDS",
    "MIN_REGION_AREA",
    "Region",
    "Segmenter",
    "build_segmenter",
    "filter_regions",
    "mask_iou",
]
