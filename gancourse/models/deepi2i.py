r"""DeepI2I: image-to-image translation by transferring a pretrained class-conditional GAN
(Wang, Yu & van de Weijer, NeurIPS 2020).

A translator maps an image x of class a to an image of class b that keeps x's *structure* (pose,
thickness, background: what shallow layers see) and takes b's *semantics* (what deep layers see).
DeepI2I builds it from four networks and fills three of them with a GAN pretrained on a large
source domain:

=========================  ====================================  =================================
network                    role                                  initialised from
=========================  ====================================  =================================
encoder Υ (``E``)          x -> features at several depths       the pretrained discriminator's trunk
                           {8x8: shallow, 4x4: deep}
adaptor Λ (``A``)          one small conv net per scale: maps    random (it is new)
                           Υ's features to G's width
generator Φ (``G``)        G(z, b, Λ(Υ(x))): the pretrained G,   the pretrained generator
                           with ω·Λ_s(Υ_s(x)) added to its
                           features at every scale s
discriminator Ψ (``D``)    real/fake and class of target images  the pretrained discriminator
=========================  ====================================  =================================

Why an adaptor: Υ and Φ were trained as *adversaries*, not as an encoder-decoder pair; Υ's
features at 8x8 mean nothing to Φ's layer at 8x8. Λ learns the alignment; the weight ω scales the
injected features (with Λ = 0 the translator *is* the pretrained G).

Training (the reference code's order): stage 1 updates only Λ and Ψ (G frozen), for
``warmup_steps``; stage 2 updates G too. The defaults are the reference code's (ω = 0.1, the
transferred encoder frozen). The recipe's transfer arm (:func:`arm_config`) changes three, because
the styled digits' look is new to the source discriminator (notebook 15 measures it): ω = 1, so
that the encoder's message is not drowned by G's own features, the encoder fine-tuned in stage 2
at a tenth of G's rate (``lr_E``), and a self-reconstruction term (``lambda_rec``, below).

Losses: hinge on Ψ's real/fake score (Lim & Ye 2017;
the reference uses hinge throughout), and, because the course's class-conditional D is AC-GAN's
(notebook 09), its class head's cross-entropy for the class condition (the reference uses BigGAN's
projection discriminator instead):

.. math:: L_\Psi = \mathbb{E}\max(0, 1 - \Psi_s(y)) + \mathbb{E}\max(0, 1 + \Psi_s(\hat x))
          + \lambda_{cls}\big[CE(\Psi_c(y), c_y) + CE(\Psi_c(\hat x), b)\big],

.. math:: L_{\Phi,\Lambda} = -\mathbb{E}\,\Psi_s(\hat x) + \lambda_{cls}\,CE(\Psi_c(\hat x), b)
          + \lambda_{st}\,\lVert \Psi^{8}(\hat x) - \Psi^{8}(x)\rVert_2^2
          + \lambda_{rec}\,\lVert \Phi(z', a, \omega\Lambda(\Upsilon(x))) - x\rVert_1,

with :math:`\hat x = \Phi(z, b, \omega\Lambda(\Upsilon(x)))`, y a real target image of class c_y.
The third term compares Ψ's *shallow* (8x8) features of the translation and of its input: a
structure term. The reference code adds a similar feature term over all of D's scales; here only
the shallow scale is used, because the deep one carries the class we want to change. The
fourth, off in the reference (``lambda_rec`` = 0), asks the translator sent to the input's own class
a to give x back, background included: the labelled target images make it free.

``transfer=False`` is the from-scratch baseline of the paper: the same networks, randomly
initialised, encoder trained, no stage 1; same data, same steps, same batches.

    source = load_source()                               # the pretrained AC-GAN: G, D, config
    model = DeepI2I(DeepI2IConfig(), source)             # transfer
    losses = model.optimize_parameters(x, real, y_real, y_x)   # y_x: needed with lambda_rec > 0
    x_hat = model.translate(x, torch.full((n,), 3))      # every input as a 3

Recipes: ``python -m gancourse.train deepi2i-source --publish`` pretrains the source GAN on the
digits (AC-GAN of notebook 09, G and D kept); ``python -m gancourse.train deepi2i --publish``
trains transfer and scratch translators on 2, 5, 10 and 20 styled digits per class, three seeds
each, and ships those of the smallest set with every size's measured numbers (notebook 15).
"""
from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .. import _validate as V
from .. import losses, pretrained, recipes
from ..data import Digits, TensorImageDataset, batches
from ..data.styled_digits import StyledDigits, background_level
from ..distributed import unwrap
from ..fastpaths import FastPaths, prepare
from ..judges.styled import styled_digit_classifier
from ..metrics import classifier_features, classifier_probs, frechet_distance
from ..runtime import pick, pick_device, quick_mode, seed_everything
from ..train import Checkpointer, fit
from . import cgan

