r"""Adversarial losses, all computed from the discriminator's raw outputs (logits), never from
probabilities: ``log(sigmoid(l))`` is written ``-softplus(-l)`` so that it stays finite for any l.

Notation: ``real_logits`` = D's logits on data, ``fake_logits`` = D's logits on G(z); D(x) =
σ(logit). Every function returns a scalar tensor (the mean over the batch) that the optimiser
*minimises*.

==========================  =================================================================
function                    loss (minimised)
==========================  =================================================================
``d_loss_bce``              -E log D(x) - E log(1 - D(G(z)))        (Goodfellow et al. 2014, Eq. 1)
``g_loss_saturating``       E log(1 - D(G(z)))                      (the minimax generator loss)
``g_loss_nonsaturating``    -E log D(G(z))                          (the "-log D trick", §3)
``d_loss_lsgan``            ½E(D(x) - 1)² + ½E D(G(z))²             (Mao et al. 2017, a=0, b=c=1)
``g_loss_lsgan``            ½E(D(G(z)) - 1)²
``d_loss_hinge``            E max(0, 1 - D(x)) + E max(0, 1 + D(G(z)))   (Lim & Ye 2017; SN-GAN, SPADE)
``g_loss_hinge``            -E D(G(z))
``d_loss_wasserstein``      E f(G(z)) - E f(x)                      (Arjovsky et al. 2017, critic)
``g_loss_wasserstein``      -E f(G(z))
``gradient_penalty``        E(‖∇f(x̂)‖₂ - 1)², x̂ on lines real–fake   (Gulrajani et al. 2017, Eq. 3)
``r1_penalty``              E‖∇f(x)‖₂² on real data                  (Mescheder et al. 2018)
``feature_matching``        Σ_layers mean |D_l(x) - D_l(G(z))|      (pix2pixHD, Wang et al. 2018)
==========================  =================================================================

For LSGAN and hinge, the "logits" are D's raw scores (no sigmoid is involved).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from . import _validate as V


def _scores(x, name: str) -> torch.Tensor:
    x = V.tensor(x, name)
    if x.numel() == 0:  # the mean of nothing is NaN: refuse it here, not as a NaN loss later
        raise ValueError(f"{name}: expected at least one score, got an empty tensor of shape {tuple(x.shape)}")
    return x


# ---- the original GAN (binary cross-entropy) -----------------------------------------------

def d_loss_bce(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    r"""Discriminator loss of the original GAN: :math:`-\mathbb{E}\log D(x) - \mathbb{E}\log(1 - D(G(z)))`.

    ``-log σ(l) = softplus(-l)`` and ``-log(1 - σ(l)) = softplus(l)``. Minimising it maximises
    V(D, G) over D. Shapes: any, the mean is taken over all elements (a PatchGAN's map too).
    """
    _scores(real_logits, "real_logits")
    _scores(fake_logits, "fake_logits")
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def g_loss_saturating(fake_logits: torch.Tensor) -> torch.Tensor:
    r"""The minimax generator loss :math:`\mathbb{E}\log(1 - D(G(z))) = -\mathbb{E}\,\mathrm{softplus}(l)`.

    Its gradient with respect to the logit is -σ(l): close to 0 when D confidently rejects the
    fakes (σ(l) ≈ 0), which is exactly the situation early in training. The generator "saturates".
    """
    _scores(fake_logits, "fake_logits")
    return -F.softplus(fake_logits).mean()


def g_loss_nonsaturating(fake_logits: torch.Tensor) -> torch.Tensor:
    r"""The non-saturating generator loss :math:`-\mathbb{E}\log D(G(z)) = \mathbb{E}\,\mathrm{softplus}(-l)`.

    Same fixed point as the minimax loss, but its gradient with respect to the logit,
    -(1 - σ(l)), is close to -1 when D rejects the fakes: strong gradients early in training.
    """
    _scores(fake_logits, "fake_logits")
    return F.softplus(-fake_logits).mean()


# ---- least squares ---------------------------------------------------------------------------

def d_loss_lsgan(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """LSGAN discriminator loss, targets 1 for real and 0 for fake: ½E(D(x)-1)² + ½E D(G(z))²."""
    _scores(real_scores, "real_scores")
    _scores(fake_scores, "fake_scores")
    return 0.5 * ((real_scores - 1) ** 2).mean() + 0.5 * (fake_scores ** 2).mean()


def g_loss_lsgan(fake_scores: torch.Tensor) -> torch.Tensor:
    """LSGAN generator loss: ½E(D(G(z)) - 1)² (the fakes should score like real data)."""
    _scores(fake_scores, "fake_scores")
    return 0.5 * ((fake_scores - 1) ** 2).mean()


# ---- hinge -----------------------------------------------------------------------------------

def d_loss_hinge(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """Hinge discriminator loss: E max(0, 1 - D(x)) + E max(0, 1 + D(G(z)))."""
    _scores(real_scores, "real_scores")
    _scores(fake_scores, "fake_scores")
    return F.relu(1 - real_scores).mean() + F.relu(1 + fake_scores).mean()


def g_loss_hinge(fake_scores: torch.Tensor) -> torch.Tensor:
    """Hinge generator loss: -E D(G(z))."""
    _scores(fake_scores, "fake_scores")
    return -fake_scores.mean()


# ---- Wasserstein ------------------------------------------------------------------------------

def d_loss_wasserstein(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    r"""WGAN critic loss :math:`\mathbb{E} f(G(z)) - \mathbb{E} f(x)`; its negative estimates W1 when f is 1-Lipschitz."""
    _scores(real_scores, "real_scores")
    _scores(fake_scores, "fake_scores")
    return fake_scores.mean() - real_scores.mean()


def g_loss_wasserstein(fake_scores: torch.Tensor) -> torch.Tensor:
    """WGAN generator loss: -E f(G(z))."""
    _scores(fake_scores, "fake_scores")
    return -fake_scores.mean()


# ---- gradient penalties -----------------------------------------------------------------------

def _critic_scores(critic, x):
    out = critic(x)
    if isinstance(out, (tuple, list)):  # critics with an auxiliary head return (scores, classes)
        out = out[0]
    return out


def _check_critic(critic) -> None:
    if not callable(critic):
        raise TypeError(f"critic: expected the critic network (a callable such as an nn.Module), "
                        f"got {type(critic).__name__}")


def gradient_penalty(critic, real: torch.Tensor, fake: torch.Tensor, weight: float = 1.0,
                     one_sided: bool = False, generator: torch.Generator | None = None) -> torch.Tensor:
    r"""WGAN-GP's penalty :math:`\lambda\,\mathbb{E}_{\hat x}(\|\nabla_{\hat x} f(\hat x)\|_2 - 1)^2`.

    x̂ = ε·real + (1-ε)·fake with one ε ~ U[0, 1] per sample (Gulrajani et al. 2017, Algorithm 1).
    ``real`` and ``fake``: tensors of the same shape (N, ...): 2-D points (N, 2) or images
    (N, C, H, W). ``critic`` maps them to scores of shape (N,), (N, 1) or a patch map (N, 1, h, w)
    (or a tuple whose first item is that); the scores are summed per sample before
    differentiating. ``weight`` is λ (1 by default: the caller may multiply by 10 itself).
    ``one_sided=True`` penalises only norms above 1: max(0, ‖∇‖ - 1)².
    The graph is kept (``create_graph=True``) so the penalty can be back-propagated to the critic.
    """
    _check_critic(critic)
    V.tensor(real, "real")
    V.tensor(fake, "fake")
    if real.shape != fake.shape:
        raise ValueError(f"real and fake: expected the same shape, got {tuple(real.shape)} and {tuple(fake.shape)}")
    if real.ndim == 0 or real.shape[0] == 0:
        raise ValueError(f"real and fake: expected a batch of at least one sample, got shape {tuple(real.shape)}")
    eps_shape = (real.shape[0],) + (1,) * (real.ndim - 1)
    eps = torch.rand(eps_shape, generator=generator).to(real.device, real.dtype) if generator is not None \
        else torch.rand(eps_shape, device=real.device, dtype=real.dtype)
    x_hat = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    scores = _critic_scores(critic, x_hat)
    (grad,) = torch.autograd.grad(scores.sum(), x_hat, create_graph=True)
    norms = grad.flatten(1).norm(2, dim=1)
    gap = (norms - 1).clamp(min=0) if one_sided else norms - 1
    return weight * (gap ** 2).mean()


def r1_penalty(critic, real: torch.Tensor, weight: float = 1.0) -> torch.Tensor:
    r"""R1, the zero-centred penalty on real data: :math:`\tfrac{\gamma}{2}`-free form E‖∇f(x)‖₂².

    Mescheder et al. (2018) use (γ/2)·E‖∇D(x)‖²; pass ``weight=γ/2``. Penalising the gradient
    where the data are (rather than on interpolates, towards norm 1) lets the discriminator be
    flat on the data at equilibrium, which stabilises training near it.
    """
    _check_critic(critic)
    V.tensor(real, "real")
    x = real.detach().requires_grad_(True)
    scores = _critic_scores(critic, x)
    (grad,) = torch.autograd.grad(scores.sum(), x, create_graph=True)
    return weight * grad.flatten(1).pow(2).sum(1).mean()


# ---- feature matching -------------------------------------------------------------------------

def feature_matching(real_features, fake_features) -> torch.Tensor:
    r"""pix2pixHD's feature matching loss: Σ over layers (and discriminators) of mean |D_l(x) - D_l(G)|.

    ``real_features``/``fake_features``: a list of tensors (one per layer), or a list of such lists
    (one per discriminator scale, each weighted 1/num_D as in pix2pixHD). Real features are
    detached: only the generator is pushed.
    """
    if not isinstance(real_features, (list, tuple)) or not isinstance(fake_features, (list, tuple)):
        raise TypeError("real_features, fake_features: expected lists of feature tensors")
    if len(real_features) != len(fake_features):
        raise ValueError(f"real_features and fake_features: expected the same number of entries, "
                         f"got {len(real_features)} and {len(fake_features)}")
    if real_features and isinstance(real_features[0], (list, tuple)):
        num_d = len(real_features)
        return sum(feature_matching(r, f) for r, f in zip(real_features, fake_features)) / num_d
    total = 0.0
    for k, (r, f) in enumerate(zip(real_features, fake_features)):
        if r.shape != f.shape:
            raise ValueError(f"feature {k}: shapes differ, {tuple(r.shape)} vs {tuple(f.shape)}")
        total = total + (r.detach() - f).abs().mean()
    return total


def grouped_cross_entropy(logits: torch.Tensor, labels: torch.Tensor, groups) -> torch.Tensor:
    """Σ over A categorical attributes of the cross-entropy of each one's logits: ``logits`` (N, Σ groups)
    holds the attributes' logits side by side (``groups``: the number of values of each), ``labels``
    (N, A) their true values. StarGAN's classification loss with several attributes (Choi et al. 2018,
    Eqs. 2-3), and the shapes judge's training loss."""
    V.tensor(logits, "logits", ndim=2, last_dim=sum(groups))
    total, start = 0.0, 0
    for a, n in enumerate(groups):
        total = total + F.cross_entropy(logits[:, start:start + n], labels[:, a].to(logits.device))
        start += n
    return total


