from __future__ import annotations

import math

import pytest

from seagull.labels.levels import (
    CLEAN_QUALITY,
    IMPORTANCE_WORDS,
    LEVEL_WEIGHTS,
    QUALITY_WORDS,
    SEVERITY_WORDS,
    discretise,
    expected_score,
    level_word,
    word_index,
)


@pytest.mark.parametrize("score, expected", [
    (0.0, 0),            # bottom of the scale: bin 0 (decision)
    (1e-9, 0), (0.2, 0),  # (0, 0.2] → 0
    (0.2 + 1e-9, 1), (0.4, 1),
    (0.4 + 1e-9, 2), (0.6, 2),
    (0.6 + 1e-9, 3), (0.8, 3),
    (0.8 + 1e-9, 4), (0.92, 4), (1.0, 4),
])
def test_eq1_on_the_unit_scale(score, expected):
    assert discretise(score) == expected


@pytest.mark.parametrize("score, expected", [
    (0.0, 0), (0.8, 0), (0.81, 1), (1.6, 1), (2.4, 2), (2.5, 3), (3.2, 3), (3.21, 4), (4.0, 4),
])
def test_eq1_on_a_0_to_4_scale(score, expected):
    # Seagull-3k means on 0…4: M = 4, bins of width 0.8
    assert discretise(score, top=4.0) == expected


@pytest.mark.parametrize("bad", [-0.01, 1.01, math.nan, math.inf])
def test_scores_outside_the_scale_are_rejected(bad):
    with pytest.raises(ValueError):
        discretise(bad)


def test_level_words_and_weights():
    assert level_word("quality", 0.1) == "bad"
    assert level_word("quality", 0.93) == "excellent"
    assert level_word("importance", 0.5) == "normal"
    assert level_word("severity", 0.35) == "severe"
    assert level_word("severity", 3.0, top=4.0) == "minor"
    assert word_index("importance", "essential") == 4
    with pytest.raises(ValueError):
        word_index("quality", "great")
    assert len(QUALITY_WORDS) == len(IMPORTANCE_WORDS) == len(SEVERITY_WORDS) == 5
    assert LEVEL_WEIGHTS == (0.0, 0.25, 0.5, 0.75, 1.0)
    assert discretise(CLEAN_QUALITY) == 4


def test_expected_score_is_the_weighted_mean():
    assert expected_score([0, 0, 0, 0, 1]) == 1.0
    assert expected_score([1, 0, 0, 0, 0]) == 0.0
    # 0.5·0.25 + 0.5·0.75 = 0.5; unnormalised input gives the same
    assert expected_score([0, 0.5, 0, 0.5, 0]) == pytest.approx(0.5)
    assert expected_score([0, 2, 0, 2, 0]) == pytest.approx(0.5)
    assert expected_score([0.1, 0.2, 0.3, 0.2, 0.2]) == pytest.approx(
        0.2 * 0.25 + 0.3 * 0.5 + 0.2 * 0.75 + 0.2 * 1.0)
    with pytest.raises(ValueError):
        expected_score([0, 0, 0, 0])
    with pytest.raises(ValueError):
        expected_score([0, 0, 0, 0, 0])
