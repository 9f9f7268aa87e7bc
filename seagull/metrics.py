"""The paper's metrics (docs/method.md, "Evaluation").

- ``srocc`` / ``plcc``: Spearman and Pearson correlation between predicted scores and labels.
- ``sample_prf``: sample-average precision, recall and F1 of label *sets* (multi-label): per
  region P = |pred ∩ true| / |pred|, R = |pred ∩ true| / |true|, F1 = 2|pred ∩ true| /
  (|pred| + |true|), then averaged over regions — scikit-learn's ``average="samples"``.
- Distortion types (``type_set``): sets over 7 classes, the six types and ``clean``
  (``{"blur", "noise"}`` or ``{"clean"}``): "clean" is a class of its own, as in Table 2, so
  no type set is empty and every region counts.
- Severity (``severity_set``, ``severity_prf``): sets over the paper's **30** classes, type ×
  level (``{"blur:moderate"}``, 6 types × 5 severity words), so a pair counts only when both
  match. A clean region has *no* severity class: its set is empty, never ``{"clean"}``.
  ``severity_prf`` leaves out of the averages every region whose label and prediction are both
  empty (clean, and called clean): the severity task has nothing to find there and nothing was
  claimed. Every other region counts, an empty side scoring 0: a distorted region called clean
  has P = R = F1 = 0, a clean region given a severity has P = R = F1 = 0. So a model that always
  answers "no distortion" scores 0 (it finds nothing), a perfect model 1, and a false severity
  on a clean region lowers the score. (Counting a clean-and-called-clean region as a hit would
  let a constant "clean" answer score the share of clean regions; counting it as 0 would stop a
  perfect model from reaching 1 and make false severities on clean regions free.) It equals
  scikit-learn's ``average="samples", zero_division=0`` over the regions kept.
- ``per_type_f1``: the F1 of each type (and ``clean``) as a binary label over regions (Table 2).

Defined results where a formula has none (scipy and scikit-learn give NaN or warn):
- a correlation of fewer than two samples, or with constant predictions or labels, is **0.0**
  (no association can be measured, and a model that outputs a constant has none);
- in ``sample_prf`` a region with an empty predicted set has precision 0, an empty true set
  recall 0; a region with both empty is left out (``both_empty=None``, severity's convention)
  or scores ``both_empty`` on all three (1.0: nothing to find, nothing claimed; 0.0:
  scikit-learn's ``zero_division=0``);
- ``per_type_f1`` of a type that is neither predicted nor present anywhere is 0.0.
- no regions at all (or none left after leaving out the empty ones): every metric is 0.0.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from seagull.labels.levels import DISTORTION_TYPES, SEVERITY_WORDS

CLEAN = "clean"
TYPE_LABELS: tuple[str, ...] = (*DISTORTION_TYPES, CLEAN)
# The severity task's 30 classes (paper, Sec. 4: 5 severity degrees for 6 distortion types).
SEVERITY_LABELS: tuple[str, ...] = tuple(f"{t}:{w}" for t in DISTORTION_TYPES
                                         for w in SEVERITY_WORDS)


def _pair(pred: Sequence[float], label: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(pred, dtype=np.float64).ravel()
    y = np.asarray(label, dtype=np.float64).ravel()
    if p.shape != y.shape:
        raise ValueError(f"predictions ({p.size}) and labels ({y.size}) differ in length")
    keep = np.isfinite(p) & np.isfinite(y)
    return p[keep], y[keep]


def plcc(pred: Sequence[float], label: Sequence[float]) -> float:
    """Pearson correlation; 0.0 for < 2 samples or a constant side (see module doc)."""
    p, y = _pair(pred, label)
    if p.size < 2 or np.ptp(p) == 0 or np.ptp(y) == 0:
        return 0.0
    p, y = p - p.mean(), y - y.mean()
    return float(np.clip((p * y).sum() / np.sqrt((p * p).sum() * (y * y).sum()), -1.0, 1.0))


def _rank(x: np.ndarray) -> np.ndarray:
    """Average ranks (ties share the mean of their positions), as scipy.stats.rankdata."""
    order = np.argsort(x, kind="mergesort")
    sorted_x = x[order]
    ranks = np.empty(x.size, dtype=np.float64)
    boundaries = np.flatnonzero(np.diff(sorted_x)) + 1
    starts = np.concatenate(([0], boundaries))
    ends = np.concatenate((boundaries, [x.size]))
    for s, e in zip(starts, ends):
        ranks[order[s:e]] = (s + e + 1) / 2.0
    return ranks


def srocc(pred: Sequence[float], label: Sequence[float]) -> float:
    """Spearman rank correlation; 0.0 for < 2 samples or a constant side (see module doc)."""
    p, y = _pair(pred, label)
    if p.size < 2:
        return 0.0
    return plcc(_rank(p), _rank(y))


def _sets(items: Iterable[Iterable[str]]) -> list[frozenset[str]]:
    return [frozenset(s) for s in items]


def sample_prf(pred: Iterable[Iterable[str]], true: Iterable[Iterable[str]],
               both_empty: float | None = 1.0) -> dict[str, float]:
    """Sample-average precision, recall and F1 of label sets; values in [0, 1].

    ``both_empty``: what a region whose predicted and true sets are both empty scores on all
    three; ``None`` leaves such a region out of the averages (see the module doc).
    """
    ps, ts = _sets(pred), _sets(true)
    if len(ps) != len(ts):
        raise ValueError(f"{len(ps)} predicted and {len(ts)} true label sets")
    prec, rec, f1 = [], [], []
    for p, t in zip(ps, ts):
        if not p and not t:
            if both_empty is not None:
                prec.append(both_empty), rec.append(both_empty), f1.append(both_empty)
            continue
        hit = len(p & t)
        prec.append(hit / len(p) if p else 0.0)
        rec.append(hit / len(t) if t else 0.0)
        f1.append(2 * hit / (len(p) + len(t)))
    if not f1:
        return {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    return {"precision": float(np.mean(prec)), "recall": float(np.mean(rec)),
            "f1": float(np.mean(f1))}


def severity_prf(pred: Iterable[Iterable[str]], true: Iterable[Iterable[str]]
                 ) -> dict[str, float]:
    """Severity's sample-average P/R/F1 over the 30 type:level classes.

    A region that is clean and called clean is left out; ``"clean"`` in a set is no class (a
    predictions table written before severity had 30 classes stored ``["clean"]`` for clean).
    """
    def classes(items: Iterable[Iterable[str]]) -> list[frozenset[str]]:
        return [frozenset(s) - {CLEAN} for s in items]

    return sample_prf(classes(pred), classes(true), both_empty=None)


def per_type_f1(pred: Iterable[Iterable[str]], true: Iterable[Iterable[str]],
                labels: Sequence[str] = TYPE_LABELS) -> dict[str, float]:
    """F1 of each label as a binary decision over regions (the paper's Table 2)."""
    ps, ts = _sets(pred), _sets(true)
    if len(ps) != len(ts):
        raise ValueError(f"{len(ps)} predicted and {len(ts)} true label sets")
    out = {}
    for label in labels:
        tp = sum(1 for p, t in zip(ps, ts) if label in p and label in t)
        fp = sum(1 for p, t in zip(ps, ts) if label in p and label not in t)
        fn = sum(1 for p, t in zip(ps, ts) if label not in p and label in t)
        out[label] = 0.0 if tp == 0 else float(2 * tp / (2 * tp + fp + fn))
    return out


def type_set(distortions: Iterable[dict]) -> frozenset[str]:
    """``[{type, level, …}]`` → the set of types, ``{"clean"}`` for an empty list."""
    types = frozenset(d["type"] for d in distortions)
    return types or frozenset({CLEAN})


def severity_set(distortions: Iterable[dict]) -> frozenset[str]:
    """``[{type, level, …}]`` → ``{"type:level"}``; empty for an empty list (a clean region
    has no severity class)."""
    return frozenset(f"{d['type']}:{d['level']}" for d in distortions)
