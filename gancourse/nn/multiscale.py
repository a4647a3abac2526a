r"""pix2pixHD's multi-scale discriminator (Wang et al., CVPR 2018, Section 3.2), built from PatchGANs.

A single PatchGAN sees patches of one size. To judge both the global layout (is the horizon where
the map says?) and the fine texture, pix2pixHD uses ``num_D`` discriminators **of the same
architecture**: D_1 reads the image at full resolution, D_2 the image average-pooled by 2, D_3 by
4, ... The coarser a discriminator's input, the larger its receptive field *in the original
image*: the same 34x34 patch covers twice the width at half resolution. SPADE keeps this design
with two scales (Park et al. 2019, Section 3, "multi-scale discriminators").

The pooling between scales is pix2pixHD's: a 3x3 average with stride 2, padding 1, not counting
the padding (``count_include_pad=False``), so an image of side S becomes ceil(S / 2).

Each scale is a :class:`~gancourse.nn.patchgan.PatchDiscriminator` asked for its intermediate
activations, because pix2pixHD's **feature matching loss** compares them for real and generated
images (:func:`gancourse.losses.feature_matching`):

.. math:: \mathcal{L}_{FM}(G, D_k) = \mathbb{E}_{(s, x)} \sum_{i=1}^{T} \frac{1}{N_i}
          \big\| D_k^{(i)}(s, x) - D_k^{(i)}(s, G(s)) \big\|_1

(pix2pixHD's Eq. 4; T layers, N_i elements in layer i), summed over the layers and averaged
over the k = 1..num_D discriminators.

``forward(x)`` returns a list with one entry per scale, finest first; each entry is
``(scores, features)``: scores (N, 1, h_k, w_k), features a list of the block outputs.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .. import _validate as V
from .patchgan import PatchDiscriminator, receptive_field


def downsample(x: torch.Tensor) -> torch.Tensor:
    """pix2pixHD's pooling between scales: 3x3 average, stride 2, padding 1, padding not counted.
    (N, C, H, W) -> (N, C, ceil(H/2), ceil(W/2))."""
    V.images(x, "x")
    return F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)


class MultiscaleDiscriminator(nn.Module):
    """``num_D`` PatchGANs, each on the input downsampled once more than the previous one.

    Arguments as :class:`PatchDiscriminator` (``in_channels``: e.g. label channels + 3 for
    D(map, image); ``base``; ``n_layers``; ``norm``; ``spectral_norm``), plus ``num_D`` (2 in SPADE,
    3 in pix2pixHD at 2048x1024). ``forward(x)`` -> ``[(scores_1, features_1), ..., (scores_K,
    features_K)]``, finest scale first.
    """

    def __init__(self, in_channels: int, num_D: int = 2, base: int = 64, n_layers: int = 3,
                 norm: str = "instance", spectral_norm: bool = True):
        super().__init__()
        self.num_D = V.positive_int(num_D, "num_D")
        self.in_channels = V.positive_int(in_channels, "in_channels")
        self.n_layers = V.positive_int(n_layers, "n_layers")
        self.discriminators = nn.ModuleList(
            PatchDiscriminator(in_channels, base=base, n_layers=n_layers, norm=norm, spectral_norm=spectral_norm)
            for _ in range(self.num_D))

    def receptive_fields(self) -> list[int]:
        """Side, in pixels of the full-resolution input, of the patch behind one score of each scale:
        the PatchGAN's field times 2^k at scale k (the pooling's own 3x3 footprint aside)."""
        r = receptive_field(self.n_layers)
        return [r * 2 ** k for k in range(self.num_D)]

    def forward(self, x: torch.Tensor) -> list[tuple[torch.Tensor, list[torch.Tensor]]]:
        V.images(x, "x", channels=self.in_channels)
        out = []
        for k, D in enumerate(self.discriminators):
            if k > 0:
                x = downsample(x)
            scores, features = D(x, return_features=True)
            out.append((scores, features))
        return out


__all__ = ["MultiscaleDiscriminator", "downsample"]
