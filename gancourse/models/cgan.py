r"""Class-conditional GANs: the conditional GAN (Mirza & Osindero 2014) and AC-GAN (Odena et al. 2017).

**cGAN.** Give the class y to both players. G draws x = G(z, y); D judges the *pair* (x, y):

.. math:: \min_G \max_D\ \mathbb{E}_{x,y \sim p_{data}} \log D(x \mid y)
          + \mathbb{E}_{z,\,y} \log\big(1 - D(G(z \mid y) \mid y)\big).

A real 3 presented with the label 7 is a "fake pair" for D at the optimum, so G must draw digits
that match their label, not just any digit.

**AC-GAN.** D sees only the image and has two heads: the usual real/fake logit (source S) and an
auxiliary classifier over the classes (C). With the paper's log-likelihoods (Odena et al. 2017,
Eqs. 2–3)

.. math:: L_S = \mathbb{E}\log P(S{=}real \mid x_{real}) + \mathbb{E}\log P(S{=}fake \mid x_{fake}),\qquad
          L_C = \mathbb{E}\log P(C{=}c \mid x_{real}) + \mathbb{E}\log P(C{=}c \mid x_{fake}),

D maximises L_S + L_C and G maximises L_C − L_S: both want the fakes classified as the class
they were drawn for. Here written as losses to minimise, with G's source term non-saturating.

How a label enters a network (``code``): a learned ``nn.Embedding`` or the one-hot vector made
with ``scatter_`` (:class:`gancourse.nn.conditioning.LabelCode`). G reads [z, code(y)] as its
input vector; the conditional D reads the image with code(y) broadcast to constant planes and
stacked as extra channels (the usual way to condition a convolutional D).

The networks follow the DCGAN guidelines (strided convolutions, batch norm, ReLU/tanh in G,
LeakyReLU 0.2 in D, weights N(0, 0.02), Adam 2e-4, β1 = 0.5) at 16x16 or 32x32.

    model = CGAN(CGANConfig(kind="acgan"))
    losses = model.optimize_parameters(images, labels)   # one D step, then one G step
    x = model.G.sample(torch.arange(10).repeat_interleave(8))   # a grid, one row per class

Recipes: ``python -m gancourse.train cgan`` and ``... acgan`` (``--publish`` writes the shipped
checkpoints ``cgan-digits`` and ``acgan-digits``). ``--data FOLDER`` trains on your own labelled
images, converted to grayscale, one sub-folder per class (``FOLDER/0/*.png``, ``FOLDER/1/*.png``,
...; read by :func:`gancourse.data.class_folders`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

from .. import _validate as V
from .. import losses, pretrained, recipes
from ..data import Digits, TensorImageDataset, batches, class_folders
from ..distributed import unwrap
from ..fastpaths import prepare
from ..metrics import per_class_accuracy
from ..nn.conditioning import LabelCode
from ..nn.init import init_dcgan
from ..runtime import pick, seed_everything
from ..train import fit

KINDS = ("cgan", "acgan")
CODES = LabelCode.KINDS
PRETRAINED = {"cgan": "cgan-digits", "acgan": "acgan-digits"}


def _check_image_size(image_size) -> int:
    image_size = V.positive_int(image_size, "image_size", minimum=8)
    if image_size & (image_size - 1):
        raise ValueError(f"image_size: expected a power of two >= 8 (16, 32, ...), got {image_size}")
    return image_size


class ConditionalGenerator(nn.Module):
    """G(z, y): noise (N, z_dim) and labels (N,) -> images (N, channels, S, S) in [-1, 1].

    The input vector [z, code(y)] is read as a 1x1 map; a 4x4 transposed convolution makes it
    4x4 with ``width * 2^(L-1)`` channels; L - 1 up blocks (transposed conv 4x4 stride 2, batch
    norm, ReLU) halve the channels and double the side; a last transposed convolution and tanh.
    L = log2(S / 4).
    """

    def __init__(self, n_classes: int = 10, image_size: int = 16, z_dim: int = 32, width: int = 64,
                 channels: int = 1, code: str = "embedding"):
        super().__init__()
        self.image_size = _check_image_size(image_size)
        self.z_dim = V.positive_int(z_dim, "z_dim")
        width = V.positive_int(width, "width")
        self.channels = V.positive_int(channels, "channels")
        self.code = LabelCode(n_classes, kind=code)
        self.n_classes = self.code.n_classes
        n_up = int(math.log2(self.image_size // 4))
        c = width * 2 ** (n_up - 1)
        layers: list[nn.Module] = [nn.ConvTranspose2d(self.z_dim + self.code.dim, c, 4, 1, 0, bias=False),
                                   nn.BatchNorm2d(c), nn.ReLU()]
        for _ in range(n_up - 1):
            layers += [nn.ConvTranspose2d(c, c // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(c // 2), nn.ReLU()]
            c //= 2
        layers += [nn.ConvTranspose2d(c, self.channels, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, labels: torch.Tensor, injected: dict | None = None,
                weight: float = 0.1) -> torch.Tensor:
        """G(z, y). ``injected`` ``{side: (N, c, side, side)}``: features added, times ``weight``, to
        G's own after each ReLU of that side (DeepI2I's adaptor, notebook 15; see
        ``deepi2i.generate``). Part of ``forward`` so that DistributedDataParallel sees the call."""
        V.tensor(z, "z", ndim=2, last_dim=self.z_dim)
        if labels.shape[:1] != z.shape[:1]:
            raise ValueError(f"labels: expected one label per noise vector ({z.shape[0]}), got shape {tuple(labels.shape)}")
        v = torch.cat([z, self.code(labels)], dim=1)         # (N, z_dim + code dim)
        if not injected:
            return self.net(v[:, :, None, None])
        h = v[:, :, None, None]
        for layer in self.net:
            h = layer(h)
            if isinstance(layer, nn.ReLU) and h.shape[-1] in injected:
                f = injected[h.shape[-1]]
                if f.shape != h.shape:
                    raise ValueError(f"injected[{h.shape[-1]}]: expected shape {tuple(h.shape)}, got {tuple(f.shape)}")
                h = h + weight * f
        return h

    @torch.no_grad()
    def sample(self, labels: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """One image per requested label (N,), z ~ N(0, I), in eval mode (batch norm's running
        statistics), without gradients; the module's mode is restored afterwards."""
        if not isinstance(labels, torch.Tensor):
            raise TypeError(f"labels: expected a tensor of class indices, got {type(labels).__name__}")
        device = next(self.parameters()).device
        z = torch.randn(labels.shape[0], self.z_dim, generator=generator).to(device)
        was_training = self.training
        self.eval()
        try:
            return self(z, labels.to(device))
        finally:
            self.train(was_training)