SOURCE_NAME = "deepi2i-source"
CURVE_STEPS = (25, 50, 100, 200, 400, 800, 1500)     # the recipe measures the translators at these budgets
PER_CLASS = (2, 5, 10, 20)                           # the recipe's target-set sizes (styled digits per class)
PUBLISHED = {True: "deepi2i-transfer", False: "deepi2i-scratch"}


# ---- the pretrained source GAN ------------------------------------------------------------------

def source_config(steps: int = 4000, seed: int = 0) -> cgan.CGANConfig:
    """The source GAN: notebook 09's AC-GAN on the 16x16 digits (one-hot code, widths 32)."""
    return cgan.CGANConfig(kind="acgan", code="one_hot", image_size=16, steps=V.positive_int(steps, "steps"),
                           seed=V.positive_int(seed, "seed", minimum=0))


def load_source() -> dict:
    """The shipped source GAN: ``{"G": ConditionalGenerator, "D": ACGANDiscriminator, "config": CGANConfig,
    "metrics": dict}``, checksum verified, both in eval mode."""
    state = pretrained.load(SOURCE_NAME)
    cfg = cgan.CGANConfig(**state["config"])
    G, D = cgan.build_generator(cfg), cgan.build_discriminator(cfg)
    G.load_state_dict(state["modules"]["G"])
    D.load_state_dict(state["modules"]["D"])
    return {"G": G.eval(), "D": D.eval(), "config": cfg, "metrics": state.get("metrics", {})}


# ---- the four networks ----------------------------------------------------------------------------

def trunk_features(trunk: nn.Sequential, x: torch.Tensor) -> dict[int, torch.Tensor]:
    """Run a discriminator trunk (``ACGANDiscriminator.body``) and keep the output of each block.

    ``x`` (N, C, S, S) -> ``{side: features}``, one entry per LeakyReLU (the end of each strided
    block): at S = 16, ``{8: (N, w, 8, 8), 4: (N, 2w, 4, 4)}``. Shallow (large side) first.
    """
    plain = unwrap(trunk)  # under torchrun a trained encoder is wrapped in DDP
    if not isinstance(plain, nn.Sequential):
        raise TypeError(f"trunk: expected the nn.Sequential body of a discriminator, got {type(trunk).__name__}")
    V.images(x, "x")
    out = {}
    if plain is trunk:
        h = x
        for layer in trunk:
            h = layer(h)
            if isinstance(layer, nn.LeakyReLU):
                out[h.shape[-1]] = h
        return out
    # Wrapped: call the wrapper (so that DDP averages the trunk's gradients) and keep each block's
    # output with forward hooks.
    keep = lambda module, inputs, output: out.__setitem__(output.shape[-1], output)  # noqa: E731
    hooks = [layer.register_forward_hook(keep) for layer in plain if isinstance(layer, nn.LeakyReLU)]
    try:
        trunk(x)
    finally:
        for hook in hooks:
            hook.remove()
    return out


def generator_widths(G: cgan.ConditionalGenerator) -> dict[int, int]:
    """Channels of G's hidden features at each side, e.g. ``{4: 64, 8: 32}`` for the 16x16 G of width 32."""
    if not isinstance(G, cgan.ConditionalGenerator):
        raise TypeError(f"G: expected a cgan.ConditionalGenerator, got {type(G).__name__}")
    widths, side = {}, 1
    for layer in G.net:
        if isinstance(layer, nn.ConvTranspose2d):
            side = 4 if side == 1 else 2 * side
            channels = layer.out_channels
        elif isinstance(layer, nn.ReLU):
            widths[side] = channels
    return widths


class Adaptor(nn.Module):
    """Λ: one small network per scale, encoder features -> the generator's width at the same side.

    ``encoder_widths`` and ``generator_widths``: ``{side: channels}`` with the same sides. Each scale
    is conv 3x3 -> LeakyReLU(0.2) -> conv 3x3 (sizes kept). ``forward`` maps ``{side: (N, c_E, s, s)}``
    to ``{side: (N, c_G, s, s)}``.
    """

    def __init__(self, encoder_widths: dict[int, int], generator_widths: dict[int, int]):
        super().__init__()
        if not isinstance(encoder_widths, dict) or not isinstance(generator_widths, dict):
            raise TypeError("encoder_widths and generator_widths: expected dicts {side: channels}")
        if sorted(encoder_widths) != sorted(generator_widths) or not encoder_widths:
            raise ValueError(f"encoder_widths and generator_widths: expected the same sides, got "
                             f"{sorted(encoder_widths)} and {sorted(generator_widths)}")
        self.sides = sorted(encoder_widths, reverse=True)
        self.scales = nn.ModuleDict({
            str(s): nn.Sequential(nn.Conv2d(V.positive_int(encoder_widths[s], "encoder_widths"), generator_widths[s], 3, 1, 1),
                                  nn.LeakyReLU(0.2), nn.Conv2d(generator_widths[s], generator_widths[s], 3, 1, 1))
            for s in self.sides})

    def forward(self, features: dict[int, torch.Tensor]) -> dict[int, torch.Tensor]:
        if not isinstance(features, dict) or sorted(features) != sorted(self.sides):
            raise ValueError(f"features: expected a dict with the sides {self.sides}, got "
                             f"{sorted(features) if isinstance(features, dict) else type(features).__name__}")
        return {s: self.scales[str(s)](features[s]) for s in self.sides}


