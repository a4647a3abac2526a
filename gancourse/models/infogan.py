r"""InfoGAN: interpretable latent codes by maximising mutual information (Chen et al., NeurIPS 2016).

G's input is split into incompressible noise z and a *latent code* c: here one categorical code
c_cat ~ Cat(K = 10, p = 1/10) and two continuous codes c_1, c_2 ~ U(-1, 1), as in the paper's
MNIST experiment. Nothing in the plain GAN game forces G to *use* c (it may ignore it), so InfoGAN
adds the mutual information I(c; G(z, c)) to the objective (Eq. 3):

.. math:: \min_{G,Q}\max_D\; V(D, G) - \lambda\, L_I(G, Q),

where L_I is the variational lower bound of Eq. 5 (Lemma 5.1),

.. math:: I(c; G(z, c)) \ge L_I = \mathbb{E}_{c \sim p(c),\, x \sim G(z, c)}\big[\log Q(c \mid x)\big] + H(c),

tight when the auxiliary distribution Q(c | x) equals the true posterior P(c | x). H(c) is a
constant (log 10 for the categorical code), so maximising L_I is minimising the cross-entropy of
Q's categorical head with the c that made x, plus, for the continuous codes, the negative
log-likelihood of a Gaussian Q(c_j | x) = N(μ_j(x), 1), i.e. ½ (c_j - μ_j(x))² up to a constant.
λ = 1 for the categorical code (the paper's choice for discrete codes) and 0.1 for the
continuous ones (the paper uses a smaller λ for them, so that L_I stays on the scale of the GAN loss).

Q shares all convolutional layers with D (the paper: "Q ... shares all convolutional layers with
D", so the mutual information costs one extra head): here D is AC-GAN's two-headed discriminator
of notebook 09, whose second head outputs K + 2 numbers read as Q's 10 categorical logits and 2
Gaussian means. Updates: D's step minimises the GAN loss plus λ·L_I on (detached) fakes, which
trains the Q head and the shared trunk; G's step minimises the non-saturating GAN loss plus
λ·L_I, so G draws images from which c can be read back.

    model = InfoGAN(InfoGANConfig())
    losses = model.optimize_parameters(real_digits)
    grid = code_sweep(model.G, model.cfg, n_noise=8)     # rows: one z each; columns: c_cat = 0..9

Recipe: ``python -m gancourse.train infogan --publish`` (shipped: ``infogan-digits``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from scipy.optimize import linear_sum_assignment

from .. import _validate as V
from .. import losses, pretrained, recipes
from ..data import Digits, TensorImageDataset, batches
from ..metrics import classifier_probs
from ..nn.init import init_dcgan
from ..runtime import seed_everything
from ..train import fit
from .cgan import ACGANDiscriminator
from .dcgan import Generator

PRETRAINED_NAME = "infogan-digits"


@dataclass
class InfoGANConfig:
    image_size: int = 16
    noise_dim: int = 32          # z (the paper's MNIST model: 62)
    n_categories: int = 10       # c_cat ~ Cat(10)
    n_continuous: int = 2        # c_1, c_2 ~ U(-1, 1)
    g_width: int = 32
    d_width: int = 32
    lambda_cat: float = 1.0      # the paper's λ for discrete codes
    lambda_cont: float = 0.1     # a smaller λ for continuous codes
    lr_G: float = 1e-3           # the paper's MNIST settings: G 1e-3, D 2e-4 (Adam)
    lr_D: float = 2e-4
    beta1: float = 0.5
    batch_size: int = 64
    steps: int = 4000
    seed: int = 0

    def __post_init__(self):
        V.fields(self, counts=("noise_dim", "g_width", "d_width", "batch_size", "steps"))
        self.image_size = V.positive_int(self.image_size, "image_size", minimum=8)
        if self.image_size & (self.image_size - 1):
            raise ValueError(f"image_size: expected a power of two >= 8, got {self.image_size}")
        self.n_categories = V.positive_int(self.n_categories, "n_categories", minimum=2)
        self.n_continuous = V.positive_int(self.n_continuous, "n_continuous", minimum=0)
        self.lambda_cat = V.positive_float(self.lambda_cat, "lambda_cat", allow_zero=True)
        self.lambda_cont = V.positive_float(self.lambda_cont, "lambda_cont", allow_zero=True)
        self.lr_G = V.positive_float(self.lr_G, "lr_G")
        self.lr_D = V.positive_float(self.lr_D, "lr_D")
        V.unit_interval(self.beta1, "beta1")
        self.seed = V.positive_int(self.seed, "seed", minimum=0)

    @property
    def latent_dim(self) -> int:
        """Length of G's input vector [z, one_hot(c_cat), c_cont]."""
        return self.noise_dim + self.n_categories + self.n_continuous


