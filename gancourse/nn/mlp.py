"""Multi-layer perceptrons: the generators and discriminators of the toy experiments.

WGAN-GP's toy experiments use 3 hidden ReLU layers of width 512 for both networks; the course's
defaults are smaller so that a CPU trains them in seconds, and every size is an argument.
"""
from __future__ import annotations

import torch
from torch import nn

from .. import _validate as V

_ACTIVATIONS = {
    "relu": lambda: nn.ReLU(),
    "leaky_relu": lambda: nn.LeakyReLU(0.2),
    "tanh": lambda: nn.Tanh(),
    "elu": lambda: nn.ELU(),
}


def mlp(in_dim: int, out_dim: int, hidden: int = 128, depth: int = 3, activation: str = "relu",
        spectral_norm: bool = False, out_activation: str | None = None) -> nn.Sequential:
    """``depth`` hidden layers of width ``hidden`` with ``activation``, then a linear output.

    Input (N, in_dim) -> output (N, out_dim). ``spectral_norm=True`` wraps every linear layer in
    torch's spectral-norm parametrization (Miyato et al. 2018). ``out_activation`` (e.g.
    ``"tanh"``) is applied to the output when given.
    """
    in_dim = V.positive_int(in_dim, "in_dim")
    out_dim = V.positive_int(out_dim, "out_dim")
    hidden = V.positive_int(hidden, "hidden")
    depth = V.positive_int(depth, "depth", minimum=0)
    V.choice(activation, "activation", _ACTIVATIONS)
    if out_activation is not None:
        V.choice(out_activation, "out_activation", _ACTIVATIONS)

    def linear(i, o):
        layer = nn.Linear(i, o)
        return nn.utils.parametrizations.spectral_norm(layer) if spectral_norm else layer

    layers: list[nn.Module] = []
    width = in_dim
    for _ in range(depth):
        layers += [linear(width, hidden), _ACTIVATIONS[activation]()]
        width = hidden
    layers.append(linear(width, out_dim))
    if out_activation is not None:
        layers.append(_ACTIVATIONS[out_activation]())
    return nn.Sequential(*layers)


class ToyGenerator(nn.Module):
    """G: noise z (N, z_dim) -> points x (N, data_dim), an MLP."""

    def __init__(self, z_dim: int = 2, data_dim: int = 2, hidden: int = 128, depth: int = 3):
        super().__init__()
        self.z_dim = V.positive_int(z_dim, "z_dim")
        self.data_dim = V.positive_int(data_dim, "data_dim")
        self.net = mlp(z_dim, data_dim, hidden, depth)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        V.tensor(z, "z", ndim=2, last_dim=self.z_dim)
        return self.net(z)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n samples G(z), z ~ N(0, I), without gradients."""
        device = next(self.parameters()).device
        z = torch.randn(V.positive_int(n, "n"), self.z_dim, generator=generator).to(device)
        with torch.no_grad():
            return self(z)


def pack(x: torch.Tensor, m: int) -> torch.Tensor:
    """PacGAN's packing (Lin et al. 2018, Section 3): m consecutive samples side by side.

    x (n, d) -> (n/m, m·d): row j holds samples jm, ..., jm + m - 1 concatenated, the input of a
    discriminator that judges m samples jointly. n must be a multiple of m.
    """
    V.tensor(x, "x", ndim=2)
    m = V.positive_int(m, "m")
    if x.shape[0] % m:
        raise ValueError(f"x: expected a number of samples divisible by m = {m}, got {x.shape[0]}")
    return x.reshape(x.shape[0] // m, m * x.shape[1])


class ToyDiscriminator(nn.Module):
    """D: points x (N, data_dim) -> one logit (or critic score) per point, shape (N,).

    With ``pack = m > 1`` (PacGAN), D judges m samples at once: x (N, data_dim) with N = m·P is
    packed into P inputs of m·data_dim (:func:`pack`) and D returns P logits, shape (P,).
    """

    def __init__(self, data_dim: int = 2, hidden: int = 128, depth: int = 3, spectral_norm: bool = False,
                 activation: str = "relu", pack: int = 1):
        super().__init__()
        self.data_dim = V.positive_int(data_dim, "data_dim")
        self.pack = V.positive_int(pack, "pack")
        self.net = mlp(self.pack * data_dim, 1, hidden, depth, activation=activation, spectral_norm=spectral_norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        V.tensor(x, "x", ndim=2, last_dim=self.data_dim)
        return self.net(pack(x, self.pack) if self.pack > 1 else x).squeeze(-1)
