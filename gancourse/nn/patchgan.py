r"""The PatchGAN discriminator (Isola et al. 2017, Section 3.2.2) and its receptive field.

Instead of one real/fake score per image, a PatchGAN is a fully convolutional network that
outputs a **map** of scores: each entry judges one N x N patch of the input, the patch being the
entry's receptive field. Averaging the loss over the map treats the image as a field of
independently judged patches, which is where an adversarial loss helps most: local texture and
sharpness (the L1 term already takes care of the low frequencies).

Layout (the reference ``NLayerDiscriminator`` with ``n_layers``)::

    Conv4 s2 -> LReLU                                  (no norm on the first layer)
    [Conv4 s2 -> Norm -> LReLU] x (n_layers - 1)       widths base·min(2^k, 8)
    Conv4 s1 -> Norm -> LReLU
    Conv4 s1 -> 1 channel                              (raw scores: logits, or LSGAN values)

The receptive field follows from the layers alone. Going backwards from one output unit, a layer
with kernel k and stride s turns a field of r units into (r - 1)·s + k units of its input:

.. math:: r_{L} = 1, \qquad r_{l-1} = (r_l - 1)\,s_l + k_l .

For ``n_layers = 3`` (the paper's default): 1 -> 4 -> 7 -> 16 -> 34 -> **70**, the "70x70
PatchGAN"; ``n_layers = 1`` gives 16 and ``n_layers = 2`` gives 34. A 256x256 input gives a
30x30 map of 70x70 patches.

Options for the later models: ``norm`` ("batch" for Pix2Pix, "instance" for CycleGAN, "none"
with ``spectral_norm=True`` for SPADE), ``return_features`` (every intermediate activation, for
pix2pixHD's feature matching loss), ``n_classes`` (an auxiliary classifier head on the last
features, as StarGAN's and Defect-GAN's discriminators have).
"""
from __future__ import annotations

import torch
from torch import nn

from .. import _validate as V
from .norm import NORMS, norm_layer


def _conv_specs(n_layers: int) -> list[tuple[int, int, int]]:
    """(kernel, stride, padding) of each convolution of a PatchGAN with ``n_layers``, input to output."""
    return [(4, 2, 1)] * n_layers + [(4, 1, 1), (4, 1, 1)]


def receptive_field(model_or_layers) -> int:
    """Side, in input pixels, of the patch that one output score of a PatchGAN sees.

    ``model_or_layers``: an int (``n_layers`` of the standard layout), a
    :class:`PatchDiscriminator`, or any ``nn.Module`` whose ``nn.Conv2d`` layers are applied in
    sequence (their kernels and strides are read in module order). Uses r <- (r - 1)·s + k from
    the output back to the input.
    """
    if isinstance(model_or_layers, bool):
        raise TypeError("model_or_layers: expected an int (n_layers) or an nn.Module, got bool")
    if isinstance(model_or_layers, int):
        specs = [(k, s) for k, s, _ in _conv_specs(V.positive_int(model_or_layers, "n_layers"))]
    elif isinstance(model_or_layers, nn.Module):
        if isinstance(model_or_layers, PatchDiscriminator):   # the score path: body, then head
            convs = [m for m in model_or_layers.body.modules() if isinstance(m, nn.Conv2d)]
            convs.append(model_or_layers.head)
        else:
            convs = [m for m in model_or_layers.modules() if isinstance(m, nn.Conv2d)]
        if not convs:
            raise ValueError("model_or_layers: the module has no nn.Conv2d layers")
        for conv in convs:
            if conv.dilation != (1, 1) or conv.kernel_size[0] != conv.kernel_size[1] or conv.stride[0] != conv.stride[1]:
                raise ValueError(f"model_or_layers: only square, undilated convolutions are supported, got {conv}")
        specs = [(conv.kernel_size[0], conv.stride[0]) for conv in convs]
    else:
        raise TypeError(f"model_or_layers: expected an int (n_layers) or an nn.Module, "
                        f"got {type(model_or_layers).__name__}")
    r = 1
    for k, s in reversed(specs):
        r = (r - 1) * s + k
    return r


def output_size(n_layers: int, size: int) -> int:
    """Side of the score map a PatchGAN with ``n_layers`` gives for a ``size`` x ``size`` input."""
    n_layers = V.positive_int(n_layers, "n_layers")
    out = V.positive_int(size, "size")
    for k, s, p in _conv_specs(n_layers):
        out = (out + 2 * p - k) // s + 1
        if out < 1:
            raise ValueError(f"size: a {size}x{size} input is too small for {n_layers} layers (the map vanishes)")
    return out