def latent(cfg: InfoGANConfig, z: torch.Tensor, c_cat: torch.Tensor, c_cont: torch.Tensor) -> torch.Tensor:
    """G's input [z, one_hot(c_cat), c_cont]: z (N, noise_dim), c_cat (N,) integers, c_cont (N, n_continuous)
    -> (N, latent_dim)."""
    V.tensor(z, "z", ndim=2, last_dim=cfg.noise_dim)
    if c_cat.is_floating_point() or c_cat.shape != z.shape[:1]:
        raise ValueError(f"c_cat: expected {z.shape[0]} integer categories, got {c_cat.dtype} of shape {tuple(c_cat.shape)}")
    if int(c_cat.min()) < 0 or int(c_cat.max()) >= cfg.n_categories:
        raise ValueError(f"c_cat: expected categories in [0, {cfg.n_categories - 1}]")
    V.tensor(c_cont, "c_cont", ndim=2)
    if c_cont.shape != (z.shape[0], cfg.n_continuous):
        raise ValueError(f"c_cont: expected shape {(z.shape[0], cfg.n_continuous)}, got {tuple(c_cont.shape)}")
    return torch.cat([z, F.one_hot(c_cat.long(), cfg.n_categories).to(z.dtype), c_cont], dim=1)


def sample_codes(cfg: InfoGANConfig, n: int, generator: torch.Generator | None = None, device="cpu"):
    """Draw ``n`` latents: z ~ N(0, I) (n, noise_dim), c_cat ~ Cat(K) (n,), c_cont ~ U(-1, 1) (n, n_continuous)."""
    n = V.positive_int(n, "n")
    z = torch.randn(n, cfg.noise_dim, generator=generator)
    c_cat = torch.randint(0, cfg.n_categories, (n,), generator=generator)
    c_cont = 2 * torch.rand(n, cfg.n_continuous, generator=generator) - 1
    return z.to(device), c_cat.to(device), c_cont.to(device)


def build_generator(cfg: InfoGANConfig) -> Generator:
    """DCGAN's generator (notebook 05) reading the whole latent [z, c] as its input vector."""
    return init_dcgan(Generator(cfg.image_size, cfg.latent_dim, cfg.g_width, 1))


def build_discriminator(cfg: InfoGANConfig) -> ACGANDiscriminator:
    """D and Q in one network: AC-GAN's trunk, a real/fake head, and a second head of K + n_continuous
    outputs (Q's categorical logits, then the means of the continuous codes)."""
    return init_dcgan(ACGANDiscriminator(cfg.n_categories + cfg.n_continuous, cfg.image_size, cfg.d_width, 1))


