r"""pix2pixHD's coarse-to-fine generator (Wang et al., CVPR 2018, Section 3.2), built small.

A label map in, an image out, as in pix2pix (notebook 10), but at high resolution. pix2pixHD splits
the generator in two, G = {G1, G2}:

- **G1, the global generator**, a ResNet translator (front-end, residual blocks, back-end; the one
  of CycleGAN, :class:`gancourse.nn.resnet.ResnetGenerator`) that works on the map downsampled by
  2: it lays out the scene at half resolution.
- **G2, the local enhancer**, at full resolution: its front-end G2^(F) (a 7x7 convolution and one
  stride-2 convolution) brings the full-resolution map to half resolution; there it **adds G1's
  last feature map** (the back-end's output, before G1's last convolution) element by element;
  its back-end G2^(B) (residual blocks, one stride-2 transposed convolution, a 7x7 convolution)
  returns a full-resolution image::

      G(m) = G2^(B)( G2^(F)(m) + G1^(features)(down(m)) ),   down: 3x3 average, stride 2

Training follows the paper's schedule: G1 alone at half resolution; then G2 with G1 fixed; then
both together. The objective is pix2pixHD's (Eq. 4, without the optional VGG term): the least
squares GAN loss (Mao et al. 2017) on every scale of a multi-scale PatchGAN that reads (map, image)
(:class:`gancourse.nn.multiscale.MultiscaleDiscriminator`), plus λ_FM = 10 times the feature
matching loss (:func:`gancourse.losses.feature_matching`); Adam, lr 2e-4, β = (0.5, 0.999).

With ``boundary=True`` the input also carries pix2pixHD's **instance boundary map** (Section 3.3,
:func:`gancourse.data.scenes.boundary_map`) as one more channel, so G and D see where one object
ends and a touching object of the same class begins.

The paper's sizes (2048x1024): G1 c7s1-64, d128, d256, d512, d1024, R1024 x 9, u512, ..., u64,
c7s1-3; G2 c7s1-32, d64, R64 x 3, u32, c7s1-3; three D scales. Notebook 13 (Going further F)
trains a small one on 64x64 scenes (G1 at 32x32) in a few minutes of CPU.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .. import _validate as V
from .. import losses
from ..data import TensorImageDataset, batches
from ..data.scenes import boundary_map, one_hot
from ..inference import in_batches
from ..nn.multiscale import MultiscaleDiscriminator, downsample
from ..nn.resnet import ResnetGenerator
from ..runtime import seed_everything
from ..train import fit


@dataclass
class Pix2PixHDConfig:
    """A small pix2pixHD for the course's 64x64 scenes (the paper's values where a CPU allows)."""
    n_labels: int = 5             # label map channels (the scenes' 5 classes)
    boundary: bool = False        # add the instance boundary map as one more input channel (Section 3.3)
    out_channels: int = 3
    size: int = 64                # the output side; G1 works at size / 2
    ngf: int = 32                 # G1's stem width; G2's is ngf / 2, so G2's half-resolution features match G1's (paper: 64)
    n_down: int = 2               # G1's downsamplings (paper: 4)
    n_blocks: int = 3             # G1's residual blocks (paper: 9)
    local_blocks: int = 2         # G2's residual blocks (paper: 3)
    ndf: int = 32                 # D's base width (paper: 64)
    num_D: int = 2                # D's scales (paper: 3 at 2048x1024)
    d_layers: int = 2             # stride-2 layers of each PatchGAN (paper: 3)
    lambda_fm: float = 10.0
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    global_steps: int = 600       # stage 1: G1 alone at size / 2
    local_steps: int = 200        # stage 2: G2 with G1 fixed
    joint_steps: int = 200        # stage 3: G1 and G2 together
    batch_size: int = 16
    seed: int = 0

    def __post_init__(self):
        V.fields(self, counts=("n_labels", "out_channels", "ngf", "n_down", "ndf", "num_D", "d_layers", "batch_size"))
        V.fields(self, sizes=("n_blocks", "local_blocks", "global_steps", "local_steps", "joint_steps"))
        if not isinstance(self.boundary, bool):
            raise TypeError(f"boundary: expected True or False, got {self.boundary!r}")
        self.size = V.positive_int(self.size, "size", minimum=8)
        if self.size % 2 ** (self.n_down + 1):
            raise ValueError(f"size: expected a multiple of 2^(n_down + 1) = {2 ** (self.n_down + 1)} "
                             f"(G1 works at size / 2), got {self.size}")
        if self.ngf % 2:
            raise ValueError(f"ngf: expected an even width (G2's stem has ngf / 2 channels), got {self.ngf}")
        self.lambda_fm = V.positive_float(self.lambda_fm, "lambda_fm", allow_zero=True)
        self.lr = V.positive_float(self.lr, "lr")
        V.fields(self, betas=("beta1", "beta2"))

    @property
    def in_channels(self) -> int:
        """G's and (with the image) D's input channels: the one-hot map, plus the boundary map."""
        return self.n_labels + int(self.boundary)


class GlobalGenerator(nn.Module):
    """G1: maps (N, in_channels, S, S) -> images (N, out_channels, S, S) in [-1, 1], a ResNet
    translator. ``features(m)`` -> (N, ngf, S, S): the back-end's output before the last 7x7
    convolution, which G2 adds to its own features."""

    def __init__(self, in_channels: int, out_channels: int = 3, ngf: int = 32, n_down: int = 2, n_blocks: int = 3):
        super().__init__()
        net = ResnetGenerator(in_channels, out_channels, base=ngf, n_blocks=n_blocks, n_down=n_down).net
        self.in_channels, self.ngf, self.n_down = net[0][-1].in_channels, ngf, n_down
        self.body, self.to_image = net[:-2], net[-2:]      # net[-2:]: the 7x7 convolution and tanh

    def features(self, m: torch.Tensor) -> torch.Tensor:
        V.images(m, "m", channels=self.in_channels)
        step = 2 ** self.n_down
        if m.shape[-1] % step or m.shape[-2] % step:
            raise ValueError(f"m: expected height and width divisible by 2^n_down = {step}, got shape {tuple(m.shape)}")
        return self.body(m)

    def forward(self, m: torch.Tensor) -> torch.Tensor:
        return self.to_image(self.features(m))


class LocalEnhancer(nn.Module):
    """G2: its front-end maps (N, in_channels, S, S) to (N, 2·width, S/2, S/2); its back-end takes that
    plus G1's features (same shape) to images (N, out_channels, S, S) in [-1, 1]. The two halves of
    a ResNet translator with one downsampling (:class:`gancourse.nn.resnet.ResnetGenerator`):
    c7s1-w, d2w | R2w x n_blocks, u w, c7s1-C."""

    def __init__(self, in_channels: int, out_channels: int = 3, width: int = 16, n_blocks: int = 2):
        super().__init__()
        net = ResnetGenerator(in_channels, out_channels, base=width, n_blocks=n_blocks, n_down=1).net
        self.front, self.back = net[:6], net[6:]     # net[:6]: the 7x7 stem and the strided convolution


class CoarseToFineGenerator(nn.Module):
    """G = {G1, G2}: maps (N, in_channels, S, S) -> images (N, out_channels, S, S) in [-1, 1];
    G1 reads the map downsampled to S/2, G2 the full-resolution map (module docstring's equation).
    ``coarse(m)``: G1's own image, (N, out_channels, S/2, S/2). G2's widths are half G1's, as in the
    paper (32 and 64), so that its half-resolution features and G1's have one shape."""

    def __init__(self, G1: GlobalGenerator, local_blocks: int = 2):
        super().__init__()
        V.instance(G1, "G1", GlobalGenerator)
        self.G1 = G1
        out_channels = G1.to_image[0][-1].out_channels
        self.G2 = LocalEnhancer(G1.in_channels, out_channels, G1.ngf // 2, local_blocks)

    def coarse(self, m: torch.Tensor) -> torch.Tensor:
        return self.G1(downsample(m))

    def forward(self, m: torch.Tensor) -> torch.Tensor:
        V.images(m, "m", channels=self.G1.in_channels)
        if m.shape[-1] % 2 ** (self.G1.n_down + 1) or m.shape[-2] % 2 ** (self.G1.n_down + 1):
            raise ValueError(f"m: expected height and width divisible by 2^(n_down + 1) = "
                             f"{2 ** (self.G1.n_down + 1)}, got shape {tuple(m.shape)}")
        return self.G2.back(self.G2.front(m) + self.G1.features(downsample(m)))


def build_discriminator(cfg: Pix2PixHDConfig) -> MultiscaleDiscriminator:
    """The multi-scale PatchGAN on concat(map, image), instance norm, no spectral norm (pix2pixHD's)."""
    return MultiscaleDiscriminator(cfg.in_channels + cfg.out_channels, num_D=cfg.num_D, base=cfg.ndf,
                                   n_layers=cfg.d_layers, norm="instance", spectral_norm=False)


class Pix2PixHDModel:
    """A generator (G1 alone, or G1 + G2), a multi-scale D for its output size, and the training step.

    ``set_input(maps, images)``: G's inputs (N, in_channels, S, S) and images (N, C, S, S) in [-1, 1].
    ``optimize_parameters()``: one G step, then one D step on the same, now detached, fakes (the
    reference trainer's order). Only G's parameters with ``requires_grad`` are optimised, so a
    frozen G1 stays as it is (stage 2).
    """

    def __init__(self, G: nn.Module, cfg: Pix2PixHDConfig, device="cpu"):
        if not isinstance(G, (GlobalGenerator, CoarseToFineGenerator)):
            raise TypeError(f"G: expected a GlobalGenerator or a CoarseToFineGenerator, got {type(G).__name__}")
        V.instance(cfg, "cfg", Pix2PixHDConfig)
        self.cfg, self.device = cfg, torch.device(device)
        self.G, self.D = G.to(self.device), build_discriminator(cfg).to(self.device)
        betas = (cfg.beta1, cfg.beta2)
        self.opt_G = torch.optim.Adam([p for p in G.parameters() if p.requires_grad], lr=cfg.lr, betas=betas)
        self.opt_D = torch.optim.Adam(self.D.parameters(), lr=cfg.lr, betas=betas)

    def set_input(self, maps: torch.Tensor, images: torch.Tensor) -> None:
        V.images(maps, "maps", channels=self.cfg.in_channels)
        V.images(images, "images", channels=self.cfg.out_channels)
        if maps.shape[0] != images.shape[0] or maps.shape[-2:] != images.shape[-2:]:
            raise ValueError(f"maps and images: expected pairs of the same batch and image size, "
                             f"got {tuple(maps.shape)} and {tuple(images.shape)}")
        self.maps, self.real = maps.to(self.device), images.to(self.device)

    def optimize_parameters(self) -> dict:
        cfg = self.cfg
        fake = self.G(self.maps)
        # G: every scale should score the fake pair as real (LSGAN), and D's features of the fake
        # pair should match those of the real pair, layer by layer (L_FM)
        self.D.requires_grad_(False)
        pred_fake = self.D(torch.cat([self.maps, fake], 1))
        pred_real = self.D(torch.cat([self.maps, self.real], 1))
        adv = sum(losses.g_loss_lsgan(s) for s, _ in pred_fake) / len(pred_fake)
        fm = losses.feature_matching([f for _, f in pred_real], [f for _, f in pred_fake])
        self.opt_G.zero_grad(set_to_none=True)
        (adv + cfg.lambda_fm * fm).backward()
        self.opt_G.step()
        # D: real pairs towards 1, fake pairs towards 0, on every scale
        self.D.requires_grad_(True)
        pred_fake = self.D(torch.cat([self.maps, fake.detach()], 1))
        pred_real = self.D(torch.cat([self.maps, self.real], 1))
        loss_D = sum(losses.d_loss_lsgan(r, f) for (r, _), (f, _) in zip(pred_real, pred_fake)) / len(pred_fake)
        self.opt_D.zero_grad(set_to_none=True)
        loss_D.backward()
        self.opt_D.step()
        return {"G_lsgan": adv.detach(), "G_fm": fm.detach(), "D_lsgan": loss_D.detach()}


def generator_inputs(maps: torch.Tensor, instances: torch.Tensor | None = None, n_labels: int = 5) -> torch.Tensor:
    """G's input: one-hot label maps (N, n_labels, S, S) from integer maps (N, S, S), with the instance
    boundary map (N, 1, S, S) of ``instances`` (N, S, S) concatenated when given."""
    x = one_hot(maps, n_labels)
    if instances is None:
        return x
    V.tensor(instances, "instances", ndim=3, floating=False)
    if instances.shape != maps.shape:
        raise ValueError(f"instances: expected one instance map per label map, {tuple(maps.shape)}, "
                         f"got {tuple(instances.shape)}")
    return torch.cat([x, boundary_map(instances)], 1)


STAGINGS = (("global", "local", "joint"), ("global",), ("local", "joint"), ("single",))


def train(cfg: Pix2PixHDConfig, inputs: torch.Tensor, images: torch.Tensor, device="cpu", progress: bool = True,
          stages=("global", "local", "joint"), G1: GlobalGenerator | None = None, desc: str = "pix2pixHD",
          log_every: int = 25):
    """Train pix2pixHD's generator on pairs: G inputs (N, in_channels, S, S) (:func:`generator_inputs`)
    and images (N, C, S, S) in [-1, 1], S = ``cfg.size``. Returns ``(G, histories)``: one loss
    history per stage that ran.

    ``stages``: ``("global", "local", "joint")``, the paper's schedule (G1 at S/2 for
    ``cfg.global_steps``; G2 with G1 fixed for ``cfg.local_steps``; both for ``cfg.joint_steps``),
    returning the :class:`CoarseToFineGenerator`; or its parts: ``("global",)`` returns G1 alone,
    and ``("local", "joint")`` continues from a trained ``G1`` (which it trains further in the joint
    stage: pass a copy to keep the original); or ``("single",)``, the ablation, one
    :class:`GlobalGenerator` trained directly at S for the three stages' steps together. Each
    resolution has its own D (a fresh one at full resolution, as in the reference code, which
    trains G1 as a separate model first)."""
    V.instance(cfg, "cfg", Pix2PixHDConfig)
    V.images(inputs, "inputs", channels=cfg.in_channels)
    V.images(images, "images", channels=cfg.out_channels)
    side = (cfg.size, cfg.size)
    if inputs.shape[0] != images.shape[0] or inputs.shape[-2:] != side or images.shape[-2:] != side:
        raise ValueError(f"inputs and images: expected N pairs of {cfg.size}x{cfg.size}, got "
                         f"{tuple(inputs.shape)} and {tuple(images.shape)}")
    stages = tuple(stages) if isinstance(stages, (list, tuple)) else stages
    if stages not in STAGINGS:
        raise ValueError(f"stages: expected one of {', '.join(map(repr, STAGINGS))}, got {stages!r}")
    if (G1 is not None) != (stages == ("local", "joint")):
        raise ValueError("G1: expected a trained GlobalGenerator exactly when stages is ('local', 'joint'), "
                         f"got G1={type(G1).__name__} with stages={stages!r}")
    if G1 is not None and not isinstance(G1, GlobalGenerator):
        raise TypeError(f"G1: expected a GlobalGenerator, got {type(G1).__name__}")
    seed_everything(cfg.seed)
    index = TensorImageDataset(torch.zeros(inputs.shape[0], 1, 1, 1), torch.arange(inputs.shape[0]), ["pair"])
    stream = batches(index, cfg.batch_size, generator=torch.Generator().manual_seed(cfg.seed))

    def run(model, steps, half, label):
        def step(i):
            _, idx = next(stream)
            x, y = inputs[idx], images[idx]
            if half:                       # stage 1: G1 learns the task at half resolution
                x, y = downsample(x), downsample(y)
            model.set_input(x, y)
            return model.optimize_parameters()
        model.G.train()
        return fit(step, steps, log_every=max(1, min(log_every, steps)), desc=f"{desc}: {label}", progress=progress)

    if G1 is None:
        G1 = GlobalGenerator(cfg.in_channels, cfg.out_channels, cfg.ngf, cfg.n_down, cfg.n_blocks)
    if stages == ("single",):
        steps = cfg.global_steps + cfg.local_steps + cfg.joint_steps
        history = run(Pix2PixHDModel(G1, cfg, device), steps, False, f"one G trained at {cfg.size}x{cfg.size}")
        return G1.eval(), {"single": history}
    histories = {}
    if "global" in stages:
        histories["global"] = run(Pix2PixHDModel(G1, cfg, device), cfg.global_steps, True,
                                  f"G1 at {cfg.size // 2}x{cfg.size // 2}")
        if stages == ("global",):
            return G1.eval(), histories
    G = CoarseToFineGenerator(G1, cfg.local_blocks)
    G.G1.requires_grad_(False)
    model = Pix2PixHDModel(G, cfg, device)                 # a fresh D for the full resolution
    histories["local"] = run(model, cfg.local_steps, False, "G2, G1 fixed")
    G.G1.requires_grad_(True)
    model.opt_G.add_param_group({"params": list(G.G1.parameters())})
    histories["joint"] = run(model, cfg.joint_steps, False, "G1 and G2 together")
    return G.eval(), histories


@torch.no_grad()
def synthesize(G: nn.Module, inputs: torch.Tensor, batch_size: int = 128) -> torch.Tensor:
    """G's images of ``inputs`` (N, in_channels, S, S), in batches, in eval mode, on the CPU."""
    if not isinstance(G, (GlobalGenerator, CoarseToFineGenerator)):
        raise TypeError(f"G: expected a GlobalGenerator or a CoarseToFineGenerator, got {type(G).__name__}")
    return in_batches(G, inputs, batch_size=batch_size, eval_mode=True)


__all__ = ["Pix2PixHDConfig", "GlobalGenerator", "LocalEnhancer", "CoarseToFineGenerator", "Pix2PixHDModel",
           "build_discriminator", "generator_inputs", "train", "synthesize"]
