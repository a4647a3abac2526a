r"""BiGAN (Donahue, Krähenbühl & Darrell, ICLR 2017) / ALI (Dumoulin et al., ICLR 2017): a GAN with an encoder.

A GAN maps z to x but has no way back. BiGAN adds an encoder E: x -> z and lets the discriminator
judge *pairs*: (x, E(x)) with x from the data against (G(z), z) with z from the prior. The game
(BiGAN's Eq. 2–3)

.. math:: \min_{G,E}\max_D\; V(D, E, G) = \mathbb{E}_{x\sim p_X}\big[\log D(x, E(x))\big]
          + \mathbb{E}_{z\sim p_Z}\big[\log\big(1 - D(G(z), z)\big)\big]

is won when the two joint distributions p(x, E(x)) and p(G(z), z) are equal; the paper shows
that then E and G invert each other (E = G⁻¹ almost everywhere, Theorem 2), although neither
ever sees a reconstruction loss. In practice G(E(x)) is a *semantic* reconstruction: often the
same digit, rarely the same pixels.

Networks: G is DCGAN's generator (notebook 05); E is DCGAN's discriminator trunk with a 4x4
convolution to ``z_dim`` numbers instead of one logit; D reads x through another DCGAN trunk and
z through an MLP, and a joint MLP makes one logit from both (BiGAN's "x and z are concatenated
after separate processing"). G and E are trained with the *inverted* labels, as the paper
recommends (D's loss with real and fake swapped), which is the non-saturating form of the game.

    model = BiGAN(BiGANConfig())
    losses = model.optimize_parameters(real)
    x_rec = model.reconstruct(x)             # G(E(x))

Recipe: ``python -m gancourse.train bigan --publish`` (shipped: ``bigan-digits``).
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch
from torch import nn

from .. import _validate as V
from .. import losses, pretrained, recipes
from ..data import Digits, TensorImageDataset, batches
from ..metrics import classifier_probs, nearest_neighbours
from ..nn.init import init_dcgan
from ..nn.mlp import mlp
from ..runtime import seed_everything
from ..train import fit
from .dcgan import Discriminator, Generator

PRETRAINED_NAME = "bigan-digits"


@dataclass
class BiGANConfig:
    image_size: int = 16
    z_dim: int = 16
    g_width: int = 32
    e_width: int = 32
    d_width: int = 32
    d_hidden: int = 128          # width of D's z branch and joint MLP
    lr: float = 2e-4
    beta1: float = 0.5
    batch_size: int = 64
    steps: int = 4000
    seed: int = 0

    def __post_init__(self):
        V.fields(self, counts=("z_dim", "g_width", "e_width", "d_width", "d_hidden", "batch_size", "steps"))
        self.image_size = V.positive_int(self.image_size, "image_size", minimum=8)
        if self.image_size & (self.image_size - 1):
            raise ValueError(f"image_size: expected a power of two >= 8, got {self.image_size}")
        self.lr = V.positive_float(self.lr, "lr")
        V.unit_interval(self.beta1, "beta1")
        self.seed = V.positive_int(self.seed, "seed", minimum=0)


def image_trunk(image_size: int, width: int) -> tuple[nn.Sequential, int]:
    """DCGAN's discriminator without its last convolution: (N, 1, S, S) -> (N, c, 4, 4). Returns (trunk, c)."""
    D = Discriminator(image_size, width, 1)
    trunk = D.net[:-1]
    return trunk, D.net[-1].in_channels


