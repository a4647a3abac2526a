"""Checks for notebook 15 (transfer from a pretrained GAN: DeepI2I)."""
from __future__ import annotations

import torch
from torch import nn

from ._core import close, exercise


@exercise("15.1", "DeepI2I's hinge losses", points=2, difficulty="warm-up")
def ex15_hinge(t, hinge_d, hinge_g):
    """``hinge_d(real_scores, fake_scores)`` -> E max(0, 1 - D(y)) + E max(0, 1 + D(x̂));
    ``hinge_g(fake_scores)`` -> -E D(x̂). Scores are raw (no sigmoid), any shape."""
    g = torch.Generator().manual_seed(15)
    cases = [(torch.randn(8, generator=g) * 2, torch.randn(8, generator=g) * 2),
             (torch.randn(3, 1, 2, 2, generator=g), torch.randn(5, 1, 2, 2, generator=g)),
             (torch.tensor([1.0, 3.0]), torch.tensor([-1.0, -4.0]))]          # beyond the margins: 0
    for real, fake in cases:
        want_d = torch.clamp(1 - real, min=0).mean() + torch.clamp(1 + fake, min=0).mean()
        got, err = t.call(hinge_d, real.clone(), fake.clone(), what="hinge_d")
        if err is not None:
            return
        if got is not None and close(got, (1 - real).mean() + (1 + fake).mean()) and not close(got, want_d):
            t.require(False, "hinge_d: a score beyond its margin (real above 1, fake below -1) must cost nothing: "
                             "clip each term at 0 before averaging")
        else:
            t.require(got is not None and close(got, want_d, rtol=1e-5),
                      "hinge_d: the mean of max(0, 1 - score) on real plus the mean of max(0, 1 + score) on fake")
        got, err = t.call(hinge_g, fake.clone(), what="hinge_g")
        if err is not None:
            return
        t.require(got is not None and close(got, -fake.mean(), rtol=1e-5),
                  "hinge_g: G raises D's score on its images, without a margin: minus the mean fake score")
    got, _ = t.call(hinge_d, torch.tensor([1.0]), torch.tensor([-1.0]), what="hinge_d")
    t.require(got is not None and close(got, 0.0), "hinge_d: scores exactly on the margins give a loss of 0")


def _brute_force_field(specs) -> int:
    """Receptive field of a stack of convolutions, measured: the input pixels that move one output unit."""
    size = 1
    for k, s in reversed(specs):
        size = (size - 1) * s + k            # the smallest input that yields at least one output
    size += 8
    layers = [nn.Conv2d(1, 1, k, s, bias=False) for k, s in specs]
    for layer in layers:
        nn.init.ones_(layer.weight)
    x = torch.zeros(1, 1, size, size, requires_grad=True)
    y = x
    for layer in layers:
        y = layer(y)
    y[0, 0, 0, 0].backward()
    rows = (x.grad[0, 0].abs().sum(1) > 0).nonzero()
    return int(rows.max() - rows.min() + 1)


@exercise("15.2", "the receptive field of a discriminator layer", points=3, difficulty="core")
def ex15_receptive_field(t, receptive_field):
    """``receptive_field(layers)``: a list of (kernel, stride) from the input up -> the side, in input
    pixels, of the patch one unit of the last layer sees."""
    cases = [[(4, 2)], [(4, 2), (4, 2)], [(3, 1), (3, 1), (3, 1)], [(4, 2), (4, 2), (4, 1)],
             [(7, 1), (3, 2), (3, 2)], [(1, 1)]]
    for specs in cases:
        want = _brute_force_field(specs)
        got, err = t.call(receptive_field, list(specs))
        if err is not None:
            return
        if got is not None and int(got) == 1 + sum(k - 1 for k, _ in specs) and want != int(got):
            t.require(False, "the strides matter: a layer's kernel spans k units of the layer below, and one "
                             "unit there is already (product of the strides below) pixels apart from the next")
        else:
            t.require(got is not None and int(got) == want,
                      f"wrong size for the stack {specs}: grow the field from the input up, "
                      "each layer adding (k - 1) times the distance between its input units")
    got, err = t.call(receptive_field, [])
    t.require(err is None and got is not None and int(got) == 1, "no layer at all: one unit sees one pixel")


@exercise("15.3", "nearest-neighbour agreement: what a layer keeps", points=3, difficulty="core")
def ex15_nn_agreement(t, nn_agreement):
    """``nn_agreement(query_features, reference_features, query_labels, reference_labels)`` -> the share
    of queries whose nearest reference (Euclidean, features flattened) has the same label."""
    g = torch.Generator().manual_seed(151)

    def want(q, r, lq, lr):
        d = torch.cdist(q.flatten(1).double(), r.flatten(1).double())
        return float((lr[d.argmin(1)] == lq).double().mean())

    q, r = torch.randn(30, 5, generator=g), torch.randn(40, 5, generator=g)
    lq, lr = torch.randint(0, 3, (30,), generator=g), torch.randint(0, 3, (40,), generator=g)
    got, err = t.call(nn_agreement, q.clone(), r.clone(), lq.clone(), lr.clone())
    if err is not None:
        return
    t.require(got is not None and close(float(got), want(q, r, lq, lr)),
              "for each query, find the closest reference row (smallest Euclidean distance) and compare labels")
    q4, r4 = torch.randn(12, 2, 3, 3, generator=g), torch.randn(20, 2, 3, 3, generator=g)
    lq4, lr4 = torch.randint(0, 2, (12,), generator=g), torch.randint(0, 2, (20,), generator=g)
    got, err = t.call(nn_agreement, q4, r4, lq4, lr4)
    t.require(err is None and got is not None and close(float(got), want(q4, r4, lq4, lr4)),
              "feature maps (N, C, H, W) are compared as flat vectors: flatten everything after the first dimension")
    centres = torch.tensor([[0.0, 0.0], [10.0, 10.0]])
    ref = centres.repeat_interleave(5, 0) + 0.1 * torch.randn(10, 2, generator=g)
    labels = torch.tensor([0] * 5 + [1] * 5)
    got, err = t.call(nn_agreement, centres + 0.05, ref, torch.tensor([0, 1]), labels)
    t.require(err is None and got is not None and close(float(got), 1.0),
              "two well separated clusters: each query's nearest neighbour is in its own cluster (agreement 1)")
    got, err = t.call(nn_agreement, centres + 0.05, ref, torch.tensor([1, 0]), labels)
    t.require(err is None and got is not None and close(float(got), 0.0),
              "the same clusters with the query labels swapped should agree nowhere (agreement 0)")
