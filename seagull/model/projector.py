"""The projector: image tokens of one encoder stage → the LLM's width (two-layer GELU MLP)."""

from __future__ import annotations

import torch
from torch import nn


class Projector(nn.Module):
    """``forward(F B×C×h×w) -> B×(h·w)×hidden``: Linear(C, hidden), GELU, Linear(hidden, hidden)."""

    def __init__(self, in_dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(in_dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, hidden)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        tokens = features.flatten(2).transpose(1, 2).to(self.fc1.weight.dtype)
        return self.fc2(self.act(self.fc1(tokens)))
