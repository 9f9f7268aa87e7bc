"""The (type, level) → parameters table: complete, JSON-ready, ordered as documented."""

from __future__ import annotations

import json

import numpy as np
import pytest

from seagull.errors import InvalidArgumentError
from seagull.isp import LEVELS, TABLE, distortion_params
from seagull.isp.distortions import DIRECTIONS, table_markdown
from seagull.isp.ops import contrast_curve
from seagull.labels.levels import DISTORTION_TYPES


def _column(distortion: str, key: str) -> np.ndarray:
    return np.array([TABLE[distortion][level][key] for level in LEVELS])


def test_every_type_has_twenty_json_ready_levels():
    assert tuple(TABLE) == DISTORTION_TYPES
    assert LEVELS == tuple(range(20))
    for distortion in DISTORTION_TYPES:
        assert len(TABLE[distortion]) == 20
        for level in LEVELS:
            p = distortion_params(distortion, level)
            assert json.loads(json.dumps(p)) == p


def test_one_sided_types_grow_in_severity():
    assert np.all(np.diff(_column("noise", "electrons_at_white")) < 0)
    assert np.all(np.diff(_column("noise", "read_noise")) > 0)
    assert np.all(np.diff(_column("blur", "sigma_fraction")) > 0)
    assert np.all(np.diff(_column("compression", "quality")) < 0)
    assert _column("compression", "quality").min() >= 1


@pytest.mark.parametrize("distortion,key,neutral", [
    ("exposure", "ev", 0.0), ("contrast", "slope", 1.0), ("colorfulness", "chroma_scale", 1.0),
])
def test_two_sided_types_go_both_ways(distortion, key, neutral):
    values = _column(distortion, key)
    first, second = values[:10], values[10:]
    assert np.all(first < neutral) and np.all(second > neutral)
    # Each half moves away from neutral as the level grows.
    assert np.all(np.diff(np.abs(first - neutral)) > 0)
    assert np.all(np.diff(second) > 0)
    low, high = DIRECTIONS[distortion]
    assert [TABLE[distortion][lv]["direction"] for lv in LEVELS] == [low] * 10 + [high] * 10


def test_sigmoid_gain_gives_the_tabled_slope():
    for level in range(10, 20):
        p = TABLE["contrast"][level]
        y = np.array([0.5 - 1e-4, 0.5 + 1e-4], dtype=np.float32)
        ends = contrast_curve(np.array([0.0, 1.0], dtype=np.float32), p["slope"], p["sigmoid_gain"])
        slope = np.diff(contrast_curve(y, p["slope"], p["sigmoid_gain"]))[0] / 2e-4
        assert slope == pytest.approx(p["slope"], rel=2e-2)
        np.testing.assert_allclose(ends, [0.0, 1.0], atol=1e-6)


def test_params_are_copies_and_bad_keys_are_typed_errors():
    p = distortion_params("blur", 3)
    p["sigma_fraction"] = 99
    assert TABLE["blur"][3]["sigma_fraction"] != 99
    with pytest.raises(InvalidArgumentError, match="unknown distortion type 'fog'"):
        distortion_params("fog", 0)
    for bad in (-1, 20, 2.0, True):
        with pytest.raises(InvalidArgumentError, match="not an integer in 0 … 19"):
            distortion_params("noise", bad)


def test_markdown_table_has_a_row_per_level():
    lines = table_markdown().splitlines()
    assert len(lines) == 22
    assert lines[2].startswith("| 0 | σ") and "q 92" in lines[2]


def test_docs_show_the_current_table():
    from pathlib import Path

    docs = Path(__file__).resolve().parents[2] / "docs" / "isp.md"
    assert table_markdown() in docs.read_text()
