"""Closed-set scoring (Q-Align): level probabilities and the expected score.

At the position right after an answer stem ("The quality of this region is"), the model's logits
of the five level words (``seagull.labels.levels.WORDS``) are soft-maxed among themselves only and
weighted by ``LEVEL_WEIGHTS`` (bin 0 = worst = 0 … bin 4 = best = 1): one forward pass, no sampling.
"""

from __future__ import annotations

import torch

from seagull.labels.levels import LEVEL_WEIGHTS, WORDS


def level_probabilities(logits: torch.Tensor, level_ids) -> torch.Tensor:
    """R×V next-token logits → R×5 probabilities over the five level words (float32)."""
    ids = torch.as_tensor(list(level_ids), device=logits.device)
    return torch.softmax(logits.float()[:, ids], dim=-1)


def expected_scores(probabilities: torch.Tensor) -> torch.Tensor:
    """R×5 level probabilities → R scores on [0, 1] (Σ p_i · weight_i)."""
    weights = torch.tensor(LEVEL_WEIGHTS, dtype=probabilities.dtype, device=probabilities.device)
    return probabilities @ weights


def level_result(scale: str, probabilities) -> dict:
    """One region's JSON-ready result: the most probable word, the score, all probabilities."""
    probs = [float(p) for p in probabilities]
    words = WORDS[scale]
    best = max(range(5), key=probs.__getitem__)
    return {"level": words[best],
            "score": float(sum(p * w for p, w in zip(probs, LEVEL_WEIGHTS))),
            "probabilities": {w: p for w, p in zip(words, probs)}}
