"""Seagull training samples on Ray Data: one row per region of a ``rois`` table.

    ds = read_samples("s3://bucket/seagull-100w", split="train")
    for batch in ds.iter_batches(batch_size=32): ...

Each row: ``image`` (H×W×3 uint8), ``mask`` (H×W bool), ``image_id``, ``roi_id``, ``split``,
``distortion``, ``level``, ``kind``, ``bbox``, ``area``, ``quality``, ``importance`` and
``distortions`` (JSON text of the ``{type, severity, level}`` list). The conversion is
``seagull.data.reader.samples_from_row``; this module only spreads it over Ray.
"""

from __future__ import annotations


def _samples(row: dict) -> list[dict]:
    import json

    from seagull.data.reader import samples_from_row

    out = []
    for s in samples_from_row(row, decode=True):
        out.append({"image_id": s.image_id, "roi_id": s.roi_id, "split": s.split,
                    "distortion": s.distortion, "level": s.level, "kind": s.kind,
                    "bbox": s.bbox, "area": s.area, "quality": s.quality,
                    "importance": s.importance, "distortions": json.dumps(s.distortions),
                    "image": s.image, "mask": s.mask})
    return out


def read_samples(root: str, split: str | None = None, num_cpus: float = 0.5):
    """A ``ray.data.Dataset`` of samples of the dataset at ``root`` (streamed, not loaded)."""
    from seagull.data.reader import ray_table, table_dataset

    table_dataset(root, "rois")  # schema check and a clear error on an empty folder
    ds = ray_table(root, "rois")
    if split is not None:
        ds = ds.filter(lambda row: row["split"] == split)
    return ds.flat_map(_samples, num_cpus=num_cpus)
