"""The five-level scales, their words and score weights, and the discretisation (paper Eq. 1).

The one home of these facts: the labeller, the instruction templates, the model's closed-set
scoring and the metrics all read them from here.

Conventions
- Every score the project stores lies on [0, 1], 1 best: quality (1 excellent), importance
  (1 essential) and severity (1 trivial, 0 extreme). Seagull-3k ratings on 0…4 are divided by 4.
- Words are listed from the bottom of the scale (bin 0) to the top (bin 4).
- Eq. 1 (from Q-Align): ``K(s) = word[i]`` if ``M·i/5 < s ≤ M·(i+1)/5``; a score exactly at the
  bottom of the scale (s = 0) falls in bin 0 (decision: the paper leaves it open).
"""

from __future__ import annotations

import math
from typing import Literal

Scale = Literal["quality", "importance", "severity"]

QUALITY_WORDS: tuple[str, ...] = ("bad", "poor", "fair", "good", "excellent")
IMPORTANCE_WORDS: tuple[str, ...] = ("unimportant", "minor", "normal", "important", "essential")
SEVERITY_WORDS: tuple[str, ...] = ("extreme", "severe", "moderate", "minor", "trivial")
WORDS: dict[str, tuple[str, ...]] = {
    "quality": QUALITY_WORDS, "importance": IMPORTANCE_WORDS, "severity": SEVERITY_WORDS,
}

# Q-Align weights, bin 0 (worst) … bin 4 (best): the paper's [1, .75, .5, .25, 0] best-first.
LEVEL_WEIGHTS: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)

# The six synthetic distortion types, in the order the paper's prompt lists them.
DISTORTION_TYPES: tuple[str, ...] = (
    "blur", "colorfulness", "compression", "contrast", "exposure", "noise",
)

# A region whose full-reference quality is above this is labelled "without distortion".
CLEAN_QUALITY = 0.92


def discretise(score: float, top: float = 1.0) -> int:
    """Bin 0…4 of ``score`` on a scale [0, top] by Eq. 1 (a score of exactly 0 is bin 0)."""
    if not math.isfinite(score) or score < 0 or score > top * (1 + 1e-9):
        raise ValueError(f"score {score!r} is outside the scale [0, {top}]")
    # Smallest i with s <= top·(i+1)/5, i.e. ceil(5·s/top) - 1; s = 0 → bin 0.
    return min(4, max(0, math.ceil(5 * score / top - 1e-12) - 1))


def level_word(scale: Scale, score: float, top: float = 1.0) -> str:
    """The word of ``score`` on ``scale`` (``"quality"``, ``"importance"`` or ``"severity"``)."""
    return WORDS[scale][discretise(score, top)]


def word_index(scale: Scale, word: str) -> int:
    try:
        return WORDS[scale].index(word)
    except ValueError:
        raise ValueError(f"{word!r} is not a {scale} level; levels: {WORDS[scale]}") from None


def expected_score(probabilities) -> float:
    """Closed-set score: Σ p_i · weight_i over the five levels (bin 0 first), on [0, 1].

    ``probabilities`` need not sum to one; they are normalised first.
    """
    probs = [float(p) for p in probabilities]
    if len(probs) != 5:
        raise ValueError(f"expected 5 level probabilities, got {len(probs)}")
    total = sum(probs)
    if not total > 0:
        raise ValueError("level probabilities sum to zero")
    return sum(p * w for p, w in zip(probs, LEVEL_WEIGHTS)) / total
