"""Quality report of a built dataset (``seagull inspect``), without Ray.

``report(root)`` reads the ``rois`` table's label columns (never the image bytes) and returns
counts, histograms of the five-level words per distortion type and level (scores without a word,
such as NaN or values outside [0, 1], are counted apart), the clean fraction per level and the
bad sources; ``seagull.data.audit`` checks the labels themselves. ``write_overlays`` draws a few rendered images with their regions
into PNG files a person can look at: the image enlarged with numbered region contours, beside a
table of the regions' labels (``render_overlay`` describes the layout).
"""

from __future__ import annotations

import io
import math
import posixpath
from collections import Counter, defaultdict

import numpy as np
import pyarrow.dataset as pads

from seagull.data.holdout import source_name
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
    invalid = Counter()  # scores with no word: null quality, NaN, outside [0, 1]
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
                    word = _word("quality", region["quality"])
                    if word is None:
                        invalid["quality"] += 1
                    else:
                        quality[key][word] += 1
                    if region["importance"] is None:
                        null_importance += 1
                    elif (word := _word("importance", region["importance"])) is None:
                        invalid["importance"] += 1
                    else:
                        importance[key][word] += 1
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
        "invalid_scores": {"quality": invalid["quality"], "importance": invalid["importance"]},
        "quality": {k: _hist(quality[k], QUALITY_WORDS) for k in keys},
        "importance": {k: _hist(importance[k], IMPORTANCE_WORDS) for k in keys},
        "severity": {k: _hist(v, SEVERITY_WORDS) for k, v in sorted(severity.items(),
                                                                     key=lambda kv: _level_key(kv[0]))},
        "clean_fraction": {k: clean_per_level[k] / regions_per_level[k] for k in keys},
        "errors": errors,
        "damaged_shards": [{"shard": k, "reason": v} for k, v in damaged.items()],
    }


def _word(scale: str, score) -> str | None:
    """The word of ``score``; None for a score without one (null, NaN, outside [0, 1]), which
    the report counts apart and the label audit flags."""
    try:
        return level_word(scale, score)
    except (TypeError, ValueError):
        return None


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
    invalid = rep.get("invalid_scores", {})
    if any(invalid.values()):
        lines.append(f"  scores without a word (null, NaN or outside [0, 1]): quality "
                     f"{invalid.get('quality', 0)}, importance {invalid.get('importance', 0)}")
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


# Twelve colours that stay apart from each other (and from black and white), one per listed region.
PALETTE = [(230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48),
           (145, 30, 180), (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212),
           (0, 128, 128), (170, 110, 40)]
MAX_REGIONS = len(PALETTE)  # regions drawn and listed per overlay; the rest are named as omitted
MIN_LONG_SIDE = 768  # smaller renders are enlarged (nearest, by a whole factor) to at least this
_FONT_FILES = ("DejaVuSans.ttf", "LiberationSans-Regular.ttf", "Arial.ttf", "FreeSans.ttf")
_BOLD_FONT_FILES = ("DejaVuSans-Bold.ttf", "LiberationSans-Bold.ttf", "Arial Bold.ttf",
                    "FreeSansBold.ttf")
_INK, _MUTED, _PAPER, _RULE = (20, 20, 20), (90, 90, 90), (255, 255, 255), (200, 200, 200)


def _font(size: int, bold: bool = False):
    """A TrueType font of ``size`` px: a system one if there is one, else Pillow's scalable
    default (Pillow ≥ 10.1), else its fixed bitmap default."""
    from PIL import ImageFont

    for name in _BOLD_FONT_FILES if bold else _FONT_FILES:
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: no size
        return ImageFont.load_default()


def _drawable(font, text: str) -> str:
    """``text`` as ``font`` can draw it: Pillow's bitmap font knows Latin-1 only."""
    from PIL import ImageFont

    if isinstance(font, ImageFont.FreeTypeFont):
        return text
    return text.encode("latin-1", "replace").decode("latin-1")


def _text_size(font, text: str) -> tuple[int, int]:
    _, _, right, bottom = font.getbbox(_drawable(font, text))
    return int(right), int(bottom)


def _line_height(font) -> int:
    return _text_size(font, "Ag|")[1] + 4


