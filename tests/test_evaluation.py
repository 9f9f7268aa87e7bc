"""The evaluation harness: prediction rows, a report that recomputes from the stored table,
Tables 1 and 2, and the plots."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest
from rois_fixtures import write_dataset
from scipy import stats
from sklearn.metrics import precision_recall_fscore_support
from sklearn.preprocessing import MultiLabelBinarizer

from seagull.errors import DatasetError
from seagull.evaluation import (
    PLOT_FILES,
    PREDICTIONS_SCHEMA,
    TABLE2_TYPES,
    compute_report,
    predict_split,
    predictions_table,
    table1_markdown,
    table2_markdown,
    write_outputs,
)
from seagull.labels.levels import QUALITY_WORDS


class AreaAssessor:
    """Deterministic stand-in for a model: scores grow with the region's area; a region larger
    than a quarter of the image is called moderately blurred, with noise when wider than tall."""

    def assess_regions(self, image, masks):
        out = []
        for m in masks:
            frac = float(m.mean())
            ys, xs = np.nonzero(m)
            probs = np.full(5, 0.1)
            probs[min(4, int(frac * 10))] = 0.6
            distortions = []
            if frac > 0.25:
                distortions.append({"type": "blur", "severity": 0.5, "level": "moderate"})
            if np.ptp(xs) > np.ptp(ys):
                distortions.append({"type": "noise", "severity": 0.3, "level": "severe"})
            out.append({
                "quality": {"level": QUALITY_WORDS[int(probs.argmax())], "score": frac,
                            "probabilities": dict(zip(QUALITY_WORDS, probs.tolist()))},
                "importance": {"level": "minor", "score": frac ** 2,
                               "probabilities": probs.tolist()},
                "distortions": distortions, "text": "t"})
        return out


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp("rois"), n_images=9)


@pytest.fixture(scope="module")
def evaluated(dataset, tmp_path_factory):
    table = predict_split(AreaAssessor(), str(dataset), "test")
    out = tmp_path_factory.mktemp("report")
    report = write_outputs(table, out, name="area")
    return table, report, out


def test_predictions_hold_labels_and_predictions_side_by_side(evaluated, dataset):
    _, _, out = evaluated
    stored = pq.read_table(out / "predictions.parquet")
    assert stored.schema.equals(PREDICTIONS_SCHEMA, check_metadata=False)
    for col in ("quality_label", "quality_score", "importance_label", "importance_score"):
        assert str(stored.schema.field(col).type) == "double"
    rows = stored.to_pylist()
    # 3 test images (0, 3, 6) with 2, 3, 2 regions; all regions of "test" only.
    assert len(rows) == 7 and {r["split"] for r in rows} == {"test"}
    assert [r["image_id"] for r in rows] == sorted(r["image_id"] for r in rows)
    first = rows[0]
    assert len(first["quality_probabilities"]) == 5
    assert first["quality_level"] == QUALITY_WORDS[int(np.argmax(first["quality_probabilities"]))]
    # Region r = 2 carries no importance label: stored as null, not NaN or 0.
    assert sum(r["importance_label"] is None for r in rows) == 1
    assert all(r["types_label"] in (["clean"], ["noise"]) for r in rows)
    # Severity sets hold type:level pairs only; a clean region's is empty.
    assert all(":" in s for r in rows for s in r["severities"] + r["severities_label"])
    assert all((r["severities_label"] == []) == (r["types_label"] == ["clean"]) for r in rows)
    assert all((r["severities"] == []) == (r["types"] == ["clean"]) for r in rows)


def test_report_recomputes_from_stored_columns(evaluated):
    _, report, out = evaluated
    stored = pq.read_table(out / "predictions.parquet").to_pandas()
    assert json.loads((out / "report.json").read_text()) == report
    q = stored[["quality_score", "quality_label"]].dropna()
    assert report["quality"]["srocc"] == pytest.approx(
        stats.spearmanr(q.quality_score, q.quality_label).statistic, abs=1e-12)
    assert report["quality"]["plcc"] == pytest.approx(
        stats.pearsonr(q.quality_score, q.quality_label).statistic, abs=1e-12)
    imp = stored[["importance_score", "importance_label"]].dropna()
    assert len(imp) == len(stored) - 1
    assert report["importance"]["srocc"] == pytest.approx(
        stats.spearmanr(imp.importance_score, imp.importance_label).statistic, abs=1e-12)
    # Severity leaves out the regions that are clean and called clean (seagull.metrics).
    kept = stored[(stored.severities.map(len) > 0) | (stored.severities_label.map(len) > 0)]
    assert 0 < len(kept) < len(stored)
    for key, rows, pred, true in (("types", stored, "types", "types_label"),
                                  ("severity", kept, "severities", "severities_label")):
        mlb = MultiLabelBinarizer().fit(list(rows[pred]) + list(rows[true]))
        p, r, f, _ = precision_recall_fscore_support(
            mlb.transform(rows[true]), mlb.transform(rows[pred]), average="samples",
            zero_division=0)
        assert report[key] == pytest.approx({"precision": p, "recall": r, "f1": f}, abs=1e-12)


def test_report_has_exactly_the_issue_keys(evaluated):
    _, report, _ = evaluated
    assert {k: sorted(v) for k, v in report.items()} == {
        "quality": ["plcc", "srocc"], "importance": ["plcc", "srocc"],
        "severity": ["f1", "precision", "recall"], "types": ["f1", "precision", "recall"],
        "per_type_f1": sorted(["blur", "colorfulness", "noise", "compression", "contrast",
                               "exposure", "clean"])}
    # Clean regions are called clean only when no type is predicted: the per-type F1 of
    # "clean" and "noise" are the binary F1 over the stored sets.
    assert 0.0 <= report["per_type_f1"]["noise"] <= 1.0


def test_markdown_tables_and_plots(evaluated):
    _, report, out = evaluated
    md = (out / "report.md").read_text()
    assert f"| area | {report['quality']['srocc']:.4f} | {report['quality']['plcc']:.4f} |" in md
    assert f"{100 * report['types']['f1']:.2f}%" in md
    avg = np.mean([report["per_type_f1"][t] for t in TABLE2_TYPES])
    assert f"| {100 * avg:.2f}% |" in md
    for name in PLOT_FILES.values():
        data = (out / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000


def test_tables_list_several_models_in_order():
    a = {"quality": {"srocc": 0.5, "plcc": 0.25}, "importance": {"srocc": 0.1, "plcc": 0.2},
         "severity": {"precision": 0.1, "recall": 0.2, "f1": 0.3},
         "types": {"precision": 0.4, "recall": 0.5, "f1": 0.6},
         "per_type_f1": {t: 0.5 for t in TABLE2_TYPES}}
    t1 = table1_markdown({"seagull": a, "crop": a}).splitlines()
    assert len(t1) == 4 and t1[2].startswith("| seagull | 0.5000 | 0.2500 | 0.1000 | 0.2000 | "
                                             "10.00% | 20.00% | 30.00% | 40.00%")
    t2 = table2_markdown({"crop": a}).splitlines()
    assert t2[0].split(" | ")[1:3] == ["Blur", "Colorfulness"]
    assert t2[2].endswith("| 50.00% |")


def test_a_model_with_several_seeds_gets_mean_and_sd_in_every_cell():
    def report(q, f1):
        return {"quality": {"srocc": q, "plcc": q}, "importance": {"srocc": 0.2, "plcc": 0.2},
                "severity": {"precision": 0.1, "recall": 0.1, "f1": 0.1},
                "types": {"precision": f1, "recall": f1, "f1": f1},
                "per_type_f1": {t: f1 for t in TABLE2_TYPES}}

    seeds = [report(0.6, 0.5), report(0.7, 0.6), report(0.8, 0.7)]
    t1 = table1_markdown({"Seagull": seeds, "one": report(0.5, 0.5)}).splitlines()
    cells = t1[2].split(" | ")
    assert cells[1:4] == ["0.700 ± 0.100", "0.700 ± 0.100", "0.200 ± 0.000"]  # sample sd
    assert cells[8] == "60.00 ± 10.00%"
    assert t1[3].startswith("| one | 0.5000 | 0.5000 |")  # a single run reads as before
    t2 = table2_markdown({"Seagull": seeds}).splitlines()
    assert t2[2].endswith("| 60.00 ± 10.00% |")


def test_edge_cases_give_defined_values(dataset, tmp_path):
    class Constant:
        def assess_regions(self, image, masks):
            res = {"level": "fair", "score": 0.5, "probabilities": [0, 0, 1, 0, 0]}
            return [{"quality": res, "importance": res, "distortions": [], "text": None}
                    for _ in masks]

    table = predict_split(Constant(), str(dataset), "test")
    report = compute_report(table)
    assert report["quality"] == {"srocc": 0.0, "plcc": 0.0}  # constant predictions
    # Always "no distortion": no severity found, while "clean" stays a type of its own.
    labels = table.column("types_label").to_pylist()
    clean_share = sum(t == ["clean"] for t in labels) / len(labels)
    assert 0 < clean_share < 1
    assert report["severity"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    assert report["types"] == pytest.approx({"precision": clean_share, "recall": clean_share,
                                             "f1": clean_share})
    assert report["per_type_f1"]["clean"] == pytest.approx(2 * clean_share / (1 + clean_share))
    assert report["per_type_f1"]["noise"] == 0.0
    empty = predictions_table([])
    assert compute_report(empty)["types"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    with pytest.raises(DatasetError, match="no region"):
        write_outputs(empty, tmp_path / "r")


def test_wrong_result_count_is_an_error(dataset):
    class Short:
        def assess_regions(self, image, masks):
            return []

    with pytest.raises(ValueError, match="0 results for 2 regions"):
        predict_split(Short(), str(dataset), "test")
