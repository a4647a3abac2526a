"""DCGAN (Radford, Metz & Chintala, ICLR 2016): convolutional G and D for small square images.

The five guidelines of the paper (Section 3), and where each one sits in this file:

1. no pooling: D downsamples with strided convolutions, G upsamples with transposed (fractionally
   strided) convolutions                                           -> ``_down``, ``_up``
2. batch norm in G and D (not on G's output layer nor D's input layer) -> ``norm=True`` in blocks
3. no fully connected hidden layers: G's first layer is a 4x4 transposed convolution of z, D's last
   a 4x4 convolution to one logit                                  -> ``generator``, ``discriminator``
4. ReLU in G, tanh on its output                                   -> ``_up``, ``generator``
5. LeakyReLU (slope 0.2) in D                                      -> ``_down``

Training: Adam with learning rate 2e-4 and β1 = 0.5, weights initialised from N(0, 0.02)
(:func:`gancourse.nn.init.dcgan_init`), batch size 128 in the paper. Sizes are arguments: ``image_size`` a power of
two >= 8 (16 and 32 for the course's digits), ``channels``, ``z_dim``, base widths.

Three additions, each a switch in :class:`DCGANConfig` and on by default because the course trains
on only 1,438 digits: DiffAugment (Zhao et al. 2020: random translation and cutout of every image
D sees, real or fake, so that D cannot memorise the small training set), a linear learning-rate
decay to 0, and sampling from an exponential moving average of G's weights (Yazıcı et al. 2019).
With all three off, the class is the paper's DCGAN (``pack`` > 1 gives PacGAN's packed D).

    cfg = DCGANConfig(image_size=16)
    model = DCGAN(cfg)
    losses = model.optimize_parameters(real_images)     # one D step, then one G step

``python -m gancourse.train dcgan`` (alias ``dcgan-digits``) trains it on the digits;
``--publish`` writes the shipped checkpoint ``dcgan-digits``. ``--data FOLDER`` trains on every
image under FOLDER (any depth, e.g. CelebA's ``img_align_celeba/``), RGB at 64x64 unless
``--image-size`` says otherwise (the paper's configuration: ``--image-size 64 --batch-size 128``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .. import _validate as V
from .. import losses, metrics, pretrained, recipes
from ..data import Digits, batches, image_folder
from ..distributed import unwrap
from ..fastpaths import prepare
from ..nn.ema import EMA
from ..nn.init import dcgan_init
from ..runtime import pick, seed_everything
from ..train import fit

PRETRAINED_NAME = "dcgan-digits"


def _check_image_size(image_size) -> int:
    image_size = V.positive_int(image_size, "image_size", minimum=8)
    if image_size & (image_size - 1):
        raise ValueError(f"image_size: expected a power of two >= 8 (8, 16, 32, 64, ...), got {image_size}")
    return image_size


def _up(c_in: int, c_out: int) -> list[nn.Module]:
    """G block: (N, c_in, h, w) -> (N, c_out, 2h, 2w) by a 4x4 transposed conv, stride 2; BN; ReLU."""
    return [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(True)]


def _same(c: int, activation: nn.Module) -> list[nn.Module]:
    """Extra block at constant size: (N, c, h, w) -> (N, c, h, w) by a 3x3 conv, stride 1; BN; activation."""
    return [nn.Conv2d(c, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c), activation]


def _down(c_in: int, c_out: int, norm: bool = True) -> list[nn.Module]:
    """D block: (N, c_in, h, w) -> (N, c_out, h/2, w/2) by a 4x4 conv, stride 2; [BN]; LeakyReLU(0.2)."""
    layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, 4, 2, 1, bias=not norm)]
    if norm:
        layers.append(nn.BatchNorm2d(c_out))
    layers.append(nn.LeakyReLU(0.2, True))
    return layers


class Generator(nn.Module):
    """G: z (N, z_dim) -> images (N, channels, image_size, image_size) in [-1, 1].

    z is read as a (z_dim, 1, 1) map; a 4x4 transposed conv makes it (width·2^(L-1), 4, 4); then
    L - 1 up blocks halve the channels and double the side; a last transposed conv to ``channels``
    and tanh. L = log2(image_size / 4): 2 blocks for 16x16, 3 for 32x32.
    """

    def __init__(self, image_size: int = 16, z_dim: int = 32, width: int = 64, channels: int = 1,
                 extra_layers: int = 0, net: nn.Module | None = None):
        super().__init__()
        self.image_size = _check_image_size(image_size)
        self.z_dim = V.positive_int(z_dim, "z_dim")
        extra_layers = V.positive_int(extra_layers, "extra_layers", minimum=0)
        width = V.positive_int(width, "width")
        self.channels = V.positive_int(channels, "channels")
        if net is not None:  # a network built elsewhere (notebook 05's exercise): z (N, z_dim, 1, 1) -> images
            if not isinstance(net, nn.Module):
                raise TypeError(f"net: expected an nn.Module, got {type(net).__name__}")
            self.net = net
            return
        n_up = int(math.log2(self.image_size // 4))
        c = width * 2 ** (n_up - 1)
        layers: list[nn.Module] = [nn.ConvTranspose2d(self.z_dim, c, 4, 1, 0, bias=False), nn.BatchNorm2d(c), nn.ReLU(True)]
        for _ in range(n_up - 1):
            layers += _up(c, c // 2)
            c //= 2
        for _ in range(extra_layers):
            layers += _same(c, nn.ReLU(True))
        layers += [nn.ConvTranspose2d(c, self.channels, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        V.tensor(z, "z", ndim=2, last_dim=self.z_dim)
        return self.net(z[:, :, None, None])

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n images G(z), z ~ N(0, I), computed in eval mode (batch norm uses its running statistics)
        and without gradients; the module's train/eval mode is restored afterwards."""
        n = V.positive_int(n, "n")
        device = next(self.parameters()).device
        z = torch.randn(n, self.z_dim, generator=generator).to(device)
        was_training = self.training
        self.eval()
        try:
            with torch.no_grad():
                return self(z)
        finally:
            self.train(was_training)


