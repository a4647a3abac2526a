r"""Defect-GAN: defect synthesis by defacement and restoration (Zhang, Cui, Hung, Lu, WACV 2021).

The course's summit: StarGAN's G and D (notebooks 08-12), CycleGAN's cycle (11), SPADE's
normalisation (13), and Defect-GAN's own idea, **layer-wise composition**. Domains: normal surfaces
and K defect classes (here scratch, spot, crack). One generator **defaces** a normal image n (adds a
defect) and **restores** a defect image d (removes it), painting only a *layer* over its input:

.. math::
    f_d, m_d = G(n, A_{n\to d}), \qquad d = n \odot (1 - m_d) + f_d \odot m_d

    f_{\hat n}, m_{\hat n} = G(d, A_{d\to\hat n}), \qquad \hat n = d \odot (1 - m_{\hat n}) + f_{\hat n} \odot m_{\hat n}

f is the foreground (what the defect looks like), m ∈ [0, 1] the *spatial distribution map* (where
it is): wherever m = 0 the input passes through untouched, kept by construction, not by a loss.

**The control map** A (N, K + 1, H, W), a one-hot domain per pixel, is read by SPADE layers in G's
decoder: constant in the paper's training, it may vary in space at inference (normal here, crack
there). **Noise** maps (StyleGAN's noise inputs, Karras et al. 2019) are meant to give another defect
for the same n and A. Nothing in the paper's L_G rewards following a varying map or the noise, so
the course adds :func:`control_losses` (placement in random regions, and a diversity hinge).

**Losses** (the paper's L_D and L_G). With D = (D_src, D_cls), real images x of domain c', target
domain c, the translation x' = G(x, A_c) with mask m₁ and the way back x'' = G(x', A_c') with mask m₂::

    L_D = −L_adv + λ_cls^r L_cls^r                      L_adv   = E D_src(x) − E D_src(x') − λ_gp GP
    L_G =  L_adv + λ_cls^f L_cls^f + λ_rec L_rec        L_cls^r = CE(D_cls(x), c'),  L_cls^f = CE(D_cls(x'), c)
           + λ_sd-cyc L_sd-cyc + λ_sd-con L_sd-con      L_rec   = E |x'' − x|₁  (the cycle)
                                                        L_sd-cyc = E |m₁ − m₂|₁ (restoration removes what defacement put)
                                                        L_sd-con = E |m₁|₁ + E |m₂|₁ (masks as small as possible)

A batch mixes normal images (defaced towards a random defect class) and defect images (restored).

**Weights** (the paper's details as a public re-implementation quotes them, github.com/jason2714/de-i2i-gan):
(λ_cls^r, λ_cls^f, λ_rec, λ_sd-cyc, λ_sd-con) = (2, 5, 5, 5, 1), λ_gp = 10, n_critic = 5, Adam β = (0.5,
0.999), lr 2e-4 decayed (linearly here) to 1e-6; 128x128 crops, batch 4, 500k iterations (the
course: 32x32, batch 16, 15,000 iterations).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

from .. import _validate as V
from .. import distributed, losses, pretrained, recipes
from ..data.defects import Defects, few_shot, folder_domains, random_regions, targets_for
from ..distributed import unwrap
from ..fastpaths import prepare
from ..judges.defects import evaluate_synthesizer
from ..nn.conditioning import control_map
from ..nn.init import init_dcgan
from ..nn.noise import NoiseInjection
from ..nn.patchgan import PatchDiscriminator
from ..nn.resnet import ResidualBlock
from ..nn.spade import ResBlock
from ..runtime import pick, seed_everything
from ..train import fit
from .ncritic import NCriticGAN


@dataclass
class DefectGANConfig:
    """Defaults: the course's 32x32 defects model; the paper's loss weights and optimiser."""
    n_domains: int = 4            # normal + defect classes (gancourse.data.defects.CLASSES)
    channels: int = 1             # grayscale texture crops
    size: int = 32
    ngf: int = 32                 # G's widths: ngf, 2 ngf, 4 ngf from full size down to size / 4 (paper: 64)
    n_down: int = 2
    n_res: int = 2                # residual blocks at the bottleneck
    spade_hidden: int = 32        # SPADE's shared layer (128 in SPADE)
    noise: bool = True            # noise inputs in the decoder (stochastic variation)
    noise_levels: int = 1         # decoder levels, coarsest first, that get noise: 1 = the 8x8 bottleneck only
    composition: bool = True      # False: G's output is its foreground, a whole new image (no layer)
    ndf: int = 32                 # D's base width (StarGAN: 64)
    d_layers: int = 3             # stride-2 layers of the PatchGAN (StarGAN's D: 6 at 128 px)
    lambda_cls_real: float = 2.0  # λ_cls^r
    lambda_cls_fake: float = 5.0  # λ_cls^f
    lambda_rec: float = 5.0
    lambda_sd_cyc: float = 5.0
    lambda_sd_con: float = 1.0
    lambda_gp: float = 10.0
    n_critic: int = 5
    # The course's additions (not in the paper's L_G): see control_losses
    spatial_share: float = 0.75   # share of defacements trained with a random region in A (the rest: constant)
    lambda_place: float = 10.0    # mask outside the requested region
    lambda_div: float = 10.0      # two noise draws' images closer than diversity_target
    diversity_target: float = 0.03  # mean |x'(ξ₁) − x'(ξ₂)| to reach (two real defects: about 0.05)
    lr: float = 2e-4
    lr_end: float = 1e-6          # reached linearly at the last iteration
    beta1: float = 0.5
    beta2: float = 0.999
    steps: int = 15000            # iterations = D updates; G every n_critic of them (paper: 500k)
    batch_size: int = 16
    n_normal: int = 1500          # real normal crops in the training set
    n_real_defects: int = 500     # real defect crops per class in the training set
    seed: int = 0

    def __post_init__(self):
        V.fields(self, counts=("channels", "ngf", "n_down", "spade_hidden", "ndf", "d_layers", "n_critic", "steps",
                               "batch_size", "n_normal", "n_real_defects", "noise_levels"), sizes=("n_res",),
                 weights=("lambda_cls_real", "lambda_cls_fake", "lambda_rec", "lambda_sd_cyc", "lambda_sd_con",
                          "lambda_gp", "lambda_place", "lambda_div", "diversity_target", "lr_end"),
                 rates=("lr",), betas=("beta1", "beta2"), flags=("noise", "composition"))
        self.n_domains = V.positive_int(self.n_domains, "n_domains", minimum=2)
        self.size = V.positive_int(self.size, "size", minimum=8)
        if self.size % 2 ** self.n_down:
            raise ValueError(f"size: expected a multiple of 2^n_down = {2 ** self.n_down}, got {self.size}")
        if self.size // 2 ** self.d_layers < 3:     # D's two 4x4 stride-1 convolutions need 3x3 features
            raise ValueError(f"d_layers: {self.d_layers} stride-2 layers leave no score map at {self.size}x{self.size}")
        if self.noise_levels > self.n_down + 1:
            raise ValueError(f"noise_levels: expected at most n_down + 1 = {self.n_down + 1}, got {self.noise_levels}")
        if isinstance(self.spatial_share, bool) or not isinstance(self.spatial_share, (int, float)) \
                or not 0 <= self.spatial_share <= 1:
            raise ValueError(f"spatial_share: expected a share in [0, 1], got {self.spatial_share!r}")
        if self.lr_end > self.lr:
            raise ValueError(f"lr_end: expected at most lr = {self.lr}, got {self.lr_end}")


# ---- Layer-wise composition ----------------------------------------------------------------------

def compose(background: torch.Tensor, foreground: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Layer-wise composition (Defect-GAN's d = n ⊙ (1 − m) + f ⊙ m): background ⊙ (1 − m) + foreground ⊙ m.

    ``background``, ``foreground``: (N, C, H, W); ``mask``: (N, 1, H, W) in [0, 1] (broadcast over C)."""
    V.images(background, "background")
    V.images(foreground, "foreground", channels=background.shape[1])
    V.images(mask, "mask", channels=1)
    if foreground.shape != background.shape or mask.shape[-2:] != background.shape[-2:] \
            or mask.shape[0] != background.shape[0]:
        raise ValueError(f"background, foreground, mask: expected shapes (N, C, H, W), (N, C, H, W), (N, 1, H, W), "
                         f"got {tuple(background.shape)}, {tuple(foreground.shape)}, {tuple(mask.shape)}")
    return background * (1 - mask) + foreground * mask


