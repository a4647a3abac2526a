r"""The Wasserstein family: WGAN (weight clipping), WGAN-GP (gradient penalty), SN-GAN (spectral
normalisation), as one model object whose :meth:`WGAN.optimize_parameters` shows the update order.

The critic f_w estimates the Wasserstein-1 distance through the Kantorovich–Rubinstein duality
(Arjovsky et al. 2017, Eq. 2–3):

.. math:: W_1(P_r, P_g) = \sup_{\|f\|_L \le 1} \mathbb{E}_{x\sim P_r} f(x) - \mathbb{E}_{x\sim P_g} f(x)
          \;\approx\; \max_{w} \mathbb{E}_{x} f_w(x) - \mathbb{E}_{z} f_w(G_\theta(z)) .

What keeps f_w Lipschitz is the one thing the family members disagree on:

==============  ===============================================  ==================================
preset          constraint on the critic                         optimiser (paper defaults)
==============  ===============================================  ==================================
``wgan``        clip every weight to [-c, c] after each step     RMSProp 5e-5, c = 0.01, n_critic 5
                (Arjovsky et al. 2017, Algorithm 1)
``wgan-gp``     + λ E(‖∇f(x̂)‖₂ - 1)², x̂ between real and fake  Adam 1e-4, β = (0, 0.9), λ = 10,
                (Gulrajani et al. 2017, Algorithm 1, Eq. 3)      n_critic 5
``sngan``       every weight divided by its σ(W)                  Adam 2e-4, β = (0.5, 0.999),
                (Miyato et al. 2018), non-saturating loss        n_critic 1 (their setting C)
``hinge``       spectral norm + the hinge loss (Lim & Ye 2017;   as ``sngan``
                Miyato et al. 2018)
``gan``         none, minimax loss (Goodfellow et al. 2014)      Adam 2e-4, β = (0.5, 0.999), k = 1
``nsgan``       none, non-saturating loss (Goodfellow 2014 §3)   as ``gan``
==============  ===============================================  ==================================

The last two are not Wasserstein GANs; they are here because their update order is the same loop
(Algorithm 1 of Goodfellow et al. with k = n_critic = 1), so one object runs the whole comparison
of notebook 08. The update order, in :meth:`WGAN.optimize_parameters`::

    for t in range(n_critic):            # the critic first, n_critic times
        real, fake = next(data), G(z).detach()
        loss_D = d_loss(f(real), f(fake)) + penalty;  step D;  clip if "clip"
    loss_G = g_loss(f(G(z)));  step G     # then one generator step
    ema.update(G)                        # optional average of G's weights for sampling

``python -m gancourse.train wgan-gp`` (and ``wgan``) train the family on the digits with the
DCGAN networks of ``gancourse.models.dcgan`` when that module is present; the toy experiments
of notebooks 07–08 use the MLPs of ``gancourse.nn`` (see ``gancourse.models.toy_modes``).
"""
from __future__ import annotations

import dataclasses
import numbers
from dataclasses import dataclass
from typing import Callable, Iterator

import torch
from torch import nn

from .. import _validate as V
from .. import losses, pretrained, recipes
from ..data import Digits, batches, image_folder
from ..fastpaths import prepare
from ..nn.ema import EMA
from ..nn.spectral import apply_spectral_norm, has_spectral_norm
from ..runtime import pick, seed_everything
from ..train import fit
from . import dcgan

CONSTRAINTS = ("none", "clip", "gp", "one-sided-gp", "sn")
OPTIMIZERS = ("rmsprop", "adam")


# --------------------------------------------------------------------------------------------
# Weight clipping
# --------------------------------------------------------------------------------------------