class PatchDiscriminator(nn.Module):
    """PatchGAN: images (N, ``in_channels``, H, W) -> a score map (N, 1, h, w), one score per patch.

    ``base`` (``ndf``): channels of the first layer; ``n_layers``: number of stride-2 layers
    (3 = the 70x70 PatchGAN); ``norm``: "batch", "instance" or "none"; ``spectral_norm``: wrap
    every convolution in torch's spectral-norm parametrization (Miyato et al. 2018);
    ``n_classes`` > 0 adds an auxiliary classifier: class logits (N, n_classes), the mean over
    positions of a 3x3 convolution of the last features. ``forward(x, return_features=True)``
    also returns the list of intermediate activations (one per block).
    Returns ``scores``, or ``(scores, class_logits)`` with a classifier head, followed by the
    feature list when asked.
    """

    def __init__(self, in_channels: int = 6, base: int = 64, n_layers: int = 3, norm: str = "batch",
                 spectral_norm: bool = False, n_classes: int = 0):
        super().__init__()
        self.in_channels = V.positive_int(in_channels, "in_channels")
        self.base = V.positive_int(base, "base")
        self.n_layers = V.positive_int(n_layers, "n_layers")
        self.norm = V.choice(norm, "norm", NORMS)
        if not isinstance(spectral_norm, bool):
            raise TypeError(f"spectral_norm: expected a bool, got {type(spectral_norm).__name__}")
        self.n_classes = V.positive_int(n_classes, "n_classes", minimum=0)

        def conv(c_in, c_out, stride, bias=True):
            layer = nn.Conv2d(c_in, c_out, 4, stride=stride, padding=1, bias=bias)
            return nn.utils.parametrizations.spectral_norm(layer) if spectral_norm else layer

        bias = norm != "batch"             # batch norm's shift makes a bias redundant (reference rule)
        widths = [self.base * min(2 ** k, 8) for k in range(n_layers + 1)]
        blocks = [nn.Sequential(conv(self.in_channels, widths[0], 2), nn.LeakyReLU(0.2))]
        for k in range(1, n_layers):
            blocks.append(nn.Sequential(conv(widths[k - 1], widths[k], 2, bias), norm_layer(norm, widths[k]),
                                        nn.LeakyReLU(0.2)))
        blocks.append(nn.Sequential(conv(widths[n_layers - 1], widths[n_layers], 1, bias),
                                    norm_layer(norm, widths[n_layers]), nn.LeakyReLU(0.2)))
        self.body = nn.ModuleList(blocks)
        self.head = conv(widths[n_layers], 1, 1)
        self.classifier = None
        if self.n_classes:
            cls = nn.Conv2d(widths[n_layers], self.n_classes, 3, padding=1)
            self.classifier = nn.utils.parametrizations.spectral_norm(cls) if spectral_norm else cls

    @property
    def receptive_field(self) -> int:
        """Side of the input patch behind one score (70 for ``n_layers=3``)."""
        return receptive_field(self.n_layers)

    def forward(self, x: torch.Tensor, return_features: bool = False):
        V.images(x, "x", channels=self.in_channels)
        features = []
        h = x
        for block in self.body:
            h = block(h)
            features.append(h)
        scores = self.head(h)
        out = (scores,)
        if self.classifier is not None:
            out = out + (self.classifier(h).mean(dim=(2, 3)),)
        if return_features:
            out = out + (features,)
        return out[0] if len(out) == 1 else out


class PixelDiscriminator(nn.Module):
    """PixelGAN (the paper's Section 4.4, the "1x1" end of its patch-size study): images (N,
    ``in_channels``, H, W) -> a score map (N, 1, H, W), one score per *pixel*.

    Three 1x1 convolutions (widths ``base``, 2·``base``, 1; the reference ``PixelDiscriminator``):
    each score sees one pixel's channels and nothing around it, so D can judge colour but not
    texture or shape. Receptive field 1.
    """

    def __init__(self, in_channels: int = 6, base: int = 64, norm: str = "batch"):
        super().__init__()
        self.in_channels = V.positive_int(in_channels, "in_channels")
        self.base = V.positive_int(base, "base")
        self.norm = V.choice(norm, "norm", NORMS)
        self.net = nn.Sequential(nn.Conv2d(self.in_channels, self.base, 1), nn.LeakyReLU(0.2),
                                 nn.Conv2d(self.base, 2 * self.base, 1, bias=norm != "batch"),
                                 norm_layer(norm, 2 * self.base), nn.LeakyReLU(0.2),
                                 nn.Conv2d(2 * self.base, 1, 1))

    @property
    def receptive_field(self) -> int:
        return 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        V.images(x, "x", channels=self.in_channels)
        return self.net(x)