LOSSES = {
    "gan": (d_loss_bce, g_loss_saturating),
    "nsgan": (d_loss_bce, g_loss_nonsaturating),
    "lsgan": (d_loss_lsgan, g_loss_lsgan),
    "hinge": (d_loss_hinge, g_loss_hinge),
    "wgan": (d_loss_wasserstein, g_loss_wasserstein),
}


def kl_to_standard_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    r"""KL(N(μ, diag σ²) ‖ N(0, I)) = ½ Σ_j (μ_j² + σ_j² − 1 − log σ_j²), summed over the code's
    entries and averaged over the batch; ``mu``, ``logvar``: (N, d). The regulariser of a VAE
    (Kingma & Welling 2014, Appendix B), of StackGAN's conditioning augmentation (Eq. 3) and of
    SPADE's style encoder."""
    V.tensor(mu, "mu", ndim=2)
    V.tensor(logvar, "logvar", ndim=2)
    if mu.shape != logvar.shape:
        raise ValueError(f"mu and logvar: expected the same shape (N, d), got {tuple(mu.shape)} and {tuple(logvar.shape)}")
    return 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(1).mean()


def get_losses(name: str):
    """``(d_loss, g_loss)`` for ``"gan"``, ``"nsgan"``, ``"lsgan"``, ``"hinge"`` or ``"wgan"``."""
    V.choice(name, "name", LOSSES)
    return LOSSES[name]
