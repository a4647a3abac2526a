r"""Neural style transfer in miniature (Gatys, Ecker & Bethge, CVPR 2016), to compare with CycleGAN.

Style transfer optimises the **pixels of one image**: starting from the content image c, find x
that keeps c's deep features and takes on the feature *statistics* of one style image s::

    L(x) = α Σ_{l ∈ content} ||F_l(x) - F_l(c)||²  +  β Σ_{l ∈ style} ||Gram_l(x) - Gram_l(s)||²
    Gram_l(x)[i, j] = Σ_p F_l(x)[i, p] F_l(x)[j, p] / (H_l W_l)                  (Gatys et al., Eq. 3)

A Gram matrix sums over positions p, so it keeps which features occur together (texture,
colours, stripes and their orientation) and forgets where: shuffling the pixels of a feature map
in the same way for every channel leaves it unchanged. There is no learning across images: each
new content image is a new optimisation, and everything comes from one style image.

Gatys et al. read F_l from a VGG-19 trained on ImageNet; its weights are not available offline, so
the course uses a small convolutional network with **random, fixed weights**, which is known to
give usable texture statistics (He, Wang & Hopcroft, NeurIPS 2016; Ustyuzhaninov et al., ICLR
2017): good enough to show what style transfer does and does not do on 32x32 shapes, not to
reproduce paintings.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from . import _validate as V


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """Gram matrices of feature maps: (N, C, H, W) -> (N, C, C), entry [n, i, j] = Σ_p f_i(p) f_j(p) / (H·W)."""
    V.tensor(features, "features", ndim=4)
    n, c, h, w = features.shape
    flat = features.reshape(n, c, h * w)
    return flat @ flat.transpose(1, 2) / (h * w)


class RandomFeatures(nn.Module):
    """A frozen random convolutional network: images (N, 3, H, W) -> a list of feature maps.

    Block k: 3x3 convolution to ``widths[k]`` channels, ReLU, then 2x2 average pooling (except
    after the last block). Weights drawn once from a He-normal distribution with ``seed`` and never
    trained.
    """

    def __init__(self, widths=(32, 64, 128), seed: int = 0):
        super().__init__()
        if isinstance(widths, (str, bytes)) or not isinstance(widths, (tuple, list)) or not widths:
            raise TypeError(f"widths: expected a non-empty sequence of channel counts, got {widths!r}")
        widths = [V.positive_int(w, "widths") for w in widths]
        g = torch.Generator().manual_seed(V.positive_int(seed, "seed", minimum=0))
        self.blocks = nn.ModuleList()
        c_in = 3
        for k, w in enumerate(widths):
            conv = nn.Conv2d(c_in, w, 3, padding=1, padding_mode="reflect")
            with torch.no_grad():
                conv.weight.copy_(torch.randn(conv.weight.shape, generator=g) * (2.0 / (9 * c_in)) ** 0.5)
                conv.bias.zero_()
            layers = [conv, nn.ReLU()]
            if k < len(widths) - 1:
                layers.append(nn.AvgPool2d(2))
            self.blocks.append(nn.Sequential(*layers))
            c_in = w
        self.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        V.images(x, "x", channels=3)
        out = []
        for block in self.blocks:
            x = block(x)
            out.append(x)
        return out


def style_transfer(content: torch.Tensor, style: torch.Tensor, steps: int = 300, content_weight: float = 1.0,
                   style_weight: float = 1e3, lr: float = 0.03, net: RandomFeatures | None = None,
                   content_layer: int = -1) -> tuple[torch.Tensor, dict]:
    """Optimise pixels: from ``content`` (N, 3, H, W), match ``style``'s Gram matrices (1 or N
    images) at every layer of ``net`` and ``content``'s features at ``content_layer``.

    Adam on the pixels, clamped to [-1, 1] after each step. Returns ``(x, history)`` with x of
    the content's shape and history ``{"content": [...], "style": [...]}`` (one value per step).
    """
    V.images(content, "content", channels=3)
    V.images(style, "style", channels=3)
    if style.shape[0] not in (1, content.shape[0]) or style.shape[-2:] != content.shape[-2:]:
        raise ValueError(f"style: expected 1 or {content.shape[0]} images of size {tuple(content.shape[-2:])}, "
                         f"got shape {tuple(style.shape)}")
    steps = V.positive_int(steps, "steps")
    content_weight = V.positive_float(content_weight, "content_weight", allow_zero=True)
    style_weight = V.positive_float(style_weight, "style_weight", allow_zero=True)
    lr = V.positive_float(lr, "lr")
    net = net if net is not None else RandomFeatures()
    if not isinstance(net, RandomFeatures):
        raise TypeError(f"net: expected a RandomFeatures network, got {type(net).__name__}")
    with torch.no_grad():
        target_content = net(content)[content_layer]
        target_grams = [gram_matrix(f).expand(content.shape[0], -1, -1) for f in net(style)]
    x = content.detach().clone().requires_grad_(True)
    opt = torch.optim.Adam([x], lr=lr)
    history = {"content": [], "style": []}
    for _ in range(steps):
        feats = net(x)
        l_content = F.mse_loss(feats[content_layer], target_content)
        l_style = sum(F.mse_loss(gram_matrix(f), g) for f, g in zip(feats, target_grams))
        loss = content_weight * l_content + style_weight * l_style
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            x.clamp_(-1, 1)
        history["content"].append(float(l_content.detach()))
        history["style"].append(float(l_style.detach()))
    return x.detach(), history
