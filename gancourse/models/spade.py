r"""SPADE / GauGAN: semantic image synthesis with spatially-adaptive normalisation (Park et al., CVPR 2019).

The task is pix2pix's (notebook 10): a semantic label map in, a photograph out. SPADE changes where
the map enters the generator. Pix2pix and pix2pixHD feed it at the input, and every normalisation
layer after that may wash part of it out (:mod:`gancourse.nn.spade`). SPADE's generator has **no
encoder**: it starts from the map downsampled to a few pixels, and every residual block re-reads
the map through its SPADE layers, which predict a per-pixel scale γ(m) and shift β(m) after a
parameter-free normalisation.

Objectives (pix2pixHD's, with the hinge loss; SPADE Section 3 and Appendix A)::

    L_D = mean_k [ E max(0, 1 − D_k(m, x)) + E max(0, 1 + D_k(m, G(m))) ]                 (hinge)
    L_G = mean_k [ −E D_k(m, G(m)) ] + λ_FM · L_FM + λ_VGG · L_VGG,   λ_FM = 10, λ_VGG = 10

with D_k the k-th scale of a two-scale PatchGAN discriminator that reads the map and the image
concatenated (:class:`gancourse.nn.multiscale.MultiscaleDiscriminator`), L_FM pix2pixHD's feature
matching loss over every D layer, averaged over the scales (pix2pixHD Eq. 4,
:func:`gancourse.losses.feature_matching`). Spectral normalisation in G and D; two time-scale
update rule (Heusel et al. 2017): Adam with lr 1e-4 for G and 4e-4 for D, β = (0, 0.9).

**The perceptual (VGG) loss is optional here.** SPADE adds λ_VGG·Σ_i w_i |VGG_i(x) − VGG_i(G(m))|₁
over five ReLU layers of an ImageNet-trained VGG-19, w = (1/32, 1/16, 1/8, 1/4, 1). It needs
VGG-19's ImageNet weights, which are not shipped and cannot be downloaded offline. Give a path
to torchvision's ``vgg19`` state dict as ``vgg_weights`` and a positive ``lambda_vgg`` to use it;
the course's models are trained without it (λ_VGG = 0).

**The ablation** (``generator="bn-input"``): the same residual trunk with affine batch norms
instead of SPADE, the map fed **only at the input** through a small strided encoder (the full
resolution map goes in, so the network has all the information, once). Notebook 13 compares the
two by the mIoU a segmenter trained on real scenes reaches on their images.

The recipes ``python -m gancourse.train spade`` and ``spade-bn`` train both on the course's
32x32 scenes; ``--publish`` writes ``data/spade_scenes.pt`` / ``data/spade_scenes_bn.pt``.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from .. import _validate as V
from .. import losses, pretrained, recipes
from ..data import TensorImageDataset, batches
from ..data.scenes import N_CLASSES, Scenes, colorize, one_hot
from ..distributed import unwrap
from ..fastpaths import prepare
from ..inference import in_batches
from ..judges.scenes import scene_segmenter, segmentation_scores
from ..nn.multiscale import MultiscaleDiscriminator
from ..nn.spade import ResBlock
from ..runtime import pick, seed_everything
from ..train import fit

GENERATORS = ("spade", "bn-input")


@dataclass
class SPADEConfig:
    """Defaults: the course's 32x32 scenes model (the paper's values where a CPU allows)."""
    n_labels: int = 5             # label map channels (the scenes' 5 classes)
    out_channels: int = 3
    size: int = 32
    generator: str = "spade"      # "spade", or "bn-input": the ablation (batch norm, map at the input only)
    ngf: int = 16                 # G's widths: ngf * (8, 4, 2, 1) from the start to full size (paper: 64 * (16, ..., 1))
    n_up: int = 3                 # upsamplings: G starts at size / 2^n_up (4x4 here; 8x8 of 256 in the paper)
    spade_hidden: int = 32        # width of SPADE's shared layer (128 in the paper; its γ, β convolutions dominate G's cost)
    ndf: int = 32                 # D's base width (64 in the paper)
    num_D: int = 2                # discriminator scales (2 in SPADE)
    d_layers: int = 2             # stride-2 layers of each PatchGAN (3 at 256 px; 2 = 34x34 patches here)
    lambda_fm: float = 10.0
    lambda_vgg: float = 0.0       # 10 in the paper; needs vgg_weights
    vgg_weights: str | None = None
    g_lr: float = 1e-4
    d_lr: float = 4e-4
    beta1: float = 0.0
    beta2: float = 0.9
    steps: int = 1000             # the shipped models' training length (the paper: 200 epochs)
    batch_size: int = 16
    seed: int = 0
    z_dim: int = 0                # > 0: SPADE's style encoder and a style code of this size (the paper: 256)
    lambda_kl: float = 0.05       # the weight of the style code's KL term (the paper's)

    def __post_init__(self):
        V.fields(self, counts=("n_labels", "out_channels", "ngf", "n_up", "spade_hidden", "ndf", "num_D", "d_layers",
                               "steps", "batch_size"))
        self.size = V.positive_int(self.size, "size", minimum=8)
        if self.size % 2 ** self.n_up:
            raise ValueError(f"size: expected a multiple of 2^n_up = {2 ** self.n_up}, got {self.size}")
        V.choice(self.generator, "generator", GENERATORS)
        self.z_dim = V.positive_int(self.z_dim, "z_dim", minimum=0)
        if self.z_dim and self.generator != "spade":
            raise ValueError(f"z_dim: a style code needs generator='spade', got generator={self.generator!r}")
        V.fields(self, weights=("lambda_fm", "lambda_vgg", "lambda_kl"))
        if self.lambda_vgg > 0 and not self.vgg_weights:
            raise ValueError("vgg_weights: lambda_vgg > 0 needs the path of torchvision's vgg19 ImageNet state dict "
                             "(not shipped: offline, the course trains with lambda_vgg = 0)")
        self.g_lr = V.positive_float(self.g_lr, "g_lr")
        self.d_lr = V.positive_float(self.d_lr, "d_lr")
        V.fields(self, betas=("beta1", "beta2"))

    @property
    def widths(self) -> list[int]:
        """G's channels at each resolution, from size / 2^n_up up to size."""
        return [self.ngf * 2 ** (self.n_up - k) for k in range(self.n_up + 1)]


