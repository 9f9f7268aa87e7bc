"""A small dataset in the ``rois`` schema, written by the tests themselves.

Images are 64×64 and carry a visible, learnable signal: each image is a smooth gradient with
noise whose strength sets the quality of its regions (noisier → lower quality, labelled "noise"),
so a model can in principle learn the labels, and the labels span the scale.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from seagull.isp import encode_png
from seagull.regions.rle import encode as rle_encode


def make_rows(n_images: int, seed: int = 0, size: int = 64, test_every: int = 3) -> list[dict]:
    """``n_images`` rois rows, 2–3 regions each; every ``test_every``-th image is in "test"."""
    from seagull.labels.levels import level_word

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    rows = []
    for i in range(n_images):
        base = (np.stack([xx, yy, (xx + yy) / 2], -1) * (255.0 / size)).astype(np.float32)
        regions, image = [], base.copy()
        n_regions = 2 + i % 2
        for r in range(n_regions):
            mask = np.zeros((size, size), bool)
            y0, x0 = rng.integers(0, size // 2, 2)
            h, w = rng.integers(size // 4, size // 2, 2)
            mask[y0:y0 + h, x0:x0 + w] = True
            strength = float(rng.uniform(0, 1))
            noise = rng.normal(0, 80 * strength, (size, size, 3)).astype(np.float32)
            image[mask] = base[mask] + noise[mask]
            quality = float(np.clip(1 - strength + rng.normal(0, 0.03), 0, 1))
            distortions = ([] if quality > 0.92 else
                           [{"type": "noise", "severity": quality,
                             "level": level_word("severity", quality)}])
            importance = None if r == 2 else float(np.clip(mask.mean() * 3 * (1 - quality),
                                                           0, 1))
            regions.append({
                "roi_id": f"r{i}-{r}", "kind": "object" if r == 0 else "component",
                "mask": rle_encode(mask), "bbox": [float(x0), float(y0), float(w), float(h)],
                "area": int(mask.sum()), "quality": quality, "importance": importance,
                "importance_pair": None, "distortions": distortions})
        rows.append({
            "image_id": f"img{i:03d}", "reference_id": f"ref{i // 2:03d}",
            "source_id": f"src{i // 2:03d}",
            "split": "test" if i % test_every == 0 else "train", "distortion": "noise",
            "level": i % 20, "width": size, "height": size, "format": "png",
            "encoded": encode_png(np.clip(image, 0, 255).astype(np.uint8)), "regions": regions})
    return rows


def write_dataset(root: Path, n_images: int = 9, seed: int = 0, **kwargs) -> Path:
    """Write ``root/rois/*.parquet`` (one shard per source) and ``root/manifest.json``."""
    import pyarrow.parquet as pq

    from seagull.data.schema import SCHEMA_VERSION, to_table

    rows = make_rows(n_images, seed, **kwargs)
    (root / "rois").mkdir(parents=True, exist_ok=True)
    by_source: dict[str, list[dict]] = {}
    for row in rows:
        by_source.setdefault(row["source_id"], []).append(row)
    for source, source_rows in by_source.items():
        pq.write_table(to_table(source_rows, "rois"), root / "rois" / f"{source}.parquet")
    (root / "manifest.json").write_text(json.dumps({
        "dataset": "test-rois", "schema_version": SCHEMA_VERSION,
        "counts": {"rois": len(rows)}}))
    return root


@contextmanager
def ordered(ray):
    """Ray Data yields blocks in the order their read tasks were made, so that one run's order
    (of shards, of shuffled records) is observable."""
    options = ray.data.DataContext.get_current().execution_options
    before, options.preserve_order = options.preserve_order, True
    try:
        yield
    finally:
        options.preserve_order = before