def generate(G: cgan.ConditionalGenerator, z: torch.Tensor, labels: torch.Tensor,
             injected: dict[int, torch.Tensor] | None = None, weight: float = 0.1) -> torch.Tensor:
    r"""Φ(z, b, f): G's own layers, with ``weight`` · f_s added to its features after each ReLU.

    ``z`` (N, z_dim), ``labels`` (N,) the target classes, ``injected`` ``{side: (N, c_G, s, s)}`` (the
    adaptor's output) -> images (N, C, S, S). With ``injected=None`` (or all zeros) this is exactly
    ``G(z, labels)``: the transfer starts from the pretrained generator.
    """
    if not isinstance(unwrap(G), cgan.ConditionalGenerator):  # (under torchrun G is wrapped in DDP)
        raise TypeError(f"G: expected a cgan.ConditionalGenerator, got {type(G).__name__}")
    weight = V.positive_float(weight, "weight", allow_zero=True)
    # The loop over G's layers that adds the features lives in G.forward (injected=...), so that a
    # DistributedDataParallel wrapper sees the call and averages G's gradients.
    return G(z, labels, injected=injected or None, weight=weight)


# ---- configuration and model object -----------------------------------------------------------------

@dataclass
class DeepI2IConfig:
    transfer: bool = True          # False: the from-scratch baseline (same networks, random init)
    feature_weight: float = 0.1    # ω: weight of the adaptor's features added to G's (the reference's 0.1)
    warmup_steps: int = 100        # stage 1 (transfer only): adaptor and D only, G frozen
    lambda_cls: float = 1.0        # class term (AC-GAN head) in both losses
    lambda_structure: float = 1.0  # shallow-feature term between translation and input
    lambda_rec: float = 0.0        # self-reconstruction: x sent to its own class gives x back (L1; 0: none, as the reference)
    steps: int = 1500
    batch_size: int = 32
    lr_G: float = 1e-4             # the reference's TTUR: G (and adaptor, encoder) 1e-4, D 4e-4
    lr_D: float = 4e-4
    lr_E: float = 0.0              # transfer only: the encoder's rate (0: frozen, as in the reference)
    beta1: float = 0.0             # the reference's Adam betas (0, 0.999)
    seed: int = 0

    def __post_init__(self):
        if not isinstance(self.transfer, bool):
            raise TypeError(f"transfer: expected True or False, got {self.transfer!r}")
        self.feature_weight = V.positive_float(self.feature_weight, "feature_weight", allow_zero=True)
        self.warmup_steps = V.positive_int(self.warmup_steps, "warmup_steps", minimum=0)
        self.lambda_cls = V.positive_float(self.lambda_cls, "lambda_cls", allow_zero=True)
        self.lambda_structure = V.positive_float(self.lambda_structure, "lambda_structure", allow_zero=True)
        self.lambda_rec = V.positive_float(self.lambda_rec, "lambda_rec", allow_zero=True)
        V.fields(self, counts=("steps", "batch_size"))
        self.lr_G = V.positive_float(self.lr_G, "lr_G")
        self.lr_D = V.positive_float(self.lr_D, "lr_D")
        self.lr_E = V.positive_float(self.lr_E, "lr_E", allow_zero=True)
        V.unit_interval(self.beta1, "beta1")
        self.seed = V.positive_int(self.seed, "seed", minimum=0)


# The recipe's transfer arm departs from the reference in three settings (notebook 15 measures why):
# a louder adaptor, an encoder that adapts, and the reconstruction term, because the source D's
# shallow features hardly see the target's background, so the structure term cannot ask for it.
# The scratch arm keeps the reference's: at ω = 1, or with the reconstruction term, a translator
# trained from scratch on 20 images learns to copy its input instead of translating it.
TRANSFER_SETTINGS = {"feature_weight": 1.0, "lr_E": 1e-5, "lambda_rec": 1.0}


