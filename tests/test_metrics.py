"""The metrics equal scipy and scikit-learn where those are defined, and are defined where not."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import f1_score, precision_recall_fscore_support
from sklearn.preprocessing import MultiLabelBinarizer

from seagull.metrics import (
    SEVERITY_LABELS,
    TYPE_LABELS,
    per_type_f1,
    plcc,
    sample_prf,
    severity_prf,
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


def _sklearn_samples(pred, true, classes=None):
    mlb = MultiLabelBinarizer(classes=classes).fit(list(pred) + list(true))
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
    # Both sets empty: 1.0 by default, 0.0 as scikit-learn's zero_division=0, or left out.
    assert sample_prf([set()], [set()])["f1"] == 1.0
    assert sample_prf([set()], [set()], both_empty=0.0)["f1"] == 0.0
    assert sample_prf([{"blur"}, set()], [{"blur"}, set()], both_empty=None)["f1"] == 1.0
    assert sample_prf([set()], [set()], both_empty=None) == {"precision": 0.0, "recall": 0.0,
                                                             "f1": 0.0}
    assert sample_prf([], []) == {"precision": 0.0, "recall": 0.0, "f1": 0.0}


def test_severity_pairs_need_type_and_level():
    true = [severity_set([{"type": "blur", "level": "moderate"}])]
    assert sample_prf([severity_set([{"type": "blur", "level": "moderate"}])], true)["f1"] == 1
    assert sample_prf([severity_set([{"type": "blur", "level": "minor"}])], true)["f1"] == 0
    assert sample_prf([severity_set([{"type": "noise", "level": "moderate"}])], true)["f1"] == 0
    # Types keep "clean" as a class of their own (Table 2); severity has none for a clean region.
    assert type_set([]) == {"clean"} and severity_set([]) == frozenset()
    assert type_set([{"type": "blur", "level": "minor"}]) == {"blur"}


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


def test_severity_has_the_thirty_type_level_classes():
    assert len(SEVERITY_LABELS) == len(set(SEVERITY_LABELS)) == 30
    assert SEVERITY_LABELS[:2] == ("blur:extreme", "blur:severe")
    assert "clean" not in SEVERITY_LABELS and "clean" in TYPE_LABELS and len(TYPE_LABELS) == 7


def test_severity_never_counts_clean_as_a_hit():
    clean, called_clean = [severity_set([])] * 3, [severity_set([])] * 3
    # Clean regions called clean are left out: nothing is left to average.
    assert severity_prf(called_clean, clean) == {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    # "clean" written as a set member (tables stored before) is no class either.
    assert severity_prf([{"clean"}] * 3, [{"clean"}] * 3)["f1"] == 0.0
    one = [{"blur:minor"}]
    assert severity_prf(one + [{"clean"}] * 3, one + [{"clean"}] * 3) == {
        "precision": 1.0, "recall": 1.0, "f1": 1.0}
    # Left out, not counted as 1: one hit among four regions, three of them clean ones
    # called clean, is a perfect score, and a miss there is 0, not 3/4.
    assert severity_prf([set()] + [set()] * 3, one + [set()] * 3)["f1"] == 0.0


def test_always_clean_scores_zero_severity_but_keeps_its_clean_types():
    true_dist = [[], [{"type": "blur", "level": "moderate"}], [],
                 [{"type": "noise", "level": "severe"}, {"type": "blur", "level": "minor"}],
                 [{"type": "exposure", "level": "trivial"}]]
    pred_dist = [[] for _ in true_dist]  # "no distortion", every time
    sev = severity_prf([severity_set(d) for d in pred_dist], [severity_set(d) for d in true_dist])
    assert sev == {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    # Under the old convention ("clean" a 31st class) the same answers scored 2/5.
    old = sample_prf([{"clean"}] * 5, [severity_set(d) or {"clean"} for d in true_dist])
    assert old["f1"] == pytest.approx(0.4)
    # The types metric keeps "clean" as a class: two of five regions are right.
    types = sample_prf([type_set(d) for d in pred_dist], [type_set(d) for d in true_dist])
    assert types == {"precision": 0.4, "recall": 0.4, "f1": 0.4}
    f1 = per_type_f1([type_set(d) for d in pred_dist], [type_set(d) for d in true_dist])
    assert f1["clean"] == pytest.approx(2 * 2 / (2 * 2 + 3)) and f1["blur"] == 0.0


def test_severity_hand_computed_with_empty_and_non_empty_sets():
    true = [{"blur:moderate"}, {"blur:moderate", "noise:severe"}, {"noise:minor"}, set(), set(),
            {"contrast:severe"}]
    pred = [{"blur:moderate"}, {"blur:moderate"}, set(), {"exposure:trivial"}, set(),
            {"contrast:severe", "blur:minor", "noise:trivial"}]
    # Per region (P, R, F1): (1, 1, 1), (1, 1/2, 2/3), (0, 0, 0) distorted called clean,
    # (0, 0, 0) clean given a severity, left out (clean called clean), (1/3, 1, 1/2).
    got = severity_prf(pred, true)
    assert got["precision"] == pytest.approx((1 + 1 + 0 + 0 + 1 / 3) / 5)  # 7/15
    assert got["recall"] == pytest.approx((1 + 0.5 + 0 + 0 + 1) / 5)  # 1/2
    assert got["f1"] == pytest.approx((1 + 2 / 3 + 0 + 0 + 0.5) / 5)  # 13/30
    assert got == pytest.approx({"precision": 7 / 15, "recall": 0.5, "f1": 13 / 30})
    # The left-out region changes nothing; the clean one given a severity costs a sample.
    assert severity_prf(pred[:4] + pred[5:], true[:4] + true[5:]) == got
    without_false_alarm = severity_prf(pred[:3] + pred[5:], true[:3] + true[5:])
    assert without_false_alarm["f1"] == pytest.approx((1 + 2 / 3 + 0 + 0.5) / 4)


@pytest.mark.parametrize("seed", range(3))
def test_severity_equals_sklearn_on_the_regions_kept(seed):
    rng = np.random.default_rng(seed)
    classes = list(SEVERITY_LABELS)

    def draw():
        return set() if rng.random() < 0.4 else {classes[i] for i in rng.choice(
            30, rng.integers(1, 3), replace=False)}

    true = [draw() for _ in range(60)]
    pred = [draw() for _ in range(60)]
    kept = [(p, t) for p, t in zip(pred, true) if p or t]
    assert 0 < len(kept) < 60
    ref = _sklearn_samples([p for p, _ in kept], [t for _, t in kept], classes=classes)
    assert severity_prf(pred, true) == pytest.approx(ref, abs=1e-12)
