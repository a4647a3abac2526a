"""Checks for notebook 05 (DCGAN on digits)."""
from __future__ import annotations

import torch
from torch import nn

from .. import metrics
from ..data import Digits
from ..judges.digits import digit_classifier
from ..models import dcgan
from ._core import check_variant, close, exercise


@exercise("05.3", "the size a transposed convolution produces", points=2, difficulty="warm-up")
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


@exercise("05.4", "the receptive field of a discriminator", points=3, difficulty="core")
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


_G_KINDS = ["ConvTranspose2d", "BatchNorm2d", "ReLU", "ConvTranspose2d", "BatchNorm2d", "ReLU", "ConvTranspose2d", "Tanh"]
_D_KINDS = ["Conv2d", "LeakyReLU", "Conv2d", "BatchNorm2d", "LeakyReLU", "Conv2d"]
_GEOMETRY = [(4, 1, 0), (4, 2, 1), (4, 2, 1)]     # (kernel, stride, padding) of G's convolutions; D: reversed


def _kinds(net):
    return [type(m).__name__ for m in net.modules() if not isinstance(m, nn.Sequential)]


def _convs(net):
    return [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]


@exercise("05.1", "DCGAN's generator, discriminator and initialisation", points=5, difficulty="core", kind="build")
def ex05_dcgan_nets(t, build_generator, build_discriminator, init_weights):
    """The build exercise of notebook 05, used by its training run: ``build_generator(z_dim, width)``
    and ``build_discriminator(width)`` for 16x16 grey images, as in the paper's guidelines, and
    ``init_weights(module)`` (N(0, 0.02) convolutions, N(1, 0.02) batch-norm scales, zero shifts)."""
    torch.manual_seed(0)
    G, err = t.call(build_generator, 20, 8, what="build_generator")
    if err is None and t.require(isinstance(G, nn.Module), "build_generator should return an nn.Module"):
        with torch.no_grad():
            out, err = t.call(G, torch.randn(5, 20, 1, 1), what="your generator")
        if err is None:
            t.require(isinstance(out, torch.Tensor) and tuple(out.shape) == (5, 1, 16, 16),
                      "G maps z of shape (N, z_dim, 1, 1) to images (N, 1, 16, 16): 1 -> 4 -> 8 -> 16")
            t.require(isinstance(out, torch.Tensor) and float(out.abs().max()) <= 1,
                      "G's images must lie in [-1, 1], like the data: end with tanh")
        kinds = _kinds(G)
        t.require("MaxPool2d" not in kinds and "Linear" not in kinds and "Upsample" not in kinds,
                  "no pooling, no upsampling layer and no fully connected layer: transposed convolutions do it all")
        t.require(kinds == _G_KINDS, "G's layers: three transposed convolutions, batch norm and ReLU after the "
                                     "first two only (never on the output layer), tanh at the end")
        t.require([(c.kernel_size[0], c.stride[0], c.padding[0]) for c in _convs(G)] == _GEOMETRY,
                  "G's transposed convolutions: kernel 4 everywhere; stride 1 and no padding from 1x1 to 4x4, "
                  "then stride 2 and padding 1 to double the side")
        ref = dcgan.Generator(16, 20, 8, 1)
        t.require(sum(p.numel() for p in G.parameters()) == sum(p.numel() for p in ref.parameters()),
                  "G's widths: 2*width channels at 4x4, width at 8x8, 1 at 16x16; the convolutions followed by "
                  "batch norm need no bias (the norm's shift replaces it)")
    D, err = t.call(build_discriminator, 8, what="build_discriminator")
    if err is None and t.require(isinstance(D, nn.Module), "build_discriminator should return an nn.Module"):
        with torch.no_grad():
            out, err = t.call(D, torch.randn(5, 1, 16, 16), what="your discriminator")
        if err is None:
            t.require(isinstance(out, torch.Tensor) and tuple(out.shape) == (5, 1, 1, 1),
                      "D maps images (N, 1, 16, 16) to one logit each, shape (N, 1, 1, 1): 16 -> 8 -> 4 -> 1")
        t.require(_kinds(D) == _D_KINDS, "D's layers: three convolutions, LeakyReLU after the first two, batch norm "
                                         "after the second only (never on the input layer), no sigmoid")
        slopes = [m.negative_slope for m in D.modules() if isinstance(m, nn.LeakyReLU)]
        t.require(slopes and all(abs(a - 0.2) < 1e-9 for a in slopes), "D's LeakyReLU has slope 0.2")
        t.require([(c.kernel_size[0], c.stride[0], c.padding[0]) for c in _convs(D)] == _GEOMETRY[::-1],
                  "D's convolutions: kernel 4; stride 2 and padding 1 to halve the side, then stride 1 and no "
                  "padding from 4x4 to one logit")
        ref = dcgan.Discriminator(16, 8, 1)
        t.require(sum(p.numel() for p in D.parameters()) == sum(p.numel() for p in ref.parameters()),
                  "D's widths: width channels at 8x8, 2*width at 4x4, 1 logit")
    net = nn.Sequential(nn.ConvTranspose2d(64, 128, 4), nn.BatchNorm2d(128), nn.ReLU(),
                        nn.Conv2d(128, 64, 4), nn.BatchNorm2d(64), nn.LeakyReLU(0.2), nn.Conv2d(64, 1, 4))
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.BatchNorm2d, nn.Conv2d, nn.ConvTranspose2d)) and m.bias is not None:
                m.bias.fill_(0.3)
    _, err = t.call(net.apply, init_weights, what="net.apply(init_weights)")
    if err is not None:
        return
    w = torch.cat([m.weight.detach().flatten() for m in _convs(net)])
    t.require(abs(w.mean().item()) < 2e-3 and abs(w.std().item() - 0.02) < 1e-3,
              "init_weights: convolution weights (transposed ones too) from a normal with mean 0, std 0.02")
    bns = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    gamma = torch.cat([m.weight.detach() for m in bns])
    t.require(abs(gamma.mean().item() - 1) < 0.01 and 0.01 < gamma.std().item() < 0.03,
              "init_weights: batch-norm scales (weight) from a normal with mean 1, std 0.02")
    t.require(all(torch.all(m.bias == 0) for m in bns) and all(torch.all(c.bias == 0) for c in _convs(net)),
              "init_weights: batch-norm shifts and convolution biases start at 0")


@exercise("05.2", "what DiffAugment buys, measured", points=3, difficulty="core", kind="variant")
def ex05_diffaugment(t, answer, G_with, G_without, n=2000):
    """The variant exercise of notebook 05: two runs of the same length, with and without DiffAugment;
    ``answer`` = {"frechet_with": ..., "frechet_without": ..., "lower": "with" or "without"}, the
    Fréchet distances the student measured (course classifier, n samples from seed 1, against the
    held-out digits). The check measures both generators again."""
    clf = digit_classifier()
    reference = metrics.classifier_features(Digits(getattr(G_with, "image_size", 16), "test").images, clf)

    def frechet(G):
        samples = G.sample(n, generator=torch.Generator().manual_seed(1)).cpu()
        return metrics.frechet_distance(metrics.classifier_features(samples, clf), reference)

    check_variant(t, answer, {"frechet_with": lambda: frechet(G_with), "frechet_without": lambda: frechet(G_without)},
                  how="the Fréchet distance of that generator: sample n images with the noise seed 1, take the "
                      "classifier's features, compare with the held-out digits' features",
                  lower="has the lower Fréchet distance", rtol=1e-3)