def info_loss(cfg: InfoGANConfig, q: torch.Tensor, c_cat: torch.Tensor, c_cont: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    r"""-L_I up to the constant H(c), split into its two parts: ``(categorical, continuous)``.

    ``q`` (N, K + n_continuous): Q's outputs. Categorical: CE(q[:, :K], c_cat) = -E log Q(c_cat | x).
    Continuous: ½ E Σ_j (q[:, K + j] - c_j)², the negative log-likelihood of N(μ_j, 1) without its
    constant ½ log 2π. (Chen et al. 2016, Eq. 5.)
    """
    k = cfg.n_categories
    cat = F.cross_entropy(q[:, :k], c_cat)
    cont = 0.5 * (q[:, k:] - c_cont).pow(2).sum(1).mean() if cfg.n_continuous else q.new_zeros(())
    return cat, cont


class InfoGAN:
    """G, D (with Q's head), their optimisers and one training step."""

    def __init__(self, cfg: InfoGANConfig | None = None, device="cpu"):
        self.cfg = cfg = cfg or InfoGANConfig()
        V.instance(cfg, "cfg", InfoGANConfig)
        self.device = torch.device(device)
        torch.manual_seed(cfg.seed)
        self.G = build_generator(cfg).to(self.device)
        self.D = build_discriminator(cfg).to(self.device)
        self.opt_G = torch.optim.Adam(self.G.parameters(), lr=cfg.lr_G, betas=(cfg.beta1, 0.999))
        self.opt_D = torch.optim.Adam(self.D.parameters(), lr=cfg.lr_D, betas=(cfg.beta1, 0.999))

    def optimize_parameters(self, real: torch.Tensor) -> dict:
        """One step on real images (N, 1, S, S) in [-1, 1]: D (and Q) first, then G. Returns the losses."""
        cfg = self.cfg
        V.images(real, "real", channels=1)
        real = real.to(self.device)
        z, c_cat, c_cont = sample_codes(cfg, real.shape[0], device=self.device)
        fake = self.G(latent(cfg, z, c_cat, c_cont))
        # 1. D: the GAN loss; Q (D's second head and the shared trunk): read the codes back from the fakes
        src_real, _ = self.D(real)
        src_fake, q = self.D(fake.detach())
        loss_D = losses.d_loss_bce(src_real, src_fake)
        cat, cont = info_loss(cfg, q, c_cat, c_cont)
        self.opt_D.zero_grad(set_to_none=True)
        (loss_D + cfg.lambda_cat * cat + cfg.lambda_cont * cont).backward()
        self.opt_D.step()
        # 2. G: fool D, and make its codes readable by Q (maximise the lower bound L_I)
        src_fake, q = self.D(fake)
        loss_G = losses.g_loss_nonsaturating(src_fake)
        cat_G, cont_G = info_loss(cfg, q, c_cat, c_cont)
        self.opt_G.zero_grad(set_to_none=True)
        (loss_G + cfg.lambda_cat * cat_G + cfg.lambda_cont * cont_G).backward()
        self.opt_G.step()
        return {"loss_D": loss_D.detach(), "loss_G": loss_G.detach(), "info_cat": cat_G.detach(),
                "info_cont": cont_G.detach()}

    def modules(self) -> dict:
        return {"G": self.G, "D": self.D}

    def optimizers(self) -> dict:
        return {"G": self.opt_G, "D": self.opt_D}


def mutual_information_bound(cfg: InfoGANConfig, info_cat: float) -> float:
    """The categorical part of L_I in nats: H(c_cat) - CE = log K - ``info_cat``, at most log K."""
    return math.log(cfg.n_categories) - float(info_cat)


@torch.no_grad()
def code_sweep(G: Generator, cfg: InfoGANConfig, n_noise: int = 8, generator: torch.Generator | None = None,
               continuous: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Images (n_noise·K, 1, S, S): row r keeps z_r (and the continuous codes, 0 by default) fixed and
    sweeps c_cat = 0, ..., K-1 along the row; and the codes (n_noise·K,) used. Eval mode."""
    if not isinstance(G, Generator):
        raise TypeError(f"G: expected a dcgan.Generator, got {type(G).__name__}")
    n_noise = V.positive_int(n_noise, "n_noise")
    k = cfg.n_categories
    z = torch.randn(n_noise, cfg.noise_dim, generator=generator).repeat_interleave(k, dim=0)
    c_cat = torch.arange(k).repeat(n_noise)
    c_cont = torch.zeros(n_noise * k, cfg.n_continuous) if continuous is None else continuous
    device = next(G.parameters()).device
    was = G.training
    G.eval()
    try:
        return G(latent(cfg, z, c_cat, c_cont).to(device)).cpu(), c_cat
    finally:
        G.train(was)


def code_class_agreement(codes: torch.Tensor, predicted: torch.Tensor, n_classes: int = 10) -> tuple[float, np.ndarray, np.ndarray]:
    """How well a categorical code matches classes, up to a renaming of the codes.

    ``codes`` (N,) the code that made each image, ``predicted`` (N,) the class a classifier reads.
    Builds the confusion matrix M[code, class], finds the one-to-one assignment of codes to classes
    that maximises the matched count (Hungarian algorithm, ``scipy.optimize.linear_sum_assignment``)
    and returns ``(agreement, mapping, M)``: the share of images whose class is the one assigned to
    their code, ``mapping[code] = class``, and M. This is how InfoGAN's paper scores c_cat on MNIST
    (5% error). With more codes than classes, unmatched codes count as wrong.
    """
    for value, name in ((codes, "codes"), (predicted, "predicted")):
        if not isinstance(value, torch.Tensor) or value.ndim != 1 or value.is_floating_point():
            raise TypeError(f"{name}: expected a 1-D integer tensor")
    if codes.shape != predicted.shape or codes.numel() == 0:
        raise ValueError(f"codes and predicted: expected the same non-zero length, got {codes.numel()} and {predicted.numel()}")
    n_classes = V.positive_int(n_classes, "n_classes")
    n_codes = max(int(codes.max()) + 1, n_classes)
    if int(codes.min()) < 0 or int(predicted.min()) < 0 or int(predicted.max()) >= n_classes:
        raise ValueError(f"codes, predicted: expected non-negative indices, classes below {n_classes}")
    m = np.zeros((n_codes, n_classes), dtype=np.int64)
    np.add.at(m, (codes.cpu().numpy(), predicted.cpu().numpy()), 1)
    rows, cols = linear_sum_assignment(m, maximize=True)
    mapping = np.full(n_codes, -1, dtype=np.int64)
    mapping[rows] = cols
    return float(m[rows, cols].sum() / codes.numel()), mapping, m


def ink(images: torch.Tensor) -> torch.Tensor:
    """Amount of ink per image: the mean of (x + 1) / 2 over the pixels, (N, 1, H, W) -> (N,). Thicker
    strokes (or larger digits) have more ink: the measure behind "this code controls thickness"."""
    V.images(images, "images")
    return ((images.detach().float().cpu() + 1) / 2).mean(dim=(1, 2, 3))


def load_pretrained() -> tuple[Generator, InfoGANConfig, dict]:
    """The shipped InfoGAN generator: ``(G, cfg, metrics)``, checksum verified, eval mode."""
    state = pretrained.load(PRETRAINED_NAME)
    cfg = InfoGANConfig(**state["config"])
    G = Generator(cfg.image_size, cfg.latent_dim, cfg.g_width, 1)
    G.load_state_dict(state["modules"]["G"])
    return G.eval(), cfg, state.get("metrics", {})


def train(cfg: InfoGANConfig, images: torch.Tensor, device="cpu", progress: bool = True, desc: str = "InfoGAN",
          log_every: int = 25, checkpoint=None, resume: bool | str = False):
    """Train on images (N, 1, S, S) in [-1, 1] (labels unused: InfoGAN is unsupervised); ``(model, history)``.
    With ``checkpoint`` (a ``gancourse.train.Checkpointer``), saves and resumes as ``fit`` does."""
    V.images(images, "images", channels=1)
    seed_everything(cfg.seed)
    model = InfoGAN(cfg, device)
    data = TensorImageDataset(images, torch.zeros(images.shape[0], dtype=torch.long), ["digit"])
    stream = batches(data, cfg.batch_size, generator=torch.Generator().manual_seed(cfg.seed), device=device)
    if checkpoint is not None:          # grid: two rows, z fixed per row, c_cat = 0, ..., K-1 along it
        checkpoint.track(model, batches=stream,
                         samples=lambda: code_sweep(model.G, cfg, 2, torch.Generator().manual_seed(0))[0])
    history = fit(lambda i: model.optimize_parameters(next(stream)[0]), cfg.steps, log_every=log_every,
                  desc=desc, progress=progress, checkpoint=checkpoint, resume=resume)
    return model, history


def evaluate(G: Generator, cfg: InfoGANConfig, classifier=None, n_noise: int = 100, seed: int = 0) -> dict:
    """The numbers of notebook 16: sweep c_cat with z fixed (``n_noise`` rows), read the digits with the
    course's classifier, match codes to digits (:func:`code_class_agreement`); and the correlation of
    each continuous code with the ink of the digit (c_cat and z fixed, c_j swept over [-1, 1])."""
    images, codes = code_sweep(G, cfg, n_noise, torch.Generator().manual_seed(seed))
    pred = classifier_probs(images, classifier).argmax(1)
    agreement, mapping, _ = code_class_agreement(codes, pred, cfg.n_categories)
    out = {"code_class_agreement": round(agreement, 4), "code_to_digit": [int(m) for m in mapping]}
    g = torch.Generator().manual_seed(seed + 1)
    levels = torch.linspace(-1, 1, 5)
    for j in range(cfg.n_continuous):
        base = torch.zeros(n_noise * cfg.n_categories, cfg.n_continuous)
        values, inks = [], []
        z_state = g.get_state()
        for v in levels:
            g.set_state(z_state)                     # the same z and c_cat for every level of c_j
            c = base.clone()
            c[:, j] = v
            imgs, _ = code_sweep(G, cfg, n_noise, g, continuous=c)
            values.append(torch.full((imgs.shape[0],), float(v)))
            inks.append(ink(imgs))
        corr = np.corrcoef(torch.cat(values).numpy(), torch.cat(inks).numpy())[0, 1]
        out[f"ink_corr_c{j + 1}"] = round(float(corr), 3)
    return out


RECIPE = recipes.Recipe(
    name="infogan", config=InfoGANConfig,
    train=lambda cfg, **kw: train(cfg, Digits(cfg.image_size, "train").images, **kw), trains_on="the embedded digits",
    evaluate=lambda model, cfg, history: {**evaluate(model.G.cpu().eval(), cfg),
                                          **recipes.last_losses(history)},
    publish=lambda model, cfg: (PRETRAINED_NAME, {"G": model.G},
                                "InfoGAN on the 16x16 digits: 10-way categorical code + 2 continuous codes (notebook 16)"))
