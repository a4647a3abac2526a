r"""Spectral normalisation (Miyato et al. 2018): the largest singular value σ(W) of a weight, and
the Lipschitz bound it gives a network.

For a linear layer x ↦ Wx + b, the Lipschitz constant (for the Euclidean norm) is σ(W), the
largest singular value of W (Miyato et al., Eq. 6). For 1-Lipschitz activations (ReLU, leaky
ReLU, tanh) the Lipschitz constant of the composition is at most the product of the layers'
σ(W_l) (Eq. 7). Dividing every W_l by σ(W_l) therefore makes the whole network at most
1-Lipschitz: :math:`\bar W_{SN} = W / \sigma(W)` (Eq. 8).

σ(W) is found by power iteration (Miyato et al., Algorithm 1): starting from a random u,

.. math:: v \leftarrow W^\top u / \|W^\top u\|_2, \qquad u \leftarrow W v / \|W v\|_2,
          \qquad \sigma(W) \approx u^\top W v .

The iteration converges to the top singular pair at a rate (σ₂/σ₁)^(2k). In training one
iteration per step suffices because W changes little between steps and u is kept from the last
step; that is what ``torch.nn.utils.parametrizations.spectral_norm`` does, and what
:func:`apply_spectral_norm` applies to every linear and convolutional layer of a network.
:func:`power_iteration` is the course's own, readable version, for teaching and for checking.

Convolution weights (out, in, kh, kw) are reshaped to (out, in·kh·kw), as in the paper and in
torch; the true Lipschitz constant of a convolution differs from σ of that matrix by a factor
that depends on the stride and kernel size, a known looseness of spectral normalisation.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from .. import _validate as V

_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d)


def _as_matrix(weight: torch.Tensor, name: str) -> torch.Tensor:
    V.tensor(weight, name)
    if weight.ndim < 2:
        raise ValueError(f"{name}: expected a weight with at least 2 dimensions (out, in, ...), "
                         f"got shape {tuple(weight.shape)}")
    if not torch.isfinite(weight).all():
        raise ValueError(f"{name}: contains NaN or infinite values")
    return weight.detach().reshape(weight.shape[0], -1)


def power_iteration(weight: torch.Tensor, n_iter: int = 20, u: torch.Tensor | None = None,
                    generator: torch.Generator | None = None, eps: float = 1e-12
                    ) -> tuple[float, torch.Tensor, torch.Tensor]:
    r"""Estimate σ(W), the largest singular value, by ``n_iter`` steps of power iteration.

    ``weight``: (out, in) or a convolution kernel (out, in, kh, kw), reshaped to (out, in·kh·kw).
    ``u``: a starting left vector of shape (out,) (random when None; pass the last ``u`` back in to
    continue the iteration, as spectral normalisation does between training steps).
    Returns ``(sigma, u, v)``: the estimate σ ≈ uᵀWv as a float, and the unit vectors u (out,) and
    v (in·kh·kw,). The estimate never exceeds the true σ(W) (it is a Rayleigh quotient) and
    approaches it from below (Miyato et al. 2018, Algorithm 1).
    """
    w = _as_matrix(weight, "weight")
    n_iter = V.positive_int(n_iter, "n_iter")
    if u is None:
        u = torch.randn(w.shape[0], generator=generator, dtype=w.dtype).to(w.device)
    else:
        V.tensor(u, "u", ndim=1)
        if u.shape[0] != w.shape[0]:
            raise ValueError(f"u: expected length {w.shape[0]} (the number of rows of the weight), got {u.shape[0]}")
        u = u.detach().to(w.device, w.dtype)
    u = u / (u.norm() + eps)
    for _ in range(n_iter):
        v = w.t() @ u
        v = v / (v.norm() + eps)
        u = w @ v
        u = u / (u.norm() + eps)
    sigma = float(u @ (w @ v))
    return sigma, u, v


def spectral_norms(module: nn.Module, n_iter: int = 50) -> list[float]:
    """σ of the effective weight of every linear/conv layer of ``module``, in order (power iteration).

    For a layer under torch's spectral-norm parametrization the *normalised* weight is used (the
    one the forward pass multiplies by), so an SN network gives values close to 1.
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f"module: expected an nn.Module, got {type(module).__name__}")
    n_iter = V.positive_int(n_iter, "n_iter")
    gen = torch.Generator().manual_seed(0)
    was_training = module.training
    module.eval()  # reading a parametrized weight in training mode would advance torch's own iteration
    out = []
    try:
        for layer in module.modules():
            if isinstance(layer, _LAYERS):
                with torch.no_grad():
                    sigma, _, _ = power_iteration(layer.weight, n_iter=n_iter, generator=gen)
                out.append(sigma)
    finally:
        module.train(was_training)
    return out


def lipschitz_upper_bound(module: nn.Module, n_iter: int = 50) -> float:
    r"""Upper bound on the Lipschitz constant of a feed-forward network: :math:`\prod_l \sigma(W_l)`.

    Valid when every activation is 1-Lipschitz (ReLU, leaky ReLU, tanh, ELU) and the layers are
    applied one after the other (an MLP such as :func:`gancourse.nn.mlp`); Miyato et al. 2018, Eq. 7.
    The bound is usually loose: the measured maximum of ‖∇f‖ is smaller.
    """
    sigmas = spectral_norms(module, n_iter=n_iter)
    if not sigmas:
        raise ValueError("module: has no linear or convolutional layer to bound")
    return float(math.prod(sigmas))


def apply_spectral_norm(module: nn.Module, n_power_iterations: int = 1) -> nn.Module:
    """Wrap every linear and convolutional layer of ``module`` in torch's spectral-norm
    parametrization (in place; returns the module). Layers already normalised are left alone.

    After it, each layer multiplies by W/σ(W), σ estimated by ``n_power_iterations`` power
    iterations per forward pass in training mode (Miyato et al. 2018, Algorithm 1).
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f"module: expected an nn.Module, got {type(module).__name__}")
    n_power_iterations = V.positive_int(n_power_iterations, "n_power_iterations")
    from torch.nn.utils import parametrize

    for layer in list(module.modules()):
        if isinstance(layer, _LAYERS) and not parametrize.is_parametrized(layer, "weight"):
            nn.utils.parametrizations.spectral_norm(layer, n_power_iterations=n_power_iterations)
    return module


def has_spectral_norm(module: nn.Module) -> bool:
    """True when every linear/conv layer of ``module`` is under a spectral-norm parametrization."""
    from torch.nn.utils import parametrize

    layers = [m for m in module.modules() if isinstance(m, _LAYERS)]
    return bool(layers) and all(parametrize.is_parametrized(m, "weight") for m in layers)
