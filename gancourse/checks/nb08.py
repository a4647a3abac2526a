"""Checks for notebook 08 (WGAN-GP and spectral normalisation)."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ._core import close, exercise


@exercise("08.1", "the largest singular value by power iteration", points=2, difficulty="warm-up")
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


@exercise("08.2", "the gradient penalty", points=3, difficulty="core")
def ex08_gradient_penalty(t, gradient_penalty):
    """``gradient_penalty(critic, real, fake, eps)``: mean over samples of (||grad f(x_hat)|| - 1)^2,
    x_hat = eps * real + (1 - eps) * fake, eps of shape (N, 1) (points) or (N, 1, 1, 1) (images)."""
    torch.manual_seed(0)
    nets = {
        "points": (nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 1)), (12, 2)),
        "images": (nn.Sequential(nn.Conv2d(1, 4, 3), nn.Tanh(), nn.Flatten(), nn.Linear(4 * 4 * 4, 1)), (5, 1, 6, 6)),
    }
    for kind, (net, shape) in nets.items():
        real, fake = torch.randn(*shape), torch.randn(*shape) + 0.5
        eps = torch.rand(shape[0], *([1] * (len(shape) - 1)))
        expected = []
        for i in range(shape[0]):  # one sample at a time, independently of any batching
            x = (eps[i] * real[i] + (1 - eps[i]) * fake[i]).unsqueeze(0).requires_grad_(True)
            (g,) = torch.autograd.grad(net(x).sum(), x)
            expected.append((g.norm() - 1) ** 2)
        expected = torch.stack(expected).mean().item()
        got, err = t.call(gradient_penalty, net, real.clone(), fake.clone(), eps.clone())
        if err is not None:
            return
        t.require(isinstance(got, torch.Tensor) and got.requires_grad,
                  "return a tensor that keeps its graph (autograd.grad(..., create_graph=True)), "
                  "so that the penalty can train the critic")
        t.require(close(torch.as_tensor(got).detach().reshape(()), expected, rtol=1e-5),
                  f"for {kind}: differentiate with respect to the interpolates x_hat, take the norm of each "
                  "sample's whole gradient (flatten all but the batch dimension), subtract 1, square, average")
    w = torch.tensor([[0.6, 0.8]])
    unit = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        unit.weight.copy_(w)
    got, _ = t.call(gradient_penalty, unit, torch.randn(7, 2), torch.randn(7, 2), torch.rand(7, 1))
    t.require(got is not None and close(torch.as_tensor(got).detach().reshape(()), 0.0, atol=1e-10),
              "a linear critic with a unit-norm weight has gradient norm 1 everywhere: its penalty is 0")


@exercise("08.3", "an exponential moving average of weights", points=2, difficulty="core")
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
