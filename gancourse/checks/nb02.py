"""Checks for notebook 02 (the optimal discriminator)."""
from __future__ import annotations

import math

import numpy as np

from ..divergences import js
from ._core import close, exercise


@exercise("02.1", "the optimal discriminator on a grid", points=2, difficulty="warm-up")
def ex02_optimal_d(t, optimal_d):
    """``optimal_d(p_data, p_g)``: arrays of densities -> D* = p_data / (p_data + p_g), 1/2 where both are 0."""
    p = np.array([0.4, 0.0, 0.1, 0.0, 2.0])
    q = np.array([0.4, 0.3, 0.0, 0.0, 0.5])
    got, err = t.call(optimal_d, p.copy(), q.copy())
    if err is not None:
        return
    got = np.asarray(got, dtype=float)
    t.require(got.shape == p.shape, f"return one value per grid point (shape {p.shape})")
    if got.shape != p.shape:
        return
    t.require(close(got[[0, 1, 2, 4]], [0.5, 0.0, 1.0, 0.8]), "D* = p_data / (p_data + p_g) where the sum is positive")
    t.require(np.isfinite(got[3]) and close(got[3], 0.5),
              "where both densities are 0 the formula is 0/0; any value is optimal there, return 1/2 (no nan)")
    t.require(((got >= 0) & (got <= 1)).all(), "D* is a probability: it must lie in [0, 1]")


@exercise("02.2", "the virtual training criterion C(G)", points=3, difficulty="core")
def ex02_criterion(t, criterion):
    """``criterion(p, q)``: discrete p_data, p_g -> C(G) = Σ p log D* + Σ q log(1 - D*)."""
    rng = np.random.default_rng(7)
    for k in range(3):
        p = rng.random(6)
        p /= p.sum()
        q = rng.random(6)
        q /= q.sum()
        got, err = t.call(criterion, p.copy(), q.copy())
        if err is not None:
            return
        t.require(close(float(got), -math.log(4) + 2 * js(p, q), rtol=1e-6),
                  "plug D* into V: C(G) = sum p log(p/(p+q)) + sum q log(q/(p+q))")
    same, _ = t.call(criterion, np.full(4, 0.25), np.full(4, 0.25))
    t.require(same is not None and close(float(same), -math.log(4)), "at p_g = p_data, C(G) should be -log 4")
    disjoint, _ = t.call(criterion, np.array([0.5, 0.5, 0.0, 0.0]), np.array([0.0, 0.0, 0.5, 0.5]))
    t.require(disjoint is not None and np.isfinite(float(disjoint)) and close(float(disjoint), 0.0, atol=1e-9),
              "for disjoint supports C(G) should be 0 (use 0 log 0 = 0, no nan)")
