"""Checks for notebook 01 (the minimax game)."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ._core import close, exercise


@exercise("01.2", "Monte Carlo estimate of V(D, G)", points=2, difficulty="warm-up")
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


@exercise("01.3", "gradients of the two generator losses", points=3, difficulty="core")
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


@exercise("01.1", "the GAN's three losses, on logits", points=4, difficulty="core", kind="build")
def ex01_gan_losses(t, d_loss, g_loss_minimax, g_loss_nonsaturating):
    """The build exercise of notebook 01, used by its training runs: on D's logits l (D = σ(l)),
    ``d_loss(real, fake)`` = mean -log σ(l_real) + mean -log(1 - σ(l_fake)) (minus V(D, G)),
    ``g_loss_minimax(fake)`` = mean log(1 - σ(l)) and ``g_loss_nonsaturating(fake)`` = mean -log σ(l),
    finite and with the right gradient for every logit."""
    real = torch.tensor([-200.0, -3.0, 0.0, 1.5, 40.0])          # float32, as in training
    fake = torch.tensor([-60.0, -2.0, 0.5, 3.0, 250.0, -0.1])
    ref = {"d_loss": F.softplus(-real).mean() + F.softplus(fake).mean(),
           "g_loss_minimax": -F.softplus(fake).mean(), "g_loss_nonsaturating": F.softplus(-fake).mean()}
    hints = {
        "d_loss": "d_loss should be the mean of -log D(x) over the real logits plus the mean of "
                  "-log(1 - D(G(z))) over the fake ones (two batches, two means), the negative of V(D, G)",
        "g_loss_minimax": "g_loss_minimax is the generator's side of V: the mean of log(1 - D(G(z))), which G "
                          "minimises (its value is negative)",
        "g_loss_nonsaturating": "g_loss_nonsaturating is the mean of -log D(G(z)), which G minimises (its value "
                                "is positive)",
    }
    fns = {"d_loss": d_loss, "g_loss_minimax": g_loss_minimax, "g_loss_nonsaturating": g_loss_nonsaturating}
    for name, fn in fns.items():
        args = (real.clone(), fake.clone()) if name == "d_loss" else (fake.clone(),)
        got, err = t.call(fn, *args, what=name)
        if err is not None:
            continue
        if not t.require(isinstance(got, torch.Tensor) and got.ndim == 0,
                         f"{name} should return a scalar tensor (a mean over the batch)"):
            continue
        if not t.require(bool(torch.isfinite(got)),
                         f"{name} is inf or nan for logits such as -200 or 250: the log of a sigmoid that "
                         "rounds to 0 or 1; rewrite the log-sigmoids with a function that never forms the sigmoid"):
            continue
        t.require(close(got.double(), ref[name], rtol=1e-5, atol=1e-6), hints[name])
        leaves = [a.clone().requires_grad_(True) for a in args]
        out, _ = t.call(fn, *leaves, what=name)
        if isinstance(out, torch.Tensor) and out.requires_grad:
            grads = torch.autograd.grad(out, leaves)
            want = _reference_grads(name, args)
            t.require(all(bool(torch.isfinite(g).all()) and close(g, w, atol=1e-6) for g, w in zip(grads, want)),
                      f"{name}: its gradient with respect to the logits is wrong or not finite at the extreme "
                      "logits (compute it from torch operations on the logits, without a sigmoid in between)")
        else:
            t.require(False, f"{name} should be differentiable: build it from torch operations on the logits")
    a, _ = t.call(d_loss, torch.zeros(4), torch.zeros(9), what="d_loss")
    t.require(isinstance(a, torch.Tensor) and close(a, 2 * math.log(2), rtol=1e-6),
              "with D = 1/2 on everything, d_loss should be log 4 (the two batches can differ in size)")


def _reference(name, *args):
    if name == "d_loss":
        return F.softplus(-args[0]).mean() + F.softplus(args[1]).mean()
    if name == "g_loss_minimax":
        return -F.softplus(args[0]).mean()
    return F.softplus(-args[0]).mean()


def _reference_grads(name, args):
    leaves = [a.clone().requires_grad_(True) for a in args]
    return torch.autograd.grad(_reference(name, *leaves), leaves)
