"""The network: a two-layer perceptron over the ten diabetes features."""

from __future__ import annotations

import torch
from torch import nn

FEATURES = 10


class DiabetesMLP(nn.Module):
    """Predicted disease progression one year on, in the target's own units, for a
    batch of rows of the ten raw features (age, sex, bmi, bp, s1-s6).

    The feature standardisation and the target's scaling are buffers of the model,
    so the exported graph takes raw rows, predicts real units, and needs nothing
    beside it. Training sets them from the training split only.
    """

    def __init__(self, hidden: int = 32) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(FEATURES, hidden), nn.ReLU(), nn.Linear(hidden, 1))
        self.register_buffer("feature_mean", torch.zeros(FEATURES))
        self.register_buffer("feature_scale", torch.ones(FEATURES))
        self.register_buffer("target_mean", torch.tensor(0.0))
        self.register_buffer("target_scale", torch.tensor(1.0))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        standardised = (features - self.feature_mean) / self.feature_scale
        return self.net(standardised) * self.target_scale + self.target_mean
