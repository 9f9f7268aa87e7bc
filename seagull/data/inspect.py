"""Quality report of a built dataset (``seagull inspect``), without Ray.

``report(root)`` reads the ``rois`` table's label columns (never the image bytes) and returns
counts, histograms of the five-level words per distortion type and level, the clean fraction
per level and the bad sources. ``write_overlays`` draws a few rendered images with their regions
and labels into PNG files a person can look at.
"""

from __future__ import annotations

import io
import posixpath
from collections import Counter, defaultdict

import numpy as np
import pyarrow.dataset as pads

from seagull.data.reader import table_dataset, unreadable_shards
from seagull.data.schema import SCHEMAS, check_schema
from seagull.data.store import DatasetLayout
from seagull.errors import OutputError
from seagull.labels.levels import IMPORTANCE_WORDS, QUALITY_WORDS, SEVERITY_WORDS, level_word

LABEL_COLUMNS = ["image_id", "source_id", "split", "distortion", "level", "regions"]


def report(root: str) -> dict:
    """Counts, word histograms per (distortion, level), clean fractions, errors."""
    layout = DatasetLayout.open(root)
    manifest = layout.read_manifest() or {}
    quality = defaultdict(Counter)
    importance = defaultdict(Counter)
    severity = defaultdict(Counter)
    regions_per_level = Counter()
    clean_per_level = Counter()
    null_importance = 0
    n_rows = n_regions = 0
    splits = Counter()
    damaged = unreadable_shards(root, "rois")  # reported, and the rest still counted
    readable = [s for s in layout.shards("rois") if s not in damaged]
    if readable:
        first = pads.dataset(readable[0], filesystem=layout.fs, format="parquet")
        check_schema(first.schema, "rois", readable[0])
        ds = pads.dataset(readable, filesystem=layout.fs, format="parquet",
                          schema=SCHEMAS["rois"])
        for batch in ds.to_batches(columns=LABEL_COLUMNS, batch_size=64):
            for row in batch.to_pylist():
                n_rows += 1
                key = f"{row['distortion']}/{row['level'] if row['level'] is not None else '-'}"
                splits[row["split"]] += 1
                for region in row["regions"]:
                    n_regions += 1
                    regions_per_level[key] += 1
                    quality[key][level_word("quality", region["quality"])] += 1
                    if region["importance"] is None:
                        null_importance += 1
                    else:
                        importance[key][level_word("importance", region["importance"])] += 1
                    if not region["distortions"]:
                        clean_per_level[key] += 1
                    for d in region["distortions"]:
                        severity[f"{d['type']}/{key.split('/')[1]}"][d["level"]] += 1
    errors = []
    if layout.shards("errors"):
        errors = table_dataset(root, "errors").to_table().to_pylist()
    keys = sorted(regions_per_level, key=_level_key)
    return {
        "root": str(root), "manifest_counts": manifest.get("counts", {}),
        "producers": manifest.get("producers", {}), "params": manifest.get("params", {}),
        "rois_rows": n_rows, "regions": n_regions, "rows_by_split": dict(splits),
        "regions_without_importance": null_importance,
        "quality": {k: _hist(quality[k], QUALITY_WORDS) for k in keys},
        "importance": {k: _hist(importance[k], IMPORTANCE_WORDS) for k in keys},
        "severity": {k: _hist(v, SEVERITY_WORDS) for k, v in sorted(severity.items(),
                                                                     key=lambda kv: _level_key(kv[0]))},
        "clean_fraction": {k: clean_per_level[k] / regions_per_level[k] for k in keys},
        "errors": errors,
        "damaged_shards": [{"shard": k, "reason": v} for k, v in damaged.items()],
    }


def _level_key(key: str):
    dist, level = key.split("/")
    return (dist, int(level) if level.lstrip("-").isdigit() else -1)


def _hist(counter: Counter, words) -> dict[str, int]:
    return {w: counter.get(w, 0) for w in words}


