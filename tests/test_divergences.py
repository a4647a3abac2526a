"""Divergences against independent computations (scipy), including the infinite and log 2 cases."""
import math

import numpy as np
import pytest
import scipy.spatial.distance
import scipy.stats
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import integrate

from gancourse import divergences as dv


def random_pair(rng, n, zeros=0):
    p, q = rng.random(n), rng.random(n)
    for _ in range(zeros):
        p[rng.integers(n)] = 0
        q[rng.integers(n)] = 0
    return p / p.sum(), q / q.sum()


@pytest.mark.parametrize("seed", range(10))
def test_kl_js_tv_match_scipy_on_random_inputs(seed):
    rng = np.random.default_rng(seed)
    p, q = random_pair(rng, 3 + seed, zeros=seed % 3)
    ref_kl = scipy.stats.entropy(p, q)
    assert dv.kl(p, q) == pytest.approx(ref_kl, rel=1e-10, abs=1e-12) or (math.isinf(ref_kl) and dv.kl(p, q) == math.inf)
    ref_js = scipy.spatial.distance.jensenshannon(p, q) ** 2  # scipy returns the square root, natural log
    assert dv.js(p, q) == pytest.approx(ref_js, rel=1e-8, abs=1e-12)
    assert dv.tv(p, q) == pytest.approx(0.5 * np.abs(p - q).sum())


def test_infinite_kl_and_log2_js_on_disjoint_supports():
    p, q = [0.5, 0.5, 0, 0], [0, 0, 0.3, 0.7]
    assert dv.kl(p, q) == math.inf and dv.kl(q, p) == math.inf
    assert dv.js(p, q) == pytest.approx(math.log(2), abs=1e-12)
    assert dv.tv(p, q) == pytest.approx(1.0)


def test_zero_mass_terms_are_zero_not_nan():
    assert dv.kl([1.0, 0.0], [0.5, 0.5]) == pytest.approx(math.log(2))
    assert dv.kl([0.5, 0.5], [1.0, 0.0]) == math.inf


def test_accepts_lists_arrays_and_tensors_and_returns_float():
    p = [0.2, 0.8]
    q = [0.5, 0.5]
    for conv in (list, np.array, torch.tensor):
        for fn in (dv.kl, dv.js, dv.tv):
            assert isinstance(fn(conv(p), conv(q)), float)


@pytest.mark.parametrize("bad, message", [
    ([0.5, 0.6], "summing to 1"),
    ([-0.1, 1.1], "negative"),
    ([float("nan"), 1.0], "NaN"),
    ([[0.5, 0.5]], "1-D"),
    ([], "non-empty"),
])
def test_bad_probabilities_are_rejected_with_the_argument_named(bad, message):
    with pytest.raises(ValueError, match=message) as err:
        dv.kl(bad, [0.5, 0.5])
    assert "p:" in str(err.value)


def test_mismatched_lengths_and_wrong_types():
    with pytest.raises(ValueError, match="same support"):
        dv.js([0.5, 0.5], [0.2, 0.3, 0.5])
    with pytest.raises(TypeError, match="p:"):
        dv.tv("0.5 0.5", [0.5, 0.5])


probability_vectors = arrays(np.float64, st.integers(2, 8), elements=st.floats(0, 1)).filter(lambda a: a.sum() > 1e-3)


@settings(max_examples=60, deadline=None)
@given(probability_vectors, st.randoms())
def test_properties_of_divergences(raw, rnd):
    p = raw / raw.sum()
    q = np.array([rnd.random() + 1e-3 for _ in p])
    q = q / q.sum()
    assert dv.kl(p, q) >= 0
    assert 0 <= dv.js(p, q) <= math.log(2) + 1e-12
    assert dv.js(p, q) == pytest.approx(dv.js(q, p), abs=1e-12)
    assert 0 <= dv.tv(p, q) <= 1
    assert dv.kl(p, p) == pytest.approx(0, abs=1e-12)
    # Pinsker's inequality: TV <= sqrt(KL / 2)
    assert dv.tv(p, q) <= math.sqrt(dv.kl(p, q) / 2) + 1e-9


