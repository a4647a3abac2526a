"""The VAE of notebook 05: its KL term, its loss, its shapes, and its input checks."""
import pytest
import torch

from gancourse import data
from gancourse.models import vae


def test_kl_closed_form_matches_monte_carlo():
    mu, logvar = torch.tensor([[0.3, -0.8]]), torch.tensor([[0.5, -1.2]])
    std = (0.5 * logvar).exp()
    z = mu + std * torch.randn(400_000, 2, generator=torch.Generator().manual_seed(0))
    mc = (torch.distributions.Normal(mu, std).log_prob(z) - torch.distributions.Normal(0.0, 1.0).log_prob(z)).sum(1).mean()
    assert vae.kl_to_standard_normal(mu, logvar).item() == pytest.approx(mc.item(), abs=0.01)
    assert vae.kl_to_standard_normal(torch.zeros(3, 4), torch.zeros(3, 4)).abs().max() == 0


def test_training_lowers_the_negative_elbo_and_shapes():
    cfg = vae.VAEConfig(steps=60, batch_size=32, seed=0)
    digits = data.Digits(16, "train")
    model, history = vae.train(cfg, digits, progress=False, log_every=10)
    assert history["-ELBO"][-1] < history["-ELBO"][0]
    assert model.sample(5, generator=torch.Generator().manual_seed(0)).shape == (5, 1, 16, 16)
    x = digits.images[:4]
    assert model.reconstruct(x).shape == x.shape and not model.training


def test_bad_input():
    with pytest.raises(TypeError, match="cfg: expected a VAEConfig"):
        vae.VAE({"sigma": 0.1})
    with pytest.raises(TypeError, match="dataset: expected an image dataset"):
        vae.train(vae.VAEConfig(steps=1), torch.zeros(4, 1, 16, 16))
    with pytest.raises(ValueError, match="x: expected a tensor with 4 dimensions"):
        vae.VAE(vae.VAEConfig()).loss(torch.zeros(4, 16, 16))


def test_wrong_channels_get_a_clear_message():
    with pytest.raises(ValueError, match="x: expected 1 channel"):
        vae.VAE(vae.VAEConfig()).loss(torch.zeros(2, 3, 16, 16))
