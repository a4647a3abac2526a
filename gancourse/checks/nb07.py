"""Checks for notebook 07 (Wasserstein GAN)."""
from __future__ import annotations

import numpy as np
import scipy.stats
import torch
from torch import nn

from ..models.wgan import clipped_critic_step
from ._core import check_variant, close, exercise


def _net(seed: int, scale: float = 1.0) -> nn.Sequential:
    with torch.random.fork_rng():          # the student's random state is left alone
        torch.manual_seed(seed)
        net = nn.Sequential(nn.Linear(2, 6), nn.ReLU(), nn.Linear(6, 1))
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(scale)
    return net


@exercise("07.1", "WGAN's critic step", points=5, difficulty="core", kind="build")
def ex07_critic_step(t, critic_step):
    """The build exercise of notebook 07, used by its WGAN run (Arjovsky et al. 2017, Algorithm 1,
    lines 3-7): ``critic_step(D, opt_D, real, fake, clip) -> estimate``: the critic ascends
    E f(real) − E f(fake) (one optimiser step on its negative, gradients cleared first), then every
    parameter, weights and biases, is clipped to [−clip, clip] in place. Returns the estimate."""
    g = torch.Generator().manual_seed(71)
    real, fake = torch.randn(16, 2, generator=g) + 1.0, torch.randn(16, 2, generator=g)
    for c, scale in ((0.01, 3.0), (0.5, 0.3)):
        results = {}
        for who, fn in (("yours", critic_step), ("reference", clipped_critic_step)):
            net = _net(3, scale=scale)
            opt = torch.optim.RMSprop(net.parameters(), lr=0.05)
            ids = [p.data_ptr() for p in net.parameters()]
            out = None
            for _ in range(2):            # two steps: gradients left over from the first show
                out, err = t.call(fn, net, opt, real.clone(), fake.clone(), c, what="critic_step")
                if err is not None:
                    return
            results[who] = (net, out, ids)
        net, out, ids = results["yours"]
        ref, ref_out, _ = results["reference"]
        t.require([p.data_ptr() for p in net.parameters()] == ids,
                  "clip the parameters in place (p.clamp_ under torch.no_grad()): the optimiser keeps references "
                  "to these very tensors")
        if not t.require(all(float(p.detach().abs().max()) <= c * (1 + 1e-6) for p in net.parameters()),
                         f"after the step every weight and bias should lie in [-c, c] (c = {c}): clip after the "
                         "optimiser's step"):
            continue
        same = all(close(p, q, atol=1e-6) for p, q in zip(net.parameters(), ref.parameters()))
        if not same:
            # the most common slip: descending E f(real) - E f(fake) instead of ascending it
            wrong = _net(3, scale=scale)
            opt = torch.optim.RMSprop(wrong.parameters(), lr=0.05)
            for _ in range(2):
                loss = wrong(real).mean() - wrong(fake).mean()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                with torch.no_grad():
                    for p in wrong.parameters():
                        p.clamp_(-c, c)
            if all(close(p, q, atol=1e-6) for p, q in zip(net.parameters(), wrong.parameters())):
                t.require(False, "the critic moved the wrong way: it ascends E f(real) - E f(fake), so the "
                                 "optimiser descends E f(fake) - E f(real)")
            else:
                t.require(False, "after your steps the critic's weights differ from Algorithm 1's: clear the "
                                 "gradients before each backward pass, step on the negative of E f(real) - "
                                 "E f(fake), then clip")
        else:
            t.require(True, "")
        ok = isinstance(out, torch.Tensor) and out.ndim == 0
        if t.require(ok, "return the estimate E f(real) - E f(fake) as a scalar tensor"):
            t.require(close(float(out.detach()), float(ref_out), rtol=1e-5, atol=1e-9),
                      "the returned estimate is E f(real) - E f(fake), computed before the step")


@exercise("07.3", "an empirical Lipschitz constant", points=3, difficulty="core")
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


@exercise("07.4", "the optimal 1-D critic", points=4, difficulty="challenge")
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


def _share_at_bound(D: nn.Module, c: float) -> float:
    with torch.no_grad():
        flat = torch.cat([p.detach().flatten() for p in D.parameters()])
    return float((flat.abs() >= c * (1 - 1e-6)).float().mean())


@exercise("07.2", "what the clipping constant does, measured", points=3, difficulty="core", kind="variant")
def ex07_clip_constant(t, answer, critic_small, critic_large):
    """The variant exercise of notebook 07: WGAN on the ring with c = 0.01 and with c = 0.1, the same
    length; ``answer`` = {"share_small": ..., "share_large": ..., "lower": "small" or "large"}: the
    share of the critic's parameters at ±c after training (fractions). The check measures both."""
    check_variant(t, answer, {"share_small": lambda: _share_at_bound(critic_small, 0.01),
                              "share_large": lambda: _share_at_bound(critic_large, 0.1)},
                  how="the share of that critic's parameters at ±c (|w| >= c, weights and biases together)",
                  lower="has the lower share at the bound", atol=1e-4, fraction=True)