# ------------------------------------------------------------------------------------------------
# The generators
# ------------------------------------------------------------------------------------------------

class SPADEGenerator(nn.Module):
    """G(m): one-hot maps (N, L, S, S) -> images (N, C, S, S) in [-1, 1].

    ``mode="spade"`` (the paper's, without its optional style encoder): the map, resized (nearest)
    to S / 2^n_up, goes through a 3x3 convolution to ``widths[0]`` channels; a SPADE ResBlock at
    that size; then ``n_up`` times: upsample x2 (nearest) and a SPADE ResBlock to the next width;
    finally LeakyReLU(0.2), a 3x3 convolution to C channels and tanh.

    ``mode="bn-input"`` (the ablation): the full-resolution map goes through an encoder (a 3x3
    convolution to ``widths[-1]`` channels, then ``n_up`` stride-2 4x4 convolutions, each with batch
    norm and LeakyReLU(0.2), up to ``widths[0]`` channels at S / 2^n_up); then the same trunk with
    affine batch norms in place of SPADE, so the map is read once, at the input.

    ``spade_layer(channels, label_channels, hidden)`` builds the SPADE layers (notebook 13's
    exercise; default :class:`gancourse.nn.spade.SPADE`).

    ``z_dim > 0`` (SPADE's multimodal synthesis, Section 3.3): a style code z (N, z_dim) enters
    through a linear layer added to the first feature map (the paper starts from that layer alone);
    ``forward(segmap, z)`` with z = None uses z = 0, the prior's mean.
    """

    def __init__(self, n_labels: int = 5, out_channels: int = 3, size: int = 32, ngf: int = 16, n_up: int = 3,
                 spade_hidden: int = 32, mode: str = "spade", spectral_norm: bool = True, spade_layer=None,
                 z_dim: int = 0):
        super().__init__()
        self.n_labels = V.positive_int(n_labels, "n_labels")
        self.out_channels = V.positive_int(out_channels, "out_channels")
        self.size = V.positive_int(size, "size", minimum=8)
        self.n_up = V.positive_int(n_up, "n_up")
        if self.size % 2 ** self.n_up:
            raise ValueError(f"size: expected a multiple of 2^n_up = {2 ** self.n_up}, got {self.size}")
        ngf = V.positive_int(ngf, "ngf")
        self.mode = V.choice(mode, "mode", GENERATORS)
        self.widths = [ngf * 2 ** (self.n_up - k) for k in range(self.n_up + 1)]
        self.start = self.size // 2 ** self.n_up
        norm = "spade" if mode == "spade" else "batch"
        block = lambda c_in, c_out: ResBlock(c_in, c_out, n_labels, hidden=spade_hidden, norm=norm,   # noqa: E731
                                             spectral_norm=spectral_norm, spade_layer=spade_layer)
        w = self.widths
        if mode == "spade":
            self.stem = nn.Conv2d(n_labels, w[0], 3, padding=1)
        else:
            layers = [nn.Conv2d(n_labels, w[-1], 3, padding=1), nn.BatchNorm2d(w[-1]), nn.LeakyReLU(0.2)]
            for k in range(self.n_up, 0, -1):        # widths[-1] at S -> widths[0] at S / 2^n_up
                layers += [nn.Conv2d(w[k], w[k - 1], 4, stride=2, padding=1), nn.BatchNorm2d(w[k - 1]),
                           nn.LeakyReLU(0.2)]
            self.stem = nn.Sequential(*layers)
        self.head = block(w[0], w[0])
        self.ups = nn.ModuleList(block(w[k], w[k + 1]) for k in range(self.n_up))
        self.to_image = nn.Conv2d(w[-1], self.out_channels, 3, padding=1)
        self.z_dim = V.positive_int(z_dim, "z_dim", minimum=0)
        if self.z_dim:
            if mode != "spade":
                raise ValueError(f"z_dim: a style code needs mode='spade', got mode={mode!r}")
            self.style = nn.Linear(self.z_dim, w[0] * self.start ** 2)

    def forward(self, segmap: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        V.images(segmap, "segmap", channels=self.n_labels)
        if segmap.shape[-2:] != (self.size, self.size):
            raise ValueError(f"segmap: expected maps of {self.size}x{self.size}, got shape {tuple(segmap.shape)}")
        if z is not None and not self.z_dim:
            raise ValueError("z: this generator has no style code (z_dim = 0)")
        if self.mode == "spade":
            x = self.stem(F.interpolate(segmap, size=(self.start, self.start), mode="nearest"))
            if self.z_dim:
                z = segmap.new_zeros(segmap.shape[0], self.z_dim) if z is None else V.tensor(z, "z", ndim=2, last_dim=self.z_dim)
                x = x + self.style(z).view(x.shape)
            m = segmap
        else:
            x = self.stem(segmap)
            m = None                         # the trunk never sees the map again
        x = self.head(x, m)
        for block in self.ups:
            x = block(F.interpolate(x, scale_factor=2, mode="nearest"), m)
        return torch.tanh(self.to_image(F.leaky_relu(x, 0.2)))


def build_generator(cfg: SPADEConfig, spade_layer=None) -> SPADEGenerator:
    """The generator of a configuration; ``spade_layer``: as in :class:`SPADEGenerator`."""
    return SPADEGenerator(cfg.n_labels, cfg.out_channels, cfg.size, cfg.ngf, cfg.n_up, cfg.spade_hidden,
                          mode=cfg.generator, spade_layer=spade_layer, z_dim=cfg.z_dim)


class StyleEncoder(nn.Module):
    """SPADE's image encoder (Park et al. 2019, Section 3.3 and Appendix B, shrunk): images
    (N, C, S, S) -> (μ, log σ²), each (N, z_dim), of q(z | image): three stride-2 3x3 convolutions
    with instance norm and LeakyReLU(0.2), then two linear heads."""

    def __init__(self, size: int = 32, channels: int = 3, width: int = 16, z_dim: int = 16):
        super().__init__()
        self.z_dim = V.positive_int(z_dim, "z_dim")
        self.channels = V.positive_int(channels, "channels")
        layers, c = [], self.channels
        for k in range(3):
            layers += [nn.Conv2d(c, width * 2 ** k, 3, stride=2, padding=1), nn.InstanceNorm2d(width * 2 ** k),
                       nn.LeakyReLU(0.2)]
            c = width * 2 ** k
        self.net = nn.Sequential(*layers, nn.Flatten())
        features = c * (V.positive_int(size, "size", minimum=8) // 8) ** 2
        self.mu, self.logvar = nn.Linear(features, self.z_dim), nn.Linear(features, self.z_dim)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.net(V.images(images, "images", channels=self.channels))
        return self.mu(h), self.logvar(h)


def build_discriminator(cfg: SPADEConfig) -> MultiscaleDiscriminator:
    """Two-scale PatchGAN on concat(map, image), instance norm + spectral norm (SPADE's reference D)."""
    return MultiscaleDiscriminator(cfg.n_labels + cfg.out_channels, num_D=cfg.num_D, base=cfg.ndf,
                                   n_layers=cfg.d_layers, norm="instance", spectral_norm=True)


class VGGLoss(nn.Module):
    """SPADE's perceptual loss: Σ_i w_i · mean |VGG_i(x) − VGG_i(y)| over the relu1_1, relu2_1,
    relu3_1, relu4_1, relu5_1 activations of an ImageNet VGG-19, w = (1/32, 1/16, 1/8, 1/4, 1).
    ``weights``: path of torchvision's ``vgg19`` state dict (never downloaded here). Images
    (N, 3, H, W) in [-1, 1] are mapped to ImageNet's normalisation first."""

    LAYERS = (2, 7, 12, 21, 30)          # indices after which torchvision's vgg19.features gives relu*_1
    WEIGHTS = (1 / 32, 1 / 16, 1 / 8, 1 / 4, 1.0)

    def __init__(self, weights):
        super().__init__()

        path = Path(weights) if isinstance(weights, (str, Path)) else None
        if path is None:
            raise TypeError(f"weights: expected the path of a vgg19 state dict, got {type(weights).__name__}")
        if not path.is_file():
            raise FileNotFoundError(f"weights: {path} does not exist; save torchvision's VGG19_Weights.IMAGENET1K_V1 "
                                    "state dict there on a machine with a network")
        from torchvision.models import vgg19   # heavy, and only for the optional VGG loss

        net = vgg19()
        net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        self.features = net.features[:self.LAYERS[-1]].eval().requires_grad_(False)
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        V.images(x, "x", channels=3)
        V.images(y, "y", channels=3)
        h_x, h_y = ((x + 1) / 2 - self.mean) / self.std, ((y + 1) / 2 - self.mean) / self.std
        total, start = 0.0, 0
        for stop, w in zip(self.LAYERS, self.WEIGHTS):
            for layer in self.features[start:stop]:
                h_x, h_y = layer(h_x), layer(h_y)
            total = total + w * (h_x - h_y.detach()).abs().mean()
            start = stop
        return total


# ------------------------------------------------------------------------------------------------
# The model object
# ------------------------------------------------------------------------------------------------

def _split(pred, n: int):
    """D's output on [fake; real] concatenated along the batch -> (fake part, real part), per scale."""
    fake = [(s[:n], [f[:n] for f in feats]) for s, feats in pred]
    real = [(s[n:], [f[n:] for f in feats]) for s, feats in pred]
    return fake, real


class SPADEModel:
    """G, the multi-scale D, their optimisers (TTUR) and SPADE's training step.

    ``set_input(maps, images)``: one-hot maps (N, L, S, S) and images (N, C, S, S) in [-1, 1].
    ``optimize_parameters()``: one G step, then one D step (the reference trainer's order), and
    returns the losses. ``spade_layer``: builds G's SPADE layers (:class:`SPADEGenerator`).
    """

    def __init__(self, cfg: SPADEConfig | None = None, device="cpu", spade_layer=None):
        self.cfg = cfg = cfg or SPADEConfig()
        V.instance(cfg, "cfg", SPADEConfig)
        self.device = torch.device(device)
        self.G = build_generator(cfg, spade_layer).to(self.device)
        self.D = build_discriminator(cfg).to(self.device)
        # with a style code, the encoder E is trained with G, by G's optimiser (the reference's choice)
        self.E = StyleEncoder(cfg.size, cfg.out_channels, cfg.ngf, cfg.z_dim).to(self.device) if cfg.z_dim else None
        g_params = list(self.G.parameters()) + (list(self.E.parameters()) if self.E is not None else [])
        self.opt_G = torch.optim.Adam(g_params, lr=cfg.g_lr, betas=(cfg.beta1, cfg.beta2))
        self.opt_D = torch.optim.Adam(self.D.parameters(), lr=cfg.d_lr, betas=(cfg.beta1, cfg.beta2))
        self.vgg = VGGLoss(cfg.vgg_weights).to(self.device) if cfg.lambda_vgg > 0 else None

    def set_input(self, maps: torch.Tensor, images: torch.Tensor) -> None:
        V.images(maps, "maps", channels=self.cfg.n_labels)
        V.images(images, "images", channels=self.cfg.out_channels)
        if maps.shape[0] != images.shape[0] or maps.shape[-2:] != images.shape[-2:]:
            raise ValueError(f"maps and images: expected pairs of the same batch and image size, "
                             f"got {tuple(maps.shape)} and {tuple(images.shape)}")
        self.maps, self.real = maps.to(self.device), images.to(self.device)

    def discriminate(self, fake: torch.Tensor):
        """D on the fake and the real pairs in one pass: (per-scale fake outputs, per-scale real outputs)."""
        pairs = torch.cat([torch.cat([self.maps, fake], 1), torch.cat([self.maps, self.real], 1)])
        return _split(self.D(pairs), fake.shape[0])

    def backward_G(self) -> dict:
        """mean_k −D_k(m, G(m)) + λ_FM·L_FM (+ λ_VGG·L_VGG); with a style code, G(m, z) with z drawn
        from E's q(z | real image) (reparameterised) and + λ_KL·KL(q ‖ N(0, I))."""
        cfg = self.cfg
        out = {}
        if self.E is not None:
            mu, logvar = self.E(self.real)
            z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
            out["G_kl"] = losses.kl_to_standard_normal(mu, logvar)
            self.fake = self.G(self.maps, z)
        else:
            self.fake = self.G(self.maps)
        pred_fake, pred_real = self.discriminate(self.fake)
        adv = sum(losses.g_loss_hinge(s) for s, _ in pred_fake) / len(pred_fake)
        fm = losses.feature_matching([f for _, f in pred_real], [f for _, f in pred_fake])
        total = adv + cfg.lambda_fm * fm + (cfg.lambda_kl * out["G_kl"] if "G_kl" in out else 0)
        out.update({"G_hinge": adv, "G_fm": fm})
        if self.vgg is not None:
            out["G_vgg"] = self.vgg(self.fake, self.real)
            total = total + cfg.lambda_vgg * out["G_vgg"]
        total.backward()
        return out

    def backward_D(self) -> dict:
        """mean_k [max(0, 1 − D_k(m, x)) + max(0, 1 + D_k(m, G(m)))], on the fake of the G step, detached."""
        pred_fake, pred_real = self.discriminate(self.fake.detach())
        loss = sum(losses.d_loss_hinge(r, f) for (r, _), (f, _) in zip(pred_real, pred_fake)) / len(pred_fake)
        loss.backward()
        return {"D_hinge": loss}

    def optimize_parameters(self) -> dict:
        """One iteration: G first (D frozen), then D on the same, now detached, fakes."""
        self.D.requires_grad_(False)
        self.opt_G.zero_grad(set_to_none=True)
        out = self.backward_G()
        self.opt_G.step()
        self.D.requires_grad_(True)
        self.opt_D.zero_grad(set_to_none=True)
        out.update(self.backward_D())
        self.opt_D.step()
        return {k: v.detach() for k, v in out.items()}

    def modules(self) -> dict:
        return {"G": self.G, "D": self.D} | ({"E": self.E} if self.E is not None else {})

    def optimizers(self) -> dict:
        return {"G": self.opt_G, "D": self.opt_D}


@torch.no_grad()
def synthesize(G: SPADEGenerator, maps: torch.Tensor, batch_size: int = 128) -> torch.Tensor:
    """Images G(one_hot(maps)) for integer label maps (N, S, S), in batches, on the CPU.

    G is used in the mode it is in (``G.eval()`` for the batch norms' running statistics, as the
    reference test script does)."""
    V.instance(G, "G", SPADEGenerator)
    return in_batches(G, one_hot(maps, G.n_labels), batch_size=batch_size)


def train(cfg: SPADEConfig, maps: torch.Tensor, images: torch.Tensor, device="cpu", progress: bool = True,
          checkpoint=None, resume: bool = False, desc: str | None = None, log_every: int = 25, fast=None,
          spade_layer=None):
    """Train on pairs: integer label maps (N, S, S) and images (N, C, S, S) in [-1, 1], for
    ``cfg.steps`` steps of ``cfg.batch_size``; return ``(model, history)``. ``fast``: GPU fast
    paths (``gancourse.fastpaths.FastPaths``; default automatic). ``spade_layer``: builds G's SPADE
    layers (:class:`SPADEGenerator`)."""
    V.instance(cfg, "cfg", SPADEConfig)
    V.tensor(maps, "maps", ndim=3, floating=False)
    V.images(images, "images", channels=cfg.out_channels)
    if maps.shape[0] != images.shape[0] or maps.shape[-2:] != images.shape[-2:]:
        raise ValueError(f"maps and images: expected N maps (N, S, S) for N images (N, C, S, S), "
                         f"got {tuple(maps.shape)} and {tuple(images.shape)}")
    seed_everything(cfg.seed)
    model = prepare(SPADEModel(cfg, device, spade_layer), fast)  # GPU fast paths; DDP under torchrun
    onehot = one_hot(maps, cfg.n_labels)
    index = TensorImageDataset(torch.zeros(maps.shape[0], 1, 1, 1), torch.arange(maps.shape[0]), ["pair"])
    stream = batches(index, cfg.batch_size, generator=torch.Generator().manual_seed(cfg.seed))

    def step(i):
        _, idx = next(stream)
        model.set_input(onehot[idx], images[idx])
        return model.optimize_parameters()

    if checkpoint is not None:          # grid: rows of 8, maps (scenes' colours when they fit), G(map), real
        maps_grid, real_grid = maps[:8], images[:8]
        shown = colorize(maps_grid) if int(maps_grid.max()) < N_CLASSES else \
            (maps_grid.float() / max(1, cfg.n_labels - 1) * 2 - 1).unsqueeze(1).repeat(1, 3, 1, 1)
        checkpoint.track(model, batches=stream,
                         samples=lambda: torch.cat([shown, synthesize(unwrap(model.G), maps_grid), real_grid]))
    history = fit(step, cfg.steps, log_every=log_every, desc=desc or f"SPADE ({cfg.generator})", progress=progress,
                  checkpoint=checkpoint, resume=resume)
    return model, history


# ------------------------------------------------------------------------------------------------
# Measuring and the recipes
# ------------------------------------------------------------------------------------------------

@torch.no_grad()
def evaluate(G: SPADEGenerator, maps: torch.Tensor, segmenter=None) -> dict:
    """mIoU of the course's scene segmenter on G's images of ``maps`` (N, S, S), against those maps:
    ``{"miou": ..., "iou": [per class]}`` (:func:`gancourse.judges.scenes.segmentation_scores`)."""
    seg = segmenter if segmenter is not None else scene_segmenter()
    was_training = G.training
    G.eval()
    try:
        fake = synthesize(G, maps)
    finally:
        G.train(was_training)
    return segmentation_scores(seg, fake, maps)


N_TRAIN, N_TEST = 3000, 500
PRETRAINED = {"spade": "spade-scenes", "bn-input": "spade-scenes-bn"}
RECIPE_NAMES = {"spade": "spade", "bn-input": "spade-bn"}


def load_pretrained(generator: str = "spade") -> tuple[SPADEGenerator, SPADEConfig]:
    """A shipped scenes generator, ``generator`` "spade" or "bn-input" (the ablation), in eval mode.
    Returns ``(G, cfg)``; the checkpoint's checksum is verified before loading."""
    V.choice(generator, "generator", GENERATORS)
    state = pretrained.load(PRETRAINED[generator])
    cfg = SPADEConfig(**state["config"])
    G = build_generator(cfg)
    G.load_state_dict(state["modules"]["G"])
    return G.eval(), cfg


def folder_pairs(root, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Label maps (N, size, size) and images (N, 3, size, size) in [-1, 1] from ``root/images`` and
    ``root/labels`` (files paired by name; a label file holds one class index per pixel, as ADE20K's
    and Cityscapes' ``*_labelIds.png``). Maps are resized with nearest neighbours (a class index must
    never be interpolated), images bilinearly."""
    root = Path(root)
    image_dir, label_dir = root / "images", root / "labels"
    if not image_dir.is_dir() or not label_dir.is_dir():
        raise ValueError(f"data: expected {root}/images and {root}/labels (label maps with the images' names)")
    labels = {p.stem: p for p in label_dir.iterdir() if p.suffix.lower() == ".png"}
    pairs = sorted((p, labels[p.stem]) for p in image_dir.iterdir()
                   if p.suffix.lower() in (".png", ".jpg", ".jpeg") and p.stem in labels)
    if not pairs:
        raise ValueError(f"data: no image in {image_dir} has a label map of the same name in {label_dir}")
    maps, images = [], []
    for image_path, label_path in pairs:
        image = Image.open(image_path).convert("RGB").resize((size, size), Image.BILINEAR)
        label = Image.open(label_path).resize((size, size), Image.NEAREST)
        images.append(torch.from_numpy(np.asarray(image, dtype=np.float32)).permute(2, 0, 1) / 127.5 - 1)
        maps.append(torch.from_numpy(np.asarray(label, dtype=np.int64)))
    return torch.stack(maps), torch.stack(images)


def _recipe(generator: str) -> recipes.Recipe:
    """Recipe ``spade`` (``spade-bn``: the ablation): 32x32 scenes, label map -> image, or ``--data``
    FOLDER/images/NAME.jpg|png with FOLDER/labels/NAME.png (a class index per pixel, as ADE20K's)."""

    def configure(args) -> SPADEConfig:
        return SPADEConfig(generator=generator, seed=args.seed, size=args.image_size or (32 if args.data is None else 256),
                           **recipes.options(args))

    def data(args, cfg):
        if args.data is None:
            train_set = Scenes(pick(N_TRAIN, 128), cfg.size, "train")  # quick mode: the tests
            return cfg, (train_set.maps, train_set.images), Scenes(pick(N_TEST, 32), cfg.size, "test").maps
        maps, images = folder_pairs(args.data, cfg.size)                  # G starts at 8x8 of 256
        return replace(cfg, n_labels=int(maps.max()) + 1, n_up=max(3, cfg.size.bit_length() - 4)), (maps, images), None

    def scores(model, cfg, history, test_maps) -> dict:
        metrics = {"generator": generator}
        if test_maps is not None:     # the scene segmenter reads only the course's scenes
            found = evaluate(unwrap(model.G).cpu().eval(), test_maps)
            metrics.update({"test_miou": round(found["miou"], 4), "test_iou": [round(v, 4) for v in found["iou"]]})
        return metrics

    return recipes.Recipe(
        name=RECIPE_NAMES[generator], config=SPADEConfig, configure=configure, data=data, fast=True,
        train=lambda cfg, data, **kw: train(cfg, *data, log_every=50, **kw), evaluate=scores,
        publish=lambda model, cfg: (PRETRAINED[generator], {"G": unwrap(model.G)},
                                    "SPADE generator on 32x32 scenes, label map -> image" if generator == "spade" else
                                    "ablation of SPADE: batch norm, label map at the input only, 32x32 scenes"),
        trains_on="the procedural scenes", checkpoint_every=500)


RECIPE, RECIPE_BN = _recipe("spade"), _recipe("bn-input")
