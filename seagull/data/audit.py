"""Label audit of a built dataset (``seagull inspect`` writes it beside the manifest).

``audit(root)`` checks that the labels of a build make sense, without Ray and without reading
an image: it reads only the ``rois`` columns it needs (``distortion``, ``level``, ``split`` and
the regions' ``quality``, ``importance``, ``area``, ``bbox`` and ``distortions``; never
``encoded`` nor the masks). ``write_audit(root, audit)`` writes ``ROOT/audit.json`` and
``ROOT/audit.png`` (through the dataset's filesystem, each to a temporary moved into place, as
the manifest is written); ``format_audit(audit)`` is the summary the command prints.

What is measured (docs/dataset.md, "Label audit"). A *type* is a distortion whose rows carry a
level (0 weakest … 19 strongest); rows without a level (the reference, authentic images) count
only in the checks of all regions (``quality``, ``importance``). Levels are JSON object keys,
so they are strings in the maps (``"19"``); ``levels`` lists them as ints.

- ``types``: ``{type: {"levels": [0, 10, 19], "regions": n, "quality_vs_strength_spearman": rho,
  "mean_quality_per_level": {"0": mean, …}, "clean_share_per_level": {"0": share, …},
  "flagged": bool}}``. ``rho`` is the Spearman correlation of each region's quality with its
  render's level over all the type's regions (ties share ranks; NaN and null qualities left
  out); null where it is undefined (fewer than two levels, or a constant side). A region is
  *clean* when its ``distortions`` list is empty. A mean is null at a level without a finite
  quality.
- ``fill_ratio``: ``{"regions": n, "spearman": rho, "min", "max", "per_type": {type: rho},
  "sample": {type: [[ratio, quality], …]}}``: quality against the mask's fill ratio (``area``
  / bbox ``w·h``) over the regions of the types' renders (those with a finite quality and a
  bbox of positive area); ``sample`` holds at most ``SAMPLE_PER_TYPE`` points per type, evenly
  spaced in reading order, for the plot.
- ``area``: the same for quality against ``area`` (pixels), without ``sample``.
- ``quality``: ``{"regions", "null", "nan", "outside_unit_interval", "min", "max"}`` over all
  regions (``min``/``max`` of the finite values; null without any).
- ``importance``: ``{"regions", "with_importance", "coverage", "nan",
  "outside_unit_interval", "min", "max"}``; ``coverage`` is the share of regions with a
  (non-null) importance.
- ``root``, ``rows``, ``regions``, ``regions_by_split``, ``damaged_shards`` (how many ``rois``
  shards could not be read and were left out).
- ``flags``: one line per problem; ``ok``: no flag.

Flags: a type with at least two levels whose ``rho`` is not below ``MAX_LEVEL_SPEARMAN`` (or is
undefined because its quality is constant); null, NaN or out-of-[0, 1] quality; NaN or
out-of-[0, 1] importance (null importance is allowed: it is undefined for some regions); no
region at all. Fill ratio and area are reported, not flagged: a dependence on shape is a
property worth seeing, not an error.
"""

from __future__ import annotations

import io
import json
import posixpath
import uuid
from collections import Counter

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from seagull.data.reader import unreadable_shards
from seagull.data.schema import check_schema
from seagull.data.store import DatasetLayout
from seagull.errors import OutputError
from seagull.isp.distortions import DIRECTIONS, N_LEVELS, TWO_SIDED, strength
from seagull.metrics import srocc

AUDIT_JSON = "audit.json"
AUDIT_PNG = "audit.png"
# The Spearman of quality vs level a type must fall below. It is taken over every region of
# the type, not over per-level means: at weak levels many regions stay clean and tie near the
# top, and regions differ in how much one level hurts them, so even sound labels do not reach
# -1. Labels that follow the strength land well below -0.3; no relation (about 0), a reversed
# one (a sign or level-order error) or a labeller that ignores the image lands above it.
MAX_LEVEL_SPEARMAN = -0.3
SAMPLE_PER_TYPE = 300  # fill-ratio points per type kept for the plot
# Leaf columns read (Parquet paths; a prefix selects every leaf under it).
_REGION = "regions.list.element."
AUDIT_COLUMNS = ["distortion", "level", "split", *(
    _REGION + f for f in ("quality", "importance", "area", "bbox", "distortions.list.element.type"))]
_BATCH_ROWS = 256


