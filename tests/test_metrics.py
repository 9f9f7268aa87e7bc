"""The metrics equal scipy and scikit-learn where those are defined, and are defined where not."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import f1_score, precision_recall_fscore_support
from sklearn.preprocessing import MultiLabelBinarizer

from seagull.metrics import (
    TYPE_LABELS,
    per_type_f1,
    plcc,
    sample_prf,
    severity_set,
    srocc,
    type_set,
)


@pytest.mark.parametrize("seed", range(5))
def test_correlations_equal_scipy(seed):
    rng = np.random.default_rng(seed)
    y = rng.random(50)
    p = y + rng.normal(0, 0.3, 50)
    p[:10] = np.round(p[:10], 1)  # ties
    assert srocc(p, y) == pytest.approx(stats.spearmanr(p, y).statistic, abs=1e-12)
    assert plcc(p, y) == pytest.approx(stats.pearsonr(p, y).statistic, abs=1e-12)


def test_correlation_edge_cases():
    y = np.arange(10.0)
    assert srocc(y, y) == pytest.approx(1.0) and plcc(y, y) == pytest.approx(1.0)
    assert srocc(-y, y) == pytest.approx(-1.0) and plcc(-y, y) == pytest.approx(-1.0)
    # Constant predictions: scipy gives NaN, we define 0.0.
    assert np.isnan(stats.spearmanr(np.ones(10), y).statistic)
    assert srocc(np.ones(10), y) == 0.0 and plcc(np.ones(10), y) == 0.0
    assert srocc([0.3], [0.5]) == 0.0 and plcc([], []) == 0.0
    # Non-finite pairs are dropped, not propagated.
    assert srocc([1, 2, np.nan, 4], [1, 2, 3, 4]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="length"):
        plcc([1, 2], [1, 2, 3])


def _sklearn_samples(pred, true):
    mlb = MultiLabelBinarizer().fit(list(pred) + list(true))
    p, r, f, _ = precision_recall_fscore_support(mlb.transform(true), mlb.transform(pred),
                                                 average="samples", zero_division=0)
    return {"precision": p, "recall": r, "f1": f}


@pytest.mark.parametrize("seed", range(5))
def test_sample_prf_equals_sklearn_on_random_sets(seed):
    rng = np.random.default_rng(seed)
    labels = list(TYPE_LABELS)

    def draw():
        return {lab for lab in labels if rng.random() < 0.3} or {labels[rng.integers(7)]}

    true = [draw() for _ in range(40)]
    pred = [draw() if rng.random() < 0.8 else set() for _ in range(40)]
    ours = sample_prf(pred, true)
    for k, v in _sklearn_samples(pred, true).items():
        assert ours[k] == pytest.approx(v, abs=1e-12)


def test_sample_prf_edge_cases():
    true = [{"blur"}, {"noise", "exposure"}, {"clean"}]
    assert sample_prf(true, true) == {"precision": 1.0, "recall": 1.0, "f1": 1.0}
    wrong = [{"noise"}, {"clean"}, {"blur"}]
    assert sample_prf(wrong, true) == {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    half = [{"blur", "noise"}, {"noise"}, {"clean"}]
    got = sample_prf(half, true)
    assert got["precision"] == pytest.approx((0.5 + 1 + 1) / 3)
    assert got["recall"] == pytest.approx((1 + 0.5 + 1) / 3)
    assert got["f1"] == pytest.approx((2 / 3 + 2 / 3 + 1) / 3)
    # Both sets empty: defined as 1.0 (or zero_division), scikit-learn's zero_division=0 → 0.
    assert sample_prf([set()], [set()])["f1"] == 1.0
    assert sample_prf([set()], [set()], zero_division=0.0)["f1"] == 0.0
    assert sample_prf([], []) == {"precision": 0.0, "recall": 0.0, "f1": 0.0}


def test_severity_pairs_need_type_and_level():
    true = [severity_set([{"type": "blur", "level": "moderate"}])]
    assert sample_prf([severity_set([{"type": "blur", "level": "moderate"}])], true)["f1"] == 1
    assert sample_prf([severity_set([{"type": "blur", "level": "minor"}])], true)["f1"] == 0
    assert sample_prf([severity_set([{"type": "noise", "level": "moderate"}])], true)["f1"] == 0
    assert type_set([]) == {"clean"} and severity_set([]) == {"clean"}


def test_per_type_f1_equals_sklearn_binary():
    rng = np.random.default_rng(3)
    labels = list(TYPE_LABELS)
    true = [{labels[i] for i in rng.choice(7, rng.integers(1, 3), replace=False)}
            for _ in range(60)]
    pred = [{labels[i] for i in rng.choice(7, rng.integers(0, 3), replace=False)}
            for _ in range(60)]
    ours = per_type_f1(pred, true)
    for label in labels:
        y = [label in t for t in true]
        p = [label in s for s in pred]
        assert ours[label] == pytest.approx(f1_score(y, p, zero_division=0), abs=1e-12)
    assert per_type_f1([{"blur"}], [{"blur"}])["noise"] == 0.0
