"""The paper's metrics (SEAGULL.md, "Evaluation").

- ``srocc`` / ``plcc``: Spearman and Pearson correlation between predicted scores and labels.
- ``sample_prf``: sample-average precision, recall and F1 of label *sets* (multi-label): per
  region P = |pred ∩ true| / |pred|, R = |pred ∩ true| / |true|, F1 = 2|pred ∩ true| /
  (|pred| + |true|), then averaged over regions — scikit-learn's ``average="samples"``.
  Distortion types use sets such as ``{"blur", "noise"}`` or ``{"clean"}``; severity uses
  ``type:level`` pairs (``{"blur:moderate"}``), so a pair counts only when both match.
- ``per_type_f1``: the F1 of each type (and ``clean``) as a binary label over regions (Table 2).

Defined results where a formula has none (scipy and scikit-learn give NaN or warn):
- a correlation of fewer than two samples, or with constant predictions or labels, is **0.0**
  (no association can be measured, and a model that outputs a constant has none);
- in ``sample_prf`` a region with an empty predicted set has precision 0, an empty true set
  recall 0; a region with both empty scores 1.0 on all three (nothing to find, nothing claimed) —
  ``zero_division`` selects 0.0 instead, to match scikit-learn's ``zero_division=0``;
- ``per_type_f1`` of a type that is neither predicted nor present anywhere is 0.0.
- no regions at all: every metric is 0.0.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from seagull.labels.levels import DISTORTION_TYPES

CLEAN = "clean"
TYPE_LABELS: tuple[str, ...] = (*DISTORTION_TYPES, CLEAN)


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
               zero_division: float = 1.0) -> dict[str, float]:
    """Sample-average precision, recall and F1 of label sets; values in [0, 1]."""
    ps, ts = _sets(pred), _sets(true)
    if len(ps) != len(ts):
        raise ValueError(f"{len(ps)} predicted and {len(ts)} true label sets")
    if not ps:
        return {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    prec, rec, f1 = [], [], []
    for p, t in zip(ps, ts):
        hit = len(p & t)
        if not p and not t:
            prec.append(zero_division), rec.append(zero_division), f1.append(zero_division)
            continue
        prec.append(hit / len(p) if p else 0.0)
        rec.append(hit / len(t) if t else 0.0)
        f1.append(2 * hit / (len(p) + len(t)))
    return {"precision": float(np.mean(prec)), "recall": float(np.mean(rec)),
            "f1": float(np.mean(f1))}


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
    """``[{type, level, …}]`` → ``{"type:level"}``, ``{"clean"}`` for an empty list."""
    pairs = frozenset(f"{d['type']}:{d['level']}" for d in distortions)
    return pairs or frozenset({CLEAN})
