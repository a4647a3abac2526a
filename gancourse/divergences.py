"""Divergences and distances between probability distributions, computed exactly on toy data.

Notebook 03 is built on this module. Names are fixed (notebooks, exercises and users rely on them):

* ``kl(p, q)``, ``js(p, q)``, ``tv(p, q)``: discrete distributions given as probability vectors on
  one common support; natural logarithm; a Python float, ``inf`` where the divergence is infinite.
* ``wasserstein_1d(x, y)``: W1 between two 1-D samples (empirical distributions).
* ``wasserstein_lp(xs, p, ys, q)``: W1 by the primal transport linear program; returns the
  distance and the optimal plan γ.
* ``wasserstein_dual_lp(xs, p, ys, q)``: W1 by the Kantorovich–Rubinstein dual linear program;
  returns the distance and the optimal 1-Lipschitz potential f.
* ``kl_gaussians``, ``w2_gaussians``: closed forms for (multivariate) Gaussians.

Conventions: ``0 · log(0 / q) = 0``; ``p · log(p / 0) = inf`` for ``p > 0``.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy import linalg, optimize

from . import _validate as V

LOG2 = float(np.log(2.0))


# --------------------------------------------------------------------------------------------
# Discrete f-divergences
# --------------------------------------------------------------------------------------------

def _pair(p, q) -> tuple[np.ndarray, np.ndarray]:
    p = V.probability_vector(p, "p")
    q = V.probability_vector(q, "q")
    V.same_length(p, q, "p", "q")
    return p, q


def _kl_terms(p: np.ndarray, q: np.ndarray) -> float:
    """sum_i p_i log(p_i / q_i) with the conventions above (inputs already validated)."""
    support = p > 0
    if np.any(q[support] == 0):
        return float("inf")
    ps, qs = p[support], q[support]
    return float(np.sum(ps * (np.log(ps) - np.log(qs))))


def kl(p, q) -> float:
    r"""Kullback–Leibler divergence :math:`KL(p\|q) = \sum_i p_i \log(p_i / q_i)`.

    ``p``, ``q``: probability vectors of the same length (lists, arrays or tensors). Returns a float
    in [0, inf]; ``inf`` when q puts zero mass where p puts some. Not symmetric:
    ``kl(p, q)`` penalises q for missing p's mass (mode covering), ``kl(q, p)`` penalises q for
    putting mass where p has little (mode seeking).
    """
    p, q = _pair(p, q)
    return max(_kl_terms(p, q), 0.0)


def js(p, q) -> float:
    r"""Jensen–Shannon divergence :math:`JS(p\|q) = \tfrac12 KL(p\|m) + \tfrac12 KL(q\|m)`, ``m = (p+q)/2``.

    Symmetric, always finite, between 0 and log 2 (reached exactly when p and q have disjoint
    supports). This is the divergence the original GAN minimises at the optimal discriminator
    (Goodfellow et al. 2014, Theorem 1: C(G) = -log 4 + 2 JS).
    """
    p, q = _pair(p, q)
    value = 0.5 * _kl_to_mixture(p, q) + 0.5 * _kl_to_mixture(q, p)
    return float(min(max(value, 0.0), LOG2))


def _kl_to_mixture(p: np.ndarray, q: np.ndarray) -> float:
    """KL(p ‖ (p + q)/2) = Σ_i p_i log(2 p_i / (p_i + q_i)), summed where p_i > 0. Written with p + q
    rather than m = (p + q)/2, because halving the smallest subnormal number rounds it to 0, which
    would make m vanish where p does not and the divergence look infinite."""
    support = p > 0
    ps, sums = p[support], p[support] + q[support]
    return float(np.sum(ps * (np.log(ps) - np.log(sums) + LOG2)))


def tv(p, q) -> float:
    r"""Total variation distance :math:`TV(p, q) = \tfrac12 \sum_i |p_i - q_i|` (in [0, 1])."""
    p, q = _pair(p, q)
    return float(min(0.5 * np.abs(p - q).sum(), 1.0))


# --------------------------------------------------------------------------------------------
# Wasserstein-1
# --------------------------------------------------------------------------------------------

def _weights(w, n: int, name: str) -> np.ndarray:
    if w is None:
        return np.full(n, 1.0 / n)
    w = V.probability_vector(w, name)
    if len(w) != n:
        raise ValueError(f"{name}: expected {n} weights (one per sample), got {len(w)}")
    return w


def wasserstein_1d(x, y, x_weights=None, y_weights=None) -> float:
    r"""W1 between two 1-D empirical distributions: :math:`\int |F_x(t) - F_y(t)|\,dt`.

    ``x`` (n,), ``y`` (m,): samples (lists, arrays or tensors). Optional weights make them
    weighted empirical distributions. In one dimension the optimal plan is monotone, so W1 is the
    area between the two cumulative distribution functions; no linear program is needed.
    """
    x = V.as_float_array(x, "x", ndim=1)
    y = V.as_float_array(y, "y", ndim=1)
    for arr, name in ((x, "x"), (y, "y")):
        if arr.size == 0:
            raise ValueError(f"{name}: expected at least one sample, got none")
        if not np.isfinite(arr).all():
            raise ValueError(f"{name}: contains NaN or infinite values")
    wx = _weights(x_weights, len(x), "x_weights")
    wy = _weights(y_weights, len(y), "y_weights")
    points = np.concatenate([x, y])
    order = np.argsort(points, kind="mergesort")
    points = points[order]
    mass = np.concatenate([wx, -wy])[order]
    cdf_gap = np.cumsum(mass)[:-1]  # F_x - F_y on each interval between consecutive points
    return float(np.sum(np.abs(cdf_gap) * np.diff(points)))


def _support(points, name: str) -> np.ndarray:
    arr = V.as_float_array(points, name, ndim=(1, 2))
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.shape[0] == 0:
        raise ValueError(f"{name}: expected at least one support point, got none")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name}: contains NaN or infinite values")
    return arr


def _cost(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Euclidean distances d(x_i, y_j), shape (n, m)."""
    return np.sqrt(((xs[:, None, :] - ys[None, :, :]) ** 2).sum(-1))