def format_report(rep: dict) -> str:
    """The report as plain-text tables."""
    lines = [f"dataset {rep['root']}",
             (f"  rois rows {rep['rois_rows']}, regions {rep['regions']}, by split "
              f"{rep['rows_by_split']}, regions without importance "
              f"{rep['regions_without_importance']}, bad sources {len(rep['errors'])}")]
    for name, entry in sorted(rep["producers"].items()):
        lines.append(f"  {name}: {entry.get('name')} {entry.get('version')} "
                     f"(weights {entry.get('weights')})")
    for title, words in (("quality", QUALITY_WORDS), ("importance", IMPORTANCE_WORDS)):
        lines.append(f"\n{title} words per distortion/level")
        lines.append(f"  {'type/level':18s}" + "".join(f"{w:>12s}" for w in words))
        for key, hist in rep[title].items():
            lines.append(f"  {key:18s}" + "".join(f"{hist[w]:12d}" for w in words))
    lines.append("\nseverity words per type/level")
    lines.append(f"  {'type/level':18s}" + "".join(f"{w:>10s}" for w in SEVERITY_WORDS))
    for key, hist in rep["severity"].items():
        lines.append(f"  {key:18s}" + "".join(f"{hist[w]:10d}" for w in SEVERITY_WORDS))
    lines.append("\nclean fraction per distortion/level")
    for key, frac in rep["clean_fraction"].items():
        lines.append(f"  {key:18s}{frac:8.3f}")
    lines.append("\nbad sources")
    for e in rep["errors"]:
        lines.append(f"  {e['source']}: {e['error']} at {e['stage']}: {e['message']}")
    if not rep["errors"]:
        lines.append("  none")
    if rep.get("damaged_shards"):
        lines.append("\ndamaged shards (not counted above; rebuild or restore them)")
        for d in rep["damaged_shards"]:
            lines.append(f"  {d['shard']}: {d['reason']}")
    return "\n".join(lines)


PALETTE = [(230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48),
           (145, 30, 180), (70, 240, 240), (240, 50, 230)]


def overlay(image: np.ndarray, regions: list[dict]) -> np.ndarray:
    """``image`` (H×W×3 uint8) with each region tinted, outlined and labelled (quality word,
    importance word, distortion words); returns a new H×W×3 uint8 array."""
    from PIL import Image, ImageDraw
    from scipy.ndimage import binary_erosion

    from seagull.data.factory import decode_mask

    canvas = image.astype(np.float32).copy()
    texts = []
    for i, region in enumerate(regions):
        color = np.array(PALETTE[i % len(PALETTE)], np.float32)
        mask = decode_mask(region["mask"])
        canvas[mask] = 0.65 * canvas[mask] + 0.35 * color
        edge = mask & ~binary_erosion(mask)
        canvas[edge] = color
        words = [f"q:{level_word('quality', region['quality'])}"]
        if region["importance"] is not None:
            words.append(f"i:{level_word('importance', region['importance'])}")
        words += [f"{d['level']} {d['type']}" for d in region["distortions"]] or ["clean"]
        x, y = region["bbox"][:2]
        texts.append(((int(x) + 2, int(y) + 2), " ".join(words), tuple(int(c) for c in color)))
    out = Image.fromarray(canvas.clip(0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(out)
    for (x, y), text, color in texts:
        draw.text((x + 1, y + 1), text, fill=(0, 0, 0))
        draw.text((x, y), text, fill=color)
    return np.asarray(out)


def write_overlays(root: str, out_dir: str, n_sources: int = 3) -> list[str]:
    """PNG overlays of one distorted image per source for the first ``n_sources`` sources
    (sorted by id), with its regions and labels. Returns the paths written."""
    from pathlib import Path

    from PIL import Image

    from seagull.data.factory import decode_image

    layout = DatasetLayout.open(root)
    written = []
    try:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{out_dir}: cannot write overlays there ({exc.strerror or exc})") \
            from None
    damaged = unreadable_shards(root, "rois")
    for shard in [s for s in layout.shards("rois") if s not in damaged][:n_sources]:
        rows = pads.dataset(shard, filesystem=layout.fs, format="parquet").to_table().to_pylist()
        rows = [r for r in rows if r["regions"]]
        if not rows:
            continue
        # The most distorted render of the shard shows the labels' spread best.
        row = min(rows, key=lambda r: np.mean([g["quality"] for g in r["regions"]]))
        image = overlay(decode_image(row["encoded"]), row["regions"])
        name = posixpath.basename(shard).replace(".parquet", "")
        path = str(Path(out_dir) / f"{name}_{row['distortion']}_{row['level']}.png")
        buf = io.BytesIO()
        Image.fromarray(image).save(buf, format="PNG")
        Path(path).write_bytes(buf.getvalue())
        written.append(path)
    return written