@torch.no_grad()
def clip_weights(module: nn.Module, c: float) -> float:
    r"""Clip every parameter of ``module`` to [-c, c], in place: :math:`w \leftarrow \mathrm{clip}(w, -c, c)`.

    Arjovsky et al. (2017), Algorithm 1, line 7: a compact weight space makes every f_w
    K-Lipschitz for some K that depends on c and the architecture (not 1: the critic then
    estimates K·W1). Biases are clipped too, as in the reference code. Returns the fraction of
    parameters sitting on a bound (|w| = c) after clipping: close to 1 is the "weights pile up at
    ±c" pathology (Gulrajani et al. 2017, Figure 1b).
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f"module: expected an nn.Module, got {type(module).__name__}")
    c = V.positive_float(c, "c")
    at_bound, total = 0, 0
    for p in module.parameters():
        p.clamp_(-c, c)
        at_bound += int((p.abs() >= c * (1 - 1e-6)).sum())
        total += p.numel()
    if total == 0:
        raise ValueError("module: has no parameters to clip")
    return at_bound / total


def clipped_critic_step(D: nn.Module, opt_D: torch.optim.Optimizer, real: torch.Tensor, fake: torch.Tensor,
                        clip: float) -> torch.Tensor:
    """One critic update of WGAN (Arjovsky et al. 2017, Algorithm 1, lines 3-7): ascend
    E f(real) − E f(fake) (descend its negative), then clip every parameter to [−c, c]. ``real`` and
    ``fake`` are batches of samples (fake already detached). Returns the estimate E f(real) − E f(fake)
    before the update (K·W1 for a K-Lipschitz critic)."""
    estimate = D(real).mean() - D(fake).mean()
    opt_D.zero_grad(set_to_none=True)
    (-estimate).backward()
    opt_D.step()
    clip_weights(D, clip)
    return estimate.detach()


def gp_critic_loss(D: nn.Module, real: torch.Tensor, fake: torch.Tensor, gp_weight: float):
    """WGAN-GP's critic loss (Gulrajani et al. 2017, Eq. 3, Algorithm 1 lines 4-7): E D(fake) − E D(real)
    + λ·E(‖∇D(x̂)‖₂ − 1)², x̂ = ε·real + (1 − ε)·fake with one ε ~ U[0, 1] per sample. Returns
    ``(loss, penalty)``, the penalty unweighted (:func:`gancourse.losses.gradient_penalty`)."""
    penalty = losses.gradient_penalty(D, real, fake)
    loss = losses.d_loss_wasserstein(D(real), D(fake)) + gp_weight * penalty
    return loss, penalty


def without_batch_norm(D: nn.Module, norm: str = "layer") -> nn.Module:
    """Replace every ``BatchNorm1d/2d`` of a critic by a per-sample normalisation (in place; returns D).

    The gradient penalty is computed per sample, but batch norm makes each score depend on the
    whole batch, so WGAN-GP's critic uses none (Gulrajani et al. 2017, §4: "we recommend layer
    normalization as a drop-in replacement"). ``norm="layer"``: ``GroupNorm(1, C)``, layer norm
    over (C, H, W) with a learned scale and shift per channel; ``norm="none"``: ``Identity``.
    Used to turn DCGAN's discriminator (``gancourse.models.dcgan``) into a WGAN-GP critic.
    """
    if not isinstance(D, nn.Module):
        raise TypeError(f"D: expected an nn.Module, got {type(D).__name__}")
    V.choice(norm, "norm", ("layer", "none"))
    for name, child in D.named_children():
        if isinstance(child, (nn.BatchNorm1d, nn.BatchNorm2d)):
            setattr(D, name, nn.GroupNorm(1, child.num_features) if norm == "layer" else nn.Identity())
        else:
            without_batch_norm(child, norm)
    return D


# --------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------

@dataclass
class WGANConfig:
    """One training configuration of the family; the defaults are WGAN's (Arjovsky et al. 2017).

    ``loss``: the pair of ``gancourse.losses.get_losses`` ("wgan", "hinge", "nsgan", "gan", "lsgan").
    ``constraint``: "clip" | "gp" | "one-sided-gp" | "sn" | "none". ``r1_weight`` adds
    r1_weight·E‖∇D(x)‖² on real data (Mescheder et al. 2018's R1 with γ/2 = r1_weight) to any of them.
    ``reference_schedule``: 100 critic iterations for the first 25 generator steps and every 500th,
    as in the WGAN reference code. ``lr_decay_steps``: decay both learning rates linearly to 0
    over that many generator steps (as WGAN-GP's reference code does). ``ema_decay``: keep an
    exponential moving average of G's weights (see ``gancourse.nn.ema``).
    """

    loss: str = "wgan"
    constraint: str = "clip"
    optimizer: str = "rmsprop"
    lr: float = 5e-5
    betas: tuple[float, float] = (0.5, 0.999)
    n_critic: int = 5
    clip: float = 0.01
    gp_weight: float = 10.0
    r1_weight: float = 0.0
    reference_schedule: bool = False
    lr_decay_steps: int | None = None
    ema_decay: float | None = None

    def __post_init__(self):
        V.choice(self.loss, "loss", losses.LOSSES)
        V.choice(self.constraint, "constraint", CONSTRAINTS)
        V.choice(self.optimizer, "optimizer", OPTIMIZERS)
        self.lr = V.positive_float(self.lr, "lr")
        if (not isinstance(self.betas, (tuple, list)) or len(self.betas) != 2
                or not all(isinstance(b, numbers.Real) and 0 <= b < 1 for b in self.betas)):
            raise ValueError(f"betas: expected two numbers in [0, 1), got {self.betas!r}")
        self.betas = (float(self.betas[0]), float(self.betas[1]))  # Adam refuses an int 0
        self.n_critic = V.positive_int(self.n_critic, "n_critic")
        self.clip = V.positive_float(self.clip, "clip")
        self.gp_weight = V.positive_float(self.gp_weight, "gp_weight", allow_zero=True)
        self.r1_weight = V.positive_float(self.r1_weight, "r1_weight", allow_zero=True)
        if not isinstance(self.reference_schedule, bool):
            raise TypeError(f"reference_schedule: expected a bool, got {type(self.reference_schedule).__name__}")
        if self.lr_decay_steps is not None:
            self.lr_decay_steps = V.positive_int(self.lr_decay_steps, "lr_decay_steps")
        if self.ema_decay is not None and (isinstance(self.ema_decay, bool) or not isinstance(self.ema_decay, numbers.Real)
                                           or not 0 <= self.ema_decay < 1):
            raise ValueError(f"ema_decay: expected None or a number in [0, 1), got {self.ema_decay!r}")


PRESETS: dict[str, WGANConfig] = {
    "gan": WGANConfig(loss="gan", constraint="none", optimizer="adam", lr=2e-4, betas=(0.5, 0.999), n_critic=1),
    "nsgan": WGANConfig(loss="nsgan", constraint="none", optimizer="adam", lr=2e-4, betas=(0.5, 0.999), n_critic=1),
    "wgan": WGANConfig(),
    "wgan-gp": WGANConfig(loss="wgan", constraint="gp", optimizer="adam", lr=1e-4, betas=(0.0, 0.9), n_critic=5),
    "sngan": WGANConfig(loss="nsgan", constraint="sn", optimizer="adam", lr=2e-4, betas=(0.5, 0.999), n_critic=1),
    "hinge": WGANConfig(loss="hinge", constraint="sn", optimizer="adam", lr=2e-4, betas=(0.5, 0.999), n_critic=1),
}


def preset(name: str, **overrides) -> WGANConfig:
    """The configuration of a named objective (see the module's table), with fields overridden:
    ``preset("wgan-gp", lr_decay_steps=10_000, ema_decay=0.999)``."""
    V.choice(name, "name", PRESETS)
    fields = {f.name for f in dataclasses.fields(WGANConfig)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise ValueError(f"overrides: unknown field(s) {', '.join(unknown)}; expected some of {', '.join(sorted(fields))}")
    return dataclasses.replace(PRESETS[name], **overrides)


# --------------------------------------------------------------------------------------------
# The model object
# --------------------------------------------------------------------------------------------

def _real_batch(batch) -> torch.Tensor:
    # Image datasets yield (images, labels); toy distributions yield points.
    return batch[0] if isinstance(batch, (tuple, list)) else batch


class WGAN:
    """G, its critic D, their optimisers and the update order of the chosen objective.

    ``G``: maps noise (N, ...) to samples; ``D``: maps samples to scores (N,) (or (N, 1)).
    ``config``: a :class:`WGANConfig` (default: WGAN's) or a preset name ("wgan-gp", ...).
    ``sample_z(n)``: the noise sampler; by default ``torch.randn(n, G.z_dim)`` on G's device.
    With ``constraint="sn"`` the critic's linear and convolutional layers are put under spectral
    normalisation here (in place) unless they already are.
    Works for 2-D points with ``gancourse.nn.ToyGenerator``/``ToyDiscriminator`` and for images
    (N, C, H, W) with convolutional G and D (without batch norm in D for "gp": the penalty is per
    sample, batch norm mixes the samples; Gulrajani et al. 2017, §4).
    ``critic_step(D, opt_D, real, fake, clip) -> estimate`` replaces the critic's update of the
    clipped WGAN (notebook 07's exercise; :func:`clipped_critic_step` is the reference);
    ``critic_loss(D, real, fake, gp_weight) -> (loss, penalty)`` replaces WGAN-GP's critic loss
    (notebook 08's exercise; :func:`gp_critic_loss` is the reference).
    """

    def __init__(self, G: nn.Module, D: nn.Module, config: WGANConfig | str | None = None,
                 sample_z: Callable[[int], torch.Tensor] | None = None, critic_step=None, critic_loss=None):
        if not isinstance(G, nn.Module):
            raise TypeError(f"G: expected an nn.Module, got {type(G).__name__}")
        if not isinstance(D, nn.Module):
            raise TypeError(f"D: expected an nn.Module, got {type(D).__name__}")
        if config is None:
            config = WGANConfig()
        elif isinstance(config, str):
            config = preset(config)
        elif not isinstance(config, WGANConfig):
            raise TypeError(f"config: expected a WGANConfig or a preset name, got {type(config).__name__}")
        if sample_z is None:
            if not hasattr(G, "z_dim"):
                raise TypeError("sample_z: G has no z_dim attribute; pass sample_z=lambda n: noise of shape (n, ...)")
            sample_z = self._gaussian_noise
        elif not callable(sample_z):
            raise TypeError(f"sample_z: expected a function n -> noise, got {type(sample_z).__name__}")
        if critic_step is not None:
            if not callable(critic_step):
                raise TypeError(f"critic_step: expected a function (D, opt_D, real, fake, clip), "
                                f"got {type(critic_step).__name__}")
            if config.loss != "wgan" or config.constraint != "clip":
                raise ValueError(f"critic_step: replaces the clipped WGAN's critic update (loss 'wgan', constraint "
                                 f"'clip'), got loss {config.loss!r}, constraint {config.constraint!r}")
        if critic_loss is not None:
            if not callable(critic_loss):
                raise TypeError(f"critic_loss: expected a function (D, real, fake, gp_weight), "
                                f"got {type(critic_loss).__name__}")
            if config.loss != "wgan" or config.constraint != "gp" or config.r1_weight > 0:
                raise ValueError(f"critic_loss: replaces WGAN-GP's critic loss (loss 'wgan', constraint 'gp', no "
                                 f"R1), got loss {config.loss!r}, constraint {config.constraint!r}")
        self.critic_step, self.critic_loss = critic_step, critic_loss
        self.G, self.D, self.config, self.sample_z = G, D, config, sample_z
        if config.constraint == "sn" and not has_spectral_norm(D):
            apply_spectral_norm(D)
        self.opt_G = self._optimizer(G)
        self.opt_D = self._optimizer(D)
        self.schedulers = []
        if config.lr_decay_steps is not None:
            decay = lambda step: max(0.0, 1.0 - step / config.lr_decay_steps)  # noqa: E731
            self.schedulers = [torch.optim.lr_scheduler.LambdaLR(o, decay) for o in (self.opt_G, self.opt_D)]
        self.ema = EMA(G, config.ema_decay) if config.ema_decay is not None else None
        self.d_loss, self.g_loss = losses.get_losses(config.loss)
        self.g_steps = 0

    # -- construction helpers --------------------------------------------------------------
    def _gaussian_noise(self, n: int) -> torch.Tensor:
        return torch.randn(n, self.G.z_dim, device=next(self.G.parameters()).device)

    def _optimizer(self, net: nn.Module) -> torch.optim.Optimizer:
        c = self.config
        if c.optimizer == "rmsprop":
            return torch.optim.RMSprop(net.parameters(), lr=c.lr)
        return torch.optim.Adam(net.parameters(), lr=c.lr, betas=c.betas)

    # -- the pieces of one step ----------------------------------------------------------------
    def critic_iterations(self) -> int:
        """n_critic, or 100 during the first 25 generator steps and every 500th one when
        ``reference_schedule`` is on (the WGAN reference code: a near-optimal critic early on)."""
        if self.config.reference_schedule and (self.g_steps < 25 or self.g_steps % 500 == 0):
            return 100
        return self.config.n_critic

    def backward_D(self, real: torch.Tensor, fake: torch.Tensor) -> dict:
        """Critic loss d_loss(D(real), D(fake)) plus the penalties; back-propagated here.

        For the Wasserstein loss, ``w1_estimate`` = E f(real) − E f(fake), the critic's estimate
        of (K times) W1 on this batch, is returned with the losses.
        """
        c = self.config
        if self.critic_loss is not None:          # WGAN-GP's loss of one's own (notebook 08)
            loss, gp = self.critic_loss(self.D, real, fake, c.gp_weight)
            loss.backward()
            estimate = (c.gp_weight * gp - loss).detach()      # E f(real) - E f(fake)
            return {"loss_D": (-estimate), "gp": (c.gp_weight * gp).detach(), "w1_estimate": estimate}
        real_scores, fake_scores = self.D(real), self.D(fake)
        loss = self.d_loss(real_scores, fake_scores)
        out = {"loss_D": loss.detach()}
        if c.constraint in ("gp", "one-sided-gp"):
            gp = losses.gradient_penalty(self.D, real, fake, weight=c.gp_weight, one_sided=c.constraint == "one-sided-gp")
            loss = loss + gp
            out["gp"] = gp.detach()
        if c.r1_weight > 0:
            r1 = losses.r1_penalty(self.D, real, weight=c.r1_weight)
            loss = loss + r1
            out["r1"] = r1.detach()
        loss.backward()
        if c.loss == "wgan":
            out["w1_estimate"] = (real_scores.mean() - fake_scores.mean()).detach()
        return out

    def constrain_D(self) -> None:
        """After a critic step: clip the weights (WGAN); the other constraints act in the loss or
        inside the layers."""
        if self.config.constraint == "clip":
            clip_weights(self.D, self.config.clip)

    def backward_G(self, n: int) -> torch.Tensor:
        """Generator loss g_loss(D(G(z))) on n fresh noise vectors; back-propagated into G only."""
        self.D.requires_grad_(False)  # no gradients for D while G is updated
        loss = self.g_loss(self.D(self.G(self.sample_z(n))))
        loss.backward()
        self.D.requires_grad_(True)
        return loss.detach()

    def optimize_parameters(self, batches: Iterator) -> dict:
        """One generator step, preceded by ``critic_iterations()`` critic steps, each on a fresh
        real batch from ``batches`` (an iterator of tensors, or of (images, labels) pairs).
        Returns the last critic step's losses and the generator's, as tensors."""
        for _ in range(self.critic_iterations()):
            real = _real_batch(next(batches))
            with torch.no_grad():
                fake = self.G(self.sample_z(real.shape[0]))
            if self.critic_step is not None:       # a critic update of one's own (notebook 07)
                estimate = self.critic_step(self.D, self.opt_D, real, fake, self.config.clip).detach()
                logs = {"loss_D": -estimate, "w1_estimate": estimate}
                continue
            self.opt_D.zero_grad(set_to_none=True)
            logs = self.backward_D(real, fake)
            self.opt_D.step()
            self.constrain_D()
        self.opt_G.zero_grad(set_to_none=True)
        logs["loss_G"] = self.backward_G(real.shape[0])
        self.opt_G.step()
        for s in self.schedulers:
            s.step()
        if self.ema is not None:
            self.ema.update(self.G)
        self.g_steps += 1
        return logs

    # -- using the result --------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, n: int, ema: bool = False) -> torch.Tensor:
        """n samples from G (or from its weight average when ``ema=True``), without gradients."""
        n = V.positive_int(n, "n")
        if ema and self.ema is None:
            raise ValueError("ema: this model keeps no weight average (set ema_decay in its config)")
        net = self.ema.module if ema else self.G
        return net(self.sample_z(n))

    def modules(self) -> dict:
        """``{"G", "D"(, "G_ema")}``: what a checkpoint saves."""
        out = {"G": self.G, "D": self.D}
        if self.ema is not None:
            out["G_ema"] = self.ema.module
        return out

    def optimizers(self) -> dict:
        return {"G": self.opt_G, "D": self.opt_D}

    def extras(self) -> dict:
        """Schedulers and the generator-step counter, for exact resume with ``gancourse.train.Checkpointer``."""
        out = {f"scheduler_{k}": s for k, s in zip("GD", self.schedulers)}
        out["counter"] = _Counter(self)
        return out


class _Counter:
    """Makes ``WGAN.g_steps`` (and the EMA's update count) part of a checkpoint."""

    def __init__(self, model: WGAN):
        self.model = model

    def state_dict(self) -> dict:
        return {"g_steps": self.model.g_steps, "ema_updates": self.model.ema.updates if self.model.ema else 0}

    def load_state_dict(self, state: dict) -> None:
        self.model.g_steps = int(state["g_steps"])
        if self.model.ema is not None:
            self.model.ema.updates = int(state["ema_updates"])


# --------------------------------------------------------------------------------------------
# Recipes: the family on the digits, with DCGAN's networks
# --------------------------------------------------------------------------------------------

@dataclass
class DigitsConfig:
    """WGAN / WGAN-GP on the embedded digits with DCGAN's G and a batch-norm-free DCGAN critic."""

    objective: str = "wgan-gp"
    image_size: int = 16
    z_dim: int = 32
    g_width: int = 32
    d_width: int = 32
    batch_size: int = 64        # m = 64 in both papers
    steps: int = 3000           # generator steps
    ema_decay: float = 0.999    # sample from an average of G's weights
    channels: int = 1           # 3 for a --data folder of RGB images
    seed: int = 0


def digits_model(config: DigitsConfig, device="cpu", critic_loss=None) -> WGAN:
    """The model object of a digits run: ``dcgan.generator`` and ``dcgan.discriminator`` with its
    batch norm replaced by layer norm (:func:`without_batch_norm`), under the objective's preset.
    ``critic_loss``: WGAN-GP's critic loss, as in :class:`WGAN`."""
    V.instance(config, "config", DigitsConfig)
    V.choice(config.objective, "objective", ("wgan", "wgan-gp"))
    G = dcgan.generator(config.image_size, config.z_dim, config.g_width, config.channels).to(device)
    D = without_batch_norm(dcgan.discriminator(config.image_size, config.d_width, config.channels)).to(device)
    return WGAN(G, D, preset(config.objective, ema_decay=config.ema_decay), critic_loss=critic_loss)


def load_digits_generator(name: str = "wgan-gp-digits"):
    """The shipped digits generator ``name`` (its weight average), in eval mode, and the state."""
    state = pretrained.load(name)
    cfg = state["config"]
    G = dcgan.Generator(cfg["image_size"], cfg["z_dim"], cfg["g_width"])
    G.load_state_dict(state["modules"]["G_ema"])
    return G.eval(), state


def train_digits(cfg: DigitsConfig, dataset, device="cpu", progress: bool = True, checkpoint=None,
                 resume: bool = False, fast=None, log_every: int = 25):
    """Train :func:`digits_model` for ``cfg.steps`` generator steps on ``dataset`` (``(image, label)``
    items); return ``(model, history)``. ``fast``: GPU fast paths; ``checkpoint``: a
    :class:`gancourse.train.Checkpointer` (a grid of 64 from G's weight average)."""
    seed_everything(cfg.seed)
    model = prepare(digits_model(cfg, device), fast)  # GPU fast paths; DDP under torchrun
    stream = batches(dataset, cfg.batch_size, generator=torch.Generator().manual_seed(cfg.seed), device=device,
                     pin_memory=model.fast.pin_memory, workers=model.fast.workers)
    if checkpoint is not None:
        z_grid = torch.randn(64, cfg.z_dim, generator=torch.Generator().manual_seed(cfg.seed)).to(device)
        checkpoint.track(model, batches=stream, samples=lambda: dcgan._eval_samples(model.ema.module, z_grid))
    history = fit(lambda i: model.optimize_parameters(stream), cfg.steps, log_every=log_every,
                  desc=f"{cfg.objective} on digits", progress=progress, checkpoint=checkpoint, resume=resume)
    return model, history


def _recipe(objective: str) -> recipes.Recipe:
    """Recipes ``wgan-gp`` and ``wgan``: the digits (measured with the course's digit classifier,
    :func:`gancourse.models.dcgan.evaluate`), or ``--data`` any folder of images (RGB, 64x64 unless
    --image-size); ``--publish`` ships G's weight average."""

    def configure(args) -> DigitsConfig:
        folder = {"channels": 3, "image_size": 64} if args.data is not None else {}
        size = {"image_size": args.image_size} if args.image_size is not None else {}
        return DigitsConfig(objective=objective, seed=args.seed, **folder, **size, **recipes.options(args))

    def data(args, cfg):
        if args.data is None:
            return cfg, Digits(cfg.image_size, "train"), "digits"
        return cfg, image_folder(args.data, cfg.image_size, 3), None

    def evaluate(model, cfg, history, test) -> dict:
        result = dcgan.evaluate(model.ema.module.cpu(), n=pick(2000, 100)) if test == "digits" else {}  # quick: tests
        return {**result, "seconds": round(history.seconds, 1)}

    return recipes.Recipe(
        name=objective, config=DigitsConfig, configure=configure, data=data, fast=True, train=train_digits,
        evaluate=evaluate, trains_on="the digits", checkpoint_every=250,
        publish=lambda model, cfg: (f"{objective}-digits", {"G_ema": model.ema.module},
                                    f"{objective} on the {cfg.image_size}x{cfg.image_size} digits, DCGAN networks, "
                                    "critic with layer norm; G's weight average (notebook 08)"))


RECIPE_WGAN_GP, RECIPE_WGAN = _recipe("wgan-gp"), _recipe("wgan")
