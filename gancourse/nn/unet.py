"""The U-Net generator of Pix2Pix (Isola et al. 2017, Section 3.2.1; Ronneberger et al. 2015).

An encoder halves the resolution ``depth`` times (4x4 convolutions, stride 2); a decoder doubles
it back (4x4 transposed convolutions, stride 2). A plain encoder-decoder forces every detail of
the input through the bottleneck; the U-Net adds **skip connections**: decoder level i receives
the encoder's features of the same resolution, concatenated to its own, so that low-level
information (where the edges of the label map are) goes straight across.

::

    x (C_in, S) ─ down1 ─ d1 (w, S/2) ─ down2 ─ d2 (2w, S/4) ─ ... ─ d_depth (bottleneck, S/2^depth)
                                 │                    │                     │
    y (C_out, S) ─ tanh ─ up1 ─ [u2, d1] ─ up2 ─ [u3, d2] ─ ... ─ up_depth ─┘

The depth follows the image size: ``depth = log2(size)`` takes a ``size`` x ``size`` input down to
1x1 (8 downsamplings at 256x256, as in the paper; 5 at 32x32). Widths double from ``base`` up to
``8 * base``, as in the reference code (``ngf`` = 64 there).

Layer details as in the paper's appendix: encoder Conv-Norm-LeakyReLU(0.2), no norm on the first
layer (nor on the 1x1 bottleneck, where a norm over one pixel is meaningless); decoder
ConvTranspose-Norm-(Dropout 0.5)-ReLU with dropout on the innermost ``n_dropout`` decoder layers
(the paper's only source of randomness: "noise in the form of dropout"); a final transposed
convolution and tanh give images in [-1, 1].
"""
from __future__ import annotations

import math

import torch
from torch import nn

from .. import _validate as V
from .norm import NORMS, norm_layer


def unet_depth(size: int) -> int:
    """Number of downsamplings that take a ``size`` x ``size`` image to 1x1: log2(size)."""
    size = V.positive_int(size, "size", minimum=2)
    if size & (size - 1):
        raise ValueError(f"size: expected a power of 2 (the U-Net halves it down to 1x1), got {size}")
    return int(math.log2(size))


class UNet(nn.Module):
    """U-Net generator: images (N, ``in_channels``, S, S) -> (N, ``out_channels``, S, S) in [-1, 1].

    ``size``: the image side S (a power of 2) the network is built for; ``depth`` defaults to
    log2(S), i.e. a 1x1 bottleneck. Inputs of another side work when it is a multiple of
    2^depth. ``base``: channels after the first layer (``ngf``); widths are base·min(2^i,
    ``max_mult``) (8 in the reference; a smaller cap keeps small models small).
    ``norm``: "batch" (Pix2Pix), "instance" or "none". ``dropout``: probability on the innermost
    ``n_dropout`` decoder layers (0.5 and 3 in the paper). ``skips=False`` drops the skip
    connections: the plain encoder-decoder the paper compares with (its Figure 5).
    """

    def __init__(self, in_channels: int = 3, out_channels: int = 3, size: int = 256, base: int = 64,
                 depth: int | None = None, norm: str = "batch", dropout: float = 0.5, n_dropout: int = 3,
                 max_mult: int = 8, skips: bool = True):
        super().__init__()
        if not isinstance(skips, bool):
            raise TypeError(f"skips: expected a bool, got {type(skips).__name__}")
        self.skips = skips
        self.in_channels = V.positive_int(in_channels, "in_channels")
        self.out_channels = V.positive_int(out_channels, "out_channels")
        max_depth = unet_depth(size)
        self.depth = max_depth if depth is None else V.positive_int(depth, "depth", minimum=2)
        if self.depth > max_depth:
            raise ValueError(f"depth: {self.depth} downsamplings would shrink a {size}x{size} image below 1x1 "
                             f"(at most {max_depth})")
        base = V.positive_int(base, "base")
        V.choice(norm, "norm", NORMS)
        dropout = V.positive_float(dropout, "dropout", allow_zero=True)
        if dropout >= 1:
            raise ValueError(f"dropout: expected a probability in [0, 1), got {dropout}")
        n_dropout = V.positive_int(n_dropout, "n_dropout", minimum=0)
        max_mult = V.positive_int(max_mult, "max_mult")
        self.size = size
        width = [base * min(2 ** i, max_mult) for i in range(self.depth)]        # channels of d1 .. d_depth
        bias = norm != "batch"             # batch norm's shift makes a bias redundant (reference rule)

        self.down = nn.ModuleList()
        for i in range(self.depth):
            c_in = self.in_channels if i == 0 else width[i - 1]
            # no norm on the first layer, nor on a 1x1 bottleneck
            use_norm = 0 < i and not (i == self.depth - 1 and self.depth == max_depth)
            self.down.append(nn.Sequential(
                nn.Conv2d(c_in, width[i], 4, stride=2, padding=1, bias=bias),
                norm_layer(norm if use_norm else "none", width[i]),
                nn.LeakyReLU(0.2),
            ))

        # up[i] maps resolution S/2^(i+1) -> S/2^i; it reads d_depth alone (innermost) or [u, d_{i+1}]
        self.up = nn.ModuleList()
        for i in reversed(range(self.depth)):
            c_in = width[i] if i == self.depth - 1 or not skips else 2 * width[i]
            if i == 0:
                self.up.append(nn.Sequential(nn.ConvTranspose2d(c_in, self.out_channels, 4, stride=2, padding=1),
                                             nn.Tanh()))
                continue
            innermost_rank = self.depth - 1 - i                          # 0 for the innermost decoder layer
            layers = [nn.ConvTranspose2d(c_in, width[i - 1], 4, stride=2, padding=1, bias=bias),
                      norm_layer(norm, width[i - 1])]
            if dropout > 0 and innermost_rank < n_dropout:
                layers.append(nn.Dropout(dropout))
            layers.append(nn.ReLU())
            self.up.append(nn.Sequential(*layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Translate a batch (N, C_in, H, W), H and W multiples of 2^depth, to (N, C_out, H, W)."""
        V.images(x, "x", channels=self.in_channels)
        step = 2 ** self.depth
        if x.shape[-1] % step or x.shape[-2] % step:
            raise ValueError(f"x: expected height and width divisible by 2^depth = {step}, got shape {tuple(x.shape)}")
        skips = []
        for down in self.down:
            x = down(x)
            skips.append(x)
        x = skips.pop()                       # the bottleneck
        for k, up in enumerate(self.up):
            if k > 0:
                skip = skips.pop()
                if self.skips:
                    x = torch.cat([x, skip], dim=1)   # the skip connection: same resolution, concatenated
            x = up(x)
        return x