def arm_config(transfer: bool, **overrides) -> DeepI2IConfig:
    """The recipe's configuration of one arm: ``TRANSFER_SETTINGS`` on top of the defaults for the
    transferred translator, the defaults (the reference code's) for the one from scratch; then
    ``overrides`` (steps, seed, batch_size, ...)."""
    if not isinstance(transfer, bool):
        raise TypeError(f"transfer: expected True or False, got {transfer!r}")
    return DeepI2IConfig(transfer=transfer, **{**(TRANSFER_SETTINGS if transfer else {}), **overrides})


def _set_trainable(module: nn.Module, flag: bool) -> None:
    for p in module.parameters():
        p.requires_grad_(flag)


class DeepI2I:
    """Υ (``E``), Λ (``A``), Φ (``G``), Ψ (``D``), their optimisers and one training step.

    ``source``: a dict with the pretrained ``G`` (ConditionalGenerator), ``D`` (ACGANDiscriminator)
    and ``config`` (CGANConfig), as :func:`load_source` returns. With ``cfg.transfer`` the four
    networks start from it (E from D's trunk, G from G, D from D); otherwise only the *shapes* are
    taken from it and every weight is drawn anew (DCGAN initialisation; the adaptor always is new).
    ``adaptor(encoder_widths, generator_widths)`` builds Λ (notebook 15's exercise; by default
    :class:`Adaptor`).
    """

    def __init__(self, cfg: DeepI2IConfig | None = None, source: dict | None = None, device="cpu", adaptor=None):
        self.cfg = cfg = cfg or DeepI2IConfig()
        V.instance(cfg, "cfg", DeepI2IConfig)
        if not isinstance(source, dict) or not {"G", "D", "config"} <= set(source):
            raise TypeError("source: expected the dict of load_source(): {'G', 'D', 'config', ...}")
        if not isinstance(source["D"], cgan.ACGANDiscriminator):
            raise TypeError(f"source['D']: expected an ACGANDiscriminator (its trunk becomes the encoder), "
                            f"got {type(source['D']).__name__}")
        self.device = torch.device(device)
        self.source_config = scfg = source["config"]
        torch.manual_seed(cfg.seed)
        if cfg.transfer:
            G, D = copy.deepcopy(source["G"]), copy.deepcopy(source["D"])
            E = copy.deepcopy(source["D"].body)
        else:
            G, D = cgan.build_generator(scfg), cgan.build_discriminator(scfg)
            E = cgan.build_discriminator(scfg).body
        self.G, self.D, self.E = G.to(self.device).train(), D.to(self.device).train(), E.to(self.device)
        with torch.no_grad():
            probe = trunk_features(self.E, torch.zeros(1, scfg.channels, scfg.image_size, scfg.image_size, device=self.device))
        V.optional_function(adaptor, "adaptor", "or class (encoder_widths, generator_widths)")
        self.A = (adaptor or Adaptor)({s: f.shape[1] for s, f in probe.items()}, generator_widths(self.G)).to(self.device)
        train_E = not cfg.transfer or cfg.lr_E > 0
        self.E.train(train_E)                   # a frozen encoder keeps its source statistics
        _set_trainable(self.E, train_E)
        betas = (cfg.beta1, 0.999)
        self.opt_A = torch.optim.Adam(self.A.parameters(), lr=cfg.lr_G, betas=betas)
        groups = [{"params": list(self.G.parameters())}]
        if train_E:  # from scratch at G's rate; a transferred encoder at its own (lower) rate, in stage 2
            groups.append({"params": list(self.E.parameters()), "lr": cfg.lr_E if cfg.transfer else cfg.lr_G})
        self.opt_G = torch.optim.Adam(groups, lr=cfg.lr_G, betas=betas)
        self.opt_D = torch.optim.Adam(self.D.parameters(), lr=cfg.lr_D, betas=betas)
        self.n_classes = scfg.n_classes
        self.step = 0

    # ---- the translator: Φ(z, b, ω·Λ(Υ(x))) -------------------------------------------------------
    def _translate(self, x: torch.Tensor, target: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return generate(self.G, z, target, self.A(trunk_features(self.E, x)), self.cfg.feature_weight)

    @torch.no_grad()
    def translate(self, x: torch.Tensor, target: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Translate images (N, C, S, S) in [-1, 1] to the classes ``target`` (N,), with z ~ N(0, I)
        drawn from ``generator``; eval mode (batch-norm running statistics), no gradients."""
        V.images(x, "x", channels=self.source_config.channels)
        if not isinstance(target, torch.Tensor) or target.shape != x.shape[:1]:
            raise ValueError(f"target: expected a tensor of shape ({x.shape[0]},), one class per image")
        if target.is_floating_point() or int(target.min()) < 0 or int(target.max()) >= self.n_classes:
            raise ValueError(f"target: expected integer classes in [0, {self.n_classes - 1}]")
        z = torch.randn(x.shape[0], self.G.z_dim, generator=generator).to(self.device)
        modes = [(m, m.training) for m in (self.E, self.A, self.G)]
        for m, _ in modes:
            m.eval()
        try:
            return self._translate(x.to(self.device), target.to(self.device), z)
        finally:
            for m, mode in modes:
                m.train(mode)

    @property
    def stage(self) -> int:
        """1 while only Λ and Ψ learn (transfer, first ``warmup_steps`` steps), else 2."""
        return 1 if self.cfg.transfer and self.step < self.cfg.warmup_steps else 2

    # ---- one training step -------------------------------------------------------------------------
    def optimize_parameters(self, x: torch.Tensor, real: torch.Tensor, real_labels: torch.Tensor,
                            x_labels: torch.Tensor | None = None) -> dict:
        """One step: translate ``x`` (N, C, S, S) to random classes, update Ψ, then Λ (and Φ in stage 2,
        and Υ when training from scratch). ``real`` (M, C, S, S) with ``real_labels`` (M,): target
        images for Ψ; ``x_labels`` (N,): the classes of ``x``, needed by the reconstruction term
        (``cfg.lambda_rec`` > 0). Returns the losses (detached)."""
        cfg = self.cfg
        V.images(x, "x", channels=self.source_config.channels)
        V.images(real, "real", channels=self.source_config.channels)
        V.class_indices(real_labels, "real_labels", self.n_classes, ndim=1, count=real.shape[0])
        if cfg.lambda_rec > 0:
            if x_labels is None:
                raise ValueError(f"x_labels: the reconstruction term (lambda_rec = {cfg.lambda_rec}) needs the "
                                 f"class of each input, a tensor of shape ({x.shape[0]},)")
            V.class_indices(x_labels, "x_labels", self.n_classes, ndim=1, count=x.shape[0])
        x, real, real_labels = x.to(self.device), real.to(self.device), real_labels.to(self.device)
        n = x.shape[0]
        target = torch.randint(0, self.n_classes, (n,), device=self.device)
        z = torch.randn(n, self.G.z_dim, device=self.device)
        stage = self.stage
        _set_trainable(self.G, stage == 2)
        fake = self._translate(x, target, z)

        # 1. Ψ: hinge on real/fake, and its class head on real and translated images (AC-GAN's L_C)
        src_real, cls_real = self.D(real)
        src_fake, cls_fake = self.D(fake.detach())
        loss_adv_D = losses.d_loss_hinge(src_real, src_fake)
        loss_cls_D = F.cross_entropy(cls_real, real_labels) + F.cross_entropy(cls_fake, target)
        self.opt_D.zero_grad(set_to_none=True)
        (loss_adv_D + cfg.lambda_cls * loss_cls_D).backward()
        self.opt_D.step()

        # 2. Λ (+ Φ in stage 2, + Υ from scratch): fool Ψ, be read as the target class, keep x's shallow features
        _set_trainable(self.D, False)
        src_fake, cls_fake = self.D(fake)
        loss_adv_G = losses.g_loss_hinge(src_fake)
        loss_cls_G = F.cross_entropy(cls_fake, target)
        shallow = max(trunk_features(self.D.body, x))          # the largest side: the shallowest block
        loss_struct = F.mse_loss(trunk_features(self.D.body, fake)[shallow], trunk_features(self.D.body, x)[shallow].detach())
        loss_rec = torch.zeros((), device=self.device)
        if cfg.lambda_rec > 0:   # asked for its own class, the translator must give x back, background included
            own = self._translate(x, x_labels.to(self.device), torch.randn(n, self.G.z_dim, device=self.device))
            loss_rec = (own - x).abs().mean()
        self.opt_A.zero_grad(set_to_none=True)
        self.opt_G.zero_grad(set_to_none=True)
        (loss_adv_G + cfg.lambda_cls * loss_cls_G + cfg.lambda_structure * loss_struct + cfg.lambda_rec * loss_rec).backward()
        self.opt_A.step()
        if stage == 2:
            self.opt_G.step()
        _set_trainable(self.D, True)
        self.step += 1
        return {"D_adv": loss_adv_D.detach(), "D_cls": loss_cls_D.detach(), "G_adv": loss_adv_G.detach(),
                "G_cls": loss_cls_G.detach(), "structure": loss_struct.detach(),
                **({"rec": loss_rec.detach()} if cfg.lambda_rec > 0 else {})}

    def modules(self) -> dict:
        return {"E": self.E, "A": self.A, "G": self.G, "D": self.D}

    def optimizers(self) -> dict:
        return {"A": self.opt_A, "G": self.opt_G, "D": self.opt_D}


# ---- training and measuring --------------------------------------------------------------------------

def train(cfg: DeepI2IConfig, source: dict, images: torch.Tensor, labels: torch.Tensor, device="cpu",
          progress: bool = True, desc: str | None = None, log_every: int = 25, measure=None,
          measure_at=(), checkpoint=None, resume: bool = False, fast=None, adaptor=None):
    """Train a translator on the target images (N, C, S, S) with labels (N,); return ``(model, history)``.
    ``adaptor``: builds Λ, as in :class:`DeepI2I`.
    With ``checkpoint`` (a ``gancourse.train.Checkpointer``) it saves and, with ``resume``, continues;
    ``fast``: GPU fast paths (``gancourse.fastpaths.FastPaths``; default automatic).

    Each step draws two independent shuffled batches of the same small set: the images to translate
    and the real images Ψ compares the translations with. Same seed = same batches, whatever
    ``cfg.transfer`` is, so that transfer and scratch see exactly the same data.

    ``measure(model) -> dict`` (e.g. :func:`evaluate` of ``model.translate``) runs after each step
    count in ``measure_at``; the results are kept in ``model.measurements`` as ``[(steps, dict), ...]``:
    the learning curve at equal budgets. Measuring draws nothing from the global random stream, so
    the training itself is the same with or without it.
    """
    V.images(images, "images")
    seed_everything(cfg.seed)
    data = TensorImageDataset(images, labels, [str(k) for k in range(int(labels.max()) + 1)])
    inputs = batches(data, cfg.batch_size, generator=torch.Generator().manual_seed(cfg.seed), device=device)
    reals = batches(data, cfg.batch_size, generator=torch.Generator().manual_seed(cfg.seed + 1000), device=device)
    model = prepare(DeepI2I(cfg, source, device, adaptor), fast)  # GPU fast paths; DDP under torchrun
    V.optional_function(measure, "measure", "model -> dict")
    at = sorted({V.positive_int(s, "measure_at") for s in measure_at}) if measure is not None else []
    model.measurements = []

    def step(i):
        x, x_labels = next(inputs)
        real, y = next(reals)
        return model.optimize_parameters(x, real, y, x_labels)

    def callback(i):
        if i + 1 in at and (not model.measurements or model.measurements[-1][0] != i + 1):
            model.measurements.append((i + 1, measure(model)))

    if checkpoint is not None:          # grid: 8 target images, then each translated to the next class
        x_grid, y_grid = images[:8], (labels[:8] + 1) % model.n_classes
        checkpoint.track(model, inputs=inputs, reals=reals, progress=_StepCounter(model),
                         samples=lambda: torch.cat([x_grid, model.translate(x_grid, y_grid,
                                                                            torch.Generator().manual_seed(0))]))
    name = desc or ("transfer" if cfg.transfer else "scratch")
    history = fit(step, cfg.steps, log_every=log_every, desc=name, progress=progress,
                  callback=callback if at else None, callback_every=1 if at else None,
                  checkpoint=checkpoint, resume=resume)
    return model, history


class _StepCounter:
    """DeepI2I's step count (it decides the training stage) as checkpoint state."""

    def __init__(self, model: DeepI2I):
        self.model = model

    def state_dict(self) -> dict:
        return {"step": self.model.step}

    def load_state_dict(self, state: dict) -> None:
        self.model.step = int(state["step"])


def translation_grid(inputs: torch.Tensor, n_classes: int = 10) -> tuple[torch.Tensor, torch.Tensor]:
    """Every input to every class: inputs (N, C, S, S) -> (N·K, C, S, S) repeated per class, and targets
    (N·K,) = 0, 1, ..., K-1 for each input in turn."""
    V.images(inputs, "inputs")
    n_classes = V.positive_int(n_classes, "n_classes", minimum=2)
    n = inputs.shape[0]
    return inputs.repeat_interleave(n_classes, dim=0), torch.arange(n_classes).repeat(n)


def evaluate(translate, inputs: torch.Tensor, reference: torch.Tensor, classifier, seed: int = 0) -> dict:
    """Measure a translator on held-out target images ``inputs`` (N, 1, S, S), each sent to every class.

    ``translate(x, target, generator) -> images``; ``reference``: real target-domain images for the
    Fréchet distance; ``classifier``: a target-domain classifier with ``.features``. Returns
    ``accuracy`` (share of translations the classifier reads as the requested class), ``frechet``
    (Fréchet distance between classifier features of the translations and of ``reference``), and
    ``background_error`` (mean |background level of translation - of its input|, in [0, 1] units:
    does the translation keep the style?).
    """
    if not callable(translate):
        raise TypeError(f"translate: expected a function (x, target, generator) -> images, got {type(translate).__name__}")
    V.images(inputs, "inputs")
    V.images(reference, "reference")
    x, target = translation_grid(inputs, getattr(classifier, "n_classes", 10))
    out = translate(x, target, torch.Generator().manual_seed(seed)).cpu()
    pred = classifier_probs(out, classifier).argmax(1)
    fd = frechet_distance(classifier_features(out, classifier), classifier_features(reference, classifier))
    bg = (background_level(out) - background_level(x)).abs().mean()
    return {"accuracy": round(float((pred == target).float().mean()), 4), "frechet": round(fd, 3),
            "background_error": round(float(bg), 4)}


def mean_std(values) -> tuple[float, float]:
    """Mean and sample standard deviation (n - 1) of a list of numbers (std 0 for a single value)."""
    values = [float(v) for v in values]
    if not values:
        raise ValueError("values: expected at least one number")
    m = sum(values) / len(values)
    s = math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else 0.0
    return m, s


def load_published(transfer: bool = True, source: dict | None = None) -> tuple[list[DeepI2I], dict]:
    """The shipped translators (one per seed) of ``deepi2i-transfer`` or ``deepi2i-scratch``, and the
    recipe's metrics. Each is a :class:`DeepI2I` in eval mode, its D left untrained (not shipped)."""
    source = source or load_source()
    state = pretrained.load(PUBLISHED[bool(transfer)])
    cfg_dict = dict(state["config"])
    seeds = cfg_dict.pop("seeds")
    cfg_dict.pop("per_class", None)
    models = []
    for seed in seeds:
        model = DeepI2I(DeepI2IConfig(**{**cfg_dict, "seed": seed}), source)
        for key in ("E", "A", "G"):
            getattr(model, key).load_state_dict(state["modules"][f"{key}_seed{seed}"])
            getattr(model, key).eval()
        models.append(model)
    return models, state.get("metrics", {})


# ---- recipes ------------------------------------------------------------------------------------------

def _source_metrics(model, cfg, history) -> dict:
    acc = cgan.class_accuracy(unwrap(model.G).cpu().eval(), per_class=500)
    return {"min_class_accuracy": round(float(acc.min()), 4), "mean_class_accuracy": round(float(acc.mean()), 4),
            **recipes.last_losses(history)}


def _train_source(cfg, **kw):
    digits = Digits(cfg.image_size, "train")
    return cgan.train(cfg, digits.images, digits.labels, **kw)


# recipe deepi2i-source: the AC-GAN of notebook 09 on the 16x16 digits, G *and* D kept
RECIPE_SOURCE = recipes.Recipe(
    name="deepi2i-source", config=cgan.CGANConfig, train=_train_source, evaluate=_source_metrics, fast=True,
    configure=lambda args: replace(source_config(args.steps or 4000, args.seed), **recipes.options(args),
                                   **({"image_size": args.image_size} if args.image_size else {})),
    publish=lambda model, cfg: (SOURCE_NAME, {"G": unwrap(model.G), "D": unwrap(model.D)},
                                "DeepI2I's pretrained source GAN: AC-GAN on the 16x16 digits, G and D (notebook 15)"),
    trains_on="the embedded digits")


def target_set(per_class: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The translator's training set: the first ``per_class`` (1-20) styled digits of each class of
    ``StyledDigits(16, "train")``, images (10·per_class, 1, 16, 16) and labels. Smaller sets are
    subsets of larger ones, and the held-out test digits are the same for every size."""
    per_class = V.positive_int(per_class, "per_class")
    if per_class > 20:
        raise ValueError(f"per_class: expected at most 20 (the styled training split), got {per_class}")
    few = StyledDigits(16, "train")
    idx = torch.cat([torch.nonzero(few.labels == c).flatten()[:per_class] for c in range(10)]).sort().values
    return few.images[idx], few.labels[idx]


def run(args) -> dict:
    """Recipe ``deepi2i``: transfer vs scratch as the target set shrinks. For each size of
    ``PER_CLASS`` (styled digits per class, :func:`target_set`) and seeds 0, 1, 2 (or ``--seed S``:
    S, S+1, S+2), both arms at the same budget and batches, measured on the held-out styled digits at
    the end and along the way (``CURVE_STEPS``); the metrics keep every run under ``by_size``.
    ``--publish`` ships the translators of the smallest size (the regime the paper claims) with their
    numbers. Each run checkpoints into its own folder of ``--out`` (``k2/transfer_seed0/``, ...);
    ``--resume`` continues where the experiment stopped (a resumed run's ``curve`` holds only the
    points measured after the resume). At the smallest size it also trains the reconstruction term's
    ablation, each arm with the other's ``lambda_rec`` (``ablations`` in the transfer metrics)."""
    if args.data is not None:
        raise SystemExit("deepi2i: trains on the embedded styled digits only; --data is not supported")
    device = pick_device(args.device)          # default: the best available, as --help says
    source = load_source()
    test, pool = StyledDigits(16, "test"), StyledDigits(16, "pool")
    test_images, pool_images = test.images[:pick(None, 64)], pool.images[:pick(None, 64)]  # quick mode: tests
    clf = styled_digit_classifier()
    seeds = [args.seed + k for k in range(pick(3, 1))]
    sizes = pick(PER_CLASS, PER_CLASS[:1])
    results = {"transfer": {"by_size": {}}, "scratch": {"by_size": {}}}
    shipped = {}

    def train_arm(base, per_class, images, labels, name):
        """Seeds of one arm: (per-seed results with their curves, the modules, mean ± std)."""
        per_seed, modules = [], {}
        # quick mode (the tests) shrinks the learning curve to its midpoint and end, never drops it
        at = sorted({max(1, base.steps // 2), base.steps}) if quick_mode() else \
            [s for s in CURVE_STEPS if s < base.steps] + [base.steps]
        for seed in seeds:
            cfg = DeepI2IConfig(**{**asdict(base), "seed": seed})
            ckpt = Checkpointer(Path(args.out) / f"k{per_class}" / f"{name}_seed{seed}", modules={},  # one folder per run
                                every=args.checkpoint_every or 500, config=asdict(cfg))
            model, _ = train(cfg, source, images, labels, device=device, progress=not args.no_progress,
                             desc=f"{per_class}/class, {name} seed {seed}",
                             measure_at=at, measure=lambda m: evaluate(m.translate, test_images, pool_images, clf),
                             checkpoint=ckpt, resume=args.resume, fast=FastPaths.from_args(args))
            final = evaluate(model.translate, test_images, pool_images, clf)
            curve = {"steps": [s for s, _ in model.measurements]}
            curve.update({k: [r[k] for _, r in model.measurements] for k in final})
            per_seed.append({**final, "curve": curve})
            for key in ("E", "A", "G"):
                modules[f"{key}_seed{seed}"] = unwrap(getattr(model, key)).cpu()
        summary = {k: [round(v, 4) for v in mean_std([r[k] for r in per_seed])] for k in final}
        return per_seed, modules, summary

    def arm(transfer, images, **overrides):
        base = arm_config(transfer, batch_size=min(32, images.shape[0]), **overrides)
        if args.steps is not None:
            base.steps = args.steps
        if args.batch_size is not None:
            base.batch_size = args.batch_size
        return base

    for per_class in sizes:
        images, labels = target_set(per_class)
        for transfer in (True, False):
            base = arm(transfer, images)
            per_seed, modules, summary = train_arm(base, per_class, images, labels, "transfer" if transfer else "scratch")
            results["transfer" if transfer else "scratch"]["by_size"][str(per_class)] = {"per_seed": per_seed, **summary}
            if per_class == sizes[0]:
                shipped[transfer] = (base, modules)
    # the reconstruction term's ablation at the smallest size: each arm with the other's choice
    images, labels = target_set(sizes[0])
    for name, transfer, lambda_rec in (("transfer_no_rec", True, 0.0), ("scratch_rec", False, TRANSFER_SETTINGS["lambda_rec"])):
        base = arm(transfer, images, lambda_rec=lambda_rec)
        per_seed, _, summary = train_arm(base, sizes[0], images, labels, name)
        results["transfer"].setdefault("ablations", {})[name] = {"lambda_rec": lambda_rec, "per_seed": per_seed, **summary}
    for transfer, (base, modules) in shipped.items():
        metrics = results["transfer" if transfer else "scratch"]
        metrics.update({"seeds": seeds, "per_class": sizes[0], **metrics["by_size"][str(sizes[0])]})
        if args.publish:
            config = {**asdict(base), "seeds": seeds, "per_class": sizes[0]}
            config.pop("seed")
            options = "".join(f" --{k.replace('_', '-')} {getattr(args, k)}" for k in ("steps", "batch_size", "seed")
                              if getattr(args, k))
            pretrained.save(PUBLISHED[transfer], modules, config=config, metrics=metrics,
                            command=f"python -m gancourse.train deepi2i --publish{options}",
                            description=f"DeepI2I translators on {sizes[0]} styled digits per class, "
                                        f"{'transferred from deepi2i-source' if transfer else 'trained from scratch'}, "
                                        f"seeds {seeds}; metrics for {', '.join(map(str, sizes))} per class (notebook 15)")
    return results
