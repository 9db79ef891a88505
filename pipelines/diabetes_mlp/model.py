"""The network: a two-layer perceptron over the ten standardised diabetes features."""

from __future__ import annotations

import torch
from torch import nn


class DiabetesMLP(nn.Module):
    """Predicted disease progression (in the target's original units) for a batch of
    rows of the ten features, already standardised."""

    def __init__(
        self, hidden: int = 32, target_mean: float = 0.0, target_scale: float = 1.0
    ) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(10, hidden), nn.ReLU(), nn.Linear(hidden, 1))
        # The target's scaling is part of the model, so the exported graph predicts
        # real units and needs nothing beside it.
        self.register_buffer("target_mean", torch.tensor(float(target_mean)))
        self.register_buffer("target_scale", torch.tensor(float(target_scale)))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.net(features) * self.target_scale + self.target_mean
