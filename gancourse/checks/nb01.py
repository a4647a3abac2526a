"""Checks for notebook 01 (the minimax game)."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ._core import close, exercise


@exercise("01.1", "Monte Carlo estimate of V(D, G)", points=2, difficulty="warm-up")
def ex01_value(t, value_fn):
    """``value_fn(d_real, d_fake)``: probabilities D(x), D(G(z)) -> mean log D(x) + mean log(1 - D(G(z)))."""
    d_real = torch.tensor([0.9, 0.8, 0.6, 0.95])
    d_fake = torch.tensor([0.1, 0.3, 0.2])
    got, err = t.call(value_fn, d_real, d_fake)
    if err is not None:
        return
    expected = sum(math.log(v) for v in d_real.tolist()) / 4 + sum(math.log(1 - v) for v in d_fake.tolist()) / 3
    t.require(close(float(got), expected, rtol=1e-4),
              "average log D over the real batch and log(1 - D) over the fake batch separately, then add "
              "(the two batches may have different sizes)")
    half, _ = t.call(value_fn, torch.full((5,), 0.5), torch.full((7,), 0.5))
    t.require(half is not None and close(float(half), -math.log(4), rtol=1e-4),
              "with D = 1/2 everywhere the value should be -log 4")
    got2, _ = t.call(value_fn, torch.tensor([0.99]), torch.tensor([0.01]))
    t.require(got2 is not None and float(got2) > -0.03, "a confident, correct D should give a value close to 0")


@exercise("01.2", "gradients of the two generator losses", points=3, difficulty="core")
def ex01_gradients(t, grad_saturating, grad_nonsaturating):
    """d/dl of log(1 - σ(l)) and of -log σ(l), as functions of the logit tensor l."""
    logits = torch.tensor([-8.0, -2.0, 0.0, 1.5, 6.0], dtype=torch.float64)
    l = logits.clone().requires_grad_(True)
    (g_sat,) = torch.autograd.grad(-F.softplus(l).sum(), l)
    l2 = logits.clone().requires_grad_(True)
    (g_ns,) = torch.autograd.grad(F.softplus(-l2).sum(), l2)
    a, err = t.call(grad_saturating, logits.clone(), what="grad_saturating")
    if err is None:
        t.require(close(a, g_sat, atol=1e-6),
                  "grad_saturating: differentiate log(1 - sigmoid(l)) with respect to l; use sigma'(l) = sigma(l)(1 - sigma(l))")
    b, err = t.call(grad_nonsaturating, logits.clone(), what="grad_nonsaturating")
    if err is None:
        t.require(close(b, g_ns, atol=1e-6),
                  "grad_nonsaturating: differentiate -log sigmoid(l) with respect to l")
    if a is not None and b is not None and isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        t.require(abs(float(a[0])) < 1e-3 < abs(float(b[0])),
                  "at l = -8 (D sure the sample is fake) the saturating gradient should be tiny and the other not")


@exercise("01.3", "a numerically stable non-saturating loss", points=3, difficulty="core")
def ex01_stable_loss(t, ns_loss):
    """``ns_loss(fake_logits)`` = mean of -log σ(l), finite for any logit."""
    logits = torch.tensor([-200.0, -30.0, -1.0, 0.0, 2.0, 40.0])
    got, err = t.call(ns_loss, logits.clone())
    if err is not None:
        return
    t.require(isinstance(got, torch.Tensor) and got.ndim == 0, "return a scalar tensor (the mean over the batch)")
    if not isinstance(got, torch.Tensor):
        return
    t.require(bool(torch.isfinite(got)),
              "the loss is inf/nan for logit -200: log(sigmoid(-200)) underflows; rewrite -log(sigmoid(l)) with softplus")
    expected = F.softplus(-logits.double()).mean()
    t.require(close(got.double(), expected, rtol=1e-4), "the value should be the mean of -log sigmoid(l)")
    l = logits.clone().requires_grad_(True)
    out, _ = t.call(ns_loss, l)
    if isinstance(out, torch.Tensor) and out.requires_grad:
        (g,) = torch.autograd.grad(out, l)
        t.require(bool(torch.isfinite(g).all()) and close(g, -(1 - torch.sigmoid(logits)) / len(logits), atol=1e-6),
                  "the gradient should be finite everywhere and equal -(1 - sigmoid(l)) / batch size")
    else:
        t.require(False, "the loss should be differentiable: build it from torch operations on the logits")