class Encoder(nn.Module):
    """E: images (N, 1, S, S) -> codes (N, z_dim). DCGAN's discriminator trunk, then a 4x4 convolution
    of its 4x4 map to ``z_dim`` numbers (deterministic, as in BiGAN)."""

    def __init__(self, image_size: int = 16, z_dim: int = 16, width: int = 32):
        super().__init__()
        self.image_size = V.positive_int(image_size, "image_size", minimum=8)
        self.z_dim = V.positive_int(z_dim, "z_dim")
        self.trunk, c = image_trunk(self.image_size, V.positive_int(width, "width"))
        self.head = nn.Conv2d(c, self.z_dim, 4, 1, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        V.images(x, "x", channels=1)
        if tuple(x.shape[-2:]) != (self.image_size, self.image_size):
            raise ValueError(f"x: expected {self.image_size}x{self.image_size} images, got shape {tuple(x.shape)}")
        return self.head(self.trunk(x)).flatten(1)


class JointDiscriminator(nn.Module):
    """D(x, z): images (N, 1, S, S) and codes (N, z_dim) -> one logit per pair (N,).

    x through DCGAN's trunk (flattened 4x4 map), z through an MLP (two hidden LeakyReLU layers),
    the two concatenated and read by a joint MLP (one hidden layer) to a logit.
    """

    def __init__(self, image_size: int = 16, z_dim: int = 16, width: int = 32, hidden: int = 256):
        super().__init__()
        self.image_size = V.positive_int(image_size, "image_size", minimum=8)
        self.z_dim = V.positive_int(z_dim, "z_dim")
        hidden = V.positive_int(hidden, "hidden")
        self.trunk, c = image_trunk(self.image_size, V.positive_int(width, "width"))
        self.z_branch = mlp(self.z_dim, hidden, hidden=hidden, depth=1, activation="leaky_relu", out_activation="leaky_relu")
        self.joint = mlp(c * 16 + hidden, 1, hidden=hidden, depth=1, activation="leaky_relu")

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        V.images(x, "x", channels=1)
        V.tensor(z, "z", ndim=2, last_dim=self.z_dim)
        if z.shape[0] != x.shape[0]:
            raise ValueError(f"z: expected one code per image ({x.shape[0]}), got {z.shape[0]}")
        return self.joint(torch.cat([self.trunk(x).flatten(1), self.z_branch(z)], dim=1)).reshape(-1)


class BiGAN:
    """G, E, D, their optimisers (G and E share one) and one training step. ``discriminator(image_size,
    z_dim, width, hidden)`` builds D (notebook 16's exercise; by default :class:`JointDiscriminator`)."""

    def __init__(self, cfg: BiGANConfig | None = None, device="cpu", discriminator=None):
        self.cfg = cfg = cfg or BiGANConfig()
        V.instance(cfg, "cfg", BiGANConfig)
        self.device = torch.device(device)
        torch.manual_seed(cfg.seed)
        self.G = init_dcgan(Generator(cfg.image_size, cfg.z_dim, cfg.g_width, 1)).to(self.device)
        self.E = init_dcgan(Encoder(cfg.image_size, cfg.z_dim, cfg.e_width)).to(self.device)
        make_D = V.optional_function(discriminator, "discriminator", "or class (image_size, z_dim, width, hidden)") \
            or JointDiscriminator
        self.D = init_dcgan(make_D(cfg.image_size, cfg.z_dim, cfg.d_width, cfg.d_hidden)).to(self.device)
        betas = (cfg.beta1, 0.999)
        self.opt_GE = torch.optim.Adam(itertools.chain(self.G.parameters(), self.E.parameters()), lr=cfg.lr, betas=betas)
        self.opt_D = torch.optim.Adam(self.D.parameters(), lr=cfg.lr, betas=betas)

    def optimize_parameters(self, real: torch.Tensor) -> dict:
        """One step on real images (N, 1, S, S): D on (x, E(x)) vs (G(z), z), then G and E with the labels swapped."""
        V.images(real, "real", channels=1)
        x = real.to(self.device)
        z = torch.randn(x.shape[0], self.cfg.z_dim, device=self.device)
        fake, z_hat = self.G(z), self.E(x)
        # 1. D: the pair (x, E(x)) is "real", the pair (G(z), z) is "fake"
        loss_D = losses.d_loss_bce(self.D(x, z_hat.detach()), self.D(fake.detach(), z))
        self.opt_D.zero_grad(set_to_none=True)
        loss_D.backward()
        self.opt_D.step()
        # 2. G and E: the same loss with the roles swapped (the paper's inverted labels)
        loss_GE = losses.d_loss_bce(self.D(fake, z), self.D(x, z_hat))
        self.opt_GE.zero_grad(set_to_none=True)
        loss_GE.backward()
        self.opt_GE.step()
        return {"loss_D": loss_D.detach(), "loss_GE": loss_GE.detach()}

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """G(E(x)) for images (N, 1, S, S), in eval mode."""
        return reconstruct(self.G, self.E, x)

    def modules(self) -> dict:
        return {"G": self.G, "E": self.E, "D": self.D}

    def optimizers(self) -> dict:
        return {"GE": self.opt_GE, "D": self.opt_D}


@torch.no_grad()
def reconstruct(G: Generator, E: Encoder, x: torch.Tensor) -> torch.Tensor:
    """G(E(x)): images (N, 1, S, S) -> images (N, 1, S, S), both networks in eval mode (restored after)."""
    if not isinstance(G, Generator) or not isinstance(E, Encoder):
        raise TypeError("G, E: expected a dcgan.Generator and a bigan.Encoder")
    V.images(x, "x", channels=1)
    modes = [(m, m.training) for m in (G, E)]
    G.eval()
    E.eval()
    try:
        device = next(G.parameters()).device
        return G(E(x.to(device))).cpu()
    finally:
        for m, mode in modes:
            m.train(mode)


def train(cfg: BiGANConfig, images: torch.Tensor, device="cpu", progress: bool = True, desc: str = "BiGAN",
          log_every: int = 25, checkpoint=None, resume: bool | str = False, discriminator=None):
    """Train on images (N, 1, S, S) in [-1, 1]; return ``(model, history)``. With ``checkpoint``
    (a ``gancourse.train.Checkpointer``), saves and resumes as ``fit`` does. ``discriminator``: builds
    D, as in :class:`BiGAN`."""
    V.images(images, "images", channels=1)
    seed_everything(cfg.seed)
    model = BiGAN(cfg, device, discriminator)
    data = TensorImageDataset(images, torch.zeros(images.shape[0], dtype=torch.long), ["digit"])
    stream = batches(data, cfg.batch_size, generator=torch.Generator().manual_seed(cfg.seed), device=device)
    if checkpoint is not None:          # grid: 8 digits, then their reconstructions G(E(x))
        checkpoint.track(model, batches=stream, samples=lambda: torch.cat([images[:8], model.reconstruct(images[:8])]))
    history = fit(lambda i: model.optimize_parameters(next(stream)[0]), cfg.steps, log_every=log_every,
                  desc=desc, progress=progress, checkpoint=checkpoint, resume=resume)
    return model, history


def linear_probe(train_features: torch.Tensor, train_labels: torch.Tensor, test_features: torch.Tensor,
                 test_labels: torch.Tensor, steps: int = 500, seed: int = 0) -> float:
    """Accuracy of a linear classifier (softmax regression, Adam 1e-2, weight decay 1e-4, ``steps`` full-batch
    steps) trained on standardised features (N, d) of labelled training images and tested on held-out
    ones: how linearly the features separate the classes (the BiGAN paper's test of its encoder, and
    Berkeley CS294-158's homework)."""
    V.tensor(train_features, "train_features", ndim=2)
    V.tensor(test_features, "test_features", ndim=2, last_dim=train_features.shape[1])
    for feats, labels, name in ((train_features, train_labels, "train_labels"), (test_features, test_labels, "test_labels")):
        if not isinstance(labels, torch.Tensor) or labels.is_floating_point() or labels.shape != feats.shape[:1]:
            raise ValueError(f"{name}: expected integer class labels, one per feature row ({feats.shape[0]}), "
                             f"got {tuple(getattr(labels, 'shape', ()))}")
    mean, std = train_features.mean(0), train_features.std(0) + 1e-6
    a, b = (train_features - mean) / std, (test_features - mean) / std
    gen = torch.Generator().manual_seed(seed)
    n_classes = int(train_labels.max()) + 1
    weight = (torch.randn(a.shape[1], n_classes, generator=gen) * 0.01).requires_grad_()
    bias = torch.zeros(n_classes, requires_grad=True)
    opt = torch.optim.Adam([weight, bias], lr=1e-2, weight_decay=1e-4)
    with torch.enable_grad():
        for _ in range(V.positive_int(steps, "steps")):
            loss = torch.nn.functional.cross_entropy(a @ weight + bias, train_labels)
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        return float(((b @ weight + bias).argmax(1) == test_labels).float().mean())


def random_encoder(cfg: "BiGANConfig", seed: int) -> Encoder:
    """An untrained encoder of the same architecture and initialisation as BiGAN's E (eval mode): the
    baseline a learned representation must beat."""
    gen_state = torch.get_rng_state()
    try:
        torch.manual_seed(seed)
        return init_dcgan(Encoder(cfg.image_size, cfg.z_dim, cfg.e_width)).eval()
    finally:
        torch.set_rng_state(gen_state)


@torch.no_grad()
def evaluate(G: Generator, E: Encoder, classifier=None) -> dict:
    """Notebook 16's numbers on the held-out digits: ``reconstruction_class`` (share of G(E(x)) that the
    course's classifier reads as x's digit), ``encoder_1nn`` (1-nearest-neighbour accuracy of E(x)
    of test digits against E of the training digits: how well E's codes separate the classes, the
    BiGAN paper's test of its encoder), ``pixel_1nn`` (the same on raw pixels, for reference),
    ``encoder_probe`` (:func:`linear_probe` on E's codes), and ``random{0,1,2}_1nn`` /
    ``random{0,1,2}_probe``: the same two tests for untrained encoders of the same architecture."""
    train_set = Digits(E.image_size, "train")
    test = Digits(E.image_size, "test")
    rec = reconstruct(G, E, test.images)
    pred = classifier_probs(rec, classifier).argmax(1)
    was = E.training
    E.eval()
    try:
        codes_train, codes_test = E(train_set.images), E(test.images)
    finally:
        E.train(was)
    nn_code = nearest_neighbours(codes_test, codes_train).indices[:, 0]
    nn_pixel = nearest_neighbours(test.images, train_set.images).indices[:, 0]
    out = {"reconstruction_class": round(float((pred == test.labels).float().mean()), 4),
           "encoder_1nn": round(float((train_set.labels[nn_code] == test.labels).float().mean()), 4),
           "pixel_1nn": round(float((train_set.labels[nn_pixel] == test.labels).float().mean()), 4),
           "encoder_probe": round(linear_probe(codes_train, train_set.labels, codes_test, test.labels), 4)}
    # the same two tests on three untrained encoders of E's architecture (seeds 0, 1, 2)
    cfg = BiGANConfig(image_size=E.image_size, z_dim=E.z_dim, e_width=E.trunk[0].out_channels)
    for seed in range(3):
        R = random_encoder(cfg, seed)
        r_train, r_test = R(train_set.images), R(test.images)
        nn_r = nearest_neighbours(r_test, r_train).indices[:, 0]
        out[f"random{seed}_1nn"] = round(float((train_set.labels[nn_r] == test.labels).float().mean()), 4)
        out[f"random{seed}_probe"] = round(linear_probe(r_train, train_set.labels, r_test, test.labels), 4)
    return out


def load_pretrained() -> tuple[Generator, Encoder, BiGANConfig, dict]:
    """The shipped BiGAN: ``(G, E, cfg, metrics)``, checksum verified, eval mode."""
    state = pretrained.load(PRETRAINED_NAME)
    cfg = BiGANConfig(**state["config"])
    G = Generator(cfg.image_size, cfg.z_dim, cfg.g_width, 1)
    E = Encoder(cfg.image_size, cfg.z_dim, cfg.e_width)
    G.load_state_dict(state["modules"]["G"])
    E.load_state_dict(state["modules"]["E"])
    return G.eval(), E.eval(), cfg, state.get("metrics", {})


RECIPE = recipes.Recipe(
    name="bigan", config=BiGANConfig,
    train=lambda cfg, **kw: train(cfg, Digits(cfg.image_size, "train").images, **kw), trains_on="the embedded digits",
    evaluate=lambda model, cfg, history: {**evaluate(model.G.cpu().eval(), model.E.cpu().eval()),
                                          **recipes.last_losses(history)},
    publish=lambda model, cfg: (PRETRAINED_NAME, {"G": model.G, "E": model.E},
                                "BiGAN on the 16x16 digits: generator and encoder (notebook 16)"))
