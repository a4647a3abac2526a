r"""The ResNet generator of CycleGAN and StarGAN (Johnson et al. 2016; Zhu et al. 2017, Appendix 7.2).

An image-to-image network that keeps the resolution: a 7x7 stem, ``n_down`` stride-2
convolutions, ``n_blocks`` residual blocks at the lowest resolution, ``n_down`` stride-2
transposed convolutions, and a 7x7 convolution to the output with tanh::

    c7s1-w, d2w, d4w, R4w x n_blocks, u2w, uw, c7s1-C_out        (w = base; the paper's notation)

A residual block computes x + conv(relu(norm(conv(x)))) (then a norm), so each block only has
to learn a *change* of its input: a translation that changes little (solid -> striped) is a
small perturbation of the identity, which is what residual blocks represent easily. The paper
uses 6 blocks at 128x128 and 9 at 256x256, with instance normalisation (Ulyanov et al. 2016) and
reflection padding (no artificial zero border for the convolutions to react to).

``padding`` matters for conditioning. StarGAN (Choi et al. 2018) feeds the target domain as
constant extra channels. A 7x7 convolution of a constant map is a constant, per output channel,
wherever the padding continues the map (reflection); instance normalisation then subtracts
each channel's spatial mean, and the label's contribution is gone: the output cannot depend on
the label at all. With zero padding, the pixels near the border see zeros beside the constant,
the convolution's response varies in space, and the label survives the normalisation. So
StarGAN's generator uses ``padding="zero"`` (its reference code says the same), and notebook 12
checks it numerically.
"""
from __future__ import annotations

import torch
from torch import nn

from .. import _validate as V
from .norm import NORMS, norm_layer

PADDINGS = ("reflect", "zero")


def _conv(c_in: int, c_out: int, kernel: int, padding: str, bias: bool) -> nn.Sequential:
    """A stride-1 convolution keeping the size, with reflection or zero padding of kernel // 2."""
    p = kernel // 2
    if padding == "reflect":
        return nn.Sequential(nn.ReflectionPad2d(p), nn.Conv2d(c_in, c_out, kernel, bias=bias))
    return nn.Sequential(nn.Conv2d(c_in, c_out, kernel, padding=p, bias=bias))


class ResidualBlock(nn.Module):
    """x -> x + [conv3 -> norm -> ReLU -> conv3 -> norm](x), shape (N, C, H, W) kept."""

    def __init__(self, channels: int, norm: str = "instance", padding: str = "reflect"):
        super().__init__()
        channels = V.positive_int(channels, "channels")
        V.choice(norm, "norm", NORMS)
        V.choice(padding, "padding", PADDINGS)
        bias = norm != "batch"
        self.body = nn.Sequential(
            _conv(channels, channels, 3, padding, bias), norm_layer(norm, channels), nn.ReLU(),
            _conv(channels, channels, 3, padding, bias), norm_layer(norm, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResnetGenerator(nn.Module):
    """ResNet G: images (N, ``in_channels``, H, W) -> (N, ``out_channels``, H, W) in [-1, 1].

    ``base``: channels of the stem (``ngf``, 64 in the papers); widths double at each of the
    ``n_down`` downsamplings (H and W must be multiples of 2^n_down). ``n_blocks``: residual blocks
    at the lowest resolution (6 at 128 px, 9 at 256 px in CycleGAN; 6 in StarGAN). ``norm``:
    "instance" (the papers), "batch" or "none". ``padding``: "reflect" (CycleGAN) or "zero"
    (StarGAN: needed when labels are concatenated as constant channels, see the module's doc).
    Downsampling: 3x3 stride-2 convolutions; upsampling: 3x3 stride-2 transposed convolutions
    (output padding 1), as in the CycleGAN reference code.
    """

    def __init__(self, in_channels: int = 3, out_channels: int = 3, base: int = 64, n_blocks: int = 6,
                 n_down: int = 2, norm: str = "instance", padding: str = "reflect"):
        super().__init__()
        self.in_channels = V.positive_int(in_channels, "in_channels")
        self.out_channels = V.positive_int(out_channels, "out_channels")
        self.base = V.positive_int(base, "base")
        self.n_blocks = V.positive_int(n_blocks, "n_blocks", minimum=0)
        self.n_down = V.positive_int(n_down, "n_down", minimum=0)
        self.norm = V.choice(norm, "norm", NORMS)
        self.padding = V.choice(padding, "padding", PADDINGS)
        bias = norm != "batch"              # batch norm's shift makes a bias redundant (reference rule)
        w = self.base
        layers = [_conv(self.in_channels, w, 7, padding, bias), norm_layer(norm, w), nn.ReLU()]
        for _ in range(self.n_down):
            layers += [nn.Conv2d(w, 2 * w, 3, stride=2, padding=1, bias=bias), norm_layer(norm, 2 * w), nn.ReLU()]
            w *= 2
        layers += [ResidualBlock(w, norm, padding) for _ in range(self.n_blocks)]
        for _ in range(self.n_down):
            layers += [nn.ConvTranspose2d(w, w // 2, 3, stride=2, padding=1, output_padding=1, bias=bias),
                       norm_layer(norm, w // 2), nn.ReLU()]
            w //= 2
        layers += [_conv(w, self.out_channels, 7, padding, True), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Translate a batch (N, in_channels, H, W), H and W multiples of 2^n_down."""
        V.images(x, "x", channels=self.in_channels)
        step = 2 ** self.n_down
        if x.shape[-1] % step or x.shape[-2] % step:
            raise ValueError(f"x: expected height and width divisible by 2^n_down = {step}, got shape {tuple(x.shape)}")
        return self.net(x)


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters of ``module``."""
    if not isinstance(module, nn.Module):
        raise TypeError(f"module: expected an nn.Module, got {type(module).__name__}")
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
