"""Evaluation of a region assessor on a dataset split: predictions table, report, tables, plots.

The harness is model-agnostic. An *assessor* is anything with
``assess_regions(image, masks) -> list[dict]``: ``image`` H×W×3 uint8 RGB, ``masks`` a list of
H×W bool arrays, and one result per mask in the shape ``SeagullPredictor.assess`` answers::

    {"quality": {"level", "score", "probabilities"}, "importance": {...},
     "distortions": [{"type", "severity", "level"}], "text": str | None}

(``probabilities``: the five level words' probabilities, bin 0 = worst first, as a list or as a
``{word: p}`` dict; ``score`` on [0, 1]; an empty ``distortions`` list means "clean").

Flow (``pipelines/evaluate.py`` runs step 1 on Ray Data; everything here is plain Python):

1. ``prediction_rows(assessor, rois_row, split)``: one prediction row per region of a ``rois``
   row, label and prediction side by side (``PREDICTIONS_SCHEMA``);
2. ``compute_report(table)``: the paper's metrics recomputed from exactly the stored columns;
3. ``write_outputs(table, out_dir)``: ``predictions.parquet``, ``report.json``, ``report.md``
   (laid out like the paper's Tables 1 and 2) and the PNG plots.

Units: every score and label lies on [0, 1] (``seagull.labels.levels``); ``report.json`` keeps
precision/recall/F1 as fractions in [0, 1], ``report.md`` prints them as percentages like the
paper.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
import pyarrow as pa

from seagull.errors import DatasetError, OutputError
from seagull.labels.levels import WORDS, level_word
from seagull.metrics import (
    CLEAN,
    per_type_f1,
    plcc,
    sample_prf,
    severity_prf,
    severity_set,
    srocc,
    type_set,
)

log = logging.getLogger(__name__)

# Table 2's column order (the paper's), "clean" last.
TABLE2_TYPES: tuple[str, ...] = ("blur", "colorfulness", "noise", "compression", "contrast",
                                 "exposure", CLEAN)

PREDICTIONS_FILE = "predictions.parquet"
REPORT_JSON = "report.json"
REPORT_MD = "report.md"
PLOT_FILES = {"quality": "quality_scatter.png", "importance": "importance_scatter.png",
              "per_type_f1": "per_type_f1.png"}

_PROBS = pa.list_(pa.float64())
_STRINGS = pa.list_(pa.string())

# One row per region. ``*_label`` is the dataset's label, the unsuffixed name the prediction.
PREDICTIONS_SCHEMA = pa.schema([
    pa.field("image_id", pa.string(), nullable=False),
    pa.field("roi_id", pa.string(), nullable=False),
    pa.field("source_id", pa.string(), nullable=False),
    pa.field("split", pa.string(), nullable=False),
    pa.field("distortion", pa.string(), nullable=False),  # the render's distortion
    pa.field("kind", pa.string(), nullable=False),
    pa.field("area", pa.int64(), nullable=False),
    pa.field("quality_label", pa.float64()),
    pa.field("quality_score", pa.float64(), nullable=False),
    pa.field("quality_level_label", pa.string()),
    pa.field("quality_level", pa.string(), nullable=False),
    pa.field("quality_probabilities", _PROBS, nullable=False),  # 5, bin 0 (bad) first
    pa.field("importance_label", pa.float64()),  # null where undefined (docs/method.md, labels)
    pa.field("importance_score", pa.float64(), nullable=False),
    pa.field("importance_level_label", pa.string()),
    pa.field("importance_level", pa.string(), nullable=False),
    pa.field("importance_probabilities", _PROBS, nullable=False),  # bin 0 (unimportant) first
    pa.field("types_label", _STRINGS, nullable=False),  # ["clean"] for a clean region
    pa.field("types", _STRINGS, nullable=False),
    pa.field("severities_label", _STRINGS, nullable=False),  # "type:level" pairs, [] if clean
    pa.field("severities", _STRINGS, nullable=False),
    pa.field("text", pa.string()),
], metadata={b"seagull.table": b"predictions", b"seagull.schema_version": b"1"})


class Assessor(Protocol):
    """What the harness evaluates (see the module doc for the result's shape)."""

    def assess_regions(self, image: np.ndarray, masks: Sequence[np.ndarray]) -> list[dict]: ...


# ---- 1. predictions ---------------------------------------------------------------------------
def _probabilities(scale: str, value) -> list[float]:
    if isinstance(value, Mapping):
        return [float(value[w]) for w in WORDS[scale]]
    probs = [float(p) for p in value]
    if len(probs) != 5:
        raise ValueError(f"{scale}: expected 5 level probabilities, got {len(probs)}")
    return probs


def _label_level(scale: str, score: float | None) -> str | None:
    if score is None or not math.isfinite(score):
        return None
    return level_word(scale, min(max(float(score), 0.0), 1.0))


def prediction_row(row: Mapping, region: Mapping, result: Mapping) -> dict:
    """One region's prediction row (``PREDICTIONS_SCHEMA``) from its ``rois`` row, its region
    entry and the assessor's result."""
    q, imp = result["quality"], result["importance"]
    predicted = list(result.get("distortions") or [])
    quality = region.get("quality")
    importance = region.get("importance")
    return {
        "image_id": row["image_id"], "roi_id": region["roi_id"], "source_id": row["source_id"],
        "split": row["split"], "distortion": row["distortion"], "kind": region["kind"],
        "area": int(region["area"]),
        "quality_label": None if quality is None else float(quality),
        "quality_score": float(q["score"]),
        "quality_level_label": _label_level("quality", quality),
        "quality_level": str(q["level"]),
        "quality_probabilities": _probabilities("quality", q["probabilities"]),
        "importance_label": None if importance is None else float(importance),
        "importance_score": float(imp["score"]),
        "importance_level_label": _label_level("importance", importance),
        "importance_level": str(imp["level"]),
        "importance_probabilities": _probabilities("importance", imp["probabilities"]),
        "types_label": sorted(type_set(region["distortions"])),
        "types": sorted(type_set(predicted)),
        "severities_label": sorted(severity_set(region["distortions"])),
        "severities": sorted(severity_set(predicted)),
        "text": result.get("text"),
    }


def prediction_rows(assessor: Assessor, row: Mapping, split: str | None = None) -> list[dict]:
    """All prediction rows of one ``rois`` row (a dict with the schema's fields).

    Rows of another ``split`` (when given) and rows without regions yield nothing. The image
    and masks are decoded here, once per row; the assessor sees all regions of the image at
    once (so a model can encode the image once).
    """
    from seagull.data.factory import decode_image, decode_mask

    if (split is not None and row["split"] != split) or not row["regions"]:
        return []
    image = decode_image(row["encoded"])
    masks = [decode_mask(r["mask"]) for r in row["regions"]]
    if getattr(assessor, "caches_features", False):
        results = assessor.assess_regions(image, masks, image_id=row["image_id"])
    else:
        results = assessor.assess_regions(image, masks)
    if len(results) != len(masks):
        raise ValueError(f"assessor answered {len(results)} results for {len(masks)} regions")
    return [prediction_row(row, region, result)
            for region, result in zip(row["regions"], results)]


def predictions_table(rows: Sequence[dict]) -> pa.Table:
    """Prediction rows → a table of ``PREDICTIONS_SCHEMA``, sorted by (image_id, roi_id) so the
    file does not depend on the order the workers finished in."""
    table = pa.Table.from_pylist(list(rows), schema=PREDICTIONS_SCHEMA)
    if table.num_rows:
        table = table.sort_by([("image_id", "ascending"), ("roi_id", "ascending")])
    return table


def predict_split(assessor: Assessor, data_root: str, split: str = "test",
                  limit: int | None = None) -> pa.Table:
    """Plain-Python evaluation loop (no Ray): every region of ``split`` → predictions table.

    ``limit`` caps the number of images (rois rows), for quick looks.
    """
    import pyarrow.dataset as pads

    from seagull.data.reader import table_dataset

    rows, images = [], 0
    ds = table_dataset(data_root, "rois")
    for batch in ds.to_batches(filter=pads.field("split") == split, batch_size=4):
        for row in batch.to_pylist():
            if limit is not None and images >= limit:
                break
            rows.extend(prediction_rows(assessor, row, split))
            images += 1
    return predictions_table(rows)


# ---- 2. the report ----------------------------------------------------------------------------
def _column(table: pa.Table, name: str) -> np.ndarray:
    """A float column with nulls as NaN (the metrics drop non-finite pairs)."""
    return np.asarray(table.column(name).to_numpy(zero_copy_only=False), dtype=np.float64)


def compute_report(table: pa.Table) -> dict:
    """The paper's metrics, recomputed from a predictions table's stored columns.

    Returns exactly::

        {"quality": {"srocc", "plcc"}, "importance": {"srocc", "plcc"},
         "severity": {"precision", "recall", "f1"}, "types": {"precision", "recall", "f1"},
         "per_type_f1": {"blur", "colorfulness", "noise", "compression", "contrast",
                         "exposure", "clean"}}

    Correlations skip regions whose label is null (importance is undefined for some regions);
    severity is over the 30 type:level classes and leaves out regions that are clean and called
    clean, types count "clean" as a class (``seagull.metrics``); edge cases (no regions, constant predictions …) follow ``seagull.metrics``: 0.0, never NaN.
    """
    report: dict = {}
    for task in ("quality", "importance"):
        pred, label = _column(table, f"{task}_score"), _column(table, f"{task}_label")
        report[task] = {"srocc": srocc(pred, label), "plcc": plcc(pred, label)}
    severities = table.column("severities").to_pylist()
    severities_label = table.column("severities_label").to_pylist()
    types = table.column("types").to_pylist()
    types_label = table.column("types_label").to_pylist()
    report["severity"] = severity_prf(severities, severities_label)
    report["types"] = sample_prf(types, types_label)
    report["per_type_f1"] = per_type_f1(types, types_label, labels=TABLE2_TYPES)
    return report


def table_counts(table: pa.Table) -> dict[str, int]:
    """How many regions (and images) each part of the report rests on."""
    return {
        "regions": table.num_rows,
        "images": len(set(table.column("image_id").to_pylist())),
        "quality_labelled": int(np.isfinite(_column(table, "quality_label")).sum()),
        "importance_labelled": int(np.isfinite(_column(table, "importance_label")).sum()),
    }


# ---- 3. tables and plots ----------------------------------------------------------------------
def _pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def _runs(entry) -> list[Mapping]:
    """A table entry: one report, or the reports of one model trained with several seeds."""
    return [entry] if isinstance(entry, Mapping) else list(entry)


def _cell(values: Sequence[float], pct: bool = False) -> str:
    """One value as before; several as ``mean ± sd`` (sample sd, the seeds' spread)."""
    scale = 100.0 if pct else 1.0
    mean = float(np.mean(values)) * scale
    if len(values) == 1:
        return f"{mean:.2f}%" if pct else f"{mean:.4f}"
    sd = float(np.std(values, ddof=1)) * scale
    return f"{mean:.2f} ± {sd:.2f}%" if pct else f"{mean:.3f} ± {sd:.3f}"


def table1_markdown(reports: Mapping[str, Mapping | Sequence[Mapping]]) -> str:
    """Table 1's layout: one row per model, four sub-tasks. A model given several reports (one
    per seed) has each cell as mean ± sd over them."""
    lines = [
        ("| Model | Quality SROCC | Quality PLCC | Importance SROCC | Importance PLCC "
         "| Severity P | Severity R | Severity F1 | Types P | Types R | Types F1 |"),
        "|---|" + "---:|" * 10,
    ]
    for name, entry in reports.items():
        runs = _runs(entry)
        cells = [_cell([r[task][k] for r in runs]) for task in ("quality", "importance")
                 for k in ("srocc", "plcc")]
        cells += [_cell([r[task][k] for r in runs], pct=True) for task in ("severity", "types")
                  for k in ("precision", "recall", "f1")]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def table2_markdown(reports: Mapping[str, Mapping | Sequence[Mapping]]) -> str:
    """Table 2's layout: per-type F1 and their average, one row per model (mean ± sd over a
    model's reports where it has several)."""
    names = [t.capitalize() for t in TABLE2_TYPES]
    lines = ["| Model | " + " | ".join(names) + " | Average |",
             "|---|" + "---:|" * (len(names) + 1)]
    for name, entry in reports.items():
        runs = _runs(entry)
        cells = [_cell([r["per_type_f1"][t] for r in runs], pct=True) for t in TABLE2_TYPES]
        average = _cell([float(np.mean([r["per_type_f1"][t] for t in TABLE2_TYPES]))
                         for r in runs], pct=True)
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {average} |")
    return "\n".join(lines)


def report_markdown(name: str, report: Mapping, counts: Mapping[str, int] | None = None,
                    notes: Sequence[str] = ()) -> str:
    """``report.md``: Table 1 and Table 2 for one model, with what they rest on."""
    parts = [f"# Evaluation of {name}", ""]
    if counts:
        parts += [(f"{counts['regions']} regions of {counts['images']} images; "
                   f"{counts['importance_labelled']} with an importance label."), ""]
    parts += [*(f"- {n}" for n in notes), ""] if notes else []
    parts += ["## Table 1: region quality, importance, severity and types", "",
              table1_markdown({name: report}), "",
              "## Table 2: F1 of each distortion type", "",
              table2_markdown({name: report}), ""]
    return "\n".join(parts)


def write_plots(table: pa.Table, report: Mapping, out_dir: Path, name: str = "") -> list[Path]:
    """Predicted vs. label scatter for quality and importance, per-type F1 bars (PNG)."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on servers and workers
    import matplotlib.pyplot as plt

    written = []
    for task in ("quality", "importance"):
        label, pred = _column(table, f"{task}_label"), _column(table, f"{task}_score")
        keep = np.isfinite(label) & np.isfinite(pred)
        fig, ax = plt.subplots(figsize=(4.5, 4.5), dpi=100)
        ax.scatter(label[keep], pred[keep], s=8, alpha=0.6)
        ax.plot([0, 1], [0, 1], color="grey", linewidth=0.8, linestyle="--")
        ax.set(xlim=(0, 1), ylim=(0, 1), xlabel=f"{task} label", ylabel=f"predicted {task}",
               title=f"{name} {task}: SROCC {report[task]['srocc']:.3f}, "
                     f"PLCC {report[task]['plcc']:.3f}".strip())
        path = out_dir / PLOT_FILES[task]
        fig.tight_layout()
        fig.savefig(path)
        plt.close(fig)
        written.append(path)
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    values = [report["per_type_f1"][t] for t in TABLE2_TYPES]
    ax.bar(TABLE2_TYPES, values)
    ax.set(ylim=(0, 1), ylabel="F1", title=f"{name} per-type F1".strip())
    ax.tick_params(axis="x", labelrotation=30)
    fig.tight_layout()
    path = out_dir / PLOT_FILES["per_type_f1"]
    fig.savefig(path)
    plt.close(fig)
    written.append(path)
    return written


def write_outputs(table: pa.Table, out_dir: str | Path, name: str = "model",
                  notes: Sequence[str] = ()) -> dict:
    """Write ``predictions.parquet``, ``report.json``, ``report.md`` and the plots to
    ``out_dir``; return the report. The report is computed from the file just written, so
    it is what anyone recomputing from ``predictions.parquet`` gets."""
    import pyarrow.parquet as pq

    if table.num_rows == 0:
        raise DatasetError(f"nothing to evaluate: no region in the split ({name})")
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        pq.write_table(table.cast(PREDICTIONS_SCHEMA), out / PREDICTIONS_FILE)
    except OSError as exc:
        raise OutputError(f"cannot write {out / PREDICTIONS_FILE}: {exc}") from None
    stored = pq.read_table(out / PREDICTIONS_FILE)
    report = compute_report(stored)
    (out / REPORT_JSON).write_text(json.dumps(report, indent=2) + "\n")
    (out / REPORT_MD).write_text(report_markdown(name, report, table_counts(stored), notes))
    write_plots(stored, report, out, name)
    return report

