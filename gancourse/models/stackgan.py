r"""StackGAN (Zhang et al., ICCV 2017): text to image in two stages, in miniature on the course's shapes.

The paper draws 256x256 birds from a sentence in two GANs: **Stage-I** sketches a 64x64 image from
[z, ĉ] (rough shape, basic colours); **Stage-II** reads that sketch *and* the text again and draws
the 256x256 image (it corrects the sketch and adds the details the text asks for). Both stages
condition on ĉ, drawn by **conditioning augmentation** from the text embedding φ_t:

.. math:: \hat c = \mu(\varphi_t) + \sigma(\varphi_t)\odot\varepsilon,\quad \varepsilon\sim N(0, I),
          \qquad L_G \mathrel{+}= \lambda\,D_{KL}\big(N(\mu, \mathrm{diag}\,\sigma^2)\,\|\,N(0, I)\big)

(the paper's Eqs. 3-6, λ = 1). Both discriminators are *matching-aware* (Reed et al. 2016, used by
StackGAN): D(x, φ_t) must accept a real image with its own caption and reject a fake with its
caption *and* a real image with a wrong caption, so the text is judged, not only realism. The
course's wrong captions change one word each (:func:`wrong_captions`).

Here: captions name three attributes of a solid procedural shape ("red circle on sky": colour,
shape, background; 4 x 3 x 3 = 36 captions; size and position are left to z). A caption's
embedding φ_t is the sum of one fixed random vector per word plus a little "sentence" noise
(:class:`TextEncoder`: it stands in for the paper's pretrained char-CNN-RNN encoder, which needs
data we do not have). Stage-I draws 8x8 images; Stage-II draws 32x32 from them: the paper's 4x
step. At 8x8 a circle and a square are a few pixels apart, so the *shape* is Stage-II's to draw.

=====================  =====================================================================
network                shapes
=====================  =====================================================================
Stage-I G  (``G1``)    z (N, z_dim), φ_t (N, text_dim) -> 8x8 images (N, 3, 8, 8)
Stage-II G (``G2``)    8x8 image, φ_t -> 32x32 image (N, 3, 32, 32): encoder, [features, ĉ],
                       two residual blocks, two upsamplings (no z: the paper's Stage-II has none)
D1, D2                 image, φ_t -> one logit per pair (N,): conv down to 4x4, concat the
                       compressed text replicated over 4x4, conv, 4x4 conv to a logit
=====================  =====================================================================

Training (the paper's order): Stage-I first, then Stage-II with Stage-I frozen. Adam 2e-4,
β1 0.5, batch 64 (the paper's); the course's step counts are far smaller (its 600 epochs per stage
are out of reach of a laptop CPU and unnecessary for 36 captions).

    model = StackGAN(StackGANConfig())
    losses = model.optimize_parameters(real32, caption_labels)     # stage by model.step
    sketch, image = model.sample(caption_labels)                   # (N, 3, 8, 8), (N, 3, 32, 32)

Recipe: ``python -m gancourse.train stackgan --publish`` (shipped: ``stackgan-shapes``, notebook 16).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .. import _validate as V
from .. import losses, pretrained, recipes
from ..data import index_batches
from ..data.shapes import ATTRIBUTES, VALUES, Shapes
from ..judges.shapes import attribute_classifier
from ..metrics import classifier_features, frechet_distance
from ..nn.init import init_dcgan
from ..runtime import pick, seed_everything
from ..train import fit

PRETRAINED_NAME = "stackgan-shapes"
CAPTION_ATTRIBUTES = ("color", "shape", "background")    # what a caption names, in word order


def caption_text(labels: torch.Tensor) -> list[str]:
    """The captions, as words, of caption labels (N, 3) (colour, shape, background indices)."""
    labels = _check_captions(labels)
    return [f"{VALUES['color'][c]} {VALUES['shape'][s]} on {VALUES['background'][b]}" for c, s, b in labels.tolist()]


def wrong_captions(labels: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Mismatched captions for the matching-aware D: each caption (N, 3) with exactly one word, drawn
    at random, replaced by another value of its attribute ("red circle" -> "red square"). A caption
    of another image would mostly differ in colour, and D could check the colour alone; one changed
    word at a time makes D check every word, the shape included."""
    labels = _check_captions(labels)
    n = labels.shape[0]
    which = torch.randint(0, len(CAPTION_ATTRIBUTES), (n,), generator=generator)
    sizes = torch.tensor([len(VALUES[a]) for a in CAPTION_ATTRIBUTES])[which]
    shift = 1 + (torch.rand(n, generator=generator) * (sizes - 1)).long()       # 1 .. size-1
    out = labels.clone()
    rows = torch.arange(n)
    out[rows, which] = (labels[rows, which].cpu() + shift) % sizes
    return out


