"""The network: two convolutions and a small classifier head, for 1x8x8 images."""

from __future__ import annotations

import torch
from torch import nn


class DigitsCNN(nn.Module):
    """Logits for the ten digit classes of a batch of 1x8x8 images scaled to [0, 1]."""

    def __init__(self, channels: int = 16, hidden: int = 64, dropout: float = 0.1) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, channels, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(channels, 2 * channels, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),  # 8x8 -> 4x4
        )
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(2 * channels * 4 * 4, hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, 10),
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(images))
