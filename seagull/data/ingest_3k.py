"""Seagull-3k rows: aggregated human ratings → ``images`` and ``rois`` rows (no Ray).

Images are authentic photographs (``distortion`` "authentic", no reference, no level). Their
bytes are kept as given when they are PNG or JPEG, else re-encoded as PNG; they live in the
``rois`` row (the ``images`` row is the catalogue entry). The split is by image, exactly
``round(n · test_fraction)`` images in ``test`` (``seagull.data.split.split_exact``).
"""

from __future__ import annotations

import hashlib
import io
import posixpath
from dataclasses import dataclass

from seagull.data.ids import canonical_json, image_id, roi_id, source_id
from seagull.data.schema import AUTHENTIC
from seagull.data.sources import read_source_bytes
from seagull.data.split import split_exact
from seagull.errors import ImageDecodeError, MaskShapeError
from seagull.labels.aggregate import Rating, aggregate_region, group_by_region

DATASET_3K = "seagull-3k"
FORMAT_VERSION = "3k-1"  # goes into image ids: a change of how 3k rows are made changes them


@dataclass
class Ingested:
    images: list[dict]
    rois: list[dict]
    n_regions: int
    n_ratings: int


def _resolve(image: str, base: str) -> str:
    if "://" in image or image.startswith("/"):
        return image
    return posixpath.join(base, image)


def _stored_bytes(data: bytes, where: str) -> tuple[bytes, str, int, int]:
    """(bytes as stored, format, width, height): PNG/JPEG kept, anything else → PNG."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as im:
            fmt = (im.format or "").lower()
            width, height = im.size
            if fmt in ("png", "jpeg"):
                return data, fmt, width, height
            buf = io.BytesIO()
            im.convert("RGB").save(buf, format="PNG")
            return buf.getvalue(), "png", width, height
    except (UnidentifiedImageError, OSError) as exc:
        raise ImageDecodeError(f"{where}: not a readable image ({exc})") from None


def build_rows(ratings: list[Rating], base: str, test_fraction: float, seed: int) -> Ingested:
    """Aggregate ``ratings`` and make the rows; image paths are relative to ``base``."""
    from pycocotools import mask as mask_utils

    groups = group_by_region(ratings)
    by_image: dict[str, list[tuple[dict, list[Rating]]]] = {}
    for (image, _), group in groups.items():
        by_image.setdefault(image, []).append((group[0].region, group))
    splits = split_exact(by_image, test_fraction, seed)
    images, rois, n_regions = [], [], 0
    for image in sorted(by_image):
        location = _resolve(image, base)
        data = read_source_bytes(location)
        encoded, fmt, width, height = _stored_bytes(data, location)
        sid = source_id(hashlib.sha256(data).hexdigest())
        iid = image_id(sid, AUTHENTIC, None, {"format": fmt}, FORMAT_VERSION)
        regions = []
        for index, (rle, group) in enumerate(sorted(by_image[image],
                                                    key=lambda item: item[0]["counts"])):
            if rle["size"] != [height, width]:
                raise MaskShapeError(f"{image}: region of size {rle['size']} on an image of "
                                     f"{height}×{width}")
            coco = {"size": rle["size"], "counts": rle["counts"].encode()}
            labels = aggregate_region(group)
            regions.append({
                "roi_id": roi_id(iid, index, rle["counts"]), "kind": "object", "mask": rle,
                "bbox": [float(v) for v in mask_utils.toBbox(coco)],
                "area": int(mask_utils.area(coco)), "quality": labels.quality,
                "importance": labels.importance, "importance_pair": None,
                "distortions": labels.distortions,
            })
        n_regions += len(regions)
        common = {"image_id": iid, "source_id": sid, "split": splits[image],
                  "distortion": AUTHENTIC, "level": None, "width": width, "height": height,
                  "format": fmt}
        images.append({**common, "source": image, "isp_params": canonical_json({}),
                       "encoded": None})
        rois.append({**common, "reference_id": None, "encoded": encoded, "regions": regions})
    return Ingested(images, rois, n_regions, len(ratings))