def _check_captions(labels) -> torch.Tensor:
    if not isinstance(labels, torch.Tensor) or labels.ndim != 2 or labels.shape[1] != len(CAPTION_ATTRIBUTES) \
            or labels.is_floating_point():
        raise ValueError(f"labels: expected an integer tensor (N, 3) of (colour, shape, background) indices, "
                         f"got {type(labels).__name__} {tuple(getattr(labels, 'shape', ()))}")
    for k, name in enumerate(CAPTION_ATTRIBUTES):
        if labels.numel() and (int(labels[:, k].min()) < 0 or int(labels[:, k].max()) >= len(VALUES[name])):
            raise ValueError(f"labels[:, {k}]: expected {name} indices in [0, {len(VALUES[name]) - 1}]")
    return labels


class TextEncoder(nn.Module):
    """φ_t: caption labels (N, 3) -> embeddings (N, text_dim). Fixed, never trained.

    One random word vector per attribute value (N(0, 1/3) entries, so that the sum of three has
    unit variance), summed over the caption's three words; with ``noise`` > 0 each call adds
    N(0, noise²) per entry: two sentences with the same meaning are never embedded identically.
    """

    def __init__(self, text_dim: int = 32, noise: float = 0.2, seed: int = 0):
        super().__init__()

        self.text_dim = V.positive_int(text_dim, "text_dim")
        self.noise = V.positive_float(noise, "noise", allow_zero=True)
        g = torch.Generator().manual_seed(V.positive_int(seed, "seed", minimum=0))
        for name in CAPTION_ATTRIBUTES:
            self.register_buffer(f"words_{name}", torch.randn(len(VALUES[name]), self.text_dim, generator=g) / math.sqrt(3))

    def forward(self, labels: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        labels = _check_captions(labels).to(self.words_color.device)
        phi = sum(getattr(self, f"words_{name}")[labels[:, k]] for k, name in enumerate(CAPTION_ATTRIBUTES))
        if self.noise:
            phi = phi + self.noise * torch.randn(phi.shape, generator=generator).to(phi.device)
        return phi


class ConditioningAugmentation(nn.Module):
    """φ_t (N, text_dim) -> (ĉ, μ, log σ²), each (N, c_dim): one linear layer gives μ and log σ², then
    ĉ = μ + σ ⊙ ε (the reparameterisation trick, so that gradients reach μ and σ)."""

    def __init__(self, text_dim: int, c_dim: int):
        super().__init__()
        self.c_dim = V.positive_int(c_dim, "c_dim")
        self.fc = nn.Linear(V.positive_int(text_dim, "text_dim"), 2 * self.c_dim)

    def forward(self, phi: torch.Tensor, generator: torch.Generator | None = None):
        mu, logvar = self.fc(phi).chunk(2, dim=1)
        eps = torch.randn(mu.shape, generator=generator).to(mu.device)
        return mu + torch.exp(0.5 * logvar) * eps, mu, logvar


kl_to_standard_normal = losses.kl_to_standard_normal   # the paper's regulariser (Eq. 3); one home in losses


def _up(c_in: int, c_out: int) -> nn.Sequential:
    """Double the side: nearest upsampling, 3x3 convolution, batch norm, ReLU (StackGAN's up block)."""
    return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c_in, c_out, 3, 1, 1, bias=False),
                         nn.BatchNorm2d(c_out), nn.ReLU())


