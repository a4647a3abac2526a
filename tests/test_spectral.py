"""Spectral norm: the course's power iteration against torch.linalg, the Lipschitz bound, torch's parametrization."""
import math

import pytest
import torch
from torch import nn

from gancourse.nn import mlp
from gancourse.nn.spectral import (apply_spectral_norm, has_spectral_norm, lipschitz_upper_bound, power_iteration,
                                   spectral_norms)


@pytest.fixture(autouse=True)
def _one_thread():
    """Small networks: one thread is faster, and much faster on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (64, 64), (128, 2), (16, 8, 3, 3)])
def test_power_iteration_matches_the_exact_largest_singular_value(shape):
    g = torch.Generator().manual_seed(1)
    w = torch.randn(*shape, generator=g, dtype=torch.float64)
    exact = torch.linalg.matrix_norm(w.reshape(shape[0], -1), ord=2).item()
    sigma, u, v = power_iteration(w, n_iter=500, generator=g)
    assert sigma == pytest.approx(exact, rel=1e-6)
    assert u.shape == (shape[0],) and v.shape == (math.prod(shape[1:]),)
    assert u.norm().item() == pytest.approx(1.0) and v.norm().item() == pytest.approx(1.0)
    # W v = sigma u: (u, v) is the top singular pair
    assert torch.allclose(w.reshape(shape[0], -1) @ v, sigma * u, atol=1e-5 * exact)


def test_power_iteration_approaches_sigma_from_below_and_can_be_continued():
    g = torch.Generator().manual_seed(2)
    # singular values 3, 2.9, 1: a slow case (ratio 2.9/3)
    q1, _ = torch.linalg.qr(torch.randn(6, 6, generator=g, dtype=torch.float64))
    q2, _ = torch.linalg.qr(torch.randn(3, 3, generator=g, dtype=torch.float64))
    w = q1[:, :3] @ torch.diag(torch.tensor([3.0, 2.9, 1.0], dtype=torch.float64)) @ q2.T
    s1, u, _ = power_iteration(w, n_iter=1, generator=g)
    s2, u, _ = power_iteration(w, n_iter=5, u=u)
    s3, _, _ = power_iteration(w, n_iter=400, u=u)
    assert s1 <= s2 + 1e-12 <= s3 + 2e-12 <= 3.0 + 1e-9
    assert s3 == pytest.approx(3.0, rel=1e-6)
    assert s1 < 3.0 - 1e-6  # one iteration is not enough in this case


def test_lipschitz_upper_bound_is_the_product_and_bounds_the_gradient():
    torch.manual_seed(0)
    net = mlp(2, 1, hidden=32, depth=3)
    sigmas = [torch.linalg.matrix_norm(m.weight, ord=2).item() for m in net if isinstance(m, nn.Linear)]
    bound = lipschitz_upper_bound(net, n_iter=300)
    assert bound == pytest.approx(math.prod(sigmas), rel=1e-4)
    x = torch.randn(2000, 2, requires_grad=True)
    (grad,) = torch.autograd.grad(net(x).sum(), x)
    assert grad.norm(dim=1).max().item() <= bound


def test_torch_spectral_norm_makes_every_layer_and_the_network_1_lipschitz():
    torch.manual_seed(0)
    net = mlp(2, 1, hidden=64, depth=3)
    before = spectral_norms(net)
    assert max(before) > 1.2  # the default init is not 1-Lipschitz per layer
    apply_spectral_norm(net)
    assert has_spectral_norm(net)
    net.train()
    with torch.no_grad():
        for _ in range(200):  # torch runs one power iteration per forward pass in training mode
            net(torch.randn(8, 2))
    net.eval()
    for m in net:
        if isinstance(m, nn.Linear):
            # the iteration approaches sigma from below, so W / sigma_estimate is slightly above 1
            assert 1.0 - 1e-4 <= torch.linalg.matrix_norm(m.weight, ord=2).item() <= 1.02
    assert lipschitz_upper_bound(net) <= 1.02 ** 4
    x = torch.randn(2000, 2, requires_grad=True)
    (grad,) = torch.autograd.grad(net(x).sum(), x)
    assert grad.norm(dim=1).max().item() <= 1.02 ** 4
    # applying again leaves the layers alone; reading the norms does not advance torch's iteration
    u = net[0].parametrizations.weight[0]._u.clone()
    apply_spectral_norm(net)
    net.train()
    spectral_norms(net)
    assert torch.equal(u, net[0].parametrizations.weight[0]._u)


def test_apply_spectral_norm_covers_convolutions():
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(4 * 6 * 6, 1))
    apply_spectral_norm(net)
    assert has_spectral_norm(net)
    assert not has_spectral_norm(nn.Sequential(nn.Linear(2, 2)))


def test_bad_input():
    with pytest.raises(ValueError, match="weight: expected a weight with at least 2 dimensions"):
        power_iteration(torch.ones(3))
    with pytest.raises(TypeError, match="weight: expected a torch.Tensor"):
        power_iteration([[1.0, 2.0]])
    with pytest.raises(ValueError, match="weight: contains NaN"):
        power_iteration(torch.tensor([[1.0, float("nan")]]))
    with pytest.raises(ValueError, match="n_iter: expected an int >= 1"):
        power_iteration(torch.eye(2), n_iter=0)
    with pytest.raises(ValueError, match="u: expected length 2"):
        power_iteration(torch.eye(2), u=torch.ones(3))
    with pytest.raises(TypeError, match="module: expected an nn.Module"):
        spectral_norms(torch.eye(2))
    with pytest.raises(TypeError, match="module: expected an nn.Module"):
        apply_spectral_norm("D")
    with pytest.raises(ValueError, match="module: has no linear"):
        lipschitz_upper_bound(nn.ReLU())
