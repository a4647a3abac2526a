"""Checks for notebook 03 (divergences and distances)."""
from __future__ import annotations

import numpy as np
import scipy.stats

from ._core import close, exercise


def _random_pair(rng, n, zeros=False):
    p = rng.random(n)
    q = rng.random(n)
    if zeros:
        p[rng.integers(n)] = 0.0
        q[rng.integers(n)] = 0.0
    return p / p.sum(), q / q.sum()


@exercise("03.1", "total variation", points=2, difficulty="warm-up")
def ex03_tv(t, my_tv):
    rng = np.random.default_rng(0)
    for _ in range(3):
        p, q = _random_pair(rng, 7)
        got, err = t.call(my_tv, p.copy(), q.copy())
        if err is not None:
            return
        t.require(close(float(got), 0.5 * np.abs(p - q).sum()),
                  "TV is the largest difference in probability of an event: half the L1 distance")
    got, _ = t.call(my_tv, np.array([1.0, 0.0]), np.array([0.0, 1.0]))
    t.require(got is not None and close(float(got), 1.0), "disjoint supports should give TV = 1, its maximum")


@exercise("03.2", "KL divergence with its conventions", points=3, difficulty="core")
def ex03_kl(t, my_kl):
    rng = np.random.default_rng(1)
    for _ in range(3):
        p, q = _random_pair(rng, 6)
        got, err = t.call(my_kl, p.copy(), q.copy())
        if err is not None:
            return
        t.require(close(float(got), scipy.stats.entropy(p, q)), "KL(p||q) = sum p log(p/q), natural log")
    p = np.array([0.5, 0.5, 0.0])
    q = np.array([0.25, 0.25, 0.5])
    got, _ = t.call(my_kl, p, q)
    t.require(got is not None and np.isfinite(float(got)) and close(float(got), np.log(2)),
              "terms with p_i = 0 contribute 0 (0 log 0 = 0): no nan")
    got, _ = t.call(my_kl, q, p)
    t.require(got is not None and float(got) == float("inf"),
              "KL(p||q) is infinite when q_i = 0 for some p_i > 0: return float('inf')")


@exercise("03.3", "W1 of two equal-size samples by sorting", points=2, difficulty="core")
def ex03_w1_sorted(t, w1_sorted):
    rng = np.random.default_rng(2)
    for n in (1, 5, 200):
        x = rng.normal(size=n)
        y = rng.normal(1.0, 2.0, size=n)
        got, err = t.call(w1_sorted, x.copy(), y.copy())
        if err is not None:
            return
        t.require(close(float(got), scipy.stats.wasserstein_distance(x, y), rtol=1e-6),
                  "in 1-D the optimal transport matches the k-th smallest x with the k-th smallest y")
    got, _ = t.call(w1_sorted, np.array([0.0, 1.0]), np.array([1.0, 0.0]))
    t.require(got is not None and close(float(got), 0.0), "the same points in another order are distance 0 apart")


@exercise("03.4", "the marginal constraints of the transport LP", points=3, difficulty="challenge")
def ex03_marginals(t, marginal_constraints):
    """``marginal_constraints(n, m)`` -> A of shape (n + m, n*m) with A @ plan.ravel() = [row sums; column sums]."""
    rng = np.random.default_rng(3)
    for n, m in ((2, 3), (4, 4), (5, 1)):
        got, err = t.call(marginal_constraints, n, m)
        if err is not None:
            return
        a = np.asarray(got, dtype=float)
        t.require(a.shape == (n + m, n * m), f"for n={n}, m={m} the matrix should have shape {(n + m, n * m)}")
        if a.shape != (n + m, n * m):
            return
        plan = rng.random((n, m))
        t.require(close(a @ plan.ravel(), np.concatenate([plan.sum(1), plan.sum(0)])),
                  "the first n rows should give the row sums of the plan (flattened row by row), the last m the column sums")
