"""Tiny networks the checks run students' losses on (fast, seeded, CPU)."""
from __future__ import annotations

import torch


class TinyTwoHeadD(torch.nn.Module):
    """StarGAN's and Defect-GAN's D in miniature: images (N, channels, H, W) -> (score map (N, 1, H/2,
    W/2), class logits (N, n_classes))."""

    def __init__(self, channels: int, n_classes: int):
        super().__init__()
        self.body = torch.nn.Sequential(torch.nn.Conv2d(channels, 4, 3, 2, 1), torch.nn.LeakyReLU(0.2))
        self.src = torch.nn.Conv2d(4, 1, 3, 1, 1)
        self.cls = torch.nn.Linear(4, n_classes)

    def forward(self, x):
        h = self.body(x)
        return self.src(h), self.cls(h.mean((2, 3)))
