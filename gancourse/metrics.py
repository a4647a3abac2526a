"""Measuring a GAN: mode coverage on toy mixtures (and, for images, the classifier-based scores).

``mode_coverage(samples, centers, std)`` follows PacGAN (Lin et al. 2018, Section 5.1), so that the
course's numbers compare with the published tables:

* each sample is assigned to its nearest mode centre;
* it is **high quality** when it lies within 3 standard deviations of that centre;
* a mode is **captured** when at least one high-quality sample is assigned to it;
* the high-quality percentage is (high-quality samples) / (all samples).

PacGAN evaluates 2,500 samples per trained generator (Table 1: ring of 8 with σ = 0.01 on the unit
circle, grid of 25 with σ = 0.05 on {-4, -2, 0, 2, 4}²).
"""
from __future__ import annotations

from typing import NamedTuple

import torch

from . import _validate as V


class ModeCoverage(NamedTuple):
    modes: int                   # modes captured
    hq_fraction: float           # share of samples within 3 std of their nearest mode
    counts: torch.Tensor         # high-quality samples per mode, shape (k,)
    n_modes: int                 # number of modes in total

    def __str__(self):
        return f"{self.modes}/{self.n_modes} modes, {100 * self.hq_fraction:.1f}% high quality"


def mode_coverage(samples: torch.Tensor, centers: torch.Tensor, std: float, threshold: float = 3.0) -> ModeCoverage:
    """Modes captured and fraction of high-quality samples (PacGAN's definition).

    ``samples``: (n, d) generated points; ``centers``: (k, d) mode centres; ``std``: the modes'
    standard deviation (the unit of distance); ``threshold``: how many std count as high quality.
    """
    V.tensor(samples, "samples", ndim=2)
    centers = torch.as_tensor(centers, dtype=torch.float32)
    V.tensor(centers, "centers", ndim=2)
    if samples.shape[1] != centers.shape[1]:
        raise ValueError(f"samples and centers: expected points of the same dimension, got "
                         f"{samples.shape[1]} and {centers.shape[1]}")
    if samples.shape[0] == 0:
        raise ValueError("samples: expected at least one sample")
    std = V.positive_float(std, "std")
    threshold = V.positive_float(threshold, "threshold")
    x = samples.detach().float().cpu()
    c = centers.float().cpu()
    dist = torch.cdist(x, c)  # (n, k)
    nearest_dist, nearest = dist.min(dim=1)
    high_quality = nearest_dist <= threshold * std
    counts = torch.bincount(nearest[high_quality], minlength=c.shape[0])
    return ModeCoverage(int((counts > 0).sum()), float(high_quality.float().mean()), counts, c.shape[0])
