r"""LAPGAN: a Laplacian pyramid of GANs (Denton, Chintala, Szlam & Fergus, NeurIPS 2015).

An image I_0 is split into a pyramid: I_{k+1} = d(I_k) (blur and halve), l_k = u(I_{k+1}) (double
back: a blurry copy of I_k), and the band-pass residual h_k = I_k - l_k. The pyramid is invertible:
I_k = u(I_{k+1}) + h_k, so the top image and the residuals give back I_0 exactly.

LAPGAN generates in that order, coarse to fine: a GAN G_K draws the small top image from noise,
then at each level a *conditional* GAN G_k draws the residual given the upsampled image,
h̃_k = G_k(z_k, l_k), and Ĩ_k = l_k + h̃_k (the paper's Eq. 3). D_k judges residuals together with
the image they belong to: (h_k, l_k) against (h̃_k, l_k). Every level is trained on its own, on
the pyramid of real images (Section 3.2: "the models at each level are trained independently").
Each G only has to add the detail one octave is missing, an easier task than drawing everything
at once.

Here two levels on the 16x16 digits: G_0 and D_0 are DCGAN's networks at 8x8 (notebook 05);
G_1 reads [l_1, a noise plane] (2 channels, as in the paper's CIFAR model, where the noise is an
extra input plane) through three 3x3 convolutions and outputs a residual in [-1, 1]; D_1 is
DCGAN's discriminator at 16x16 on the 2-channel image [h, l]. d = 2x2 average pooling, u =
bilinear upsampling.

    model = LAPGAN(LAPGANConfig())
    losses = model.optimize_parameters(real16)
    coarse, fine = model.sample(64)         # (64, 1, 8, 8) from G_0, and the 16x16 images

Recipe: ``python -m gancourse.train lapgan --publish`` (shipped: ``lapgan-digits``).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .. import _validate as V
from .. import losses, pretrained, recipes
from ..data import Digits, TensorImageDataset, batches
from ..judges.digits import digit_classifier
from ..metrics import class_scores, classifier_features, frechet_distance
from ..nn.init import init_dcgan
from ..runtime import seed_everything
from ..train import fit
from .dcgan import Discriminator, Generator

PRETRAINED_NAME = "lapgan-digits"


def downsample(x: torch.Tensor) -> torch.Tensor:
    """d: blur and halve, (N, C, H, W) -> (N, C, H/2, W/2) by 2x2 averaging (H, W even)."""
    V.images(x, "x")
    if x.shape[-1] % 2 or x.shape[-2] % 2:
        raise ValueError(f"x: expected an even height and width, got shape {tuple(x.shape)}")
    return F.avg_pool2d(x, 2)


def upsample(x: torch.Tensor) -> torch.Tensor:
    """u: double the size, (N, C, H, W) -> (N, C, 2H, 2W), bilinear."""
    V.images(x, "x")
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


def laplacian_pyramid(x: torch.Tensor, levels: int) -> list[torch.Tensor]:
    """[h_0, h_1, ..., h_{levels-1}, I_levels]: the residuals h_k = I_k - u(d(I_k)), finest first, then
    the top (smallest) image. ``x`` (N, C, H, W) with H, W divisible by 2^levels."""
    V.images(x, "x")
    levels = V.positive_int(levels, "levels")
    if x.shape[-1] % 2 ** levels or x.shape[-2] % 2 ** levels:
        raise ValueError(f"x: expected a size divisible by 2^levels = {2 ** levels}, got shape {tuple(x.shape)}")
    out, current = [], x
    for _ in range(levels):
        smaller = downsample(current)
        out.append(current - upsample(smaller))
        current = smaller
    return out + [current]


def reconstruct(pyramid: list[torch.Tensor]) -> torch.Tensor:
    """Invert :func:`laplacian_pyramid`: I_k = u(I_{k+1}) + h_k from the top down (exact)."""
    if not isinstance(pyramid, (list, tuple)) or len(pyramid) < 2:
        raise ValueError("pyramid: expected a list [h_0, ..., h_{K-1}, I_K] of at least two tensors")
    current = pyramid[-1]
    for h in reversed(pyramid[:-1]):
        current = upsample(current) + h
    return current


class ResidualGenerator(nn.Module):
    """G_1(z, l): a blurry image l (N, 1, S, S) and one noise plane per image -> a residual (N, 1, S, S)
    in [-1, 1]. Three 3x3 convolutions (ReLU, batch norm between), tanh at the end."""

    def __init__(self, width: int = 32):
        super().__init__()
        w = V.positive_int(width, "width")
        self.net = nn.Sequential(
            nn.Conv2d(2, w, 3, 1, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU(),
            nn.Conv2d(w, w, 3, 1, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU(),
            nn.Conv2d(w, 1, 3, 1, 1), nn.Tanh())

    def forward(self, z: torch.Tensor, low: torch.Tensor) -> torch.Tensor:
        V.images(low, "low", channels=1)
        V.images(z, "z", channels=1)
        if z.shape != low.shape:
            raise ValueError(f"z: expected one noise plane per image, shape {tuple(low.shape)}, got {tuple(z.shape)}")
        return self.net(torch.cat([low, z], dim=1))


@dataclass
class LAPGANConfig:
    image_size: int = 16           # two levels: G_0 draws image_size / 2
    z_dim: int = 32                # G_0's noise
    width: int = 32
    lr: float = 2e-4
    beta1: float = 0.5
    batch_size: int = 64
    steps: int = 3000
    seed: int = 0

    def __post_init__(self):
        V.fields(self, counts=("z_dim", "width", "batch_size", "steps"))
        self.image_size = V.positive_int(self.image_size, "image_size", minimum=16)
        if self.image_size & (self.image_size - 1):
            raise ValueError(f"image_size: expected a power of two >= 16, got {self.image_size}")
        self.lr = V.positive_float(self.lr, "lr")
        V.unit_interval(self.beta1, "beta1")
        self.seed = V.positive_int(self.seed, "seed", minimum=0)


class LAPGAN:
    """The two levels: (G_0, D_0) at half size, (G_1, D_1) for the residual; optimisers; one step of each."""

    def __init__(self, cfg: LAPGANConfig | None = None, device="cpu"):
        self.cfg = cfg = cfg or LAPGANConfig()
        V.instance(cfg, "cfg", LAPGANConfig)
        self.device = torch.device(device)
        torch.manual_seed(cfg.seed)
        half = cfg.image_size // 2
        self.G0 = init_dcgan(Generator(half, cfg.z_dim, cfg.width, 1)).to(self.device)
        self.D0 = init_dcgan(Discriminator(half, cfg.width, 1)).to(self.device)
        self.G1 = init_dcgan(ResidualGenerator(cfg.width)).to(self.device)
        self.D1 = init_dcgan(Discriminator(cfg.image_size, cfg.width, 2)).to(self.device)
        betas = (cfg.beta1, 0.999)
        self.opts = {k: torch.optim.Adam(getattr(self, k).parameters(), lr=cfg.lr, betas=betas)
                     for k in ("G0", "D0", "G1", "D1")}

    def _gan_step(self, G_name: str, D_name: str, real: torch.Tensor, fake: torch.Tensor, cond=None) -> tuple:
        """Algorithm 1 (k = 1, non-saturating G) for one level; ``cond`` is stacked onto D's input."""
        D, opt_D, opt_G = getattr(self, D_name), self.opts[D_name], self.opts[G_name]
        judge = (lambda x: D(x)) if cond is None else (lambda x: D(torch.cat([x, cond], dim=1)))
        loss_D = losses.d_loss_bce(judge(real), judge(fake.detach()))
        opt_D.zero_grad(set_to_none=True)
        loss_D.backward()
        opt_D.step()
        loss_G = losses.g_loss_nonsaturating(judge(fake))
        opt_G.zero_grad(set_to_none=True)
        loss_G.backward()
        opt_G.step()
        return loss_D.detach(), loss_G.detach()

    def optimize_parameters(self, real: torch.Tensor) -> dict:
        """One step of each level on real images (N, 1, S, S), each on its own part of the pyramid."""
        V.images(real, "real", channels=1)
        h1, top = laplacian_pyramid(real.to(self.device), 1)          # residual at S, image at S/2
        low = upsample(top)
        n = real.shape[0]
        # level 0: an ordinary GAN on the small images
        fake_top = self.G0(torch.randn(n, self.cfg.z_dim, device=self.device))
        d0, g0 = self._gan_step("G0", "D0", top, fake_top)
        # level 1: a GAN on residuals, conditioned on the blurry image they belong to
        fake_h = self.G1(torch.randn_like(low), low)
        d1, g1 = self._gan_step("G1", "D1", h1, fake_h, cond=low)
        return {"D0": d0, "G0": g0, "D1": d1, "G1": g1}

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Coarse to fine: Ĩ_1 = G_0(z_0) (n, 1, S/2, S/2), then Ĩ_0 = u(Ĩ_1) + G_1(z_1, u(Ĩ_1)), clamped to [-1, 1]."""
        return sample(self.G0, self.G1, n, generator)

    def modules(self) -> dict:
        return {"G0": self.G0, "D0": self.D0, "G1": self.G1, "D1": self.D1}

    def optimizers(self) -> dict:
        return dict(self.opts)


@torch.no_grad()
def sample(G0: Generator, G1: ResidualGenerator, n: int, generator: torch.Generator | None = None
           ) -> tuple[torch.Tensor, torch.Tensor]:
    """LAPGAN's sampling (Eq. 3) with both generators in eval mode: ``(coarse (n, 1, S/2, S/2), fine (n, 1, S, S))``."""
    if not isinstance(G0, Generator) or not isinstance(G1, ResidualGenerator):
        raise TypeError("G0, G1: expected a dcgan.Generator and a lapgan.ResidualGenerator")
    n = V.positive_int(n, "n")
    device = next(G0.parameters()).device
    modes = [(m, m.training) for m in (G0, G1)]
    G0.eval()
    G1.eval()
    try:
        coarse = G0(torch.randn(n, G0.z_dim, generator=generator).to(device))
        low = upsample(coarse)
        noise = torch.randn(low.shape, generator=generator).to(device)
        fine = (low + G1(noise, low)).clamp(-1, 1)
        return coarse.cpu(), fine.cpu()
    finally:
        for m, mode in modes:
            m.train(mode)