def _read(layout: DatasetLayout, shards: list[str]) -> dict[str, np.ndarray]:
    """One entry per region: its row's distortion, level (NaN: none) and split, and its
    quality / importance (NaN where null; ``*_null`` says which), area, bbox w·h, clean."""
    parts: dict[str, list[np.ndarray]] = {k: [] for k in (
        "distortion", "level", "split", "quality", "quality_null", "importance",
        "importance_null", "area", "box", "clean")}
    rows = 0
    for shard in shards:
        with layout.fs.open_input_file(shard) as fh:
            for batch in pq.ParquetFile(fh).iter_batches(batch_size=_BATCH_ROWS,
                                                         columns=AUDIT_COLUMNS):
                rows += batch.num_rows
                regions = batch.column("regions")
                parents = pc.list_parent_indices(regions)
                flat = pc.list_flatten(regions)
                for name in ("distortion", "level", "split"):
                    col = batch.column(name).take(parents)
                    parts[name].append(col.to_numpy(zero_copy_only=False))
                for name in ("quality", "importance"):
                    col = pc.struct_field(flat, name)
                    parts[name].append(col.to_numpy(zero_copy_only=False).astype(np.float64))
                    parts[name + "_null"].append(col.is_null().to_numpy(zero_copy_only=False))
                parts["area"].append(
                    pc.struct_field(flat, "area").to_numpy(zero_copy_only=False).astype(np.float64))
                parts["box"].append(_box_area(pc.struct_field(flat, "bbox")))
                n_dist = pc.fill_null(pc.list_value_length(pc.struct_field(flat, "distortions")), 0)
                parts["clean"].append(n_dist.to_numpy(zero_copy_only=False) == 0)
    out = {k: np.concatenate(v) if v else np.zeros(0) for k, v in parts.items()}
    for name in ("quality_null", "importance_null", "clean"):
        out[name] = out[name].astype(bool)
    out["level"] = out["level"].astype(np.float64)
    out["rows"] = rows
    return out


def _box_area(bbox: pa.Array) -> np.ndarray:
    """``w·h`` of each ``[x, y, w, h]`` bbox; NaN where a bbox is not four numbers."""
    lengths = pc.fill_null(pc.list_value_length(bbox), 0).to_numpy(zero_copy_only=False)
    values = pc.list_flatten(bbox).to_numpy(zero_copy_only=False).astype(np.float64)
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1])).astype(np.int64)
    out = np.full(len(lengths), np.nan)
    ok = lengths == 4
    out[ok] = values[starts[ok] + 2] * values[starts[ok] + 3]
    return out


def _spearman(x: np.ndarray, y: np.ndarray) -> float | None:
    """Spearman of the finite pairs (ties share ranks); None when undefined: fewer than two
    pairs or a constant side (``metrics.srocc`` would say 0.0 there)."""
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if x.size < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return None
    return round(float(srocc(x, y)), 6)


def _finite_range(values: np.ndarray) -> tuple[float | None, float | None]:
    finite = values[np.isfinite(values)]
    if not finite.size:
        return None, None
    return float(finite.min()), float(finite.max())