def _fit(font, text: str, width: int) -> str:
    """``text`` (as ``font`` can draw it) cut, with an ellipsis, to at most ``width`` px."""
    text = _drawable(font, text)
    if _text_size(font, text)[0] <= width:
        return text
    while text and _text_size(font, text + "...")[0] > width:
        text = text[:-1]
    return text + "..."


def layout_tags(anchors, sizes, bounds, gap: int = 2) -> list[tuple[int, int, int, int]]:
    """Boxes ``(x0, y0, x1, y1)`` (x1, y1 exclusive) for number tags of ``sizes`` ``(w, h)``,
    each as close as it can be to its anchor ``(x, y)`` (the box centred on it), inside
    ``bounds`` ``(width, height)``, and at least ``gap`` px apart from the boxes placed before
    it (tags are placed in order). Deterministic: the nearest free position on a grid of
    corners (a sixth of the tag's short side apart) wins, ties broken by row then column. A tag
    that fits nowhere free (more tags than room) goes at its anchor."""
    width, height = bounds
    placed: list[tuple[int, int, int, int]] = []
    for (ax, ay), (w, h) in zip(anchors, sizes):
        w, h = min(int(w), width), min(int(h), height)
        want_x = min(max(math.floor(ax - w / 2 + 0.5), 0), width - w)
        want_y = min(max(math.floor(ay - h / 2 + 0.5), 0), height - h)
        # Candidate corners every ``step`` px (and the wanted one), enough for tags this size.
        step = max(1, min(w, h) // 6)
        col = np.union1d(np.arange(0, width - w + 1, step), [want_x, width - w])
        row = np.union1d(np.arange(0, height - h + 1, step), [want_y, height - h])
        ys, xs = (a.ravel() for a in np.meshgrid(row, col, indexing="ij"))
        free = np.ones(xs.shape, bool)
        for x0, y0, x1, y1 in placed:
            free &= ~((xs < x1 + gap) & (xs + w + gap > x0) & (ys < y1 + gap) & (ys + h + gap > y0))
        if free.any():
            dist = (xs - want_x) ** 2 + (ys - want_y) ** 2
            dist = np.where(free, dist, np.iinfo(np.int64).max)
            best = int(np.argmin(dist))  # first minimum: row-major order breaks ties
            x, y = int(xs[best]), int(ys[best])
        else:
            x, y = want_x, want_y
        placed.append((x, y, x + w, y + h))
    return placed


def _anchor(mask: np.ndarray, bbox) -> tuple[float, float]:
    """Where a region's tag goes (x, y in pixels): of the mask's pixels at least 60 % as deep
    (far from its border) as its deepest, the one nearest its centroid, so a tag sits inside
    even a ring- or L-shaped region and near the middle of a convex one; the bbox centre if
    the mask is empty."""
    from scipy.ndimage import distance_transform_edt

    if not mask.any():
        x, y, w, h = bbox
        return float(x + w / 2), float(y + h / 2)
    depth = distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1]
    ys, xs = np.nonzero(depth >= 0.6 * depth.max())
    all_y, all_x = np.nonzero(mask)
    near = np.argmin((xs - all_x.mean()) ** 2 + (ys - all_y.mean()) ** 2)  # first: row-major
    return float(xs[near]) + 0.5, float(ys[near]) + 0.5


def _score(scale: str, value) -> str:
    return "-" if value is None else f"{level_word(scale, value)} {value:.2f}"


def _number_range(numbers: list[int]) -> str:
    if len(numbers) > 2 and numbers == list(range(numbers[0], numbers[-1] + 1)):
        return f"#{numbers[0]} to #{numbers[-1]}"
    return ", ".join(f"#{n}" for n in numbers)


