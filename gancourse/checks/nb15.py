"""Checks for notebook 15 (transfer from a pretrained GAN: DeepI2I)."""
from __future__ import annotations

import torch
from torch import nn

from ..judges.styled import styled_digit_classifier
from ..models import deepi2i
from ..models.deepi2i import Adaptor
from ._core import check_variant, close, exercise


@exercise("15.2", "DeepI2I's hinge losses", points=2, difficulty="warm-up")
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


@exercise("15.1", "DeepI2I's adaptor", points=5, difficulty="core", kind="build")
def ex15_adaptor(t, adaptor):
    """The build exercise of notebook 15, used by its translators (Wang et al. 2020, the adaptor Λ):
    ``adaptor(encoder_widths, generator_widths)`` builds an ``nn.Module`` with one small network per
    scale (conv 3x3 from the encoder's width to the generator's, LeakyReLU(0.2), conv 3x3 keeping it,
    sizes kept); ``forward({side: (N, c_E, s, s)})`` returns ``{side: (N, c_G, s, s)}``."""
    enc, gen = {8: 6, 4: 10}, {8: 5, 4: 7}
    with torch.random.fork_rng():
        torch.manual_seed(15)
        module, err = t.call(adaptor, dict(enc), dict(gen), what="adaptor(encoder_widths, generator_widths)")
    if err is not None:
        return
    if not t.require(isinstance(module, nn.Module), "adaptor(encoder_widths, generator_widths) should return an "
                                                    "nn.Module (an instance of your class)"):
        return
    ref = Adaptor(enc, gen)
    n_params, n_ref = sum(p.numel() for p in module.parameters()), sum(p.numel() for p in ref.parameters())
    t.require(n_params == n_ref, f"your adaptor has {n_params} parameters, the reference {n_ref}: per scale a 3x3 "
                                 "convolution from the encoder's width to the generator's and a second 3x3 "
                                 "convolution keeping the generator's width (with biases); the modules must be "
                                 "registered (nn.ModuleDict or attributes), not kept in a plain dict")
    g = torch.Generator().manual_seed(16)
    feats = {s: torch.randn(2, c, s, s, generator=g) for s, c in enc.items()}
    out, err = t.call(module, {s: f.clone() for s, f in feats.items()}, what="your adaptor")
    if err is not None:
        return
    ok = isinstance(out, dict) and sorted(out) == sorted(gen) and all(
        isinstance(out[s], torch.Tensor) and tuple(out[s].shape) == (2, gen[s], s, s) for s in gen)
    if not t.require(ok, "forward should return a dict {side: features (N, generator width, side, side)} with the "
                         "same sides as its input"):
        return
    with torch.no_grad():
        # one network per scale: changing the 4x4 features must not move the 8x8 output
        other = {8: feats[8].clone(), 4: feats[4] + 1.0}
        moved, _ = t.call(module, other)
        t.require(moved is not None and close(moved[8], out[8].detach(), atol=1e-6),
                  "each scale has its own network: the 8x8 output may depend only on the 8x8 features")
        # two 3x3 convolutions: a pixel of the input reaches at most 2 pixels away
        poked = {s: f.clone() for s, f in feats.items()}
        poked[8][:, :, 0, 0] += 5.0
        after, _ = t.call(module, poked)
        if after is not None:
            change = (after[8] - out[8].detach()).abs().sum((0, 1))
            reach = change > 1e-6
            t.require(bool(reach[:3, :3].any()) and not bool(reach[3:, :].any()) and not bool(reach[:, 3:].any()),
                      "two 3x3 convolutions with padding 1: a feature pixel changes the output at most 2 pixels away")
        # not linear: a LeakyReLU(0.2) between the convolutions
        half = {s: 0.5 * f for s, f in feats.items()}
        zero = {s: torch.zeros_like(f) for s, f in feats.items()}
        a, b, c0 = t.call(module, half)[0], out, t.call(module, zero)[0]
        if a is not None and c0 is not None:
            linear = close(2 * (a[8] - c0[8]), b[8].detach() - c0[8], atol=1e-5)
            t.require(not linear, "put a nonlinearity (LeakyReLU, slope 0.2) between the two convolutions")
    out, _ = t.call(module, feats)
    if out is not None:
        sum(v.pow(2).mean() for v in out.values()).backward()
        t.require(all(p.grad is not None for p in module.parameters()), "every parameter should receive a gradient")


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


@exercise("15.4", "what the feature weight ω does, measured", points=3, difficulty="core", kind="variant")
def ex15_feature_weight(t, answer, model_small, model_large, inputs, reference):
    """The variant exercise of notebook 15: two transferred translators of the same length, ω = 0.1 (the
    reference code's) and ω = 1; ``answer`` = {"frechet_small": ..., "frechet_large": ..., "lower": "small"
    or "large"}: the Fréchet distance of their translations of ``inputs`` to the styled digits ``reference``
    (``deepi2i.evaluate(model.translate, inputs, reference, judge)["frechet"]``). The check measures both
    again. (Not the background error: at this length both arms score nearly the same, and which is lower
    is decided by noise.)"""
    judge = styled_digit_classifier()

    def frechet(model):
        return deepi2i.evaluate(model.translate, inputs, reference, judge)["frechet"]

    check_variant(t, answer, {"frechet_small": lambda: frechet(model_small),
                              "frechet_large": lambda: frechet(model_large)},
                  how="that translator's Fréchet distance: deepi2i.evaluate(model.translate, the held-out inputs, "
                      "the large styled sample, the judge)['frechet']",
                  lower="translates closer to the real styled digits (the lower distance)", rtol=1e-3)