def _values(values: np.ndarray, null: np.ndarray) -> dict:
    """Counts of null, NaN and out-of-[0, 1] values (±inf among them) and the finite range."""
    present = values[~null]
    low, high = _finite_range(present)
    outside = ~np.isnan(present) & ~((present >= 0) & (present <= 1))
    return {"regions": int(values.size), "null": int(null.sum()),
            "nan": int(np.isnan(present).sum()), "outside_unit_interval": int(outside.sum()),
            "min": low, "max": high}


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def audit(root: str) -> dict:
    """The label audit of the dataset at ``root`` (see the module doc for the keys)."""
    layout = DatasetLayout.open(root)
    damaged = unreadable_shards(root, "rois")
    shards = [s for s in layout.shards("rois") if s not in damaged]
    if shards:
        with layout.fs.open_input_file(shards[0]) as fh:
            check_schema(pq.read_schema(fh), "rois", shards[0])
    r = _read(layout, shards)
    quality, level, dist = r["quality"], r["level"], r["distortion"]
    finite_q = np.isfinite(quality)
    typed = np.isfinite(level)
    flags: list[str] = []

    types = {}
    for name in sorted(set(dist[typed].tolist())):
        sel = typed & (dist == name)
        levels = sorted({int(v) for v in level[sel]})
        means, clean = {}, {}
        for lv in levels:
            at = sel & (level == lv)
            q = quality[at & finite_q]
            means[str(lv)] = float(q.mean()) if q.size else None
            clean[str(lv)] = float(r["clean"][at].mean())
        rho = _spearman(np.array([strength(name, int(v)) for v in level[sel]], np.float64),
                        quality[sel])
        scored_levels = len({int(v) for v in level[sel & finite_q]})
        flagged = scored_levels >= 2 and (rho is None or rho >= MAX_LEVEL_SPEARMAN)
        if flagged and rho is None:
            flags.append(f"{name}: quality does not change with strength (constant over "
                         f"{scored_levels} levels)")
        elif flagged:
            flags.append(f"{name}: quality does not fall with strength (Spearman {rho:+.2f} over "
                         f"{scored_levels} levels)")
        types[name] = {"levels": levels, "regions": int(sel.sum()),
                       "quality_vs_strength_spearman": rho, "mean_quality_per_level": means,
                       "clean_share_per_level": clean, "flagged": bool(flagged)}

    # Quality against the mask's shape, over the types' regions with a usable bbox.
    box = r["box"]
    shaped = typed & finite_q & np.isfinite(box) & (box > 0)
    ratio = np.where(shaped, r["area"] / np.where(shaped, box, 1.0), np.nan)
    fill_ratio, area = _against(ratio, quality, dist, shaped), _against(r["area"], quality,
                                                                        dist, shaped)
    fill_ratio["sample"] = {}
    for name in types:
        idx = np.flatnonzero(shaped & (dist == name))
        if idx.size > SAMPLE_PER_TYPE:
            idx = idx[np.linspace(0, idx.size - 1, SAMPLE_PER_TYPE).round().astype(int)]
        fill_ratio["sample"][name] = [[round(float(ratio[i]), 4), round(float(quality[i]), 4)]
                                      for i in idx]

    q_stats = _values(quality, r["quality_null"])
    i_stats = _values(r["importance"], r["importance_null"])
    with_importance = int((~r["importance_null"]).sum())
    importance = {"regions": i_stats["regions"], "with_importance": with_importance,
                  "coverage": with_importance / quality.size if quality.size else 0.0,
                  **{k: i_stats[k] for k in ("nan", "outside_unit_interval", "min", "max")}}
    quality_section = {k: q_stats[k] for k in ("regions", "null", "nan",
                                               "outside_unit_interval", "min", "max")}
    if q_stats["null"]:
        flags.append(f"quality: {_plural(q_stats['null'], 'region')} without a value")
    for stats, scale in ((q_stats, "quality"), (i_stats, "importance")):
        if stats["nan"]:
            flags.append(f"{scale}: {_plural(stats['nan'], 'NaN value')}")
        if stats["outside_unit_interval"]:
            flags.append(f"{scale}: {_plural(stats['outside_unit_interval'], 'value')} "
                         "outside [0, 1]")
    if not quality.size:
        flags.append("no regions: nothing to audit")
    return {"root": str(root), "rows": int(r["rows"]), "regions": int(quality.size),
            "regions_by_split": dict(sorted(Counter(r["split"].tolist()).items())),
            "damaged_shards": len(damaged), "types": types, "fill_ratio": fill_ratio,
            "area": area, "quality": quality_section, "importance": importance,
            "flags": flags, "ok": not flags}


def _against(x: np.ndarray, quality: np.ndarray, dist: np.ndarray, sel: np.ndarray) -> dict:
    low, high = _finite_range(x[sel])
    return {"regions": int(sel.sum()), "spearman": _spearman(x[sel], quality[sel]),
            "min": low, "max": high,
            "per_type": {name: _spearman(x[sel & (dist == name)], quality[sel & (dist == name)])
                         for name in sorted(set(dist[sel].tolist()))}}


def _rho(value: float | None) -> str:
    return "     n/a" if value is None else f"{value:+8.3f}"


def format_audit(result: dict) -> str:
    """A few lines for the terminal: each type's Spearman and PASS/FLAG, then the flags."""
    verdict = "PASS" if result["ok"] else _plural(len(result["flags"]), "flag")
    lines = [(f"label audit: {verdict} ({_plural(result['regions'], 'region')}, "
              f"{_plural(len(result['types']), 'distortion type')})"),
             f"  {'type':14s}{'levels':>8s}{'regions':>9s}  Spearman(quality, strength)"]
    for name, t in result["types"].items():
        mark = "FLAG" if t["flagged"] else ("PASS" if len(t["levels"]) > 1 else "n/a")
        lines.append(f"  {name:14s}{len(t['levels']):8d}{t['regions']:9d}  "
                     f"{_rho(t['quality_vs_strength_spearman'])}  {mark}")
    fill, area, imp = result["fill_ratio"], result["area"], result["importance"]
    lines.append(f"  quality vs fill ratio: Spearman {_rho(fill['spearman']).strip()}, vs area: "
                 f"{_rho(area['spearman']).strip()} (over {fill['regions']} regions)")
    lines.append(f"  importance: {100 * imp['coverage']:.1f}% of regions have one")
    if result["flags"]:
        lines.append("flags")
        lines.extend(f"  {f}" for f in result["flags"])
    return "\n".join(lines)