def train(cfg: LAPGANConfig, images: torch.Tensor, device="cpu", progress: bool = True, desc: str = "LAPGAN",
          log_every: int = 25, checkpoint=None, resume: bool | str = False):
    """Train both levels on images (N, 1, S, S) in [-1, 1]; return ``(model, history)``. With
    ``checkpoint`` (a ``gancourse.train.Checkpointer``), saves and resumes as ``fit`` does."""
    V.images(images, "images", channels=1)
    seed_everything(cfg.seed)
    model = LAPGAN(cfg, device)
    data = TensorImageDataset(images, torch.zeros(images.shape[0], dtype=torch.long), ["digit"])
    stream = batches(data, cfg.batch_size, generator=torch.Generator().manual_seed(cfg.seed), device=device)
    if checkpoint is not None:          # grid: 16 full samples from fixed noise
        checkpoint.track(model, batches=stream, samples=lambda: model.sample(16, torch.Generator().manual_seed(0))[1])
    history = fit(lambda i: model.optimize_parameters(next(stream)[0]), cfg.steps, log_every=log_every,
                  desc=desc, progress=progress, checkpoint=checkpoint, resume=resume)
    return model, history


def evaluate(G0: Generator, G1: ResidualGenerator, n: int = 1000, seed: int = 0, classifier=None) -> dict:
    """Notebook 16's numbers: Fréchet distance (course classifier's features) and confident share of the
    coarse samples upsampled (``u(G_0(z))``, level 0 alone) and of the full LAPGAN samples, against the
    held-out digits; and, for reference, the same for the held-out digits blurred by u(d(x))."""
    clf = classifier if classifier is not None else digit_classifier()
    test = Digits(2 * G0.image_size, "test").images
    coarse, fine = sample(G0, G1, n, torch.Generator().manual_seed(seed))
    ref = classifier_features(test, clf)
    out = {}
    for name, images in (("level0_upsampled", upsample(coarse)), ("lapgan", fine),
                         ("real_blurred", upsample(downsample(test)))):
        out[f"frechet_{name}"] = round(frechet_distance(classifier_features(images, clf), ref), 2)
        out[f"confident_{name}"] = round(class_scores(images, clf).confident_fraction, 4)
    return out