class Discriminator(nn.Module):
    """D: images (N, channels, image_size, image_size) -> one logit per image, shape (N,).

    L = log2(image_size / 4) strided down blocks (the first without batch norm), doubling the
    channels from ``width``; then a 4x4 convolution of the (4, 4) map to one logit.
    """

    def __init__(self, image_size: int = 16, width: int = 64, channels: int = 1, extra_layers: int = 0,
                 net: nn.Module | None = None):
        super().__init__()
        self.image_size = _check_image_size(image_size)
        width = V.positive_int(width, "width")
        self.channels = V.positive_int(channels, "channels")
        extra_layers = V.positive_int(extra_layers, "extra_layers", minimum=0)
        if net is not None:  # a network built elsewhere (notebook 05's exercise): images -> (N, 1, 1, 1)
            if not isinstance(net, nn.Module):
                raise TypeError(f"net: expected an nn.Module, got {type(net).__name__}")
            self.net = net
            return
        n_down = int(math.log2(self.image_size // 4))
        layers = _down(self.channels, width, norm=False)
        for _ in range(extra_layers):
            layers += _same(width, nn.LeakyReLU(0.2, True))
        c = width
        for _ in range(n_down - 1):
            layers += _down(c, 2 * c)
            c *= 2
        layers.append(nn.Conv2d(c, 1, 4, 1, 0))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        V.images(x, "x", channels=self.channels)
        if tuple(x.shape[-2:]) != (self.image_size, self.image_size):
            raise ValueError(f"x: expected {self.image_size}x{self.image_size} images, got shape {tuple(x.shape)}")
        return self.net(x).reshape(-1)


def diff_augment(x: torch.Tensor, translation: float = 0.125, cutout: float = 0.5) -> torch.Tensor:
    """DiffAugment's translation and cutout (Zhao et al., NeurIPS 2020), differentiable in ``x``.

    Each image of the batch (N, C, H, W) is shifted by up to ``translation``·H pixels in each
    direction (borders filled with -1, the background), then a random square of side ``cutout``·H
    is set to 0. Applied to real and fake images alike, in the D and the G steps, it keeps a
    discriminator trained on a small dataset from memorising it.
    """
    V.images(x, "x")
    n, _, h, w = x.shape
    dev = x.device
    s = max(1, int(h * translation + 0.5))
    dy = torch.randint(-s, s + 1, (n, 1, 1), device=dev)
    dx = torch.randint(-s, s + 1, (n, 1, 1), device=dev)
    rows = (torch.arange(h, device=dev)[None, :, None] + s + dy).expand(n, h, w)
    cols = (torch.arange(w, device=dev)[None, None, :] + s + dx).expand(n, h, w)
    padded = F.pad(x, (s, s, s, s), value=-1.0)
    x = padded[torch.arange(n, device=dev)[:, None, None], :, rows, cols].permute(0, 3, 1, 2)
    c = max(1, int(h * cutout + 0.5))
    cy = torch.randint(0, h - c + 1, (n, 1, 1), device=dev)
    cx = torch.randint(0, w - c + 1, (n, 1, 1), device=dev)
    yy, xx = torch.arange(h, device=dev)[None, :, None], torch.arange(w, device=dev)[None, None, :]
    keep = ~((yy >= cy) & (yy < cy + c) & (xx >= cx) & (xx < cx + c))
    return x * keep[:, None].to(x.dtype)


def generator(image_size: int = 16, z_dim: int = 32, width: int = 64, channels: int = 1,
              extra_layers: int = 0) -> Generator:
    """A DCGAN generator with DCGAN's initialisation."""
    G = Generator(image_size, z_dim, width, channels, extra_layers)
    G.apply(dcgan_init)
    return G


def discriminator(image_size: int = 16, width: int = 64, channels: int = 1, extra_layers: int = 0) -> Discriminator:
    """A DCGAN discriminator with DCGAN's initialisation."""
    D = Discriminator(image_size, width, channels, extra_layers)
    D.apply(dcgan_init)
    return D


@dataclass
class DCGANConfig:
    image_size: int = 16
    channels: int = 1
    z_dim: int = 32
    g_width: int = 64         # channels of G's last block and D's first (the paper's 64x64 G: 1024-512-256-128)
    d_width: int = 64
    lr: float = 2e-4          # Adam, as in the paper
    beta1: float = 0.5
    batch_size: int = 64
    steps: int = 10000
    g_loss: str = "nonsaturating"   # or "saturating" (the minimax loss)
    lr_decay: bool = True     # decay both learning rates linearly to 0 over ``steps``
    ema: float = 0.999        # > 0: also keep an exponential moving average of G's weights (sample from it)
    pack: int = 1             # > 1: D judges packs of this many images (PacGAN, Lin et al. 2018)
    augment: bool = True      # differentiable translation + cutout before D (DiffAugment, Zhao et al. 2020)
    extra_layers: int = 0     # 3x3 stride-1 conv blocks added in G and D (as in the WGAN authors' DCGAN code)
    seed: int = 0


_G_LOSSES = {"nonsaturating": losses.g_loss_nonsaturating, "saturating": losses.g_loss_saturating}


class DCGAN:
    """G, D, their Adam optimisers and the update of one training step. ``G_net`` and ``D_net``
    replace the networks (built elsewhere, e.g. by notebook 05's exercise: z (N, z_dim, 1, 1) ->
    images, images -> logits), initialised with ``init`` (default :func:`dcgan_init`)."""

    def __init__(self, config: DCGANConfig | None = None, device="cpu", G_net: nn.Module | None = None,
                 D_net: nn.Module | None = None, init=None):
        cfg = config or DCGANConfig()
        V.instance(cfg, "config", DCGANConfig)
        V.choice(cfg.g_loss, "config.g_loss", _G_LOSSES)
        self.config, self.device = cfg, torch.device(device)
        self.pack = V.positive_int(cfg.pack, "config.pack")
        V.optional_function(init, "init", "applied to every module")
        if G_net is None:
            self.G = generator(cfg.image_size, cfg.z_dim, cfg.g_width, cfg.channels, cfg.extra_layers)
        else:
            self.G = Generator(cfg.image_size, cfg.z_dim, cfg.g_width, cfg.channels, net=G_net)
            self.G.apply(init or dcgan_init)
        if D_net is None:
            self.D = discriminator(cfg.image_size, cfg.d_width, cfg.channels * self.pack, cfg.extra_layers)
        else:
            self.D = Discriminator(cfg.image_size, cfg.d_width, cfg.channels * self.pack, net=D_net)
            self.D.apply(init or dcgan_init)
        self.G, self.D = self.G.to(self.device), self.D.to(self.device)
        betas = (cfg.beta1, 0.999)
        self.opt_G = torch.optim.Adam(self.G.parameters(), lr=cfg.lr, betas=betas)
        self.opt_D = torch.optim.Adam(self.D.parameters(), lr=cfg.lr, betas=betas)
        self.g_loss = _G_LOSSES[cfg.g_loss]
        decay = (lambda i: max(0.0, 1.0 - i / cfg.steps)) if cfg.lr_decay else (lambda i: 1.0)
        self.schedulers = [torch.optim.lr_scheduler.LambdaLR(opt, decay) for opt in (self.opt_G, self.opt_D)]
        self.ema = EMA(self.G, cfg.ema) if cfg.ema > 0 else None

    @property
    def G_sample(self) -> Generator:
        """The generator to sample from: the weight average when ``config.ema > 0``, else G itself."""
        return self.ema.module if self.ema is not None else self.G

    def packed(self, x: torch.Tensor) -> torch.Tensor:
        """What D sees of a batch (N, C, H, W): augmented if ``config.augment``, and with ``config.pack``
        > 1 reshaped to (N / pack, pack·C, H, W), consecutive images stacked along the channels."""
        if self.config.augment:
            x = diff_augment(x)
        return x.reshape(x.shape[0] // self.pack, self.pack * x.shape[1], *x.shape[2:])

    def optimize_parameters(self, real: torch.Tensor) -> dict:
        """One step of Algorithm 1 (k = 1) on a batch of real images (N, C, H, W) in [-1, 1]."""
        V.images(real, "real", channels=self.config.channels)
        if real.shape[0] % self.pack:
            raise ValueError(f"real: a batch of {real.shape[0]} images cannot be split into packs of {self.pack}")
        real = real.to(self.device)
        z = torch.randn(real.shape[0], self.config.z_dim, device=self.device)
        fake = self.G(z)
        # 1. D: minimise -log D(x) - log(1 - D(G(z))); fake is detached, so G gets no gradient here
        real_logits, fake_logits = self.D(self.packed(real)), self.D(self.packed(fake.detach()))
        loss_D = losses.d_loss_bce(real_logits, fake_logits)
        self.opt_D.zero_grad(set_to_none=True)
        loss_D.backward()
        self.opt_D.step()
        # 2. G: minimise -log D(G(z)) (non-saturating) through the just-updated D
        loss_G = self.g_loss(self.D(self.packed(fake)))
        self.opt_G.zero_grad(set_to_none=True)
        loss_G.backward()
        self.opt_G.step()
        for scheduler in self.schedulers:
            scheduler.step()
        if self.ema is not None:
            self.ema.update(self.G)
        return {"loss_D": loss_D.detach(), "loss_G": loss_G.detach(),
                "D(x)": torch.sigmoid(real_logits.detach()).mean(),
                "D(G(z))": torch.sigmoid(fake_logits.detach()).mean()}

    def modules(self) -> dict:
        return {"G": self.G, "D": self.D}

    def optimizers(self) -> dict:
        return {"opt_G": self.opt_G, "opt_D": self.opt_D}

    def extras(self) -> dict:
        out = {"sched_G": self.schedulers[0], "sched_D": self.schedulers[1]}
        if self.ema is not None:
            out["ema"] = self.ema
        return out


def load_pretrained(name: str = PRETRAINED_NAME, device="cpu") -> Generator:
    """The shipped generator ``name`` (checksum verified, ``weights_only=True``) in eval mode."""
    state = pretrained.load(name)
    cfg = state["config"]
    G = Generator(cfg["image_size"], cfg["z_dim"], cfg["g_width"], cfg["channels"], cfg.get("extra_layers", 0))
    G.load_state_dict(state["modules"]["G"])
    return G.eval().to(device)


def evaluate(G: Generator, n: int = 2000, seed: int = 1) -> dict:
    """Image metrics of ``G``'s samples against the held-out test digits (``metrics.image_report``)."""
    if not isinstance(G, Generator):
        raise TypeError(f"G: expected a dcgan.Generator, got {type(G).__name__}")
    samples = G.sample(V.positive_int(n, "n"), generator=torch.Generator().manual_seed(seed)).cpu()
    size = G.image_size
    return metrics.image_report(samples, Digits(size, "test").images, train=Digits(size, "train").images)


@torch.no_grad()
def _eval_samples(G: nn.Module, z: torch.Tensor) -> torch.Tensor:
    """G(z) in eval mode (running batch-norm statistics), then G back in the mode it was in."""
    G = unwrap(G)
    was_training = G.training
    G.eval()
    try:
        return G(z)
    finally:
        G.train(was_training)


def train(cfg: DCGANConfig, dataset, device="cpu", progress: bool = True, checkpoint=None, resume: bool = False,
          fast=None, log_every: int = 50) -> tuple[DCGAN, object]:
    """Train DCGAN for ``cfg.steps`` steps on ``dataset`` (``(image, label)`` items, images (C, S, S)
    in [-1, 1]); return ``(model, history)``. ``fast``: GPU fast paths (``gancourse.fastpaths``);
    ``checkpoint``: a :class:`gancourse.train.Checkpointer` (saves, resumes, writes a grid of 64)."""
    seed_everything(cfg.seed)
    model = prepare(DCGAN(cfg, device), fast)  # GPU fast paths; DDP under torchrun
    data = batches(dataset, cfg.batch_size, generator=torch.Generator().manual_seed(cfg.seed), device=device,
                   pin_memory=model.fast.pin_memory, workers=model.fast.workers)
    if checkpoint is not None:
        z_grid = torch.randn(64, cfg.z_dim, generator=torch.Generator().manual_seed(cfg.seed)).to(device)
        checkpoint.track(model, batches=data, samples=lambda: _eval_samples(model.G_sample, z_grid))
    history = fit(lambda i: model.optimize_parameters(next(data)[0]), cfg.steps, log_every=log_every, desc="DCGAN",
                  progress=progress, checkpoint=checkpoint, resume=resume)
    return model, history


def _configure(args) -> DCGANConfig:
    """The digits, or ``--data`` any folder of images (sub-folders included): RGB, 64x64 unless --image-size."""
    folder = {"channels": 3, "image_size": 64} if args.data is not None else {}
    size = {"image_size": args.image_size} if args.image_size is not None else {}
    return DCGANConfig(seed=args.seed, **folder, **size, **recipes.options(args))


def _data(args, cfg: DCGANConfig):
    if args.data is None:
        return cfg, Digits(cfg.image_size, "train"), "digits"
    return cfg, image_folder(args.data, cfg.image_size, 3), None


def _evaluate(model, cfg: DCGANConfig, history, test) -> dict:
    # the course's classifier against the held-out digits (quick mode: fewer samples, for the tests)
    result = evaluate(unwrap(model.G_sample).cpu(), n=pick(2000, 100)) if test == "digits" else {}
    return {**result, "final loss_D": round(history.mean("loss_D"), 4)}


def _published(model, cfg: DCGANConfig):
    name = PRETRAINED_NAME if cfg.image_size == 16 else f"{PRETRAINED_NAME}-{cfg.image_size}"
    return name, {"G": unwrap(model.G_sample), "D": unwrap(model.D)}, \
        f"DCGAN on the {cfg.image_size}x{cfg.image_size} digits (notebooks 05, 06)" + \
        (f"; G is the EMA ({cfg.ema}) of the generator's weights" if cfg.ema else "")


# recipe dcgan (alias dcgan-digits): with --publish, G (its weight average when ema > 0) and D go to data/
RECIPE = recipes.Recipe(name="dcgan", config=DCGANConfig, configure=_configure, data=_data, fast=True,
                        train=train, evaluate=_evaluate, publish=_published, trains_on="the digits")
