"""The label audit: Spearman of quality with level per type, clean shares, fill ratio and area,
importance coverage, the sanity flags, and what ``seagull inspect`` writes and exits with."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils
from scipy.stats import spearmanr

from seagull.data.audit import MAX_LEVEL_SPEARMAN, audit, format_audit
from seagull.data.inspect import report
from seagull.data.schema import to_table
from seagull.data.store import DatasetLayout
from seagull_cli import main as seagull

H, W = 32, 48
LEVELS = (0, 10, 19)
# Region qualities per level: they fall with the level, with ties and overlaps between levels.
FALLING = {0: [0.95, 0.97, 0.93, 0.90], 10: [0.80, 0.95, 0.60, 0.80], 19: [0.30, 0.50, 0.95, 0.20]}
NOISE = {0: [0.99, 0.94, 0.90, 0.96], 10: [0.70, 0.93, 0.50, 0.85], 19: [0.40, 0.10, 0.40, 0.94]}
CLEAN_ABOVE = 0.92  # the fixture calls a region clean (no distortion entry) above this quality


def _png():
    buf = io.BytesIO()
    Image.fromarray(np.full((H, W, 3), 128, np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


_MASK = mask_utils.encode(np.asfortranarray(np.ones((H, W), np.uint8)))["counts"].decode()


def _region(i, quality, importance=0.5, dtype="blur", area=640, bbox=(4.0, 0.0, 40.0, 16.0)):
    """A region with the given labels; the audit reads ``area`` and ``bbox``, not the mask."""
    distortions = [] if not math.isnan(quality) and quality > CLEAN_ABOVE else [
        {"type": dtype, "severity": 0.3, "level": "severe"}]
    return {"roi_id": f"r{i}", "kind": "object", "mask": {"size": [H, W], "counts": _MASK},
            "bbox": list(bbox), "area": area, "quality": quality, "importance": importance,
            "importance_pair": None, "distortions": distortions}


def _row(image_id, distortion, level, regions, split="train"):
    return {"image_id": image_id, "reference_id": "ref", "source_id": "s", "split": split,
            "distortion": distortion, "level": level, "width": W, "height": H, "format": "png",
            "encoded": _png(), "regions": regions}


def _build(root, qualities, importance=None):
    """A dataset of one source: a reference render and, per type, one render per level."""
    layout = DatasetLayout.open(root)
    layout.stage_part("s", "reference", {"rois": to_table(
        [_row("ref", "reference", None, [_region(0, 1.0), _region(1, 1.0, None)])], "rois")})
    for dtype, per_level in qualities.items():
        rows = []
        for level, values in per_level.items():
            imp = (importance or {}).get((dtype, level), [0.5] * len(values))
            rows.append(_row(f"{dtype}{level}", dtype, level,
                             [_region(i, q, m, dtype) for i, (q, m) in enumerate(zip(values, imp))],
                             split="test" if level == 19 else "train"))
        layout.stage_part("s", dtype, {"rois": to_table(rows, "rois")})
    layout.finalise_source("s")
    return str(root)


def _expected_rho(per_level):
    levels = [lv for lv, values in per_level.items() for q in values if not math.isnan(q)]
    quality = [q for values in per_level.values() for q in values if not math.isnan(q)]
    return spearmanr(levels, quality).statistic


def test_a_sound_build_passes_with_spearman_clean_shares_and_coverage(tmp_path):
    root = _build(tmp_path / "ds", {"blur": FALLING, "noise": NOISE},
                  importance={("noise", 19): [None, None, 0.2, 0.8]})
    result = audit(root)
    assert result["ok"] is True and result["flags"] == []
    assert set(result["types"]) == {"blur", "noise"}  # the reference row has no level
    for dtype, per_level in (("blur", FALLING), ("noise", NOISE)):
        t = result["types"][dtype]
        assert t["levels"] == [0, 10, 19] and t["regions"] == 12 and t["flagged"] is False
        assert t["quality_vs_strength_spearman"] == pytest.approx(_expected_rho(per_level),
                                                               abs=1e-6)
        assert t["quality_vs_strength_spearman"] < MAX_LEVEL_SPEARMAN
        assert t["mean_quality_per_level"] == pytest.approx(
            {str(lv): float(np.mean(v)) for lv, v in per_level.items()})
    # Clean: no distortion entry (here quality above 0.92).
    assert result["types"]["blur"]["clean_share_per_level"] == {"0": 0.75, "10": 0.25,
                                                                "19": 0.25}
    assert result["types"]["noise"]["clean_share_per_level"] == {"0": 0.75, "10": 0.25,
                                                                 "19": 0.25}
    assert result["regions"] == 26 and result["rows"] == 7
    assert result["regions_by_split"] == {"test": 8, "train": 18}
    assert result["quality"] == {"regions": 26, "null": 0, "nan": 0, "outside_unit_interval": 0,
                                 "min": 0.1, "max": 1.0}
    # One reference region and two noise regions without importance: 23 of 26 have one.
    assert result["importance"] == {"regions": 26, "with_importance": 23,
                                    "coverage": pytest.approx(23 / 26), "nan": 0,
                                    "outside_unit_interval": 0, "min": 0.2, "max": 0.8}
    text = format_audit(result)
    assert text.splitlines()[0] == "label audit: PASS (26 regions, 2 distortion types)"
    assert "FLAG" not in text and text.count("PASS") == 3


def test_a_broken_build_is_flagged_with_exact_messages(tmp_path):
    rising = {lv: [1.0 - q for q in values] for lv, values in FALLING.items()}
    noise = {**NOISE, 10: [0.70, float("nan"), 0.50, 0.85]}
    root = _build(tmp_path / "ds", {"blur": rising, "noise": noise},
                  importance={("noise", 0): [0.5, 1.5, 0.5, 0.5]})
    result = audit(root)
    rho = _expected_rho(rising)
    assert rho > 0
    assert result["flags"] == [
        f"blur: quality does not fall with strength (Spearman {rho:+.2f} over 3 levels)",
        "quality: 1 NaN value",
        "importance: 1 value outside [0, 1]",
    ]
    assert result["ok"] is False
    assert result["types"]["blur"]["flagged"] is True
    # The NaN is left out of noise's Spearman and mean, which still pass.
    assert result["types"]["noise"]["flagged"] is False
    assert result["types"]["noise"]["quality_vs_strength_spearman"] == pytest.approx(
        _expected_rho(noise), abs=1e-6)
    assert result["types"]["noise"]["mean_quality_per_level"]["10"] == pytest.approx(
        np.mean([0.70, 0.50, 0.85]))
    assert result["quality"]["nan"] == 1 and result["importance"]["outside_unit_interval"] == 1
    assert result["importance"]["max"] == 1.5
    text = format_audit(result)
    assert text.splitlines()[0].startswith("label audit: 3 flags")
    assert "FLAG" in text and "quality: 1 NaN value" in text
    # The report counts the scores without a word instead of failing on them.
    assert report(root)["invalid_scores"] == {"quality": 1, "importance": 1}


def test_a_type_with_constant_quality_or_one_level(tmp_path):
    root = _build(tmp_path / "ds", {"blur": {0: [0.5, 0.5], 19: [0.5, 0.5]},
                                    "noise": {5: [0.9, 0.3]}})
    result = audit(root)
    assert result["types"]["blur"]["quality_vs_strength_spearman"] is None
    assert result["types"]["noise"]["quality_vs_strength_spearman"] is None  # one level
    assert result["types"]["noise"]["flagged"] is False
    assert result["flags"] == ["blur: quality does not change with strength (constant over 2 levels)"]


def test_fill_ratio_and_area_spearman_follow_known_orderings(tmp_path):
    # (area, bbox w×h, quality): fill ratios 0.2 … 1.0 rise with quality, areas fall.
    shapes = [(400, 20, 100, 0.1), (300, 10, 75, 0.2), (240, 20, 20, 0.3), (160, 20, 10, 0.4),
              (100, 10, 10, 0.5)]
    regions = [_region(i, q, area=a, bbox=(0.0, 0.0, float(w), float(h)))
               for i, (a, w, h, q) in enumerate(shapes)]
    regions.append(_region(5, 0.9, area=50, bbox=(0.0, 0.0, 0.0, 10.0)))  # empty bbox: left out
    regions.append(_region(6, float("nan"), area=80, bbox=(0.0, 0.0, 10.0, 10.0)))  # NaN: out
    layout = DatasetLayout.open(tmp_path / "ds")
    layout.stage_part("s", "blur", {"rois": to_table([_row("b", "blur", 5, regions)], "rois")})
    layout.finalise_source("s")
    result = audit(str(tmp_path / "ds"))
    fill, area = result["fill_ratio"], result["area"]
    assert fill["regions"] == 5 and area["regions"] == 5
    assert fill["spearman"] == pytest.approx(1.0) and fill["per_type"] == {"blur": 1.0}
    assert area["spearman"] == pytest.approx(-1.0) and area["per_type"] == {"blur": -1.0}
    assert (fill["min"], fill["max"]) == (pytest.approx(0.2), pytest.approx(1.0))
    assert (area["min"], area["max"]) == (100.0, 400.0)
    assert fill["sample"]["blur"] == [[0.2, 0.1], [0.4, 0.2], [0.6, 0.3], [0.8, 0.4], [1.0, 0.5]]
    assert result["flags"] == ["quality: 1 NaN value"]


def test_fill_ratio_spearman_with_ties_matches_scipy(tmp_path):
    ratios = [0.5, 0.5, 0.25, 1.0, 0.75, 0.25]
    quality = [0.3, 0.6, 0.2, 0.6, 0.9, 0.1]
    regions = [_region(i, q, area=int(r * 400), bbox=(0.0, 0.0, 20.0, 20.0))
               for i, (r, q) in enumerate(zip(ratios, quality))]
    layout = DatasetLayout.open(tmp_path / "ds")
    layout.stage_part("s", "noise", {"rois": to_table([_row("n", "noise", 3, regions)], "rois")})
    layout.finalise_source("s")
    fill = audit(str(tmp_path / "ds"))["fill_ratio"]
    assert fill["spearman"] == pytest.approx(spearmanr(ratios, quality).statistic, abs=1e-6)


def test_inspect_writes_the_audit_beside_the_manifest_and_strict_fails_a_flagged_build(
        tmp_path, capsys):
    good = _build(tmp_path / "good", {"blur": FALLING, "noise": NOISE})
    assert seagull(["inspect", good, "--strict"]) == 0
    out = capsys.readouterr().out
    assert "label audit: PASS" in out
    assert f"audit written to {good}/audit.json and {good}/audit.png" in out
    assert json.loads((tmp_path / "good" / "audit.json").read_text()) == audit(good)
    png = Image.open(tmp_path / "good" / "audit.png")
    assert png.format == "PNG" and png.size[0] >= 1000 and png.size[1] >= 400
    assert np.asarray(png.convert("L")).std() > 5  # lines and text, not a blank page
    assert [p.name for p in (tmp_path / "good").iterdir() if p.name.startswith(".")] == []

    rising = {lv: [1.0 - q for q in values] for lv, values in FALLING.items()}
    bad = _build(tmp_path / "bad", {"blur": rising, "noise": NOISE})
    assert seagull(["inspect", bad]) == 0  # without --strict: a warning
    captured = capsys.readouterr()
    assert "blur: quality does not fall with strength" in captured.out
    assert "warning: the label audit flags the build" in captured.err
    assert json.loads((tmp_path / "bad" / "audit.json").read_text())["ok"] is False
    assert seagull(["inspect", bad, "--strict"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith(f"seagull inspect: error: {bad}: the label audit flags the build "
                          "(blur: quality does not fall with strength")


def test_inspect_names_an_audit_it_cannot_write_in_one_line(tmp_path, capsys):
    root = _build(tmp_path / "ds", {"blur": FALLING})
    (tmp_path / "ds" / "audit.json").mkdir()  # a folder where the file goes: the move fails
    (tmp_path / "ds" / "audit.json" / "x").write_text("x")
    assert seagull(["inspect", root]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith(f"seagull inspect: error: {root}/audit.json: cannot write the audit")
    assert [p.name for p in (tmp_path / "ds").iterdir() if p.name.startswith(".")] == []


def test_a_two_sided_type_is_judged_by_strength_not_by_level(tmp_path):
    """Contrast levels 0–9 lower it and 10–19 raise it, each from the mildest step: quality
    falls within each half, so it falls with strength (level mod 10) while it rises from level 9
    to level 10 (against the raw level it would pass for unrelated)."""
    halves = {0: [0.97, 0.95, 0.99, 0.96], 9: [0.30, 0.45, 0.20, 0.35],
              10: [0.96, 0.98, 0.94, 0.99], 19: [0.25, 0.40, 0.30, 0.20]}
    result = audit(_build(tmp_path / "ds", {"contrast": halves}))
    t = result["types"]["contrast"]
    strengths = [lv % 10 for lv, values in halves.items() for _ in values]
    quality = [q for values in halves.values() for q in values]
    assert t["quality_vs_strength_spearman"] == pytest.approx(
        spearmanr(strengths, quality).statistic)
    assert t["quality_vs_strength_spearman"] < -0.8 and result["ok"] is True
    assert spearmanr([lv for lv, v in halves.items() for _ in v], quality).statistic > -0.5
    assert t["levels"] == [0, 9, 10, 19]