class StageIGenerator(nn.Module):
    """G1(z, φ_t): noise (N, z_dim) and embeddings (N, text_dim) -> (images (N, 3, S1, S1), μ, log σ²).

    [z, ĉ] -> linear to (4w, 4, 4) -> up blocks to S1 -> 3x3 convolution, tanh.
    """

    def __init__(self, size: int = 8, z_dim: int = 16, text_dim: int = 32, c_dim: int = 16, width: int = 32):
        super().__init__()
        self.size, self.z_dim = _power_of_two(size, "size", 8), V.positive_int(z_dim, "z_dim")
        w = V.positive_int(width, "width")
        self.ca = ConditioningAugmentation(text_dim, c_dim)
        self.fc = nn.Sequential(nn.Linear(self.z_dim + c_dim, 4 * w * 16, bias=False), nn.BatchNorm1d(4 * w * 16), nn.ReLU())
        ups, c = [], 4 * w
        for _ in range(int(math.log2(self.size // 4))):
            ups.append(_up(c, max(c // 2, w)))
            c = max(c // 2, w)
        self.up = nn.Sequential(*ups)
        self.to_rgb = nn.Sequential(nn.Conv2d(c, 3, 3, 1, 1), nn.Tanh())
        self.width = w

    def forward(self, z: torch.Tensor, phi: torch.Tensor, generator: torch.Generator | None = None):
        V.tensor(z, "z", ndim=2, last_dim=self.z_dim)
        _check_phi(phi, z.shape[0], self.ca.fc.in_features)
        c_hat, mu, logvar = self.ca(phi, generator)
        h = self.fc(torch.cat([z, c_hat], dim=1)).view(z.shape[0], 4 * self.width, 4, 4)
        return self.to_rgb(self.up(h)), mu, logvar


class ResidualBlock(nn.Module):
    """x + [conv 3x3, BN, ReLU, conv 3x3, BN](x), sizes kept (Stage-II's residual blocks)."""

    def __init__(self, c: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(c, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU(),
                                  nn.Conv2d(c, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c))

    def forward(self, x):
        return F.relu(x + self.body(x))


class StageIIGenerator(nn.Module):
    """G2(s1, φ_t): Stage-I images (N, 3, S1, S1) and embeddings -> (images (N, 3, S, S), μ, log σ²).

    Encoder (two 3x3 convolutions at S1) -> concat ĉ replicated over S1 x S1 -> 3x3 convolution ->
    two residual blocks -> up blocks to S -> 3x3 convolution, tanh. Its own conditioning
    augmentation, as in the paper.
    """

    def __init__(self, size: int = 32, stage1_size: int = 8, text_dim: int = 32, c_dim: int = 16, width: int = 32):
        super().__init__()
        self.size, self.stage1_size = _power_of_two(size, "size", 16), _power_of_two(stage1_size, "stage1_size", 8)
        if self.size <= self.stage1_size:
            raise ValueError(f"size: expected more than stage1_size ({stage1_size}), got {size}")
        w = V.positive_int(width, "width")
        self.ca = ConditioningAugmentation(text_dim, c_dim)
        self.encode = nn.Sequential(nn.Conv2d(3, 2 * w, 3, 1, 1), nn.ReLU(),
                                    nn.Conv2d(2 * w, 4 * w, 3, 1, 1, bias=False), nn.BatchNorm2d(4 * w), nn.ReLU())
        self.joint = nn.Sequential(nn.Conv2d(4 * w + c_dim, 4 * w, 3, 1, 1, bias=False), nn.BatchNorm2d(4 * w), nn.ReLU(),
                                   ResidualBlock(4 * w), ResidualBlock(4 * w))
        ups, c = [], 4 * w
        for _ in range(int(math.log2(self.size // self.stage1_size))):
            ups.append(_up(c, max(c // 2, w)))
            c = max(c // 2, w)
        self.up = nn.Sequential(*ups)
        self.to_rgb = nn.Sequential(nn.Conv2d(c, 3, 3, 1, 1), nn.Tanh())

    def forward(self, sketch: torch.Tensor, phi: torch.Tensor, generator: torch.Generator | None = None):
        V.images(sketch, "sketch", channels=3)
        if sketch.shape[-1] != self.stage1_size:
            raise ValueError(f"sketch: expected {self.stage1_size}x{self.stage1_size} images, got shape {tuple(sketch.shape)}")
        _check_phi(phi, sketch.shape[0], self.ca.fc.in_features)
        c_hat, mu, logvar = self.ca(phi, generator)
        h = self.encode(sketch)
        h = self.joint(torch.cat([h, c_hat[:, :, None, None].expand(-1, -1, *h.shape[-2:])], dim=1))
        return self.to_rgb(self.up(h)), mu, logvar


class MatchingDiscriminator(nn.Module):
    """D(x, φ_t): images (N, 3, S, S) and embeddings (N, text_dim) -> one logit per pair (N,).

    Strided 4x4 convolutions (LeakyReLU 0.2, batch norm after the first) down to 4x4; the text
    compressed by a linear layer to ``text_channels`` and replicated over 4x4; concatenated, a 3x3
    convolution, then a 4x4 convolution to the logit (the paper's D for both stages).
    """

    def __init__(self, size: int = 32, text_dim: int = 32, width: int = 32, text_channels: int = 16):
        super().__init__()
        self.size = _power_of_two(size, "size", 8)
        w = V.positive_int(width, "width")
        layers, c = [nn.Conv2d(3, w, 4, 2, 1), nn.LeakyReLU(0.2)], w
        for _ in range(int(math.log2(self.size // 8))):
            layers += [nn.Conv2d(c, 2 * c, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * c), nn.LeakyReLU(0.2)]
            c *= 2
        self.image = nn.Sequential(*layers)
        self.text = nn.Sequential(nn.Linear(V.positive_int(text_dim, "text_dim"), text_channels), nn.LeakyReLU(0.2))
        self.joint = nn.Sequential(nn.Conv2d(c + text_channels, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c),
                                   nn.LeakyReLU(0.2), nn.Conv2d(c, 1, 4, 1, 0))

    def forward(self, x: torch.Tensor, phi: torch.Tensor) -> torch.Tensor:
        V.images(x, "x", channels=3)
        if x.shape[-1] != self.size:
            raise ValueError(f"x: expected {self.size}x{self.size} images, got shape {tuple(x.shape)}")
        _check_phi(phi, x.shape[0], self.text[0].in_features)
        h = self.image(x)
        t = self.text(phi)[:, :, None, None].expand(-1, -1, *h.shape[-2:])
        return self.joint(torch.cat([h, t], dim=1)).reshape(-1)


def _check_phi(phi, n: int, text_dim: int) -> None:
    """φ_t must be (n, text_dim): one embedding per image (or noise vector)."""
    V.tensor(phi, "phi", ndim=2, last_dim=text_dim)
    if phi.shape[0] != n:
        raise ValueError(f"phi: expected one embedding per image ({n}), got {phi.shape[0]}")


def _power_of_two(value, name: str, minimum: int) -> int:
    value = V.positive_int(value, name, minimum=minimum)
    if value & (value - 1):
        raise ValueError(f"{name}: expected a power of two >= {minimum}, got {value}")
    return value


def matching_d_loss(D: MatchingDiscriminator, real: torch.Tensor, fake: torch.Tensor, phi: torch.Tensor,
                    phi_wrong: torch.Tensor) -> torch.Tensor:
    r"""The matching-aware D loss of StackGAN (after Reed et al. 2016):
    :math:`-\log D(x, \varphi) - \tfrac12[\log(1 - D(G, \varphi)) + \log(1 - D(x, \varphi_{wrong}))]`, batch means."""
    real_logit = D(real, phi)
    return (F.softplus(-real_logit).mean() + 0.5 * F.softplus(D(fake, phi)).mean()
            + 0.5 * F.softplus(D(real, phi_wrong)).mean())


@dataclass
class StackGANConfig:
    stage1_size: int = 8
    image_size: int = 32
    z_dim: int = 16
    text_dim: int = 32
    text_noise: float = 0.2      # the "sentence" noise of TextEncoder
    c_dim: int = 16              # ĉ's size (the paper: 128)
    width: int = 32
    lambda_kl: float = 1.0       # the paper's λ
    lr: float = 2e-4             # the paper's Adam settings and batch
    beta1: float = 0.5
    batch_size: int = 64
    stage1_steps: int = 2000
    stage2_steps: int = 3000
    n_train: int = 4000          # solid shapes rendered at image_size
    seed: int = 0

    def __post_init__(self):
        V.fields(self, counts=("z_dim", "text_dim", "c_dim", "width", "batch_size", "stage1_steps", "stage2_steps",
                               "n_train"))
        self.stage1_size = _power_of_two(self.stage1_size, "stage1_size", 8)
        self.image_size = _power_of_two(self.image_size, "image_size", 16)
        if self.image_size not in (32, 64) or self.image_size <= self.stage1_size:
            raise ValueError(f"image_size: expected 32 or 64 (the shapes' sizes), above stage1_size; got {self.image_size}")
        self.text_noise = V.positive_float(self.text_noise, "text_noise", allow_zero=True)
        self.lambda_kl = V.positive_float(self.lambda_kl, "lambda_kl", allow_zero=True)
        self.lr = V.positive_float(self.lr, "lr")
        V.unit_interval(self.beta1, "beta1")
        self.seed = V.positive_int(self.seed, "seed", minimum=0)

    @property
    def steps(self) -> int:
        return self.stage1_steps + self.stage2_steps


def shrink(images: torch.Tensor, size: int) -> torch.Tensor:
    """Real images (N, 3, S, S) -> (N, 3, size, size) by area averaging: Stage-I's real data."""
    V.images(images, "images")
    return F.interpolate(images, size=(size, size), mode="area")


def enlarge(images: torch.Tensor, size: int) -> torch.Tensor:
    """Images (N, 3, s, s) -> (N, 3, size, size), bilinear: a Stage-I sketch shown at full size."""
    V.images(images, "images")
    return F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False)


class StackGAN:
    """The text encoder (fixed), both stages' G and D, their optimisers and one training step.

    ``optimize_parameters`` trains Stage-I for ``cfg.stage1_steps`` calls, then Stage-II (Stage-I
    frozen, in eval mode) for the rest.
    """

    def __init__(self, cfg: StackGANConfig | None = None, device="cpu"):
        self.cfg = cfg = cfg or StackGANConfig()
        V.instance(cfg, "cfg", StackGANConfig)
        self.device = torch.device(device)
        torch.manual_seed(cfg.seed)
        self.text = TextEncoder(cfg.text_dim, cfg.text_noise, seed=cfg.seed).to(self.device)
        self.G1 = init_dcgan(StageIGenerator(cfg.stage1_size, cfg.z_dim, cfg.text_dim, cfg.c_dim, cfg.width)).to(self.device)
        self.D1 = init_dcgan(MatchingDiscriminator(cfg.stage1_size, cfg.text_dim, cfg.width)).to(self.device)
        self.G2 = init_dcgan(StageIIGenerator(cfg.image_size, cfg.stage1_size, cfg.text_dim, cfg.c_dim, cfg.width)).to(self.device)
        self.D2 = init_dcgan(MatchingDiscriminator(cfg.image_size, cfg.text_dim, cfg.width)).to(self.device)
        betas = (cfg.beta1, 0.999)
        self.opts = {k: torch.optim.Adam(getattr(self, k).parameters(), lr=cfg.lr, betas=betas)
                     for k in ("G1", "D1", "G2", "D2")}
        self.step = 0

    @property
    def stage(self) -> int:
        return 1 if self.step < self.cfg.stage1_steps else 2

    def _gan_step(self, G: str, D: str, real: torch.Tensor, make_fake, phi: torch.Tensor,
                  phi_wrong: torch.Tensor) -> dict:
        """One D update (matching-aware: ``phi_wrong`` are the mismatched captions), then one G update
        (non-saturating + λ·KL)."""
        fake, mu, logvar = make_fake(phi)
        loss_D = matching_d_loss(getattr(self, D), real, fake.detach(), phi, phi_wrong)
        self.opts[D].zero_grad(set_to_none=True)
        loss_D.backward()
        self.opts[D].step()
        kl = kl_to_standard_normal(mu, logvar)
        loss_G = losses.g_loss_nonsaturating(getattr(self, D)(fake, phi)) + self.cfg.lambda_kl * kl
        self.opts[G].zero_grad(set_to_none=True)
        loss_G.backward()
        self.opts[G].step()
        return {"loss_D": loss_D.detach(), "loss_G": loss_G.detach(), "kl": kl.detach()}

    def optimize_parameters(self, real: torch.Tensor, captions: torch.Tensor) -> dict:
        """One step of the current stage on real images (N, 3, S, S) with their caption labels (N, 3)."""
        V.images(real, "real", channels=3)
        if real.shape[-1] != self.cfg.image_size:
            raise ValueError(f"real: expected {self.cfg.image_size}x{self.cfg.image_size} images, got shape {tuple(real.shape)}")
        if _check_captions(captions).shape[0] != real.shape[0]:
            raise ValueError(f"captions: expected one caption per image ({real.shape[0]}), got {captions.shape[0]}")
        phi = self.text(captions)
        phi_wrong = self.text(wrong_captions(captions))
        x = real.to(self.device)
        n = x.shape[0]
        if self.stage == 1:
            z = torch.randn(n, self.cfg.z_dim, device=self.device)
            out = self._gan_step("G1", "D1", shrink(x, self.cfg.stage1_size), lambda p: self.G1(z, p), phi, phi_wrong)
        else:
            if self.G1.training:               # Stage-I is frozen from here on (the paper's order)
                self.G1.eval().requires_grad_(False)
            with torch.no_grad():
                sketch, _, _ = self.G1(torch.randn(n, self.cfg.z_dim, device=self.device), phi)
            out = self._gan_step("G2", "D2", x, lambda p: self.G2(sketch, p), phi, phi_wrong)
        self.step += 1
        return out

    @torch.no_grad()
    def sample(self, captions: torch.Tensor, generator: torch.Generator | None = None):
        """Both stages in eval mode: ``(sketches (N, 3, S1, S1), images (N, 3, S, S))`` on the CPU."""
        return sample(self.text, self.G1, self.G2, captions, generator)

    def modules(self) -> dict:
        return {"text": self.text, "G1": self.G1, "D1": self.D1, "G2": self.G2, "D2": self.D2}

    def optimizers(self) -> dict:
        return dict(self.opts)

    def state_extras(self) -> dict:
        return {"step": self.step}


@torch.no_grad()
def sample(text: TextEncoder, G1: StageIGenerator, G2: StageIIGenerator, captions: torch.Tensor,
           generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Text to image: φ_t = text(captions) (with its sentence noise), s1 = G1(z, φ_t), s2 = G2(s1, φ_t),
    ĉ drawn in each stage. Eval mode, modes restored; returns ``(s1, s2)`` on the CPU."""
    if not isinstance(G1, StageIGenerator) or not isinstance(G2, StageIIGenerator):
        raise TypeError("G1, G2: expected a StageIGenerator and a StageIIGenerator")
    if not isinstance(text, TextEncoder):
        raise TypeError(f"text: expected a stackgan.TextEncoder, got {type(text).__name__}")
    captions = _check_captions(captions)
    device = next(G1.parameters()).device
    modes = [(m, m.training) for m in (G1, G2)]
    G1.eval(), G2.eval()
    try:
        phi = text(captions.to(device), generator=generator)
        z = torch.randn(captions.shape[0], G1.z_dim, generator=generator).to(device)
        s1, _, _ = G1(z, phi, generator)
        s2, _, _ = G2(s1, phi, generator)
        return s1.cpu(), s2.cpu()
    finally:
        for m, mode in modes:
            m.train(mode)


def training_data(cfg: StackGANConfig, split: str = "train", n: int | None = None):
    """Solid shapes at ``cfg.image_size`` and their caption labels: ``(images (N, 3, S, S), captions (N, 3))``."""
    ds = Shapes(n or cfg.n_train, cfg.image_size, split, seed=cfg.seed if split == "train" else 0, fixed={"fill": "solid"})
    cols = [ATTRIBUTES.index(a) for a in CAPTION_ATTRIBUTES]
    return ds.images, ds.attributes[:, cols].clone()


def train(cfg: StackGANConfig, device="cpu", progress: bool = True, checkpoint=None, resume: bool | str = False,
          log_every: int = 25, desc: str = "StackGAN"):
    """Train both stages in order on ``training_data(cfg)``; return ``(model, history)``. With
    ``checkpoint`` (a ``gancourse.train.Checkpointer``), saves and resumes as ``fit`` does."""
    seed_everything(cfg.seed)
    images, captions = training_data(cfg)
    model = StackGAN(cfg, device)
    # batches of indices, so that one draw gives the images and their three caption labels
    stream = index_batches(len(images), cfg.batch_size, generator=torch.Generator().manual_seed(cfg.seed))

    def step(i):
        model.step = i                   # the stage follows the step, also after a resume
        _, idx = next(stream)
        return model.optimize_parameters(images[idx], captions[idx])

    if checkpoint is not None:          # grid: the Stage-II images of 16 captions
        checkpoint.track(model, batches=stream, samples=lambda: enlarge(
            model.sample(captions[:16], torch.Generator().manual_seed(0))[1], cfg.image_size))
    history = fit(step, cfg.steps, log_every=log_every, desc=desc, progress=progress, checkpoint=checkpoint, resume=resume)
    return model, history


@torch.no_grad()
def evaluate(text: TextEncoder, G1: StageIGenerator, G2: StageIIGenerator, n: int = 1000, seed: int = 0,
             classifier=None) -> dict:
    """Notebook 16's numbers, on the captions of ``n`` held-out solid shapes: the share of images the
    course's shapes classifier reads as their caption asks (per named attribute, and all three at once)
    and the Fréchet distance (the classifier's features) to the held-out images, for the Stage-I
    sketches enlarged to full size (bilinear), for Stage-II's images, and for the held-out images
    shrunk to Stage-I's size and enlarged again (what a perfect Stage-I could show at full size)."""
    clf = classifier if classifier is not None else attribute_classifier()
    size = G2.size
    real, captions = training_data(StackGANConfig(image_size=size, stage1_size=G1.size), "test", n)
    s1, s2 = sample(text, G1, G2, captions, torch.Generator().manual_seed(seed))
    ref = classifier_features(real, clf)
    out = {}
    for name, images in (("stage1_enlarged", enlarge(s1, size)), ("stage2", s2),
                         ("real_shrunk_enlarged", enlarge(shrink(real, G1.size), size))):
        pred = clf.predict(images)
        hits = torch.stack([pred[:, ATTRIBUTES.index(a)] == captions[:, k] for k, a in enumerate(CAPTION_ATTRIBUTES)], 1)
        for k, a in enumerate(CAPTION_ATTRIBUTES):
            out[f"{a}_{name}"] = round(float(hits[:, k].float().mean()), 4)
        out[f"caption_{name}"] = round(float(hits.all(1).float().mean()), 4)
        out[f"frechet_{name}"] = round(frechet_distance(classifier_features(images, clf), ref), 2)
    return out


def load_pretrained() -> tuple[TextEncoder, StageIGenerator, StageIIGenerator, StackGANConfig, dict]:
    """The shipped StackGAN: ``(text, G1, G2, cfg, metrics)``, checksum verified, eval mode."""
    state = pretrained.load(PRETRAINED_NAME)
    cfg = StackGANConfig(**state["config"])
    text = TextEncoder(cfg.text_dim, cfg.text_noise, seed=cfg.seed)
    G1 = StageIGenerator(cfg.stage1_size, cfg.z_dim, cfg.text_dim, cfg.c_dim, cfg.width)
    G2 = StageIIGenerator(cfg.image_size, cfg.stage1_size, cfg.text_dim, cfg.c_dim, cfg.width)
    for key, module in (("text", text), ("G1", G1), ("G2", G2)):
        module.load_state_dict(state["modules"][key])
    return text.eval(), G1.eval(), G2.eval(), cfg, state.get("metrics", {})


def _config(args) -> StackGANConfig:
    """--steps is the total, split between the stages as in the defaults (2 : 3); quick mode (tests)
    trains on a small set."""
    cfg = StackGANConfig(seed=args.seed) if args.image_size is None else \
        StackGANConfig(seed=args.seed, image_size=args.image_size)
    if args.steps is not None:
        cfg.stage1_steps = max(1, round(args.steps * 2 / 5))
        cfg.stage2_steps = max(1, args.steps - cfg.stage1_steps)
    if args.batch_size is not None:
        cfg.batch_size = args.batch_size
    cfg.n_train = pick(cfg.n_train, 256)
    return cfg


def _scores(model, cfg: StackGANConfig, history) -> dict:
    """Caption accuracy and Fréchet distances (:func:`evaluate`), and the last losses."""
    metrics = evaluate(model.text.cpu().eval(), model.G1.cpu().eval(), model.G2.cpu().eval(), n=pick(1000, 64))
    return {**metrics, **recipes.last_losses(history)}


RECIPE = recipes.Recipe(
    name="stackgan", config=StackGANConfig, configure=_config, train=train, evaluate=_scores,
    trains_on="the procedural shapes",
    publish=lambda model, cfg: (PRETRAINED_NAME, {"text": model.text, "G1": model.G1, "G2": model.G2},
                                "StackGAN on captioned solid shapes: Stage-I 8x8 sketches, Stage-II 32x32 images "
                                "(notebook 16)"))
