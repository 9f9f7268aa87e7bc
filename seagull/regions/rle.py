"""COCO run-length encoding of region masks (pycocotools), the one mask format on disk and wire.

An RLE here is the JSON-ready dict ``{"size": [h, w], "counts": str}`` (pycocotools' compressed
counts, decoded to ASCII). ``decode`` also accepts ``counts`` as bytes, and the uncompressed form
(``counts`` a list of run lengths, as COCO annotation files write it).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from seagull.errors import EmptyMaskError, InvalidInputError


def _as_mask(mask) -> np.ndarray:
    array = np.asarray(mask)
    if array.ndim != 2:
        raise InvalidInputError(f"mask: expected a 2-D (H×W) array, got shape {array.shape}")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise InvalidInputError(f"mask: size {array.shape} has no pixels")
    return array.astype(bool, copy=False)


def encode(mask, *, allow_empty: bool = False) -> dict:
    """H×W bool (or 0/1) mask → ``{"size": [h, w], "counts": str}``.

    An all-zero mask is an ``EmptyMaskError`` unless ``allow_empty`` (a region must select pixels).
    """
    from pycocotools import mask as mask_utils

    array = _as_mask(mask)
    if not allow_empty and not array.any():
        raise EmptyMaskError(f"mask of size {list(array.shape)} selects no pixel")
    rle = mask_utils.encode(np.asfortranarray(array.astype(np.uint8)))
    return {"size": [int(rle["size"][0]), int(rle["size"][1])],
            "counts": rle["counts"].decode("ascii")}


def _to_coco(rle) -> dict:
    """Validate a JSON RLE and return the compressed form pycocotools takes (counts as bytes)."""
    from pycocotools import mask as mask_utils

    if not isinstance(rle, Mapping) or "size" not in rle or "counts" not in rle:
        raise InvalidInputError("RLE: expected a mapping with 'size' and 'counts'")
    size = rle["size"]
    if (not isinstance(size, (list, tuple)) or len(size) != 2
            or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v > 0
                       for v in size)):
        raise InvalidInputError(f"RLE: 'size' must be [height, width] of positive integers, "
                                f"got {size!r}")
    h, w = int(size[0]), int(size[1])
    counts = rle["counts"]
    if isinstance(counts, (list, tuple)):  # uncompressed COCO form
        if not all(isinstance(c, (int, np.integer)) and c >= 0 for c in counts):
            raise InvalidInputError("RLE: uncompressed 'counts' must be non-negative integers")
        if sum(int(c) for c in counts) != h * w:
            raise InvalidInputError(f"RLE: uncompressed counts sum to {sum(counts)}, "
                                    f"not h·w = {h * w}")
        return mask_utils.frPyObjects({"size": [h, w], "counts": [int(c) for c in counts]}, h, w)
    if isinstance(counts, str):
        try:
            counts = counts.encode("ascii")
        except UnicodeEncodeError:
            raise InvalidInputError("RLE: 'counts' is not an ASCII string") from None
    if not isinstance(counts, bytes):
        raise InvalidInputError(f"RLE: 'counts' must be a string or a list, "
                                f"got {type(counts).__name__}")
    # pycocotools' decoder does not check the characters or the total length: do it here.
    if any(c < 48 or c > 111 for c in counts):
        raise InvalidInputError("RLE: 'counts' has characters outside COCO's alphabet")
    coco = {"size": [h, w], "counts": counts}
    total = _run_total(counts)
    if total != h * w:
        raise InvalidInputError(f"RLE: runs cover {total} pixels, not h·w = {h}×{w} = {h * w}")
    return coco


def _run_total(counts: bytes) -> int:
    """Sum of the run lengths of compressed COCO counts (LEB128-like, 5 bits per char, delta)."""
    runs: list[int] = []
    p = 0
    while p < len(counts):
        x, k, more = 0, 0, True
        while more:
            if p >= len(counts):
                raise InvalidInputError("RLE: 'counts' ends inside a run")
            c = counts[p] - 48
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and (c & 0x10):
                x |= -1 << (5 * k)
        if len(runs) > 2:
            x += runs[-2]
        if x < 0:
            raise InvalidInputError("RLE: 'counts' decodes to a negative run")
        runs.append(x)
    return sum(runs)


def decode(rle) -> np.ndarray:
    """RLE dict → H×W bool mask. A malformed RLE is an ``InvalidInputError``."""
    from pycocotools import mask as mask_utils

    return mask_utils.decode(_to_coco(rle)).astype(bool)


def area(rle) -> int:
    """Number of pixels the RLE selects."""
    from pycocotools import mask as mask_utils

    return int(mask_utils.area(_to_coco(rle)))


def bbox(rle) -> list[int]:
    """``[x, y, w, h]`` in pixels of the mask's bounding rectangle ([0, 0, 0, 0] if empty)."""
    from pycocotools import mask as mask_utils

    return [int(v) for v in mask_utils.toBbox(_to_coco(rle))]


def mask_bbox(mask: np.ndarray) -> list[int]:
    """``[x, y, w, h]`` of a bool mask's bounding rectangle; ``EmptyMaskError`` if empty."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        raise EmptyMaskError(f"mask of size {list(mask.shape)} selects no pixel")
    return [int(cols[0]), int(rows[0]), int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1)]
