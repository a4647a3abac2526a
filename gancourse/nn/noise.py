"""Noise inputs: per-pixel Gaussian noise added to a feature map, scaled per channel (StyleGAN's
"noise inputs", Karras et al. 2019), the source of a generator's stochastic variation."""
from __future__ import annotations

import torch
from torch import nn

from .. import _validate as V


class NoiseInjection(nn.Module):
    """h + w ⊙ ξ: one N(0, 1) map ξ (N, 1, H, W) per sample, scaled by a learned weight per channel
    (StyleGAN's noise inputs, Karras et al. 2019). StyleGAN starts the weights at zero; here they
    start at ``init`` = 0.1, because at zero two noise draws give identical images and the
    variation hinge of Defect-GAN's ``control_losses`` (a function of their difference) has no gradient
    to start from. ``noise`` may be given (for reproducible samples); otherwise it is drawn from
    torch's global generator."""

    def __init__(self, channels: int, init: float = 0.1):
        super().__init__()
        self.channels = V.positive_int(channels, "channels")
        self.weight = nn.Parameter(torch.full((1, self.channels, 1, 1), float(init)))

    def forward(self, h: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        V.images(h, "h", channels=self.channels)
        if noise is None:
            noise = torch.randn(h.shape[0], 1, *h.shape[-2:], device=h.device, dtype=h.dtype)
        elif noise.shape != (h.shape[0], 1, *h.shape[-2:]):
            raise ValueError(f"noise: expected shape {(h.shape[0], 1, *h.shape[-2:])}, got {tuple(noise.shape)}")
        return h + self.weight * noise
