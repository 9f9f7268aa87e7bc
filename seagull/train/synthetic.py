"""A small synthetic dataset in the ``rois`` schema, written the way the factory writes one:
for smoke tests, benchmarks and trying the trainer without building a real dataset.

Images are S×S RGB with three horizontal bands, each a region; a band's quality label falls
with the amount of noise in it (so a model can learn something real from pixels), its
distortion is ``noise`` at that severity (clean above 0.92), and the middle band's importance is
undefined (null), as the schema allows.
"""

from __future__ import annotations

import posixpath

import numpy as np

from seagull.isp import encode_png
from seagull.labels.levels import CLEAN_QUALITY, level_word
from seagull.regions.rle import encode as rle_encode


def write_rois_dataset(root, n_images: int = 8, size: int = 64, test_images: int = 2,
                       seed: int = 0) -> str:
    """Write ``root/manifest.json`` and ``root/rois/part-00000.parquet``; returns ``root``.

    The last ``test_images`` images are in the ``test`` split, the rest in ``train``.
    """
    from seagull.data.schema import to_table
    from seagull.data.store import DatasetLayout, new_manifest, write_table_atomic

    rng = np.random.default_rng(seed)
    rows = []
    band = size // 3
    for i in range(n_images):
        base = np.linspace(60, 200, size, dtype=np.float32)[None, :, None].repeat(size, 0)
        image = np.broadcast_to(base, (size, size, 3)).copy()
        image[..., i % 3] += 30
        regions = []
        for b in range(3):
            noise = rng.uniform(0.0, 1.0)
            rows_slice = slice(b * band, size if b == 2 else (b + 1) * band)
            image[rows_slice] += rng.normal(0, 80 * noise, image[rows_slice].shape)
            quality = float(np.clip(1.0 - noise, 0.0, 1.0))
            mask = np.zeros((size, size), bool)
            mask[rows_slice] = True
            distortions = [] if quality > CLEAN_QUALITY else [
                {"type": "noise", "severity": quality, "level": level_word("severity", quality)}]
            regions.append({
                "roi_id": f"img{i}-r{b}", "kind": "object", "mask": rle_encode(mask),
                "bbox": [0.0, float(rows_slice.start), float(size),
                         float(mask.sum() // size)],
                "area": int(mask.sum()), "quality": quality,
                "importance": None if b == 1 else float(rng.uniform(0, 1)),
                "importance_pair": None, "distortions": distortions})
        rows.append({
            "image_id": f"img{i}", "reference_id": f"ref{i}", "source_id": f"src{i}",
            "split": "test" if i >= n_images - test_images else "train",
            "distortion": "noise", "level": i % 20, "width": size, "height": size,
            "format": "png", "encoded": encode_png(np.clip(image, 0, 255).astype(np.uint8)),
            "regions": regions})
    layout = DatasetLayout.open(str(root))
    layout.write_manifest(new_manifest("fixture", {"n_images": n_images, "size": size}, {}))
    write_table_atomic(layout.fs, posixpath.join(layout.table_dir("rois"), "part-00000.parquet"),
                       to_table(rows, "rois"))
    return str(root)
