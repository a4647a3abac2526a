"""Toy distributions in 1-D and 2-D, with samplers and, where they exist, exact densities.

These are the laboratory of the course: small enough to train a GAN on in seconds, and known
exactly, so that a learned density, a discriminator or a distance can be compared with the truth.

=================  =====  ===================================================================
name               dim    what
=================  =====  ===================================================================
``gaussian``       1      N(mean, std²)
``mixture1d``      1      a weighted mixture of 1-D Gaussians
``ring``           2      Gaussians on a circle (8 at radius 2, σ 0.02 as in WGAN-GP's toys;
                          PacGAN uses radius 1, σ 0.01)
``grid``           2      Gaussians on the grid {-4, -2, 0, 2, 4}² (σ 0.05)
``swissroll``      2      the Swiss roll of WGAN-GP's toys (noise 0.25, scaled by 1/7.5); no density
``lines``          2      Arjovsky et al.'s parallel line {θ} × U[0, 1]; singular, no density
=================  =====  ===================================================================

Every ``sample(n, generator=None)`` returns a float32 tensor of shape (n, dim); pass a seeded
``torch.Generator`` for a reproducible stream.
"""
from __future__ import annotations

import math

import torch

from .. import _validate as V


class ToyDistribution:
    """Base class: ``dim``, ``sample(n)``, and ``log_prob(x)``/``density(x)`` when exact."""

    dim: int = 1
    has_density: bool = True

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        raise NotImplementedError

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Exact log-density at points ``x`` of shape (n, dim) (or (n,) in 1-D); returns (n,)."""
        raise NotImplementedError(f"{type(self).__name__} is singular or has no closed-form density")

    def density(self, x) -> torch.Tensor:
        """Exact density at points ``x`` of shape (n, dim) (or (n,) in 1-D); returns (n,)."""
        return self.log_prob(x).exp()

    def _points(self, x) -> torch.Tensor:
        if not isinstance(x, torch.Tensor):
            x = torch.as_tensor(V.as_float_array(x, "x"), dtype=torch.float64)
        x = x.double()
        if self.dim == 1 and x.ndim == 1:
            x = x[:, None]
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"x: expected points of shape (n, {self.dim}), got {tuple(x.shape)}")
        return x


def _check_n(n) -> int:
    return V.positive_int(n, "n")


def _check_generator(generator) -> None:
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator: expected a torch.Generator or None, got {type(generator).__name__}")


def _finite_number(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise TypeError(f"{name}: expected a finite number, got {value!r}")
    return float(value)


class Gaussian1D(ToyDistribution):
    """N(mean, std²) on the real line."""

    dim = 1

    def __init__(self, mean: float = 0.0, std: float = 1.0):
        self.mean = _finite_number(mean, "mean")
        self.std = V.positive_float(std, "std")

    def sample(self, n, generator=None):
        n = _check_n(n)
        _check_generator(generator)
        return self.mean + self.std * torch.randn(n, 1, generator=generator)

    def log_prob(self, x):
        x = self._points(x)[:, 0]
        return -0.5 * ((x - self.mean) / self.std) ** 2 - math.log(self.std * math.sqrt(2 * math.pi))

    def __repr__(self):
        return f"Gaussian1D(mean={self.mean}, std={self.std})"


class GaussianMixture(ToyDistribution):
    """A mixture of isotropic Gaussians: ``centers`` (k, dim), one ``std`` or k of them, ``weights``.

    ``centers`` is also what the mode-coverage metric needs (``gancourse.metrics.mode_coverage``).
    """

    def __init__(self, centers, std=0.05, weights=None):
        centers = torch.as_tensor(V.as_float_array(centers, "centers", ndim=(1, 2)), dtype=torch.float64)
        if centers.ndim == 1:
            centers = centers[:, None]
        if centers.shape[0] == 0:
            raise ValueError("centers: expected at least one mixture component")
        if not torch.isfinite(centers).all():
            raise ValueError("centers: contains NaN or infinite values")
        self.centers = centers.float()
        self.dim = centers.shape[1]
        k = centers.shape[0]
        stds = torch.as_tensor(V.as_float_array(std, "std", ndim=(0, 1)), dtype=torch.float64).reshape(-1)
        if stds.numel() == 1:
            stds = stds.expand(k).clone()
        if stds.numel() != k or not torch.isfinite(stds).all() or (stds <= 0).any():
            raise ValueError(f"std: expected one finite positive value or {k} of them, got {stds.tolist()}")
        self.stds = stds.float()
        if weights is None:
            weights = torch.full((k,), 1.0 / k, dtype=torch.float64)
        else:
            weights = torch.as_tensor(V.probability_vector(weights, "weights"))
            if weights.numel() != k:
                raise ValueError(f"weights: expected {k} weights (one per center), got {weights.numel()}")
        self.weights = weights.float()

    @property
    def std(self) -> float:
        """The common standard deviation (the first one when they differ)."""
        return float(self.stds[0])

    def sample(self, n, generator=None):
        n = _check_n(n)
        _check_generator(generator)
        idx = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        noise = torch.randn(n, self.dim, generator=generator)
        return self.centers[idx] + self.stds[idx, None] * noise

    def sample_with_labels(self, n, generator=None) -> tuple[torch.Tensor, torch.Tensor]:
        """Samples (n, dim) and the index of the component each came from (n,)."""
        n = _check_n(n)
        _check_generator(generator)
        idx = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        noise = torch.randn(n, self.dim, generator=generator)
        return self.centers[idx] + self.stds[idx, None] * noise, idx

    def log_prob(self, x):
        x = self._points(x)
        c = self.centers.double()
        s = self.stds.double()
        sq = ((x[:, None, :] - c[None]) ** 2).sum(-1) / s**2  # (n, k)
        log_norm = -self.dim * torch.log(s * math.sqrt(2 * math.pi))
        comp = -0.5 * sq + log_norm + torch.log(self.weights.double())
        return torch.logsumexp(comp, dim=1)

    def __repr__(self):
        return f"GaussianMixture(k={len(self.centers)}, dim={self.dim}, std={self.std:g})"


class GaussianMixture1D(GaussianMixture):
    """A 1-D mixture: ``means`` (k,), ``stds`` (k,) or one value, ``weights`` (k,)."""

    def __init__(self, means=(-2.0, 2.0), stds=0.5, weights=None):
        super().__init__(V.as_float_array(means, "means", ndim=1)[:, None], stds, weights)


def ring(n_modes: int = 8, radius: float = 2.0, std: float = 0.02) -> GaussianMixture:
    """``n_modes`` Gaussians evenly spaced on a circle (the first on the positive x axis)."""
    n_modes = V.positive_int(n_modes, "n_modes")
    radius = V.positive_float(radius, "radius")
    angles = torch.arange(n_modes, dtype=torch.float64) * (2 * math.pi / n_modes)
    centers = radius * torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)
    return GaussianMixture(centers, std)


def grid(side: int = 5, spacing: float = 2.0, std: float = 0.05) -> GaussianMixture:
    """``side``² Gaussians on a square grid centred at 0 ({-4, -2, 0, 2, 4}² by default)."""
    side = V.positive_int(side, "side")
    spacing = V.positive_float(spacing, "spacing")
    coords = (torch.arange(side, dtype=torch.float64) - (side - 1) / 2) * spacing
    gx, gy = torch.meshgrid(coords, coords, indexing="ij")
    return GaussianMixture(torch.stack([gx.reshape(-1), gy.reshape(-1)], dim=1), std)


class SwissRoll(ToyDistribution):
    """The 2-D Swiss roll of the WGAN-GP toy experiments (noise 0.25, coordinates divided by 7.5).

    t ~ U[1.5π, 4.5π]; x = (t cos t + noise, t sin t + noise) / 7.5. Supported near a curve, so no
    density is given.
    """

    dim = 2
    has_density = False

    def __init__(self, noise: float = 0.25, scale: float = 7.5):
        self.noise = V.positive_float(noise, "noise", allow_zero=True)
        self.scale = V.positive_float(scale, "scale")

    def sample(self, n, generator=None):
        n = _check_n(n)
        _check_generator(generator)
        t = 1.5 * math.pi * (1 + 2 * torch.rand(n, generator=generator))
        xy = torch.stack([t * torch.cos(t), t * torch.sin(t)], dim=1)
        xy = xy + self.noise * torch.randn(n, 2, generator=generator)
        return xy / self.scale

    def __repr__(self):
        return f"SwissRoll(noise={self.noise})"


class ParallelLine(ToyDistribution):
    """Arjovsky et al. (2017), Example 1: the segment {θ} × [0, 1], i.e. (θ, Z) with Z ~ U[0, 1].

    Two such lines with different θ have disjoint supports: TV = 1, KL = inf, JS = log 2, and
    W1 = |θ1 - θ2|. The distribution lives on a line in the plane, so it has no density.
    """

    dim = 2
    has_density = False

    def __init__(self, theta: float = 0.0):
        if isinstance(theta, bool) or not isinstance(theta, (int, float)) or not math.isfinite(theta):
            raise TypeError(f"theta: expected a finite number, got {theta!r}")
        self.theta = float(theta)

    def sample(self, n, generator=None):
        n = _check_n(n)
        _check_generator(generator)
        z = torch.rand(n, generator=generator)
        return torch.stack([torch.full_like(z, self.theta), z], dim=1)

    def __repr__(self):
        return f"ParallelLine(theta={self.theta})"


_FACTORIES = {
    "gaussian": Gaussian1D,
    "mixture1d": GaussianMixture1D,
    "ring": ring,
    "grid": grid,
    "swissroll": SwissRoll,
    "lines": ParallelLine,
}


def make_toy(name: str, **kwargs) -> ToyDistribution:
    """A toy distribution by name (see the module's table); keyword arguments go to its constructor.

    >>> make_toy("ring", radius=1.0, std=0.01)   # PacGAN's ring of 8
    GaussianMixture(k=8, dim=2, std=0.01)
    """
    if not isinstance(name, str):
        raise TypeError(f"name: expected a string, got {type(name).__name__}")
    if name not in _FACTORIES:
        raise ValueError(f"name: unknown toy distribution {name!r}; expected one of {', '.join(sorted(_FACTORIES))}")
    return _FACTORIES[name](**kwargs)


TOY_NAMES = tuple(sorted(_FACTORIES))