def _trunk(in_channels: int, image_size: int, width: int) -> tuple[nn.Sequential, int]:
    """D's convolutional body: L = log2(S / 4) blocks Conv 4x4 stride 2 (batch norm from the second
    on), LeakyReLU 0.2: (N, in_channels, S, S) -> (N, width·2^(L-1), 4, 4). Returns (body, channels)."""
    n_down = int(math.log2(image_size // 4))
    layers: list[nn.Module] = [nn.Conv2d(in_channels, width, 4, 2, 1), nn.LeakyReLU(0.2)]
    c = width
    for _ in range(n_down - 1):
        layers += [nn.Conv2d(c, 2 * c, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * c), nn.LeakyReLU(0.2)]
        c *= 2
    return nn.Sequential(*layers), c


class ConditionalDiscriminator(nn.Module):
    """D(x, y) of the cGAN: images (N, channels, S, S) and labels (N,) -> one logit per pair (N,).

    code(y) (N, d) is broadcast to d constant S x S planes and concatenated with the image
    channels; then the DCGAN body and a 4x4 convolution of the final 4x4 map to one logit.
    """

    def __init__(self, n_classes: int = 10, image_size: int = 16, width: int = 64, channels: int = 1,
                 code: str = "embedding"):
        super().__init__()
        self.image_size = _check_image_size(image_size)
        self.channels = V.positive_int(channels, "channels")
        self.code = LabelCode(n_classes, kind=code)
        self.n_classes = self.code.n_classes
        self.body, c = _trunk(self.channels + self.code.dim, self.image_size, V.positive_int(width, "width"))
        self.head = nn.Conv2d(c, 1, 4, 1, 0)

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        V.images(x, "x", channels=self.channels)
        if tuple(x.shape[-2:]) != (self.image_size, self.image_size):
            raise ValueError(f"x: expected {self.image_size}x{self.image_size} images, got shape {tuple(x.shape)}")
        if labels.shape[:1] != x.shape[:1]:
            raise ValueError(f"labels: expected one label per image ({x.shape[0]}), got shape {tuple(labels.shape)}")
        planes = self.code(labels)[:, :, None, None].expand(-1, -1, x.shape[2], x.shape[3])
        return self.head(self.body(torch.cat([x, planes], dim=1))).reshape(-1)


class ACGANDiscriminator(nn.Module):
    """AC-GAN's D: images (N, channels, S, S) -> (source logit (N,), class logits (N, n_classes)).

    One body (the DCGAN trunk), two heads on its final 4x4 map: the real/fake logit and the
    auxiliary classifier (Odena et al. 2017, Section 3). D does not see the label.
    """

    def __init__(self, n_classes: int = 10, image_size: int = 16, width: int = 64, channels: int = 1):
        super().__init__()
        self.image_size = _check_image_size(image_size)
        self.channels = V.positive_int(channels, "channels")
        self.n_classes = V.positive_int(n_classes, "n_classes", minimum=2)
        self.body, c = _trunk(self.channels, self.image_size, V.positive_int(width, "width"))
        self.source = nn.Conv2d(c, 1, 4, 1, 0)
        self.classifier = nn.Conv2d(c, self.n_classes, 4, 1, 0)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        V.images(x, "x", channels=self.channels)
        if tuple(x.shape[-2:]) != (self.image_size, self.image_size):
            raise ValueError(f"x: expected {self.image_size}x{self.image_size} images, got shape {tuple(x.shape)}")
        h = self.body(x)
        return self.source(h).reshape(-1), self.classifier(h).flatten(1)


@dataclass
class CGANConfig:
    kind: str = "cgan"            # "cgan" (D sees the label) or "acgan" (D predicts it)
    code: str = "embedding"       # how G (and the cGAN's D) read the label: "embedding" or "one_hot"
    n_classes: int = 10
    image_size: int = 16
    channels: int = 1
    z_dim: int = 32
    g_width: int = 32
    d_width: int = 32
    lr: float = 2e-4              # Adam, DCGAN's settings
    beta1: float = 0.5
    batch_size: int = 64
    steps: int = 4000
    seed: int = 0

    def __post_init__(self):
        V.choice(self.kind, "kind", KINDS)
        V.choice(self.code, "code", CODES)
        V.fields(self, counts=("n_classes", "channels", "z_dim", "g_width", "d_width", "batch_size", "steps"))
        if self.n_classes < 2:
            raise ValueError(f"n_classes: expected at least 2 classes, got {self.n_classes}")
        _check_image_size(self.image_size)
        self.lr = V.positive_float(self.lr, "lr")
        V.unit_interval(self.beta1, "beta1")


def build_generator(cfg: CGANConfig) -> ConditionalGenerator:
    return init_dcgan(ConditionalGenerator(cfg.n_classes, cfg.image_size, cfg.z_dim, cfg.g_width, cfg.channels, cfg.code))


def build_discriminator(cfg: CGANConfig) -> nn.Module:
    if cfg.kind == "acgan":
        return init_dcgan(ACGANDiscriminator(cfg.n_classes, cfg.image_size, cfg.d_width, cfg.channels))
    return init_dcgan(ConditionalDiscriminator(cfg.n_classes, cfg.image_size, cfg.d_width, cfg.channels, cfg.code))


class CGAN:
    """G, D, their Adam optimisers and one training step, for ``cfg.kind`` "cgan" or "acgan".

    ``optimize_parameters(images, labels)``: real images (N, C, S, S) in [-1, 1] with their labels
    (N,); fakes are drawn for labels sampled uniformly. Returns the step's losses (detached).

    ``acgan_d_loss(src_real, cls_real, src_fake, cls_fake, y_real, y_fake) -> (source, class)`` and
    ``acgan_g_loss(src_fake, cls_fake, y_fake) -> (source, class)`` replace AC-GAN's losses (notebook
    09's exercise); by default :func:`acgan_d_loss` and :func:`acgan_g_loss` of this module.
    """

    def __init__(self, cfg: CGANConfig | None = None, device="cpu", acgan_d_loss=None, acgan_g_loss=None):
        self.cfg = cfg = cfg or CGANConfig()
        V.instance(cfg, "cfg", CGANConfig)
        self.device = torch.device(device)
        self.G = build_generator(cfg).to(self.device)
        self.D = build_discriminator(cfg).to(self.device)
        betas = (cfg.beta1, 0.999)
        self.opt_G = torch.optim.Adam(self.G.parameters(), lr=cfg.lr, betas=betas)
        self.opt_D = torch.optim.Adam(self.D.parameters(), lr=cfg.lr, betas=betas)
        for name, fn in (("acgan_d_loss", acgan_d_loss), ("acgan_g_loss", acgan_g_loss)):
            if fn is not None and not callable(fn):
                raise TypeError(f"{name}: expected a function of the heads' outputs and labels, got {type(fn).__name__}")
        self.acgan_d_loss = acgan_d_loss or globals()["acgan_d_loss"]
        self.acgan_g_loss = acgan_g_loss or globals()["acgan_g_loss"]

    def _inputs(self, images, labels):
        V.images(images, "images", channels=self.cfg.channels)
        if not isinstance(labels, torch.Tensor) or labels.shape != images.shape[:1]:
            raise ValueError(f"labels: expected a tensor of shape ({images.shape[0]},), one label per image")
        n = images.shape[0]
        z = torch.randn(n, self.cfg.z_dim, device=self.device)
        fake_labels = torch.randint(0, self.cfg.n_classes, (n,), device=self.device)
        return images.to(self.device), labels.to(self.device), z, fake_labels

    def optimize_parameters(self, images: torch.Tensor, labels: torch.Tensor) -> dict:
        x, y, z, y_fake = self._inputs(images, labels)
        fake = self.G(z, y_fake)
        if self.cfg.kind == "cgan":
            # 1. D on (real image, its label) vs (fake image, the label it was drawn for)
            loss_D = losses.d_loss_bce(self.D(x, y), self.D(fake.detach(), y_fake))
            self.opt_D.zero_grad(set_to_none=True)
            loss_D.backward()
            self.opt_D.step()
            # 2. G: make D accept the pair (G(z, y), y)
            loss_G = losses.g_loss_nonsaturating(self.D(fake, y_fake))
            self.opt_G.zero_grad(set_to_none=True)
            loss_G.backward()
            self.opt_G.step()
            return {"loss_D": loss_D.detach(), "loss_G": loss_G.detach()}

        # AC-GAN. 1. D: maximise L_S + L_C, i.e. minimise BCE(source) + CE(class) on real and fake
        src_real, cls_real = self.D(x)
        src_fake, cls_fake = self.D(fake.detach())
        loss_S, loss_C = self.acgan_d_loss(src_real, cls_real, src_fake, cls_fake, y, y_fake)
        self.opt_D.zero_grad(set_to_none=True)
        (loss_S + loss_C).backward()
        self.opt_D.step()
        # 2. G: maximise L_C - L_S: fool the source head, and be recognised as the requested class
        src_fake, cls_fake = self.D(fake)
        loss_G_S, loss_G_C = self.acgan_g_loss(src_fake, cls_fake, y_fake)
        self.opt_G.zero_grad(set_to_none=True)
        (loss_G_S + loss_G_C).backward()
        self.opt_G.step()
        return {"D_source": loss_S.detach(), "D_class": loss_C.detach(),
                "G_source": loss_G_S.detach(), "G_class": loss_G_C.detach()}

    def modules(self) -> dict:
        return {"G": self.G, "D": self.D}

    def optimizers(self) -> dict:
        return {"G": self.opt_G, "D": self.opt_D}


def acgan_d_loss(src_real, cls_real, src_fake, cls_fake, y_real, y_fake):
    """AC-GAN's discriminator losses (Odena et al. 2017, Eqs. 2-3, to minimise): the source term
    −L_S = BCE of the real/fake logits (N,), and the class term −L_C = cross-entropy of the class
    logits (N, K) on real *and* fake images against their labels (N,). Returns ``(source, class)``."""
    return losses.d_loss_bce(src_real, src_fake), F.cross_entropy(cls_real, y_real) + F.cross_entropy(cls_fake, y_fake)


def acgan_g_loss(src_fake, cls_fake, y_fake):
    """AC-GAN's generator losses: the non-saturating source term −log D_S(G(z, c)) and the class term
    CE(D_C(G(z, c)), c): fool the source head, be recognised as the requested class. ``(source, class)``."""
    return losses.g_loss_nonsaturating(src_fake), F.cross_entropy(cls_fake, y_fake)


def class_rows(n_classes: int, per_class: int) -> torch.Tensor:
    """Labels for a grid with one row per class: [0]*per_class + [1]*per_class + ... (n_classes·per_class,)."""
    n_classes = V.positive_int(n_classes, "n_classes")
    per_class = V.positive_int(per_class, "per_class")
    return torch.arange(n_classes).repeat_interleave(per_class)


def class_accuracy(G: ConditionalGenerator, classifier=None, per_class: int = 500, seed: int = 0) -> torch.Tensor:
    """Accuracy (n_classes,) of ``classifier`` (default: the course's digit classifier) on
    ``per_class`` samples of G for each requested class (see :func:`gancourse.metrics.per_class_accuracy`)."""
    V.instance(G, "G", ConditionalGenerator)
    labels = class_rows(G.n_classes, per_class)
    images = G.sample(labels, generator=torch.Generator().manual_seed(seed)).cpu()
    return per_class_accuracy(images, labels, classifier)


def train(cfg: CGANConfig, images: torch.Tensor, labels: torch.Tensor, device="cpu", progress: bool = True,
          checkpoint=None, resume: bool = False, desc: str | None = None, log_every: int = 50, fast=None,
          acgan_d_loss=None, acgan_g_loss=None):
    """Train on labelled images (N, C, S, S) in [-1, 1] with labels (N,); return ``(model, history)``.
    ``fast``: GPU fast paths (``gancourse.fastpaths.FastPaths``; default automatic); ``acgan_d_loss``,
    ``acgan_g_loss``: AC-GAN's losses, as in :class:`CGAN`."""
    seed_everything(cfg.seed)
    model = prepare(CGAN(cfg, device, acgan_d_loss, acgan_g_loss), fast)  # GPU fast paths; DDP under torchrun
    data = TensorImageDataset(images, labels, [str(k) for k in range(cfg.n_classes)])
    stream = batches(data, cfg.batch_size, generator=torch.Generator().manual_seed(cfg.seed), device=device,
                     pin_memory=model.fast.pin_memory)

    def step(i):
        x, y = next(stream)
        return model.optimize_parameters(x, y)

    if checkpoint is not None:          # grid: one row per class, as in notebook 09
        rows = class_rows(cfg.n_classes, 8).to(device)
        z_grid = torch.randn(len(rows), cfg.z_dim, generator=torch.Generator().manual_seed(cfg.seed)).to(device)
        checkpoint.track(model, batches=stream, samples=lambda: _eval_samples(model.G, z_grid, rows))
    history = fit(step, cfg.steps, log_every=log_every, desc=desc or cfg.kind, progress=progress,
                  checkpoint=checkpoint, resume=resume)
    return model, history


@torch.no_grad()
def _eval_samples(G: nn.Module, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """G(z, y) in eval mode, then G back in the mode it was in."""
    G = unwrap(G)
    was_training = G.training
    G.eval()
    try:
        return G(z, y)
    finally:
        G.train(was_training)


def pretrained_generator(kind: str = "acgan") -> tuple[ConditionalGenerator, CGANConfig, dict]:
    """A shipped digits generator (``kind`` "cgan" or "acgan"): ``(G, cfg, metrics)``, checksum verified."""
    V.choice(kind, "kind", KINDS)
    state = pretrained.load(PRETRAINED[kind])
    cfg = CGANConfig(**state["config"])
    G = ConditionalGenerator(cfg.n_classes, cfg.image_size, cfg.z_dim, cfg.g_width, cfg.channels, cfg.code)
    G.load_state_dict(state["modules"]["G"])
    return G.eval(), cfg, state.get("metrics", {})


def _recipe(kind: str) -> recipes.Recipe:
    """Recipe ``cgan`` (label embedding) or ``acgan`` (one-hot label code): the digits, or ``--data``
    FOLDER/<class>/*.png (read by :func:`gancourse.data.class_folders`)."""

    def configure(args) -> CGANConfig:
        return CGANConfig(kind=kind, code="embedding" if kind == "cgan" else "one_hot", seed=args.seed,
                          image_size=args.image_size or 16, **recipes.options(args))

    def data(args, cfg):
        if args.data is None:
            train_set = Digits(cfg.image_size, "train")
            return cfg, (train_set.images, train_set.labels), "digits"
        folder = class_folders(args.data, cfg.image_size, channels=1)
        if len(folder.classes) < 2 or len(folder) == 0:
            raise SystemExit(f"{kind} --data: expected images in at least two class sub-folders of {args.data}")
        return replace(cfg, n_classes=len(folder.classes)), folder.tensors(), None

    def evaluate(model, cfg, history, test) -> dict:
        metrics = recipes.last_losses(history)
        if test == "digits":            # the course's digit classifier reads the digits only
            acc = class_accuracy(unwrap(model.G).cpu(), per_class=pick(1000, 20))  # quick mode: the tests
            metrics.update({"min_class_accuracy": round(float(acc.min()), 4),
                            "mean_class_accuracy": round(float(acc.mean()), 4),
                            "class_accuracy": [round(float(a), 4) for a in acc]})
        return metrics

    return recipes.Recipe(
        name=kind, config=CGANConfig, configure=configure, data=data, fast=True, evaluate=evaluate,
        train=lambda cfg, data, **kw: train(cfg, *data, **kw), trains_on="the digits",
        publish=lambda model, cfg: (PRETRAINED[kind], {"G": unwrap(model.G)},
                                    f"class-conditional digits generator, {kind} ({cfg.code} label code), "
                                    f"{cfg.image_size}x{cfg.image_size}"))


RECIPE_CGAN, RECIPE_ACGAN = _recipe("cgan"), _recipe("acgan")
