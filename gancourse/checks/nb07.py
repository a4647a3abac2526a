"""Checks for notebook 07 (Wasserstein GAN)."""
from __future__ import annotations

import numpy as np
import scipy.stats
import torch
from torch import nn

from ._core import close, exercise


def _net(seed: int, scale: float = 1.0) -> nn.Sequential:
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(2, 6), nn.ReLU(), nn.Linear(6, 1))
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(scale)
    return net


@exercise("07.1", "weight clipping", points=2, difficulty="warm-up")
def ex07_clip(t, clip_):
    """``clip_(net, c)`` clamps every parameter of ``net`` to [-c, c], in place."""
    for seed, c in ((0, 0.01), (1, 0.3), (2, 5.0)):
        net = _net(seed, scale=3.0)
        before = [p.detach().clone() for p in net.parameters()]
        ids = [p.data_ptr() for p in net.parameters()]
        _, err = t.call(clip_, net, c)
        if err is not None:
            return
        after = list(net.parameters())
        t.require([p.data_ptr() for p in after] == ids,
                  "clip the parameters in place (p.data.clamp_ or p.clamp_ under torch.no_grad()); "
                  "the optimiser keeps references to these very tensors")
        t.require(all(float(p.detach().abs().max()) <= c + 1e-7 for p in after),
                  f"after clipping with c = {c} every weight and bias should lie in [-c, c]")
        t.require(all(close(torch.where(b.abs() <= c, b, a.detach()), a.detach()) for a, b in zip(after, before)),
                  "values already inside [-c, c] must stay unchanged; values outside go to the nearest bound")


@exercise("07.2", "an empirical Lipschitz constant", points=3, difficulty="core")
def ex07_lipschitz(t, lipschitz_lower_bound):
    """``lipschitz_lower_bound(f, points)``: max over pairs of |f(a) - f(b)| / ||a - b||."""
    rng = np.random.default_rng(7)

    def reference(f, pts):
        vals = f(pts).detach().double().reshape(-1).numpy()
        p = pts.double().numpy()
        best = 0.0
        for i in range(len(p)):
            for j in range(len(p)):
                d = np.linalg.norm(p[i] - p[j])
                if d > 0:
                    best = max(best, abs(vals[i] - vals[j]) / d)
        return best

    w = torch.tensor([0.6, -0.8])
    cases = [
        ("linear", lambda x: x @ w, torch.tensor(rng.normal(size=(30, 2)), dtype=torch.float32)),
        ("norm", lambda x: x.norm(dim=1), torch.tensor(rng.normal(size=(25, 2)), dtype=torch.float32)),
        ("network", lambda x: _net(3)(x).squeeze(-1), torch.tensor(rng.normal(size=(40, 2)), dtype=torch.float32)),
    ]
    for name, f, pts in cases:
        got, err = t.call(lipschitz_lower_bound, f, pts.clone())
        if err is not None:
            return
        t.require(close(float(got), reference(f, pts), rtol=1e-4),
                  "take the largest ratio |f(a) - f(b)| / ||a - b|| over all pairs of distinct points "
                  "(Euclidean distance between whole points, not per coordinate)")
    pts = torch.tensor([[0.0, 0.0], [0.0, 0.0], [3.0, 4.0]])
    got, _ = t.call(lipschitz_lower_bound, lambda x: x @ w, pts)
    t.require(got is not None and np.isfinite(float(got)) and close(float(got), abs(w @ pts[2]).item() / 5.0),
              "pairs at distance 0 (repeated points, including a point with itself) must be skipped, "
              "not divided by zero")


@exercise("07.3", "the optimal 1-D critic", points=4, difficulty="challenge")
def ex07_optimal_critic(t, optimal_critic_1d):
    """``optimal_critic_1d(x, y, t)``: values at t of a 1-Lipschitz f maximising mean f(x) - mean f(y)."""
    rng = np.random.default_rng(11)
    cases = [(rng.normal(size=50), rng.normal(1.5, 0.5, size=50)),
             (rng.exponential(size=40), rng.normal(size=70)),
             (np.array([0.0, 2.0]), np.array([1.0]))]
    for x, y in cases:
        pts = np.concatenate([x, y])
        got, err = t.call(optimal_critic_1d, x.copy(), y.copy(), pts.copy())
        if err is not None:
            return
        f = np.asarray(got, dtype=float).reshape(-1)
        if f.shape != pts.shape:
            t.require(False, f"return one value per point of t: expected shape {pts.shape}, got {f.shape}")
            return
        order = np.argsort(pts)
        gaps = np.diff(pts[order])
        slopes = np.abs(np.diff(f[order]))[gaps > 0] / gaps[gaps > 0]
        t.require(slopes.size == 0 or slopes.max() <= 1 + 1e-6,
                  "the critic must be 1-Lipschitz: |f(a) - f(b)| <= |a - b| for all points")
        objective = f[: len(x)].mean() - f[len(x):].mean()
        t.require(close(objective, scipy.stats.wasserstein_distance(x, y), rtol=1e-6, atol=1e-9),
                  "mean f(x) - mean f(y) should equal W1(x, y): the slope at s should be the sign of "
                  "F_y(s) - F_x(s) (integrate by parts: E f(X) - E f(Y) = integral of f'(s) (F_Y(s) - F_X(s)) ds)")
    same = rng.normal(size=20)
    got, _ = t.call(optimal_critic_1d, same, same.copy(), same.copy())
    t.require(got is not None and close(np.ptp(np.asarray(got, dtype=float)), 0.0, atol=1e-9),
              "for identical samples the CDFs agree everywhere, so the critic is flat (W1 = 0)")
