"""Checks for notebook 05 (DCGAN on digits)."""
from __future__ import annotations

import torch
from torch import nn

from ._core import close, exercise


@exercise("05.1", "the size a transposed convolution produces", points=2, difficulty="warm-up")
def ex05_output_size(t, output_size):
    """``output_size(h, kernel, stride, padding)`` -> side of ConvTranspose2d's output."""
    for h, k, s, p in [(1, 4, 1, 0), (4, 4, 2, 1), (8, 4, 2, 1), (7, 3, 2, 1), (5, 5, 3, 2), (16, 1, 1, 0)]:
        got, err = t.call(output_size, h, k, s, p)
        if err is not None:
            return
        layer = nn.ConvTranspose2d(1, 1, k, s, p)
        want = layer(torch.zeros(1, 1, h, h)).shape[-1]
        t.require(close(got, want), "a transposed convolution inverts the size formula of a convolution: "
                                    "start from (h - 1) times the stride")


def _empirical_receptive_field(kernels, strides) -> int:
    """Side of the input region that one output unit sees, measured by back-propagation."""
    layers = []
    for k, s in zip(kernels, strides):
        conv = nn.Conv2d(1, 1, k, s, bias=False)
        nn.init.ones_(conv.weight)  # positive weights: no cancellation hides a pixel
        layers.append(conv)
    net = nn.Sequential(*layers)
    side = 1
    for k, s in zip(reversed(kernels), reversed(strides)):
        side = (side - 1) * s + k
    x = torch.zeros(1, 1, side + 8, side + 8, requires_grad=True)
    out = net(x)
    out[0, 0, 0, 0].backward()
    rows = (x.grad[0, 0].abs().sum(1) > 0).nonzero()
    return int(rows.max() - rows.min() + 1)


@exercise("05.2", "the receptive field of a discriminator", points=3, difficulty="core")
def ex05_receptive_field(t, receptive_field):
    """``receptive_field(kernels, strides)``: lists for a stack of convolutions -> side of the input
    region that one output unit depends on."""
    cases = [([4], [2]), ([3, 3], [1, 1]), ([4, 4, 4], [2, 2, 1]), ([4, 4, 4, 4, 4], [2, 2, 2, 1, 1]),
             ([5, 3, 3], [1, 2, 2]), ([1], [1])]
    for kernels, strides in cases:
        got, err = t.call(receptive_field, list(kernels), list(strides))
        if err is not None:
            return
        t.require(close(got, _empirical_receptive_field(kernels, strides)),
                  "each layer adds (kernel - 1) input steps, and one step of layer i spans the product "
                  "of the strides of the layers BEFORE it")


@exercise("05.3", "DCGAN's initialisation", points=2, difficulty="core")
def ex05_init(t, init_weights):
    """``init_weights(module)``: applied with ``net.apply``; conv weights N(0, 0.02), BN scale N(1, 0.02), shift 0."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.ConvTranspose2d(64, 128, 4), nn.BatchNorm2d(128), nn.ReLU(),
                        nn.Conv2d(128, 64, 4), nn.BatchNorm2d(64), nn.LeakyReLU(0.2))
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.bias.fill_(0.3)
    _, err = t.call(net.apply, init_weights, what="net.apply(init_weights)")
    if err is not None:
        return
    convs = [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    bns = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    w = torch.cat([m.weight.detach().flatten() for m in convs])
    t.require(abs(w.mean().item()) < 2e-3 and abs(w.std().item() - 0.02) < 1e-3,
              "convolution weights (transposed ones too) should be drawn from a normal with mean 0, std 0.02")
    gamma = torch.cat([m.weight.detach() for m in bns])
    t.require(abs(gamma.mean().item() - 1) < 0.01 and 0.01 < gamma.std().item() < 0.03,
              "batch-norm scales (weight) should be drawn from a normal with mean 1, std 0.02")
    t.require(all(torch.all(m.bias == 0) for m in bns), "batch-norm shifts (bias) should be set to 0")
