"""Adversarial losses: values against the textbook formulas, stability, gradient penalties."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gancourse import losses


def naive_bce_d(real, fake):
    return -(torch.log(torch.sigmoid(real)).mean() + torch.log(1 - torch.sigmoid(fake)).mean())


def test_losses_match_the_naive_formulas_on_moderate_logits():
    real = torch.tensor([0.3, 2.0, -1.0], dtype=torch.float64)
    fake = torch.tensor([-0.5, 1.0, -3.0, 0.2], dtype=torch.float64)
    assert losses.d_loss_bce(real, fake).item() == pytest.approx(naive_bce_d(real, fake).item())
    assert losses.g_loss_saturating(fake).item() == pytest.approx(torch.log(1 - torch.sigmoid(fake)).mean().item())
    assert losses.g_loss_nonsaturating(fake).item() == pytest.approx(-torch.log(torch.sigmoid(fake)).mean().item())
    assert losses.d_loss_lsgan(real, fake).item() == pytest.approx(0.5 * ((real - 1) ** 2).mean() + 0.5 * (fake ** 2).mean())
    assert losses.d_loss_hinge(real, fake).item() == pytest.approx(F.relu(1 - real).mean() + F.relu(1 + fake).mean())
    assert losses.d_loss_wasserstein(real, fake).item() == pytest.approx(fake.mean() - real.mean())
    assert losses.g_loss_hinge(fake).item() == pytest.approx(-fake.mean().item())


def test_losses_are_finite_with_gradients_for_extreme_logits():
    logits = torch.tensor([-500.0, -50.0, 0.0, 50.0, 500.0], requires_grad=True)
    for fn in (losses.g_loss_saturating, losses.g_loss_nonsaturating):
        value = fn(logits)
        (g,) = torch.autograd.grad(value, logits)
        assert torch.isfinite(value) and torch.isfinite(g).all()
    value = losses.d_loss_bce(logits, logits)
    assert torch.isfinite(value)


def test_saturation_in_numbers():
    l = torch.tensor([-10.0], requires_grad=True)
    (g_sat,) = torch.autograd.grad(losses.g_loss_saturating(l), l)
    (g_ns,) = torch.autograd.grad(losses.g_loss_nonsaturating(l), l)
    assert abs(g_sat.item()) < 1e-4 and abs(g_ns.item()) > 0.999


def independent_gp(critic, real, fake, eps):
    x = (eps * real + (1 - eps) * fake).clone().requires_grad_(True)
    out = critic(x)
    grads = []
    for i in range(x.shape[0]):  # one sample at a time: no batching tricks
        (g,) = torch.autograd.grad(out[i].sum(), x, retain_graph=True)
        grads.append(g[i].flatten().norm())
    return ((torch.stack(grads) - 1) ** 2).mean()


@pytest.mark.parametrize("shape", [(16, 2), (6, 3, 8, 8)])
def test_gradient_penalty_matches_an_independent_autograd_computation(shape):
    torch.manual_seed(0)
    if len(shape) == 2:
        critic = nn.Sequential(nn.Linear(2, 32), nn.Tanh(), nn.Linear(32, 1))
    else:
        critic = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Tanh(), nn.Flatten(), nn.Linear(4 * 36, 1))
    real, fake = torch.randn(shape), torch.randn(shape)
    gen = torch.Generator().manual_seed(7)
    gp = losses.gradient_penalty(critic, real, fake, generator=gen)
    eps = torch.rand((shape[0],) + (1,) * (len(shape) - 1), generator=torch.Generator().manual_seed(7))
    assert gp.item() == pytest.approx(independent_gp(critic, real, fake, eps).item(), rel=1e-5)
    assert losses.gradient_penalty(critic, real, fake, weight=10, generator=torch.Generator().manual_seed(7)).item() \
        == pytest.approx(10 * gp.item(), rel=1e-6)


def test_gradient_penalty_is_zero_for_a_unit_linear_critic():
    w = torch.tensor([0.6, -0.8])  # ||w|| = 1: f(x) = w.x is exactly 1-Lipschitz
    critic = lambda x: x @ w
    real, fake = torch.randn(64, 2), torch.randn(64, 2) + 3
    assert losses.gradient_penalty(critic, real, fake).item() == pytest.approx(0.0, abs=1e-10)
    critic2 = lambda x: 3 * (x @ w)  # slope 3: penalty (3 - 1)^2 = 4
    assert losses.gradient_penalty(critic2, real, fake).item() == pytest.approx(4.0, rel=1e-6)
    half = lambda x: 0.5 * (x @ w)
    assert losses.gradient_penalty(half, real, fake, one_sided=True).item() == pytest.approx(0.0, abs=1e-10)
    assert losses.gradient_penalty(half, real, fake).item() == pytest.approx(0.25, rel=1e-6)


def test_gradient_penalty_backpropagates_to_the_critic():
    critic = nn.Linear(2, 1)
    gp = losses.gradient_penalty(critic, torch.randn(8, 2), torch.randn(8, 2))
    gp.backward()
    assert critic.weight.grad is not None and critic.weight.grad.abs().sum() > 0


def test_r1_penalty():
    w = torch.tensor([3.0, 4.0])
    assert losses.r1_penalty(lambda x: x @ w, torch.randn(5, 2)).item() == pytest.approx(25.0)


def test_feature_matching():
    a = [torch.ones(2, 3), torch.zeros(2, 4)]
    b = [torch.zeros(2, 3), torch.zeros(2, 4)]
    assert losses.feature_matching(a, b).item() == pytest.approx(1.0)
    assert losses.feature_matching([a, a], [b, a]).item() == pytest.approx(0.5)


def test_bad_input():
    with pytest.raises(TypeError, match="fake_logits: expected a torch.Tensor"):
        losses.g_loss_nonsaturating([0.1, 0.2])
    with pytest.raises(ValueError, match="real and fake: expected the same shape"):
        losses.gradient_penalty(nn.Linear(2, 1), torch.zeros(4, 2), torch.zeros(3, 2))
    with pytest.raises(ValueError, match="name: unknown value 'wgan-gp'"):
        losses.get_losses("wgan-gp")
    with pytest.raises(TypeError, match="floating-point"):
        losses.d_loss_bce(torch.tensor([1, 2]), torch.tensor([0.0, 1.0]))


def test_grouped_cross_entropy_sums_one_cross_entropy_per_attribute():
    g = torch.Generator().manual_seed(0)
    logits, labels = torch.randn(6, 7, generator=g), torch.stack([torch.randint(0, 4, (6,), generator=g),
                                                                  torch.randint(0, 3, (6,), generator=g)], 1)
    expected = F.cross_entropy(logits[:, :4], labels[:, 0]) + F.cross_entropy(logits[:, 4:], labels[:, 1])
    assert torch.allclose(losses.grouped_cross_entropy(logits, labels, (4, 3)), expected)
    with pytest.raises(ValueError, match="logits"):
        losses.grouped_cross_entropy(logits, labels, (4, 4))