def load_pretrained() -> tuple[Generator, ResidualGenerator, LAPGANConfig, dict]:
    """The shipped LAPGAN: ``(G0, G1, cfg, metrics)``, checksum verified, eval mode."""
    state = pretrained.load(PRETRAINED_NAME)
    cfg = LAPGANConfig(**state["config"])
    G0, G1 = Generator(cfg.image_size // 2, cfg.z_dim, cfg.width, 1), ResidualGenerator(cfg.width)
    G0.load_state_dict(state["modules"]["G0"])
    G1.load_state_dict(state["modules"]["G1"])
    return G0.eval(), G1.eval(), cfg, state.get("metrics", {})


RECIPE = recipes.Recipe(
    name="lapgan", config=LAPGANConfig,
    train=lambda cfg, **kw: train(cfg, Digits(cfg.image_size, "train").images, **kw), trains_on="the embedded digits",
    evaluate=lambda model, cfg, history: {**evaluate(model.G0.cpu().eval(), model.G1.cpu().eval()),
                                          **recipes.last_losses(history)},
    publish=lambda model, cfg: (PRETRAINED_NAME, {"G0": model.G0, "G1": model.G1},
                                "LAPGAN on the 16x16 digits: a GAN at 8x8 and a residual GAN at 16x16 (notebook 16)"))