# ---- Networks ------------------------------------------------------------------------------------

class DefectGenerator(nn.Module):
    """G(x, A, noise) -> (output, foreground, mask): images (N, C, S, S), control maps (N, D, S, S);
    its sizes and switches come from a :class:`DefectGANConfig`.

    Encoder (the image only): 3x3 conv to ``ngf`` channels, then ``n_down`` 4x4 stride-2 convs
    doubling the width, instance norm + ReLU; ``n_res`` residual blocks (instance norm, zero
    padding). Decoder, per level from the bottleneck up: noise injection, a SPADE ResBlock reading
    A (the control map enters *only* here), x2 nearest upsampling, plus the encoder's features of
    that resolution (additive skip connections, so that restoration can see the texture around a
    defect). Two heads on the full-size features: the foreground f = tanh(conv) (C channels) and
    the mask m = sigmoid(conv) (1 channel, its bias starting at −2: m ≈ 0.12, close to "change
    nothing"). The output is the composition x ⊙ (1 − m) + f ⊙ m; with ``composition=False`` it is
    f itself, a whole new image (the mask returned is then 1 everywhere: every pixel is repainted).
    """

    def __init__(self, cfg: DefectGANConfig):
        super().__init__()
        V.instance(cfg, "cfg", DefectGANConfig)           # the widths and levels were checked there
        self.channels, self.n_domains, self.n_down = cfg.channels, cfg.n_domains, cfg.n_down
        self.composition, self.use_noise, self.noise_levels = cfg.composition, cfg.noise, cfg.noise_levels
        self.widths = w = [cfg.ngf * 2 ** k for k in range(self.n_down + 1)]   # at S, S/2, ..., S/2^n_down
        self.stem = nn.Sequential(nn.Conv2d(self.channels, w[0], 3, padding=1), nn.InstanceNorm2d(w[0]), nn.ReLU())
        self.down = nn.ModuleList(
            nn.Sequential(nn.Conv2d(w[k], w[k + 1], 4, stride=2, padding=1), nn.InstanceNorm2d(w[k + 1]), nn.ReLU())
            for k in range(self.n_down))
        self.bottleneck = nn.Sequential(*[ResidualBlock(w[-1], "instance", "zero") for _ in range(cfg.n_res)])
        # decoder level k works at S / 2^(n_down - k) after its upsampling, from width w[n_down - k]
        self.noises = nn.ModuleList(NoiseInjection(w[self.n_down - k]) for k in range(self.n_down))
        spade = dict(hidden=cfg.spade_hidden, norm="spade", param_free_norm="instance", spectral_norm=False)
        self.blocks = nn.ModuleList(ResBlock(w[self.n_down - k], w[self.n_down - k - 1], self.n_domains, **spade)
                                    for k in range(self.n_down))
        self.final_noise = NoiseInjection(w[0])
        self.final = ResBlock(w[0], w[0], self.n_domains, **spade)
        self.to_foreground = nn.Conv2d(w[0], self.channels, 3, padding=1)
        self.to_mask = nn.Conv2d(w[0], 1, 3, padding=1)
        nn.init.constant_(self.to_mask.bias, -2.0)

    def noise_shapes(self, n: int, size: int) -> list[tuple[int, ...]]:
        """Shapes of the noise maps one forward pass draws, for ``n`` images of side ``size``."""
        n = V.positive_int(n, "n")
        size = V.positive_int(size, "size")
        return [(n, 1, size // 2 ** (self.n_down - k), size // 2 ** (self.n_down - k)) for k in range(self.n_down)] \
            + [(n, 1, size, size)]

    def forward(self, x: torch.Tensor, A: torch.Tensor, noise: list | None = None):
        V.images(x, "x", channels=self.channels)
        if x.shape[-1] % 2 ** self.n_down or x.shape[-2] % 2 ** self.n_down:
            raise ValueError(f"x: expected height and width divisible by 2^n_down = {2 ** self.n_down}, "
                             f"got shape {tuple(x.shape)}")
        V.images(A, "A", channels=self.n_domains)
        if A.shape[0] != x.shape[0] or A.shape[-2:] != x.shape[-2:]:
            raise ValueError(f"A: expected one control map per image, ({x.shape[0]}, {self.n_domains}, "
                             f"{x.shape[-2]}, {x.shape[-1]}), got {tuple(A.shape)}")
        if noise is not None and (not isinstance(noise, (list, tuple)) or len(noise) != self.n_down + 1):
            raise ValueError(f"noise: expected a list of {self.n_down + 1} maps (see noise_shapes), or None")
        noise = list(noise) if noise is not None else [None] * (self.n_down + 1)
        shapes = self.noise_shapes(x.shape[0], x.shape[-1])
        # no noise at all, or only at the coarsest noise_levels levels (finer ones get zeros)
        used = self.noise_levels if self.use_noise else 0
        noise = [z if k < used else torch.zeros(shapes[k], device=x.device) for k, z in enumerate(noise)]
        h = self.stem(x)
        skips = [h]
        for layer in self.down:
            h = layer(h)
            skips.append(h)
        h = self.bottleneck(h)
        for k, (inject, block) in enumerate(zip(self.noises, self.blocks)):
            h = block(inject(h, noise[k]), A)
            h = F.interpolate(h, scale_factor=2, mode="nearest") + skips[self.n_down - k - 1]
        h = self.final(self.final_noise(h, noise[-1]), A)
        h = F.leaky_relu(h, 0.2)
        foreground = torch.tanh(self.to_foreground(h))
        if not self.composition:             # the ablation: repaint the whole image
            return foreground, foreground, torch.ones_like(x[:, :1])
        mask = torch.sigmoid(self.to_mask(h))
        return compose(x, foreground, mask), foreground, mask


def build_generator(cfg: DefectGANConfig) -> DefectGenerator:
    return DefectGenerator(cfg)


def build_discriminator(cfg: DefectGANConfig) -> PatchDiscriminator:
    """StarGAN's D: a PatchGAN without normalisation (the gradient penalty is per sample) with an
    auxiliary classifier head over the ``n_domains`` domains: x -> (scores map, class logits)."""
    return PatchDiscriminator(cfg.channels, base=cfg.ndf, n_layers=cfg.d_layers, norm="none", n_classes=cfg.n_domains)


# ---- The model object ----------------------------------------------------------------------------

class DefectGAN(NCriticGAN):
    """G, D, their optimisers and schedules, and Defect-GAN's training iteration.

    ``set_input(x, labels)``: real images (N, C, S, S) in [-1, 1] of domains ``labels`` (N,)
    (0 = normal). ``optimize_parameters(step)``: a D update; every ``n_critic``-th iteration a G
    update too (StarGAN's schedule). Returns the losses.

    ``g_loss(G, D, x, A_org, A_trg, label_trg, cfg) -> (total, parts)``: G's loss (notebook 14's
    exercise); by default :func:`generator_loss` of this module.
    """

    def __init__(self, cfg: DefectGANConfig | None = None, device="cpu", g_loss=None):
        self.cfg = cfg = cfg or DefectGANConfig()
        V.instance(cfg, "cfg", DefectGANConfig)
        self.g_loss = V.optional_function(g_loss, "g_loss", "(G, D, x, A_org, A_trg, label_trg, cfg)") or generator_loss
        self.device = torch.device(device)
        self.G = build_generator(cfg).to(self.device)
        self.D = init_dcgan(build_discriminator(cfg)).to(self.device)
        end = cfg.lr_end / cfg.lr          # lr decays linearly to lr_end at the last iteration
        self.make_optimizers(cfg.lr, cfg.lr, (cfg.beta1, cfg.beta2),
                             factor=lambda i: 1 + (end - 1) * min(i, cfg.steps - 1) / max(cfg.steps - 1, 1))
        self.targets_generator = torch.Generator().manual_seed(cfg.seed)

    def control(self, domains: torch.Tensor) -> torch.Tensor:
        return control_map(domains, self.cfg.n_domains, self.cfg.size).to(self.device)

    def set_input(self, x: torch.Tensor, labels: torch.Tensor) -> None:
        V.images(x, "x", channels=self.cfg.channels)
        V.class_indices(labels, "labels", self.cfg.n_domains, ndim=1, count=x.shape[0])
        self.real = x.to(self.device)
        self.label_org = labels.to(self.device)
        label_trg = targets_for(labels, self.cfg.n_domains, self.targets_generator)
        self.label_trg = label_trg.to(self.device)
        # a share of the defacements ask for their defect inside a random region only
        spatial = (labels == 0) & (torch.rand(labels.shape, generator=self.targets_generator) < self.cfg.spatial_share)
        region = random_regions(labels.shape[0], self.cfg.size, self.targets_generator)
        region = torch.where(spatial.view(-1, 1, 1), region, torch.ones_like(region))
        domains = label_trg.view(-1, 1, 1) * region
        self.A_org, self.A_trg = self.control(self.label_org), self.control(domains.to(self.device))

    def backward_D(self) -> dict:
        """L_D = E D_src(x') − E D_src(x) + λ_gp·GP + λ_cls^r·CE(D_cls(x), c')."""
        cfg = self.cfg
        src_real, cls_real = self.D(self.real)
        with torch.no_grad():
            fake, _, _ = self.G(self.real, self.A_trg)
        src_fake, _ = self.D(fake)
        adv = losses.d_loss_wasserstein(src_real, src_fake)
        gp = losses.gradient_penalty(self.D, self.real, fake)
        cls = F.cross_entropy(cls_real, self.label_org)
        (adv + cfg.lambda_gp * gp + cfg.lambda_cls_real * cls).backward()
        return {"D_adv": adv, "D_gp": gp, "D_cls": cls}

    def backward_G(self) -> dict:
        """The paper's L_G (:func:`generator_loss`, or the one given to the constructor) plus the
        course's control terms (:func:`control_losses`), backpropagated."""
        cfg = self.cfg
        total, out = self.g_loss(self.G, self.D, self.real, self.A_org, self.A_trg, self.label_trg, cfg)
        out = dict(out)
        if cfg.lambda_place or cfg.lambda_div:
            place, div = control_losses(self.G, self.real, self.A_trg, self.label_trg, cfg.diversity_target)
            total = total + cfg.lambda_place * place + cfg.lambda_div * div
            out.update(G_place=place, G_div=div)
        total.backward()
        return out

    def extras(self) -> dict:
        return {**super().extras(), "targets": self.targets_generator}


def generator_loss(G, D, x, A_org, A_trg, label_trg, cfg: DefectGANConfig):
    """Defect-GAN's L_G (Zhang et al. 2021) for a batch x (N, C, S, S) of domains with control maps
    ``A_org`` and targets ``A_trg`` (N, n_domains, S, S), target labels ``label_trg`` (N,):
    ``(total, parts)``, total = −E D_src(x') + λ_cls^f CE(D_cls(x'), c) + λ_rec |x'' − x|
    + λ_sd-cyc |m₁ − m₂| + λ_sd-con (|m₁| + |m₂|), with x', m₁ = G(x, A_trg) and x'', m₂ = G(x', A_org)."""
    fake, _, m1 = G(x, A_trg)            # defacement (or restoration) ...
    src_fake, cls_fake = D(fake)
    back, _, m2 = G(fake, A_org)         # ... and the way back to the input's domain
    out = {"G_adv": losses.g_loss_wasserstein(src_fake),
           "G_cls": F.cross_entropy(cls_fake, label_trg),
           "G_rec": (back - x).abs().mean(),
           "G_sd_cyc": (m1 - m2).abs().mean(),
           "G_sd_con": m1.abs().mean() + m2.abs().mean()}
    total = (out["G_adv"] + cfg.lambda_cls_fake * out["G_cls"] + cfg.lambda_rec * out["G_rec"]
             + cfg.lambda_sd_cyc * out["G_sd_cyc"] + cfg.lambda_sd_con * out["G_sd_con"])
    return total, out


def control_losses(G, x, A_trg, label_trg, diversity_target: float = 0.03):
    """The course's two additions to L_G, on the defacements of a batch (rows with ``label_trg`` > 0):
    G is run twice on them with independent noise, x'ᵢ, mᵢ = G(x, A_trg, ξᵢ), i = 1, 2. Returns
    ``(place, div)``:

    * place = E[m · 1(A says normal)], the mask where the control map asks for no defect. With constant
      maps (all of training in the paper) it is zero; with a region in A it ties m to the region;
    * div = max(0, τ − E|x'₁ − x'₂|), τ = ``diversity_target``: two noise draws must give different
      defects. A hinge, not mode seeking's unbounded 1 / E|x'₁ − x'₂| (Mao et al. 2019): it stops
      pushing once the images differ by τ on average, so that G is not paid to repaint the texture
      with noise.

    x (N, C, S, S), A_trg (N, D, S, S), label_trg (N,). Zero tensors if the batch has no defacement."""
    rows = label_trg > 0
    if not bool(rows.any()):
        zero = x.new_zeros(())
        return zero, zero
    x, A = x[rows], A_trg[rows]
    out1, _, m1 = G(x, A)
    out2, _, m2 = G(x, A)
    normal = A[:, :1]
    place = 0.5 * ((m1 * normal).mean() + (m2 * normal).mean())
    div = F.relu(diversity_target - (out1 - out2).abs().mean())
    return place, div


# ---- Data, training ------------------------------------------------------------------------------

def train(cfg: DefectGANConfig, images: torch.Tensor, labels: torch.Tensor, device="cpu", progress: bool = True,
          checkpoint=None, resume: bool = False, desc: str | None = None, log_every: int = 50, fast=None,
          g_loss=None):
    """Train Defect-GAN for ``cfg.steps`` iterations on real ``images`` (N, C, S, S) of domains
    ``labels`` (N,); return ``(model, history)``. Every batch is half normal, half defect images
    (the defect classes in equal shares), whatever the proportions of the training set.
    ``fast``: GPU fast paths (``gancourse.fastpaths.FastPaths``; default automatic). ``g_loss``: G's
    loss, as in :class:`DefectGAN`."""
    V.instance(cfg, "cfg", DefectGANConfig)
    V.images(images, "images", channels=cfg.channels)
    V.class_indices(labels, "labels", cfg.n_domains, ndim=1, count=images.shape[0])
    counts = torch.bincount(labels, minlength=cfg.n_domains).float()
    if (counts == 0).any():
        raise ValueError(f"labels: every domain needs training images, got counts {counts.long().tolist()}")
    seed_everything(cfg.seed)
    model = prepare(DefectGAN(cfg, device, g_loss), fast)  # GPU fast paths; DDP under torchrun
    share = torch.where(torch.arange(cfg.n_domains) == 0, 0.5, 0.5 / (cfg.n_domains - 1))
    weights = share[labels] / counts[labels]
    gen = torch.Generator().manual_seed(cfg.seed + 1 + 7919 * distributed.rank())  # under torchrun: own batches

    def step(i):
        idx = torch.multinomial(weights, cfg.batch_size, replacement=True, generator=gen)
        model.set_input(images[idx], labels[idx])
        return model.optimize_parameters(i)

    if checkpoint is not None:          # grid: 8 normal images, then each with defects of every class
        normal = images[labels == 0][:8]
        checkpoint.track(model, batches=gen, samples=None if not normal.shape[0] else lambda: torch.cat(
            [normal] + [apply(unwrap(model.G), normal, torch.full((normal.shape[0],), k), seed=0)[0]
                        for k in range(1, cfg.n_domains)]))
    history = fit(step, cfg.steps, log_every=log_every, desc=desc or "Defect-GAN", progress=progress,
                  checkpoint=checkpoint, resume=resume)
    return model, history


# ---- Using the generator, and measuring it -------------------------------------------------------

@torch.no_grad()
def apply(G: DefectGenerator, x: torch.Tensor, domains: torch.Tensor, seed: int | None = None,
          batch_size: int = 256) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """G on images x (N, C, S, S) with control maps from ``domains`` ((N,) targets: constant maps;
    or (N, S, S) domain maps: spatial control). ``seed`` fixes the noise (the same seed, the same
    sample). Returns ``(output, foreground, mask)`` on the CPU."""
    V.instance(G, "G", DefectGenerator)
    V.images(x, "x", channels=G.channels)
    if not isinstance(domains, torch.Tensor) or domains.shape[0] != x.shape[0]:
        raise ValueError(f"domains: expected one target (N,) or domain map (N, H, W) per image, N = {x.shape[0]}")
    batch_size = V.positive_int(batch_size, "batch_size")
    A = control_map(domains, G.n_domains, x.shape[-1])
    g = torch.Generator().manual_seed(int(seed)) if seed is not None else None
    device = next(G.parameters()).device
    # all the noise first, so that a sample does not depend on the batch it is computed in
    noise = None if g is None else [torch.randn(s, generator=g) for s in G.noise_shapes(x.shape[0], x.shape[-1])]
    outs = []
    for i in range(0, x.shape[0], batch_size):
        xb, Ab = x[i:i + batch_size], A[i:i + batch_size]
        nb = None if noise is None else [z[i:i + batch_size].to(device) for z in noise]
        outs.append([t.cpu() for t in G(xb.to(device), Ab.to(device), nb)])
    return tuple(torch.cat([o[k] for o in outs]) for k in range(3))


@torch.no_grad()
def evaluate(G: DefectGenerator, test, classifier=None, seed: int = 0, threshold: float = 0.1,
             n_placements: int = 300) -> dict:
    """Notebook 14's numbers for G (eval mode) on a test split (:class:`gancourse.data.defects.Defects`):
    :func:`gancourse.judges.defects.evaluate_synthesizer`, read by ``classifier`` (default: the shipped
    defect classifier). Without the composition G repaints every pixel: ``change_outside_mask`` is NaN,
    read ``change_all``."""
    V.instance(G, "G", DefectGenerator)
    was_training = G.training
    G.eval()
    try:
        return evaluate_synthesizer(lambda x, domains, seed: apply(G, x, domains, seed=seed), test, G.n_domains,
                                    classifier, seed=seed, threshold=threshold, n_placements=n_placements)
    finally:
        G.train(was_training)


PRETRAINED_NAME = "defectgan"


def load_pretrained() -> tuple[DefectGenerator, DefectGANConfig]:
    """The shipped Defect-GAN generator (eval mode) and its configuration; checksum verified."""
    state = pretrained.load(PRETRAINED_NAME)
    cfg = DefectGANConfig(**state["config"])
    G = build_generator(cfg)
    G.load_state_dict(state["modules"]["G"])
    return G.eval(), cfg


# the recipe: python -m gancourse.train defectgan, on notebook 14's few-shot set or a --data folder

def _configure(args) -> DefectGANConfig:
    cfg = DefectGANConfig(seed=args.seed, size=args.image_size or (32 if args.data is None else 128))
    overrides = recipes.options(args)
    if args.data is None and args.steps is not None and args.steps < 10:  # the tests: a smaller training set
        overrides.update(n_normal=pick(cfg.n_normal, 64), n_real_defects=pick(cfg.n_real_defects, 16))
    return replace(cfg, **overrides)


def _data(args, cfg: DefectGANConfig):
    if args.data is None:
        images, labels, _ = few_shot(cfg.n_normal, cfg.n_real_defects, cfg.size, cfg.seed)
        return cfg, (images, labels), Defects(pick(100, 8), cfg.size, "test")
    # FOLDER/<class>/*.png with the normal class named "good" (MVTec AD's test/ layout) or "normal"
    images, labels, names = folder_domains(args.data, cfg.size)
    return replace(cfg, channels=3, n_domains=len(names)), (images, labels), None


def _evaluate(model, cfg: DefectGANConfig, history, test) -> dict:
    if test is None:          # the course's judge reads only the procedural textures
        return recipes.last_losses(history)
    scores = evaluate(unwrap(model.G).cpu().eval(), test)
    return {k: ([round(x, 4) for x in v] if isinstance(v, list) else round(v, 4)) for k, v in scores.items()}


RECIPE = recipes.Recipe(
    name="defectgan", config=DefectGANConfig, configure=_configure, data=_data, fast=True,
    train=lambda cfg, data, **kw: train(cfg, *data, log_every=100, **kw), evaluate=_evaluate,
    publish=lambda model, cfg: (PRETRAINED_NAME, {"G": unwrap(model.G)},
                                "Defect-GAN generator: normal <-> scratch/spot/crack on 32x32 texture crops (notebook 14)"),
    trains_on="the procedural defects")
