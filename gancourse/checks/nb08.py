"""Checks for notebook 08 (WGAN-GP and spectral normalisation)."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..models.wgan import gp_critic_loss
from ._core import check_variant, close, exercise


@exercise("08.3", "the largest singular value by power iteration", points=2, difficulty="warm-up")
def ex08_power_iteration(t, sigma_max):
    """``sigma_max(W, n_iter)``: σ(W) estimated by n_iter power iterations from a random start."""
    g = torch.Generator().manual_seed(8)
    for shape in ((6, 4), (3, 9), (40, 40)):
        w = torch.randn(*shape, generator=g, dtype=torch.float64)
        exact = torch.linalg.matrix_norm(w, ord=2).item()
        got, err = t.call(sigma_max, w.clone(), 300)
        if err is not None:
            return
        t.require(close(float(got), exact, rtol=1e-4),
                  "alternate v <- W^T u / ||W^T u|| and u <- W v / ||W v||, then sigma = u^T W v "
                  "(the largest singular value, not an eigenvalue of W)")
    # singular values 5, 1, 1: a few iterations already give 5; never above it
    q, _ = torch.linalg.qr(torch.randn(3, 3, generator=g, dtype=torch.float64))
    w = q @ torch.diag(torch.tensor([5.0, 1.0, 1.0], dtype=torch.float64)) @ q.T
    got, _ = t.call(sigma_max, w, 1)
    t.require(got is not None and float(got) <= 5.0 + 1e-9,
              "the estimate u^T W v with unit u, v can never exceed the largest singular value")
    got, _ = t.call(sigma_max, -3.0 * torch.eye(2, dtype=torch.float64), 5)
    t.require(got is not None and close(float(got), 3.0, rtol=1e-6),
              "singular values are non-negative: for W = -3 I the answer is 3")


def _gp_nets(seed=0):
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return {
            "points": (nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 1)), (12, 2)),
            "images": (nn.Sequential(nn.Conv2d(1, 4, 3), nn.Tanh(), nn.Flatten(), nn.Linear(4 * 4 * 4, 1)), (5, 1, 6, 6)),
        }


@exercise("08.1", "WGAN-GP's critic loss", points=5, difficulty="core", kind="build")
def ex08_gp_critic_loss(t, critic_loss):
    """The build exercise of notebook 08, used by its WGAN-GP runs (Gulrajani et al. 2017, Eq. 3 and
    Algorithm 1): ``critic_loss(D, real, fake, gp_weight) -> (loss, penalty)`` with loss = E D(fake) −
    E D(real) + λ·penalty, penalty = E(‖∇_x̂ D(x̂)‖₂ − 1)² at x̂ = ε·real + (1 − ε)·fake, one ε ~ U[0, 1] per
    sample (``torch.rand`` of shape (N, 1, ...)), the gradient taken with respect to x̂ with its graph kept."""
    g = torch.Generator().manual_seed(81)
    for kind in ("points", "images"):
        for gp_weight in (10.0, 0.1):
            shape = _gp_nets()[kind][1]
            real, fake = torch.randn(*shape, generator=g), torch.randn(*shape, generator=g) + 0.5
            D, _ = _gp_nets()[kind]
            RD, _ = _gp_nets()[kind]
            torch.manual_seed(5)
            got, err = t.call(critic_loss, D, real.clone(), fake.clone(), gp_weight, what="critic_loss")
            if err is not None:
                return
            torch.manual_seed(5)
            ref_loss, ref_gp = gp_critic_loss(RD, real.clone(), fake.clone(), gp_weight)
            ok = (isinstance(got, (tuple, list)) and len(got) == 2
                  and all(isinstance(v, torch.Tensor) and v.numel() == 1 for v in got))
            if not t.require(ok, "return (loss, penalty): two scalar tensors, the penalty unweighted"):
                return
            loss, gp = (v.reshape(()) for v in got)
            if not close(float(gp.detach()), float(ref_gp.detach()), rtol=1e-4):
                torch.manual_seed(5)
                eps = torch.rand(real.shape)                   # one ε per *element*: a common slip
                x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
                (grad,) = torch.autograd.grad(RD(x_hat).sum(), x_hat)
                per_element = float(((grad.flatten(1).norm(dim=1) - 1) ** 2).mean())
                if close(float(gp.detach()), per_element, rtol=1e-4):
                    t.require(False, "draw one ε per sample, shaped (N, 1) for points and (N, 1, 1, 1) for images, "
                                     "not one per coordinate: x̂ must lie on the segment between a real and a fake sample")
                else:
                    t.require(False, f"for {kind}: the penalty is the mean over samples of (‖∇D(x̂)‖ − 1)², the "
                                     "gradient of D's scores with respect to the interpolates x̂ (not the weights), "
                                     "each sample's whole gradient flattened into one vector")
                continue
            t.require(True, "")
            with torch.no_grad():
                wasserstein = float(RD(fake).mean() - RD(real).mean())
            if close(float(loss.detach()), -wasserstein + gp_weight * float(ref_gp.detach()), rtol=1e-4):
                t.require(False, "the critic's Wasserstein term has the wrong sign: the critic minimises "
                                 "E D(fake) − E D(real)")
            else:
                t.require(close(float(loss.detach()), float(ref_loss.detach()), rtol=1e-4),
                          "loss = E D(fake) − E D(real) + gp_weight · penalty")
            if not t.require(loss.requires_grad, "the loss must be differentiable with respect to the critic"):
                continue
            loss.backward()
            ref_loss.backward()
            t.require(all(p.grad is not None and close(p.grad, q.grad, rtol=1e-3, atol=1e-6)
                          for p, q in zip(D.parameters(), RD.parameters())),
                      "the penalty does not train the critic: keep the graph of the gradient "
                      "(torch.autograd.grad(..., create_graph=True)) so that the penalty can be back-propagated")


@exercise("08.4", "an exponential moving average of weights", points=2, difficulty="core")
def ex08_ema(t, ema_update):
    """``ema_update(avg, net, beta)``: in place, every parameter of avg <- beta * avg + (1 - beta) * net's."""
    torch.manual_seed(1)
    net, avg = nn.Linear(3, 2), nn.Linear(3, 2)
    before = [p.detach().clone() for p in avg.parameters()]
    ids = [p.data_ptr() for p in avg.parameters()]
    _, err = t.call(ema_update, avg, net, 0.9)
    if err is not None:
        return
    for a, b, p in zip(avg.parameters(), before, net.parameters()):
        t.require(close(a, 0.9 * b + 0.1 * p.detach(), rtol=1e-6, atol=1e-7),
                  "each averaged parameter moves a fraction (1 - beta) of the way towards the network's")
    t.require([p.data_ptr() for p in avg.parameters()] == ids, "update the averaged network in place")
    t.require(not any(p.grad is not None for p in net.parameters()),
              "the average is bookkeeping: do it under torch.no_grad(), without touching gradients")
    same = [p.detach().clone() for p in avg.parameters()]
    _, _ = t.call(ema_update, avg, net, 1.0)
    t.require(all(close(a, b) for a, b in zip(avg.parameters(), same)), "beta = 1 must leave the average unchanged")
    values = np.array([0.0, 1.0, 1.0, 3.0])
    lin, ave = nn.Linear(1, 1, bias=False), nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        ave.weight.fill_(values[0])
    for v in values[1:]:
        with torch.no_grad():
            lin.weight.fill_(v)
        t.call(ema_update, ave, lin, 0.5)
    t.require(close(ave.weight.item(), 1.875), "three updates with beta = 1/2 from 0 towards 1, 1, 3 give 1.875")


@exercise("08.2", "what the penalty does, measured", points=3, difficulty="core", kind="variant")
def ex08_penalty_off(t, answer, critic_with, critic_without, probe):
    """The variant exercise of notebook 08: WGAN-GP on the grid with λ = 0.1 and with λ = 0, the same
    length; ``answer`` = {"slope_with": ..., "slope_without": ..., "lower": "with" or "without"}: the
    mean gradient norm ‖∇D(x)‖ of each critic over the ``probe`` points. The check measures both."""
    def mean_slope(D):
        x = probe.detach().clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(D(x).sum(), x)
        return float(grad.flatten(1).norm(dim=1).mean())

    check_variant(t, answer, {"slope_with": lambda: mean_slope(critic_with),
                              "slope_without": lambda: mean_slope(critic_without)},
                  how="that critic's mean gradient norm over the probe points: the gradient of D's summed scores "
                      "with respect to the points, one norm per point, averaged",
                  lower="has the lower mean slope", rtol=1e-3)
