"""Checks for notebook 16 (the GAN zoo)."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..judges.digits import digit_classifier
from ..models import infogan
from ..models.bigan import JointDiscriminator
from ._core import check_variant, close, exercise


@exercise("16.3", "one level of a Laplacian pyramid", points=2, difficulty="warm-up")
def ex16_laplacian_level(t, laplacian_level):
    """``laplacian_level(x)``: images (N, C, H, W) -> (low, high): low = 2x2 average pooling
    (N, C, H/2, W/2), high = x - bilinear upsampling of low (N, C, H, W)."""
    g = torch.Generator().manual_seed(16)
    for shape in ((2, 1, 8, 8), (1, 3, 4, 6), (3, 1, 16, 16)):
        x = torch.rand(shape, generator=g) * 2 - 1
        got, err = t.call(laplacian_level, x.clone())
        if err is not None:
            return
        ok = isinstance(got, (tuple, list)) and len(got) == 2
        t.require(ok, "return a pair (low, high)")
        if not ok:
            return
        low, high = got
        want_low = F.avg_pool2d(x, 2)
        up = F.interpolate(want_low, scale_factor=2, mode="bilinear", align_corners=False)
        t.require(isinstance(low, torch.Tensor) and close(low, want_low),
                  "low: halve the image by averaging each 2x2 block (blur and subsample)")
        t.require(isinstance(high, torch.Tensor) and high.shape == x.shape,
                  "high has the size of the input: it is the detail the blurry copy misses")
        if isinstance(high, torch.Tensor) and high.shape == x.shape:
            t.require(close(high, x - up, atol=1e-6),
                      "high = x - upsample(low), upsampling bilinearly (align_corners=False) back to x's size")
            t.require(close(up + high, x, atol=1e-6), "upsample(low) + high must give x back exactly")
    flat = torch.full((1, 1, 4, 4), 0.3)
    got, _ = t.call(laplacian_level, flat)
    t.require(got is not None and close(got[1], torch.zeros_like(flat), atol=1e-6),
              "a constant image has no detail: its high-pass part is 0")


@exercise("16.4", "InfoGAN's mutual-information lower bound", points=3, difficulty="core")
def ex16_mi_bound(t, mi_lower_bound):
    """``mi_lower_bound(q_logits, codes)``: Q's logits (N, K) for images made with categorical codes
    (N,) uniform over K values -> L_I = H(c) + E log Q(c | x) = log K - CE, in nats."""
    g = torch.Generator().manual_seed(162)
    for n, k in ((50, 10), (7, 3), (1, 2)):
        logits, codes = torch.randn(n, k, generator=g) * 3, torch.randint(0, k, (n,), generator=g)
        want = math.log(k) - float(F.cross_entropy(logits, codes))
        got, err = t.call(mi_lower_bound, logits.clone(), codes.clone())
        if err is not None:
            return
        if got is not None and close(float(got), -float(F.cross_entropy(logits, codes)), rtol=1e-5):
            t.require(False, "E log Q(c | x) is only half of the bound: add the entropy of the code, H(c) = log K")
        else:
            t.require(got is not None and close(float(got), want, rtol=1e-5, atol=1e-6),
                      "L_I = log K + mean over the batch of log softmax(q)[c]; use log-softmax on the logits")
    codes = torch.tensor([0, 1, 2, 3])
    got, _ = t.call(mi_lower_bound, torch.zeros(4, 4), codes)
    t.require(got is not None and close(float(got), 0.0, atol=1e-6),
              "a Q that guesses uniformly learns nothing about c: the bound is 0")
    got, _ = t.call(mi_lower_bound, 100 * F.one_hot(codes, 4).float(), codes)
    t.require(got is not None and close(float(got), math.log(4), atol=1e-5) and math.isfinite(float(got)),
              "a Q that is sure and right reaches the maximum, H(c) = log K (and stays finite with huge logits)")


@exercise("16.1", "BiGAN's joint discriminator", points=5, difficulty="core", kind="build")
def ex16_joint_discriminator(t, joint_discriminator):
    """The build exercise of notebook 16, used by its BiGAN run (Donahue et al. 2017):
    ``joint_discriminator(image_size, z_dim, width, hidden)`` builds an ``nn.Module`` whose
    ``forward(x, z)`` maps images (N, 1, S, S) and codes (N, z_dim) to one logit per pair (N,): x
    through ``bigan.image_trunk(image_size, width)`` (flattened), z through two linear layers of
    ``hidden`` units with LeakyReLU(0.2) after each, the two concatenated and read by a joint MLP
    (one hidden layer of ``hidden`` units, LeakyReLU(0.2), then one output)."""
    with torch.random.fork_rng():
        torch.manual_seed(16)
        D, err = t.call(joint_discriminator, 16, 8, 8, 32, what="joint_discriminator(16, 8, 8, 32)")
    if err is not None:
        return
    if not t.require(isinstance(D, torch.nn.Module), "joint_discriminator(...) should return an nn.Module "
                                                     "(an instance of your class)"):
        return
    ref = JointDiscriminator(16, 8, 8, 32)
    n_params, n_ref = sum(p.numel() for p in D.parameters()), sum(p.numel() for p in ref.parameters())
    t.require(n_params == n_ref, f"your D has {n_params} parameters, the reference {n_ref}: the image trunk, a z "
                                 "branch of two linear layers (z_dim -> hidden -> hidden) and a joint MLP "
                                 "(trunk features + hidden -> hidden -> 1)")
    D.eval()
    g = torch.Generator().manual_seed(161)
    x, x2 = torch.randn(5, 1, 16, 16, generator=g), torch.randn(5, 1, 16, 16, generator=g)
    z, z2 = torch.randn(5, 8, generator=g), torch.randn(5, 8, generator=g)
    out, err = t.call(D, x, z, what="your D")
    if err is not None:
        return
    if not t.require(isinstance(out, torch.Tensor) and tuple(out.shape) == (5,),
                     "D(x, z) should return one logit per pair, shape (N,): reshape the joint output"):
        return
    with torch.no_grad():
        a, b, c = t.call(D, x2, z)[0], t.call(D, x, z2)[0], t.call(D, x2, z2)[0]
    if a is None or b is None or c is None:
        return
    out = out.detach()
    t.require(not close(a, out, atol=1e-6), "D's verdict should depend on the image x")
    t.require(not close(b, out, atol=1e-6), "D's verdict should depend on the code z: BiGAN's D judges pairs")
    t.require(not close(out - a, b - c, atol=1e-5),
              "D must judge the pair jointly: concatenate the image's features and z's and read them with one "
              "MLP; a score of x plus a score of z cannot tell whether z belongs to x")
    D.train()
    out, _ = t.call(D, x, z)
    if isinstance(out, torch.Tensor) and out.requires_grad:
        out.sum().backward()
        t.require(all(p.grad is not None for p in D.parameters()), "every parameter should receive a gradient")
    else:
        t.require(False, "D's output should be differentiable with respect to its parameters")


@exercise("16.2", "what InfoGAN's information term does, measured", points=3, difficulty="core", kind="variant")
def ex16_information_off(t, answer, G_with, cfg_with, G_without, cfg_without, n_noise=100):
    """The variant exercise of notebook 16: InfoGAN trained with λ_cat = 1 and with λ_cat = 0 (no
    categorical information term), the same length; ``answer`` = {"agreement_with": ...,
    "agreement_without": ..., "lower": "with" or "without"}: the code-digit agreement after matching
    (``infogan.evaluate(G, cfg, n_noise=n_noise)["code_class_agreement"]``). The check measures both."""
    clf = digit_classifier()

    def agreement(G, cfg):
        return infogan.evaluate(G, cfg, clf, n_noise=n_noise)["code_class_agreement"]

    check_variant(t, answer, {"agreement_with": lambda: agreement(G_with, cfg_with),
                              "agreement_without": lambda: agreement(G_without, cfg_without)},
                  how="that generator's code-digit agreement: infogan.evaluate(G, cfg, classifier, "
                      "n_noise=N_EVAL)['code_class_agreement']",
                  lower="has the lower agreement", atol=1e-4, fraction=True)