def _location(layout: DatasetLayout, name: str) -> tuple[str, str]:
    """``(filesystem path, location as the user names it)`` of ``name`` in the root."""
    path = posixpath.join(layout.root, name)
    if "://" in layout.uri:
        return path, f"{layout.uri.rstrip('/')}/{name}"
    return path, path


def _write(layout: DatasetLayout, name: str, data: bytes) -> str:
    path, where = _location(layout, name)
    tmp = posixpath.join(layout.root, f".{name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        with layout.fs.open_output_stream(tmp) as fh:
            fh.write(data)
        layout.fs.move(tmp, path)
    except OSError as exc:
        try:
            layout.fs.delete_file(tmp)
        except OSError:
            pass
        reason = exc.strerror or (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise OutputError(f"{where}: cannot write the audit ({reason})") from None
    return where


def write_audit(root: str, result: dict) -> tuple[str, str]:
    """Write ``audit.json`` and ``audit.png`` into the dataset's root; their locations."""
    layout = DatasetLayout.open(root)
    data = (json.dumps(result, indent=2, allow_nan=False) + "\n").encode()
    return _write(layout, AUDIT_JSON, data), _write(layout, AUDIT_PNG, render_audit(result))


def _sides(name: str, points: list[tuple[int, float]]) -> list[list[tuple[int, float]]]:
    """(strength, value) points of each direction of a type: one list for a one-sided type,
    two (levels 0–9 and 10–19, each from strength 0) for a two-sided one."""
    if name not in TWO_SIDED:
        return [points]
    half = N_LEVELS // 2
    return [[(lv % half, v) for lv, v in points if (lv >= half) == side] for side in (0, 1)]


def render_audit(result: dict) -> bytes:
    """The audit's figure as PNG bytes: mean quality and clean share per level per type, and
    quality against fill ratio; the title says PASS or how many flags."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on servers and workers
    import matplotlib.pyplot as plt

    fig, (ax_q, ax_c, ax_f) = plt.subplots(1, 3, figsize=(15, 4.8), dpi=100)
    colours = plt.get_cmap("tab10").colors
    for i, (name, t) in enumerate(result["types"].items()):
        colour, style = colours[i % len(colours)], "--" if t["flagged"] else "-"
        means = [(int(k), v) for k, v in t["mean_quality_per_level"].items() if v is not None]
        rho = t["quality_vs_strength_spearman"]
        label = f"{name} (ρ {'n/a' if rho is None else f'{rho:+.2f}'})" + (
            " FLAG" if t["flagged"] else "")
        shares = [(int(k), v) for k, v in t["clean_share_per_level"].items()]
        for side, (q_points, c_points) in enumerate(zip(_sides(name, means),
                                                         _sides(name, shares))):
            line = {"marker": "o" if side == 0 else "s", "color": colour,
                    "linestyle": ":" if side else style}
            tag = f" {DIRECTIONS[name][side]}" if name in TWO_SIDED else ""
            if q_points:
                ax_q.plot(*zip(*q_points), label=label.replace(name, name + tag, 1), **line)
            if c_points:
                ax_c.plot(*zip(*c_points), label=name + tag, **line)
        points = result["fill_ratio"]["sample"].get(name, [])
        if points:
            ax_f.scatter(*zip(*points), s=8, alpha=0.5, color=colour, label=name)
    low, high = result["quality"]["min"], result["quality"]["max"]
    ylim = (min(0.0, low if low is not None else 0.0) - 0.02,
            max(1.0, high if high is not None else 1.0) + 0.02)
    ax_q.set(ylim=ylim, xlabel="strength (level; two-sided types: level mod 10)", ylabel="mean region quality",
             title="quality per strength")
    ax_c.set(ylim=(-0.02, 1.02), xlabel="strength (level; two-sided types: level mod 10)",
             ylabel="share of regions called clean", title="clean share per strength")
    rho, widest = result["fill_ratio"]["spearman"], result["fill_ratio"]["max"]
    ax_f.set(xlim=(0.0, max(1.0, widest if widest is not None else 1.0) + 0.02), ylim=ylim, xlabel="mask fill ratio (area / bbox w·h)", ylabel="region quality",
             title=f"quality vs fill ratio (ρ {'n/a' if rho is None else f'{rho:+.2f}'})")
    for ax in (ax_q, ax_c, ax_f):
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    flags = result["flags"]
    verdict = "PASS" if not flags else f"{_plural(len(flags), 'flag')}: {flags[0]}" + (
        f" (+{len(flags) - 1} more)" if len(flags) > 1 else "")
    fig.suptitle(f"label audit of {posixpath.basename(result['root'].rstrip('/'))}: {verdict}",
                 color="black" if not flags else "firebrick")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()