def _lp_inputs(xs, p, ys, q):
    xs = _support(xs, "xs")
    ys = _support(ys, "ys")
    if xs.shape[1] != ys.shape[1]:
        raise ValueError(f"xs and ys: expected points of the same dimension, got {xs.shape[1]} and {ys.shape[1]}")
    p = V.probability_vector(p, "p")
    q = V.probability_vector(q, "q")
    if len(p) != len(xs):
        raise ValueError(f"p: expected one probability per point of xs ({len(xs)}), got {len(p)}")
    if len(q) != len(ys):
        raise ValueError(f"q: expected one probability per point of ys ({len(ys)}), got {len(q)}")
    return xs, p, ys, q


def wasserstein_lp(xs, p, ys, q) -> tuple[float, np.ndarray]:
    r"""W1 by the primal linear program of optimal transport.

    .. math:: W_1(P, Q) = \min_{\gamma \ge 0} \sum_{i,j} \gamma_{ij}\, d(x_i, y_j)
              \quad\text{s.t.}\quad \sum_j \gamma_{ij} = p_i,\; \sum_i \gamma_{ij} = q_j .

    ``xs`` (n,) or (n, d) with probabilities ``p`` (n,); ``ys`` (m,) or (m, d) with ``q`` (m,);
    d is the Euclidean distance. Returns ``(distance, plan)`` with ``plan`` of shape (n, m):
    ``plan[i, j]`` is the mass moved from x_i to y_j. Solved with scipy's HiGHS; n·m variables, so
    keep n, m in the hundreds.
    """
    xs, p, ys, q = _lp_inputs(xs, p, ys, q)
    n, m = len(xs), len(ys)
    cost = _cost(xs, ys)
    # Row sums: variable (i, j) sits at index i*m + j.
    rows = np.kron(np.eye(n), np.ones((1, m)))
    cols = np.kron(np.ones((1, n)), np.eye(m))
    a_eq = np.vstack([rows, cols])
    b_eq = np.concatenate([p, q])
    res = optimize.linprog(cost.ravel(), A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs")
    if res.status != 0:  # pragma: no cover - the problem is always feasible and bounded
        raise RuntimeError(f"transport LP failed: {res.message}")
    plan = np.clip(res.x.reshape(n, m), 0.0, None)
    return float(res.fun), plan


class DualSolution(NamedTuple):
    """Result of :func:`wasserstein_dual_lp`: the distance and the potential on the points."""

    distance: float
    f: np.ndarray  # values of the potential at concat(xs, ys): f[:n] at xs, f[n:] at ys
    points: np.ndarray  # the points where f is given, shape (n + m, d)


def wasserstein_dual_lp(xs, p, ys, q) -> DualSolution:
    r"""W1 by the Kantorovich–Rubinstein dual linear program.

    .. math:: W_1(P, Q) = \max_{f} \sum_i p_i f(x_i) - \sum_j q_j f(y_j)
              \quad\text{s.t.}\quad f(a) - f(b) \le d(a, b) \text{ for all support points } a, b.

    The constraint says f is 1-Lipschitz on the union of the supports, exactly the class of
    critics a WGAN optimises over. Returns ``DualSolution(distance, f, points)``, unpackable as
    ``distance, f, points``; ``f`` holds the optimal potential at ``points = concat(xs, ys)``.
    f is defined up to an additive constant; the solution is shifted so that ``min f = 0``.
    """
    xs, p, ys, q = _lp_inputs(xs, p, ys, q)
    points = np.vstack([xs, ys])
    k = len(points)
    weights = np.concatenate([p, -q])
    dist = _cost(points, points)
    a_idx, b_idx = np.nonzero(~np.eye(k, dtype=bool))
    a_ub = np.zeros((len(a_idx), k))
    a_ub[np.arange(len(a_idx)), a_idx] = 1.0
    a_ub[np.arange(len(a_idx)), b_idx] = -1.0
    b_ub = dist[a_idx, b_idx]
    # linprog minimises, so maximise the dual objective by minimising its negative. Fixing
    # f(points[0]) = 0 removes the free additive constant.
    bounds = [(0.0, 0.0)] + [(None, None)] * (k - 1)
    res = optimize.linprog(-weights, A_ub=a_ub, b_ub=b_ub, bounds=bounds, method="highs")
    if res.status != 0:  # pragma: no cover
        raise RuntimeError(f"dual LP failed: {res.message}")
    f = res.x - res.x.min()
    return DualSolution(float(-res.fun), f, points)


# --------------------------------------------------------------------------------------------
# Closed forms for Gaussians
# --------------------------------------------------------------------------------------------

def _finite(arr: np.ndarray, name: str) -> np.ndarray:
    if arr.size == 0:
        raise ValueError(f"{name}: expected at least one value, got an empty array")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name}: contains NaN or infinite values")
    return arr


