r"""SPADE: spatially-adaptive (de)normalisation (Park et al., CVPR 2019), and its residual block.

**Why normalisation washes out a label map.** A generator that reads a semantic map only at its
input passes it through convolutions and normalisation layers. A normalisation layer subtracts
each channel's mean and divides by its standard deviation. Take a *uniform* map (the whole image
is sky, or the whole image is water): a convolution of a constant one-hot map is a constant per
channel (away from the border), and instance normalisation maps any constant channel to zero.
Sky and water then give the same activations: the label is gone. Batch norm is less extreme
(statistics over the batch), but a region's label survives only through what the rest of the
batch happens to contain. Notebook 13 measures both.

**SPADE** gives the label back *after* every normalisation. With h the activations of a layer,
(N, C, H, W), and m the segmentation map (N, L, H_m, W_m) one-hot:

.. math:: \text{SPADE}(h, m)_{n,c,y,x} = \gamma_{c,y,x}(m)\,\frac{h_{n,c,y,x} - \mu_c}{\sigma_c} + \beta_{c,y,x}(m)

(the paper's Eq. 1, μ_c and σ_c the batch-norm statistics of channel c). γ(m) and β(m) are not
vectors, as in batch norm's affine parameters, but **maps**: one scale and one shift per channel
*and pixel*, predicted from the label map by a small convolutional network:

1. resize m to h's resolution with **nearest-neighbour** interpolation (labels stay labels);
2. a shared 3x3 convolution to ``hidden`` channels (128 in the paper) + ReLU;
3. two 3x3 convolutions from there: one gives γ, the other β, each with C channels.

The reference implementation writes the output as ``norm(h) * (1 + γ) + β``: γ = 0 is the
identity scale, so an untrained SPADE starts as a plain parameter-free normalisation. The
normalisation itself has no learned parameters (``affine=False``): SPADE's γ and β replace them.

**The SPADE ResBlock** (the paper's Fig. 4, right; the reference ``SPADEResnetBlock``):

::

    dx = conv3x3(LReLU(SPADE(x, m)))          # to min(C_in, C_out) channels
    dx = conv3x3(LReLU(SPADE(dx, m)))         # to C_out channels
    x_s = conv1x1(SPADE(x, m)) if C_in != C_out else x      (no bias: the learned shortcut)
    out = x_s + dx

LeakyReLU slope 0.2, spectral normalisation on the three convolutions (as in the reference
code). ``norm="batch"`` in :class:`ResBlock` replaces every SPADE by a plain, *affine* batch
norm that ignores the map: the ablation of notebook 13 (a generator that gets the map only at its
input).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .. import _validate as V

PARAM_FREE_NORMS = ("batch", "instance")
BLOCK_NORMS = ("spade", "batch")


def _check_segmap(segmap, name: str, channels: int) -> torch.Tensor:
    V.images(segmap, name, channels=channels)
    return segmap


class SPADE(nn.Module):
    """Spatially-adaptive normalisation: ``forward(h, segmap)`` -> norm(h)·(1 + γ(m)) + β(m).

    ``channels``: C of the activations h (N, C, H, W); ``label_channels``: L of the map
    (N, L, H_m, W_m), any resolution (resized to H x W, nearest neighbour); ``hidden``: width of
    the shared layer (128 in the paper); ``norm``: the parameter-free normalisation, "batch"
    (the paper's generator, synchronised batch norm) or "instance"; ``kernel``: of the three
    convolutions (3 in the paper). Output: (N, C, H, W).
    """

    def __init__(self, channels: int, label_channels: int, hidden: int = 128, norm: str = "batch",
                 kernel: int = 3):
        super().__init__()
        self.channels = V.positive_int(channels, "channels")
        self.label_channels = V.positive_int(label_channels, "label_channels")
        self.hidden = V.positive_int(hidden, "hidden")
        self.norm_kind = V.choice(norm, "norm", PARAM_FREE_NORMS)
        kernel = V.positive_int(kernel, "kernel")
        if kernel % 2 == 0:
            raise ValueError(f"kernel: expected an odd size (the map keeps its resolution), got {kernel}")
        self.norm = (nn.BatchNorm2d(channels, affine=False) if norm == "batch"
                     else nn.InstanceNorm2d(channels, affine=False, track_running_stats=False))
        pad = kernel // 2
        self.shared = nn.Sequential(nn.Conv2d(label_channels, hidden, kernel, padding=pad), nn.ReLU())
        self.gamma = nn.Conv2d(hidden, channels, kernel, padding=pad)
        self.beta = nn.Conv2d(hidden, channels, kernel, padding=pad)

    def modulation(self, segmap: torch.Tensor, size) -> tuple[torch.Tensor, torch.Tensor]:
        """γ(m) and β(m), each (N, C, H, W), for a map resized (nearest) to ``size`` = (H, W)."""
        _check_segmap(segmap, "segmap", self.label_channels)
        m = F.interpolate(segmap, size=tuple(size), mode="nearest")
        hidden = self.shared(m)
        return self.gamma(hidden), self.beta(hidden)

    def forward(self, h: torch.Tensor, segmap: torch.Tensor) -> torch.Tensor:
        V.images(h, "h", channels=self.channels)
        _check_segmap(segmap, "segmap", self.label_channels)
        if segmap.shape[0] != h.shape[0]:
            raise ValueError(f"segmap: expected a batch of {h.shape[0]} maps (one per activation), "
                             f"got shape {tuple(segmap.shape)}")
        gamma, beta = self.modulation(segmap, h.shape[-2:])
        return self.norm(h) * (1 + gamma) + beta


class PlainNorm(nn.Module):
    """The ablation's normalisation: an affine batch norm with the call signature of
    :class:`SPADE`; ``forward(h, segmap)`` ignores the map. (N, C, H, W) -> (N, C, H, W)."""

    def __init__(self, channels: int):
        super().__init__()
        self.channels = V.positive_int(channels, "channels")
        self.norm = nn.BatchNorm2d(self.channels)

    def forward(self, h: torch.Tensor, segmap: torch.Tensor | None = None) -> torch.Tensor:
        V.images(h, "h", channels=self.channels)
        return self.norm(h)


def _sn(layer: nn.Module, spectral_norm: bool) -> nn.Module:
    return nn.utils.parametrizations.spectral_norm(layer) if spectral_norm else layer


class ResBlock(nn.Module):
    """The SPADE residual block: ``forward(x, segmap)``, (N, C_in, H, W) -> (N, C_out, H, W).

    ``norm="spade"``: the paper's block (three SPADE layers reading the map); ``norm="batch"``:
    the same block with affine batch norms that never see the map (the ablation). ``hidden``,
    ``param_free_norm``: passed to each :class:`SPADE`. ``spectral_norm``: on the three
    convolutions (the reference code's default for G). ``label_channels`` is required for
    ``norm="spade"`` only.
    """

    def __init__(self, c_in: int, c_out: int, label_channels: int | None = None, hidden: int = 128,
                 norm: str = "spade", param_free_norm: str = "batch", spectral_norm: bool = True,
                 spade_layer=None):
        super().__init__()
        if spade_layer is not None and not callable(spade_layer):
            raise TypeError(f"spade_layer: expected a class or function (channels, label_channels, hidden), "
                            f"got {type(spade_layer).__name__}")
        self.c_in = V.positive_int(c_in, "c_in")
        self.c_out = V.positive_int(c_out, "c_out")
        self.norm_kind = V.choice(norm, "norm", BLOCK_NORMS)
        if not isinstance(spectral_norm, bool):
            raise TypeError(f"spectral_norm: expected a bool, got {type(spectral_norm).__name__}")
        if norm == "spade":
            if label_channels is None:
                raise ValueError("label_channels: a SPADE block needs the number of map channels")
            label_channels = V.positive_int(label_channels, "label_channels")
        self.label_channels = label_channels
        middle = min(self.c_in, self.c_out)
        self.learned_shortcut = self.c_in != self.c_out

        def make_norm(channels):
            if norm == "spade" and spade_layer is not None:
                return spade_layer(channels, label_channels, hidden)
            if norm == "spade":
                return SPADE(channels, label_channels, hidden=hidden, norm=param_free_norm)
            return PlainNorm(channels)

        self.norm_0, self.conv_0 = make_norm(self.c_in), _sn(nn.Conv2d(self.c_in, middle, 3, padding=1), spectral_norm)
        self.norm_1, self.conv_1 = make_norm(middle), _sn(nn.Conv2d(middle, self.c_out, 3, padding=1), spectral_norm)
        if self.learned_shortcut:
            self.norm_s = make_norm(self.c_in)
            self.conv_s = _sn(nn.Conv2d(self.c_in, self.c_out, 1, bias=False), spectral_norm)

    def forward(self, x: torch.Tensor, segmap: torch.Tensor | None = None) -> torch.Tensor:
        V.images(x, "x", channels=self.c_in)
        if self.norm_kind == "spade" and segmap is None:
            raise ValueError("segmap: a SPADE block needs the label map (N, L, H, W)")
        shortcut = self.conv_s(self.norm_s(x, segmap)) if self.learned_shortcut else x
        dx = self.conv_0(F.leaky_relu(self.norm_0(x, segmap), 0.2))
        dx = self.conv_1(F.leaky_relu(self.norm_1(dx, segmap), 0.2))
        return shortcut + dx


__all__ = ["SPADE", "PlainNorm", "ResBlock", "PARAM_FREE_NORMS", "BLOCK_NORMS"]