@pytest.mark.parametrize("seed", range(6))
def test_wasserstein_1d_lp_primal_and_dual_agree_with_scipy(seed):
    rng = np.random.default_rng(seed)
    n, m = rng.integers(2, 12, size=2)
    x, y = rng.normal(size=n), rng.normal(1, 2, size=m)
    p, q = rng.dirichlet(np.ones(n)), rng.dirichlet(np.ones(m))
    ref = scipy.stats.wasserstein_distance(x, y, p, q)
    primal, plan = dv.wasserstein_lp(x, p, y, q)
    dual = dv.wasserstein_dual_lp(x, p, y, q)
    assert primal == pytest.approx(ref, abs=1e-7)
    assert dual.distance == pytest.approx(ref, abs=1e-7)
    assert dv.wasserstein_1d(x, y, p, q) == pytest.approx(ref, abs=1e-10)
    assert plan.shape == (n, m) and np.allclose(plan.sum(1), p) and np.allclose(plan.sum(0), q)
    pts = dual.points[:, 0]
    lip = np.abs(dual.f[:, None] - dual.f[None]) <= np.abs(pts[:, None] - pts[None]) + 1e-7
    assert lip.all(), "the dual potential must be 1-Lipschitz"


def test_wasserstein_1d_unweighted_samples_match_scipy():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=100), rng.exponential(size=57)
    assert dv.wasserstein_1d(x, y) == pytest.approx(scipy.stats.wasserstein_distance(x, y), rel=1e-10)


def test_wasserstein_lp_in_2d_primal_equals_dual_and_parallel_lines():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(15, 2)), rng.normal(2, 1, size=(12, 2))
    p, q = np.full(15, 1 / 15), np.full(12, 1 / 12)
    primal, _ = dv.wasserstein_lp(a, p, b, q)
    assert dv.wasserstein_dual_lp(a, p, b, q).distance == pytest.approx(primal, abs=1e-7)
    z = rng.random(20)
    line0 = np.stack([np.zeros(20), z], 1)
    line1 = np.stack([np.full(20, 0.7), z], 1)
    u = np.full(20, 0.05)
    assert dv.wasserstein_lp(line0, u, line1, u)[0] == pytest.approx(0.7, abs=1e-9)


def test_wasserstein_bad_inputs():
    with pytest.raises(ValueError, match="p: expected one probability per point"):
        dv.wasserstein_lp([0, 1, 2], [0.5, 0.5], [0, 1], [0.5, 0.5])
    with pytest.raises(ValueError, match="same dimension"):
        dv.wasserstein_lp(np.zeros((2, 2)), [0.5, 0.5], np.zeros((2, 3)), [0.5, 0.5])
    with pytest.raises(ValueError, match="x: expected a 1-D"):
        dv.wasserstein_1d(np.zeros((3, 2)), [1.0])
    with pytest.raises(ValueError, match="NaN or infinite"):
        dv.wasserstein_1d([0.0, float("nan")], [1.0])


def test_gaussian_closed_forms_against_quadrature():
    m1, s1, m2, s2 = 0.3, 0.8, -1.0, 1.7
    quad = integrate.quad(lambda x: scipy.stats.norm.pdf(x, m1, s1)
                          * (scipy.stats.norm.logpdf(x, m1, s1) - scipy.stats.norm.logpdf(x, m2, s2)), -30, 30)[0]
    assert dv.kl_gaussians(m1, s1**2, m2, s2**2) == pytest.approx(quad, rel=1e-7)
    assert dv.w2_gaussians(m1, s1**2, m2, s2**2) == pytest.approx(math.hypot(m1 - m2, s1 - s2), rel=1e-9)
    # Diagonal covariances: W2^2 adds up over coordinates.
    w2 = dv.w2_gaussians([0, 1], np.diag([1.0, 4.0]), [1, 1], np.diag([4.0, 1.0]), squared=True)
    assert w2 == pytest.approx(1 + 1 + 1)
    with pytest.raises(ValueError, match="positive definite"):
        dv.kl_gaussians([0, 0], np.eye(2), [0, 0], np.zeros((2, 2)))


def test_js_with_the_smallest_subnormal_mass_is_not_the_disjoint_value():
    # halving 5e-324 rounds to 0: a mixture m = (p + q)/2 would vanish where p does not (found by hypothesis)
    p = np.array([5e-324, 0.25, 0.25, 0.25, 0.25])
    q = np.array([0.0, 1.0, 0.0, 0.0, 0.0])
    assert dv.js(p, q) == pytest.approx(dv.js(p[1:], q[1:]), abs=1e-12)
    assert dv.js(p, q) < dv.tv(p, q) * np.log(2)