def render_overlay(image: np.ndarray, regions: list[dict], title: str = "",
                   max_regions: int = MAX_REGIONS) -> tuple[np.ndarray, dict]:
    """The overlay of ``overlay`` and where its parts are.

    Layout: a title line across the top; below it on the left the image, enlarged by a whole
    factor to at least ``MIN_LONG_SIDE`` px on its long side (nearest neighbour, so its pixels
    stay as they were) with each region's contour in its own colour (over a dark halo) and a
    number tag at the region's innermost point (tags never overlap; see ``layout_tags``); on the
    right a table, one row per region: its tag, kind, area, quality, importance and distortion
    entries. At most ``max_regions`` regions (in stored order) are drawn; a line under the table
    names the omitted ones. No text lies on the image or on other text.

    The dict gives ``scale``, ``image_box`` and ``panel_box`` (x0, y0, x1, y1; exclusive ends),
    ``tag_boxes`` (canvas coordinates, one per drawn region), ``text_boxes`` (every text line
    drawn outside the image), ``shown`` and ``omitted`` (region numbers, 1-based)."""
    from PIL import Image, ImageDraw
    from scipy.ndimage import binary_dilation, binary_erosion

    from seagull.data.factory import decode_mask

    h, w = image.shape[:2]
    scale = max(1, -(-MIN_LONG_SIDE // max(h, w)))
    big_h, big_w = h * scale, w * scale
    font_px = max(14, round(15 * max(big_h, big_w) / 1000))
    body, bold, title_font = _font(font_px), _font(font_px, True), _font(font_px + 3, True)
    line = _line_height(body)
    pad = max(6, font_px // 2)

    shown = list(range(1, min(len(regions), max_regions) + 1))
    omitted = list(range(len(shown) + 1, len(regions) + 1))

    # The image with the contours: every halo first, then every colour line, so one region's
    # halo never hides another's line.
    big = np.repeat(np.repeat(image[..., :3].astype(np.uint8), scale, 0), scale, 1)
    masks, anchors = [], []
    for n in shown:
        region = regions[n - 1]
        mask = decode_mask(region["mask"])
        if mask.shape != (h, w):  # a mask of another size: no contour, only its row
            mask = np.zeros((h, w), bool)
        masks.append(np.repeat(np.repeat(mask, scale, 0), scale, 1))
        ax, ay = _anchor(mask, region["bbox"])
        anchors.append((ax * scale, ay * scale))
    thick = 2  # px of halo and of colour line, at the enlarged size
    for m in masks:
        big[binary_dilation(m, iterations=thick) & ~m] = 0
    for n, m in zip(shown, masks):
        big[m & ~binary_erosion(m, iterations=thick)] = PALETTE[(n - 1) % len(PALETTE)]

    # Number tags: the number on the region's colour, in black or white whichever reads better.
    tag_w = max(_text_size(bold, str(n))[0] for n in shown) + 8 if shown else 0
    tag_h = _line_height(bold) + 2
    tag_boxes = layout_tags(anchors, [(tag_w, tag_h)] * len(shown), (big_w, big_h))

    # The table: measured columns, a row per region, each cell a list of lines (a region's
    # distortion entries one per line); column 0 holds the row's tag.
    header = ["#", "kind", "area", "quality", "importance", "distortion"]
    rows = []
    for n in shown:
        region = regions[n - 1]
        dist = [f"{d['type']} {d['level']} {d['severity']:.2f}" for d in region["distortions"]]
        rows.append([[], [str(region["kind"])], [f"{100 * region['area'] / (h * w):.1f}%"],
                     [_score("quality", region["quality"])],
                     [_score("importance", region["importance"])], dist or ["clean"]])
    col_w = [max(_text_size(bold, header[0])[0], tag_w)]
    for c in range(1, len(header)):
        widths = [_text_size(bold, header[c])[0]] + [_text_size(body, t)[0]
                                                      for r in rows for t in r[c]]
        col_w.append(min(max(widths), 22 * font_px))
    gutter = 2 * pad
    panel_w = pad + sum(col_w) + gutter * (len(col_w) - 1) + 2 * pad
    title_h = _line_height(title_font) + 2 * pad
    row_h = [max(tag_h, line * max(len(cell) for cell in r)) + pad for r in rows]
    notes = []
    if omitted:
        notes.append(f"{len(omitted)} more of {len(regions)} regions not drawn: "
                     f"{_number_range(omitted)}")
    if not regions:
        notes.append("no regions")
    panel_h = pad + line + pad + sum(row_h) + pad + line * len(notes) + pad
    panel_w = max(panel_w, pad + max([_text_size(body, t)[0] for t in notes] or [0]) + pad)
    width, height = big_w + panel_w, title_h + max(big_h, panel_h)

    canvas = Image.new("RGB", (width, height), _PAPER)
    canvas.paste(Image.fromarray(big), (0, title_h))
    draw = ImageDraw.Draw(canvas)
    text_boxes = []

    def text(xy, value, font, fill, limit):
        value = _fit(font, value, limit)
        draw.text(xy, value, font=font, fill=fill)
        text_boxes.append(tuple(int(v) for v in draw.textbbox(xy, value, font=font)))

    def tag(box, n):
        color = PALETTE[(n - 1) % len(PALETTE)]
        ink = (0, 0, 0) if 0.299 * color[0] + 0.587 * color[1] + 0.114 * color[2] > 140 \
            else (255, 255, 255)
        x0, y0, x1, y1 = box
        draw.rectangle((x0, y0, x1 - 1, y1 - 1), fill=color, outline=(0, 0, 0))
        tw, th = _text_size(bold, str(n))
        draw.text((x0 + (x1 - x0 - tw) // 2, y0 + (y1 - y0 - th) // 2), str(n), font=bold,
                  fill=ink)

    text((pad, pad), title or f"{w}×{h} px · {len(regions)} regions", title_font, _INK,
         width - 2 * pad)
    draw.line((0, title_h - 1, width, title_h - 1), fill=_RULE)
    canvas_tags = [(x0, y0 + title_h, x1, y1 + title_h) for x0, y0, x1, y1 in tag_boxes]
    for box, n in zip(canvas_tags, shown):
        tag(box, n)

    x_cols = [big_w + pad]
    for cw in col_w[:-1]:
        x_cols.append(x_cols[-1] + cw + gutter)
    y = title_h + pad
    for c, name in enumerate(header):
        text((x_cols[c], y), name, bold, _INK, col_w[c])
    y += line
    draw.line((big_w + pad, y + pad // 2, width - pad, y + pad // 2), fill=_RULE)
    y += pad
    for n, r, rh in zip(shown, rows, row_h):
        tag((x_cols[0], y, x_cols[0] + tag_w, y + tag_h), n)
        dy = (tag_h - line) // 2 + 2
        for c in range(1, len(header)):
            for k, t in enumerate(r[c]):
                text((x_cols[c], y + dy + k * line), t, body,
                     _MUTED if t in ("-", "clean") else _INK, col_w[c])
        y += rh
    y += pad
    for t in notes:
        text((big_w + pad, y), t, body, _MUTED, panel_w - 2 * pad)
        y += line
    info = {"scale": scale, "image_box": (0, title_h, big_w, title_h + big_h),
            "panel_box": (big_w, title_h, width, height), "tag_boxes": canvas_tags,
            "text_boxes": text_boxes, "shown": shown, "omitted": omitted}
    return np.asarray(canvas), info


def overlay(image: np.ndarray, regions: list[dict], title: str = "") -> np.ndarray:
    """``image`` (H×W×3 uint8) enlarged, with each region's contour and number tag, beside a
    table of the regions' labels (kind, area, quality, importance, distortions) under a
    ``title`` line; returns a new uint8 RGB array (see ``render_overlay`` for the layout)."""
    return render_overlay(image, regions, title)[0]


def _source_name(layout: DatasetLayout, row: dict) -> str:
    """The file name of the row's source from its ``images`` shard; its source id if that
    shard cannot be read."""
    name = source_name(layout, row["source_id"])
    return f"{name} ({row['source_id']})" if name else f"source {row['source_id']}"


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
        name = posixpath.basename(shard).replace(".parquet", "")
        level = "" if row["level"] is None else f" level {row['level']}"
        title = (f"{_source_name(layout, row)} · {row['distortion']}{level} · "
                 f"image {row['image_id']} · {row['width']}×{row['height']} px")
        image = overlay(decode_image(row["encoded"]), row["regions"], title=title)
        path = str(Path(out_dir) / f"{name}_{row['distortion']}_{row['level']}.png")
        buf = io.BytesIO()
        Image.fromarray(image).save(buf, format="PNG")
        Path(path).write_bytes(buf.getvalue())
        written.append(path)
    return written