def _gaussian(mean, cov, name: str) -> tuple[np.ndarray, np.ndarray]:
    mean = _finite(np.atleast_1d(V.as_float_array(mean, f"mean{name}", ndim=(0, 1))), f"mean{name}")
    cov = _finite(V.as_float_array(cov, f"cov{name}", ndim=(0, 1, 2)), f"cov{name}")
    d = len(mean)
    if cov.ndim == 0:  # a 1-D Gaussian given by its variance
        cov = cov.reshape(1, 1)
    elif cov.ndim == 1:  # a diagonal covariance
        cov = np.diag(cov)
    if cov.shape != (d, d):
        raise ValueError(f"cov{name}: expected shape ({d}, {d}) to match mean{name}, got {cov.shape}")
    if not np.allclose(cov, cov.T, atol=1e-8):
        raise ValueError(f"cov{name}: expected a symmetric matrix")
    if np.linalg.eigvalsh(cov).min() <= 0:
        raise ValueError(f"cov{name}: expected a positive definite covariance")
    return mean, cov


def kl_gaussians(mean1, cov1, mean2, cov2) -> float:
    r"""KL(N(μ1, Σ1) ‖ N(μ2, Σ2)) in closed form.

    .. math:: \tfrac12\left[\operatorname{tr}(\Sigma_2^{-1}\Sigma_1) + (\mu_2-\mu_1)^\top
              \Sigma_2^{-1}(\mu_2-\mu_1) - d + \log\frac{\det\Sigma_2}{\det\Sigma_1}\right]

    Means of shape (d,) (or scalars); covariances (d, d), a vector of variances, or a scalar
    variance in 1-D. For 1-D Gaussians with standard deviations s1, s2:
    ``kl_gaussians(m1, s1**2, m2, s2**2) = log(s2/s1) + (s1² + (m1-m2)²) / (2 s2²) - 1/2``.
    """
    m1, c1 = _gaussian(mean1, cov1, "1")
    m2, c2 = _gaussian(mean2, cov2, "2")
    if len(m1) != len(m2):
        raise ValueError(f"mean1 and mean2: expected the same dimension, got {len(m1)} and {len(m2)}")
    d = len(m1)
    c2_inv = np.linalg.inv(c2)
    diff = m2 - m1
    _, logdet1 = np.linalg.slogdet(c1)
    _, logdet2 = np.linalg.slogdet(c2)
    value = 0.5 * (np.trace(c2_inv @ c1) + diff @ c2_inv @ diff - d + logdet2 - logdet1)
    return float(max(value, 0.0))


