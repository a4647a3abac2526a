"""Normalisation layers by name, for the networks whose norm is a choice (U-Net, ResNet, PatchGAN).

Instance normalisation here has no learned scale and shift and no running statistics, as in the
CycleGAN/Pix2Pix reference code, so it behaves the same in training and evaluation mode.
"""
from __future__ import annotations

from torch import nn

from .. import _validate as V

NORMS = ("batch", "instance", "none")


def norm_layer(kind: str, channels: int) -> nn.Module:
    """A 2-D normalisation layer by name: ``"batch"``, ``"instance"`` (no learned scale and shift,
    no running statistics, as in the CycleGAN/Pix2Pix reference code) or ``"none"`` (identity)."""
    V.choice(kind, "norm", NORMS)
    channels = V.positive_int(channels, "channels")
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)
    return nn.Identity()


__all__ = ["NORMS", "norm_layer"]
