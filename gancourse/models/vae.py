"""A variational autoencoder built from DCGAN's networks: notebook 05's GAN-vs-VAE comparison.

Kingma & Welling (2014) train a decoder G (here `dcgan.Generator`, unchanged) together with an
encoder q(z | x) (here DCGAN's discriminator trunk with two heads, μ and log σ²), by maximising
the evidence lower bound of every training image (their Eq. 3):

    log p(x) >= ELBO(x) = E_{q(z|x)} log p(x | z) - KL(q(z | x) || N(0, I)).

With a Gaussian decoder p(x | z) = N(G(z), σ² I), -log p(x | z) = ||x - G(z)||² / (2σ²) + const.
Maximising the data's mean log-likelihood is minimising KL(p_data || p_model), the *forward* KL
that covers every mode; the squared error makes G(z) the mean of the images the encoder maps near
z, a blur where they differ. Beside the DCGAN of notebook 05, only the objective changes.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .. import _validate as V
from ..data import batches
from ..losses import kl_to_standard_normal   # noqa: F401  (notebook 05 calls vae.kl_to_standard_normal)
from ..runtime import seed_everything
from ..train import fit
from . import dcgan


@dataclass
class VAEConfig:
    image_size: int = 16
    z_dim: int = 32           # as notebook 05's DCGAN
    width: int = 64           # as notebook 05's DCGAN
    sigma: float = 0.1        # the decoder's pixel noise, in [-1, 1] units: the weight of the squared error
    lr: float = 1e-3          # Adam
    batch_size: int = 64
    steps: int = 3000
    seed: int = 0


class Encoder(nn.Module):
    """q(z | x): images (N, 1, S, S) -> (μ, log σ²), each (N, z_dim).

    DCGAN's discriminator with its last convolution (to one logit) replaced by one to 2·z_dim numbers.
    """

    def __init__(self, image_size: int = 16, z_dim: int = 32, width: int = 64):
        super().__init__()
        self.z_dim = V.positive_int(z_dim, "z_dim")
        trunk = dcgan.Discriminator(image_size, width).net
        last = trunk[-1]
        self.net = nn.Sequential(*trunk[:-1], nn.Conv2d(last.in_channels, 2 * self.z_dim, 4, 1, 0))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        V.images(x, "x", channels=1)
        mu, logvar = self.net(x).flatten(1).chunk(2, dim=1)
        return mu, logvar


class VAE(nn.Module):
    """Encoder E and decoder G (= `dcgan.Generator`); `loss` is the negative ELBO per image."""

    def __init__(self, cfg: VAEConfig):
        super().__init__()
        V.instance(cfg, "cfg", VAEConfig)
        self.cfg = cfg
        self.E = Encoder(cfg.image_size, cfg.z_dim, cfg.width)
        self.G = dcgan.Generator(cfg.image_size, cfg.z_dim, cfg.width)

    def loss(self, x: torch.Tensor) -> tuple[torch.Tensor, dict]:
        """Mean over the batch of -ELBO(x) = ||x - G(z)||² / (2σ²) + KL, z = μ + σ·ε (reparameterised)."""
        mu, logvar = self.E(x)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()      # a sample of q(z|x), differentiable in μ, σ
        reconstruction = ((x - self.G(z)) ** 2).flatten(1).sum(1) / (2 * self.cfg.sigma ** 2)
        kl = kl_to_standard_normal(mu, logvar)
        return reconstruction.mean() + kl, {"reconstruction": reconstruction.mean(), "KL": kl}

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """G(μ(x)): the decoder's image of each input's mean code, in eval mode."""
        was = self.training
        self.eval()
        try:
            return self.G(self.E(x)[0])
        finally:
            self.train(was)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n images G(z), z ~ N(0, I): the model's samples, drawn as a GAN's are."""
        return self.G.sample(n, generator=generator)


def train(cfg: VAEConfig, dataset, device="cpu", log_every: int = 50, progress: bool = True):
    """Train a VAE with Adam on an image dataset (e.g. ``data.Digits(16, "train")``: images
    (N, 1, S, S) in [-1, 1]); returns (model in eval mode, history)."""
    V.instance(cfg, "cfg", VAEConfig)
    if not hasattr(dataset, "images"):
        raise TypeError(f"dataset: expected an image dataset with .images (N, 1, S, S), got {type(dataset).__name__}")
    V.images(dataset.images, "dataset.images", channels=1)
    seed_everything(cfg.seed)
    model = VAE(cfg).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    stream = batches(dataset, cfg.batch_size, generator=torch.Generator().manual_seed(cfg.seed), device=device)

    def step(i):
        x = next(stream)[0]
        loss, parts = model.loss(x)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return {"-ELBO": loss, **parts}

    history = fit(step, cfg.steps, log_every=log_every, desc="VAE", progress=progress)
    return model.eval(), history