def w2_gaussians(mean1, cov1, mean2, cov2, squared: bool = False) -> float:
    r"""Wasserstein-2 distance between two Gaussians in closed form.

    .. math:: W_2^2 = \|\mu_1-\mu_2\|^2 + \operatorname{tr}\!\left(\Sigma_1 + \Sigma_2
              - 2(\Sigma_2^{1/2}\Sigma_1\Sigma_2^{1/2})^{1/2}\right)

    With ``squared=True`` returns W2² — the Fréchet distance that FID reports, computed on the
    features' means and covariances. Covariances may be singular here (positive semi-definite),
    as sample covariances of features often are.
    """
    m1 = _finite(np.atleast_1d(V.as_float_array(mean1, "mean1", ndim=(0, 1))), "mean1")
    m2 = _finite(np.atleast_1d(V.as_float_array(mean2, "mean2", ndim=(0, 1))), "mean2")
    c1 = np.atleast_2d(V.as_float_array(cov1, "cov1", ndim=(0, 2)))
    c2 = np.atleast_2d(V.as_float_array(cov2, "cov2", ndim=(0, 2)))
    if len(m1) != len(m2):
        raise ValueError(f"mean1 and mean2: expected the same dimension, got {len(m1)} and {len(m2)}")
    d = len(m1)
    for c, name in ((c1, "cov1"), (c2, "cov2")):
        if c.shape != (d, d):
            raise ValueError(f"{name}: expected shape ({d}, {d}), got {c.shape}")
        if not np.isfinite(c).all():
            raise ValueError(f"{name}: contains NaN or infinite values")
        if not np.allclose(c, c.T, rtol=1e-6, atol=1e-8):
            raise ValueError(f"{name}: expected a symmetric covariance matrix")
        smallest = float(np.linalg.eigvalsh(c).min())
        if smallest < -1e-8 * max(1.0, float(np.abs(c).max())):
            raise ValueError(f"{name}: expected a positive semi-definite covariance, got an eigenvalue {smallest:.3g}")
    root2 = linalg.sqrtm(c2)
    cross = linalg.sqrtm(root2 @ c1 @ root2)
    cross = np.real(cross)  # sqrtm may return tiny imaginary parts from round-off
    value = float(np.sum((m1 - m2) ** 2) + np.trace(c1 + c2 - 2.0 * cross))
    value = max(value, 0.0)
    return value if squared else float(np.sqrt(value))
