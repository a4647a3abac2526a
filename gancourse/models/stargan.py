r"""StarGAN: one generator for many domains, and training on several datasets (Choi et al., CVPR 2018).

CycleGAN needs a generator pair per pair of domains: k domains, k(k - 1) generators. StarGAN
trains **one** G that takes the target domain as input, G(x, c) -> y, and **one** D with two
heads: a real/fake score map D_src and an auxiliary classifier D_cls of the domain (AC-GAN,
notebook 09). The objectives (the paper's Eqs. 5 and 6)::

    L_D = -L_adv + λ_cls L_cls^r                  L_cls^r = E_{x,c'} -log D_cls(c'|x)      (real x, its label c')
    L_G =  L_adv + λ_cls L_cls^f + λ_rec L_rec    L_cls^f = E_{x,c}  -log D_cls(c|G(x, c))  (target c)
                                                  L_rec   = E ||x - G(G(x, c), c')||_1         (Eq. 4, a cycle)

with the Wasserstein adversarial loss and gradient penalty (Eq. 8, Gulrajani et al. 2017):
L_adv = E D_src(x) - E D_src(G(x, c)) - λ_gp E(||∇ D_src(x̂)||₂ - 1)². Weights of the paper:
λ_cls = 1, λ_rec = 10, λ_gp = 10; 5 D updates per G update; Adam with lr 1e-4, β = (0.5, 0.999);
the learning rate decays linearly to 0 over the second half of training (reference: 100k of
200k iterations).

**The label goes in as image channels.** G reads c (N, c_dim) replicated over the image, (N, c_dim,
H, W), concatenated with x. That only works with zero padding in G (see
:mod:`gancourse.nn.resnet`): :class:`StarGenerator` is a ResNet generator with
``padding="zero"``; StarGAN's G has 6 residual blocks and instance norm.

**D**: the paper's is six stride-2 convolutions (LeakyReLU 0.01, no normalisation) with a
3x3 score head and a full-size class head. Here it is the course's PatchGAN
(:class:`gancourse.nn.patchgan.PatchDiscriminator`) configured the same way where it matters:
no normalisation (a batch norm would break the per-sample gradient penalty), ``n_classes`` =
c_dim for the auxiliary head (class logits averaged over positions); its LeakyReLU slope is 0.2.

**Several datasets, different label sets: the mask vector** (Section 3.2). CelebA has hair
colour, gender, age; RaFD has expressions. Neither labels the other's attributes. StarGAN's code
for G is ``[c_1, ..., c_K, m]`` with c_k the labels of dataset k (zeros for the other datasets)
and m the one-hot **mask vector** saying which dataset's labels are valid (:func:`mask_vector`).
D's classifier has an output block per dataset, and the classification losses use only the
active dataset's block. After training on both, G can translate an image of dataset 1 along the
labels of dataset 2 (the paper's CelebA faces with RaFD expressions).

A configuration lists the label groups (categorical attributes, by their number of values) of
each dataset: ``datasets=((4, 3),)`` is one dataset labelled with colour (4 values) and background
(3 values); ``datasets=((4,), (3,))`` two datasets, one labelled with colour only, the other with
background only, trained with the mask vector. Recipes (``python -m gancourse.train ...``):
``stargan`` (shapes, colour x background, or ``--data FOLDER`` with one sub-folder per domain),
``stargan-mask`` (two shapes datasets) and ``stargan-shape`` (colour x shape, with two options that
are not the paper's, :data:`SHAPES_SETTINGS`; appendix notebook 12a). Notebook 12 measures what they
reach with a tenth of the paper's G updates or less.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import nn

from .. import _validate as V
from .. import losses, pretrained, recipes
from ..data import class_folders, index_batches
from ..data.shapes import STARGAN_LABELS, VALUES, stargan_datasets
from ..distributed import unwrap
from ..fastpaths import prepare
from ..inference import in_batches, in_batches_with_batch_stats
from ..judges.shapes import evaluate_attribute_translator
from ..nn.conditioning import label_code, label_groups, mask_vector
from ..nn.init import init_dcgan
from ..nn.patchgan import PatchDiscriminator
from ..nn.resnet import ResnetGenerator
from ..runtime import pick, seed_everything
from ..train import fit, linear_decay
from .ncritic import NCriticGAN


@dataclass
class StarGANConfig:
    datasets: tuple = ((4, 3),)   # label groups of each dataset (values per categorical attribute)
    names: tuple = (("color", "background"),)   # the groups' names (for reports), same layout
    size: int = 32
    ngf: int = 16                 # G's base width (64 in the paper)
    n_blocks: int = 4             # residual blocks (6 in the paper)
    norm: str = "instance"        # G's normalisation: the paper's instance norm, or "batch"
    ndf: int = 32                 # D's base width (64 in the paper)
    d_layers: int = 3             # stride-2 layers of D (the paper: 6 at 128 px)
    lambda_cls: float = 1.0
    lambda_rec: float = 10.0
    lambda_gp: float = 10.0
    lambda_id: float = 0.0        # identity term |G(x, c_org) - x| (not in StarGAN; CycleGAN's, notebook 11)
    d_noise: float = 0.0          # std of the Gaussian "instance noise" added to every image D sees (not in StarGAN)
    n_critic: int = 5
    g_lr: float = 1e-4
    d_lr: float = 1e-4
    beta1: float = 0.5
    beta2: float = 0.999
    steps: int = 8000             # iterations (D updates); G is updated every n_critic of them
    decay_steps: int | None = None   # the last iterations, with a linear lr decay; default steps // 2
    batch_size: int = 8           # 16 in the paper
    seed: int = 0

    def __post_init__(self):
        self.datasets = label_groups(self.datasets)
        if isinstance(self.names, (str, bytes)) or not isinstance(self.names, (tuple, list)) or \
                len(self.names) != len(self.datasets) or \
                any(isinstance(n, (str, bytes)) or len(n) != len(g) for n, g in zip(self.names, self.datasets)):
            raise ValueError(f"names: expected one name per label group, laid out like datasets={self.datasets}, "
                             f"got {self.names!r}")
        self.names = tuple(tuple(str(x) for x in n) for n in self.names)
        V.fields(self, counts=("ngf", "ndf", "d_layers", "n_critic", "steps", "batch_size"), sizes=("n_blocks",),
                 weights=("lambda_cls", "lambda_rec", "lambda_gp", "lambda_id", "d_noise"), rates=("g_lr", "d_lr"),
                 betas=("beta1", "beta2"))
        self.size = V.positive_int(self.size, "size", minimum=8)
        if self.size % 4:
            raise ValueError(f"size: expected a multiple of 4 (G downsamples twice), got {self.size}")
        if self.size // 2 ** self.d_layers < 3:     # D's two 4x4 stride-1 convolutions need 3x3 features
            raise ValueError(f"d_layers: {self.d_layers} stride-2 layers leave no score map at {self.size}x{self.size}")
        V.choice(self.norm, "norm", ("instance", "batch"))
        if self.decay_steps is None:
            self.decay_steps = self.steps // 2
        self.decay_steps = V.positive_int(self.decay_steps, "decay_steps", minimum=0)
        if self.decay_steps > self.steps:
            raise ValueError(f"decay_steps: expected at most steps = {self.steps}, got {self.decay_steps}")

    @property
    def c_dim(self) -> int:
        """Outputs of D's classifier: every group of every dataset."""
        return sum(sum(g) for g in self.datasets)

    @property
    def code_dim(self) -> int:
        """Label channels G reads: the groups, plus the mask vector when there are several datasets."""
        return self.c_dim + (len(self.datasets) if len(self.datasets) > 1 else 0)


def shapes_config(**overrides) -> StarGANConfig:
    """The configuration of the course's shapes models (recipes ``stargan``, ``stargan-mask``,
    notebook 12): the defaults with batch norm in G, because instance norm erases the tint of a flat
    image, the background's colour (notebook 11); batch statistics also carry the label channels,
    constant over an image but not over a batch. A two-dataset G, whose training batches each come
    from one dataset, runs at test time on the test batch's statistics (:func:`translate`,
    ``batch_stats=True`` in :func:`evaluate_shapes`), as Pix2Pix's reference runs its G."""
    return StarGANConfig(**({"norm": "batch"} | overrides))


# ---- Networks ------------------------------------------------------------------------------------

class StarGenerator(nn.Module):
    """G(x, c): images (N, 3, H, W) and codes (N, code_dim) -> images (N, 3, H, W) in [-1, 1].

    The code is replicated over the image (N, code_dim, H, W) and concatenated to x along the
    channels; a ResNet generator with **zero** padding and instance norm (the paper's; ``norm``
    may also be "batch") does the rest.
    """

    def __init__(self, code_dim: int, channels: int = 3, base: int = 64, n_blocks: int = 6, norm: str = "instance"):
        super().__init__()
        self.code_dim = V.positive_int(code_dim, "code_dim")
        self.channels = V.positive_int(channels, "channels")
        self.net = ResnetGenerator(self.channels + self.code_dim, self.channels, base=base, n_blocks=n_blocks,
                                   n_down=2, norm=norm, padding="zero")

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        V.images(x, "x", channels=self.channels)
        V.tensor(c, "c", ndim=2, last_dim=self.code_dim)
        if c.shape[0] != x.shape[0]:
            raise ValueError(f"c: expected one code per image ({x.shape[0]}), got {c.shape[0]}")
        c_map = c.view(c.shape[0], self.code_dim, 1, 1).expand(-1, -1, x.shape[2], x.shape[3])
        return self.net(torch.cat([x, c_map.to(x.dtype)], dim=1))


def build_generator(cfg: StarGANConfig) -> StarGenerator:
    return StarGenerator(cfg.code_dim, 3, base=cfg.ngf, n_blocks=cfg.n_blocks, norm=cfg.norm)


def build_discriminator(cfg: StarGANConfig) -> PatchDiscriminator:
    """D: a PatchGAN without normalisation, with an auxiliary classifier of ``cfg.c_dim`` outputs:
    images (N, 3, S, S) -> (scores (N, 1, h, w), class logits (N, c_dim))."""
    return PatchDiscriminator(3, base=cfg.ndf, n_layers=cfg.d_layers, norm="none", n_classes=cfg.c_dim)


# ---- The model object ----------------------------------------------------------------------------

class StarGAN(NCriticGAN):
    """G, D, their optimisers and schedules; the training iteration of StarGAN.

    ``set_input(x, labels, dataset=0)``: images (N, 3, S, S) in [-1, 1] and their labels (N, A)
    int in dataset ``dataset`` (A = its number of label groups). ``optimize_parameters(step)``
    draws target labels (the batch's labels shuffled, as the reference code does), updates D, and
    every ``n_critic``-th step also G.

    ``g_loss(G, D, x, c_org, c_trg, label_trg, class_loss, lambda_cls, lambda_rec) -> (total, parts)``
    replaces G's loss (notebook 12's exercise; :func:`generator_loss` of this module is the default):
    ``class_loss(logits, labels)`` is the classification loss of the batch's dataset, ``parts`` a
    dict of the terms to log ("G_adv", "G_cls", "G_rec"). The options that are not StarGAN's
    (``d_noise``, ``lambda_id``) are applied around it.
    """

    def __init__(self, cfg: StarGANConfig | None = None, device="cpu", g_loss=None):
        self.cfg = cfg = cfg or StarGANConfig()
        V.instance(cfg, "cfg", StarGANConfig)
        self.g_loss = V.optional_function(g_loss, "g_loss", "(G, D, x, c_org, c_trg, label_trg, class_loss, "
                                                            "lambda_cls, lambda_rec)") or generator_loss
        self.device = torch.device(device)
        self.G = init_dcgan(build_generator(cfg)).to(self.device)
        self.D = init_dcgan(build_discriminator(cfg)).to(self.device)
        # linear decay to 0 over the last decay_steps iterations; one D (and G) update per dataset
        self.make_optimizers(cfg.g_lr, cfg.d_lr, (cfg.beta1, cfg.beta2), updates_per_iteration=len(cfg.datasets),
                             factor=lambda i: linear_decay(min(i, cfg.steps - 1), cfg.steps, cfg.decay_steps))
        self._offsets = [0]
        for groups in cfg.datasets:
            self._offsets.append(self._offsets[-1] + sum(groups))

    # ---- labels -----------------------------------------------------------------------------
    def code(self, labels: torch.Tensor, dataset: int = 0) -> torch.Tensor:
        """G's input code for labels (N, A) of ``dataset``: the concatenated one-hots, and with
        several datasets the mask vector layout [c_1, ..., c_K, m] (:func:`mask_vector`)."""
        return code_for(self.cfg, labels, dataset).to(self.device)

    def classification_loss(self, logits: torch.Tensor, labels: torch.Tensor, dataset: int = 0) -> torch.Tensor:
        """Σ over the groups of ``dataset`` of the cross-entropy of D's class logits (N, c_dim),
        reading **only the active dataset's block** of them (the other datasets' outputs get no
        gradient: their labels are unknown for this batch)."""
        V.tensor(logits, "logits", ndim=2, last_dim=self.cfg.c_dim)
        block = logits[:, self._offsets[dataset]:self._offsets[dataset + 1]]
        return losses.grouped_cross_entropy(block, labels, self.cfg.datasets[dataset])

    # ---- one iteration ----------------------------------------------------------------------
    def set_input(self, x: torch.Tensor, labels: torch.Tensor, dataset: int = 0) -> None:
        V.images(x, "x", channels=3)
        labels = V.class_indices(labels, "labels")
        labels = labels.unsqueeze(1) if labels.ndim == 1 else labels
        n_groups = len(self.cfg.datasets[dataset]) if 0 <= dataset < len(self.cfg.datasets) else -1
        if labels.shape != (x.shape[0], n_groups):
            raise ValueError(f"labels: expected shape ({x.shape[0]}, {n_groups}) for dataset {dataset}, "
                             f"got {tuple(labels.shape)}")
        self.real, self.dataset = x.to(self.device), dataset
        self.label_org = labels.to(self.device)
        self.label_trg = self.label_org[torch.randperm(x.shape[0]).to(self.device)]   # targets: shuffled labels
        self.c_org, self.c_trg = self.code(self.label_org, dataset), self.code(self.label_trg, dataset)

    def seen_by_D(self, x: torch.Tensor) -> torch.Tensor:
        """What D is shown of images x (N, 3, S, S): x itself, or with ``d_noise`` > 0 x + σ·ε, ε ~ N(0, I)
        drawn afresh, for real and fake images alike ("instance noise", Sønderby et al. 2017). The noisy
        distributions are equal only if the clean ones are (a Gaussian blur of densities is
        invertible), so the game keeps its solution."""
        return x if self.cfg.d_noise == 0 else x + self.cfg.d_noise * torch.randn_like(x)

    def backward_D(self) -> dict:
        """-E D_src(x) + E D_src(G(x, c)) + λ_gp·GP + λ_cls·CE(D_cls(x), c')."""
        cfg = self.cfg
        real = self.seen_by_D(self.real)
        src_real, cls_real = self.D(real)
        with torch.no_grad():
            fake = self.seen_by_D(self.G(self.real, self.c_trg))
        src_fake, _ = self.D(fake)
        adv = losses.d_loss_wasserstein(src_real, src_fake)
        gp = losses.gradient_penalty(self.D, real, fake)
        cls = self.classification_loss(cls_real, self.label_org, self.dataset)
        (adv + cfg.lambda_gp * gp + cfg.lambda_cls * cls).backward()
        return {"D_adv": adv, "D_gp": gp, "D_cls": cls}

    def backward_G(self) -> dict:
        """G's loss (:func:`generator_loss`: −E D_src(G(x, c)) + λ_cls·CE(D_cls(G(x, c)), c) +
        λ_rec·|x − G(G(x, c), c')|), D seeing what ``seen_by_D`` shows it; with ``lambda_id`` > 0 also
        λ_id·|G(x, c') − x| (asked for its own labels, G should copy). Backpropagated."""
        cfg = self.cfg
        D = self.D if cfg.d_noise == 0 else (lambda img: self.D(self.seen_by_D(img)))
        total, terms = self.g_loss(self.G, D, self.real, self.c_org, self.c_trg, self.label_trg,
                                   lambda logits, labels: self.classification_loss(logits, labels, self.dataset),
                                   cfg.lambda_cls, cfg.lambda_rec)
        terms = dict(terms)
        if cfg.lambda_id > 0:
            terms["G_id"] = (self.G(self.real, self.c_org) - self.real).abs().mean()
            total = total + cfg.lambda_id * terms["G_id"]
        total.backward()
        return terms


def generator_loss(G, D, x, c_org, c_trg, label_trg, class_loss, lambda_cls: float, lambda_rec: float):
    """G's loss of one StarGAN step (Choi et al. 2018, Eqs. 3-6 with WGAN-GP's adversarial term):
    ``(total, parts)`` with total = -E D_src(G(x, c)) + λ_cls·L_cls(D_cls(G(x, c)), c) + λ_rec·|x - G(G(x, c), c')|.
    x (N, 3, S, S); c_org, c_trg the codes (N, code_dim) of the original and the target labels;
    label_trg the target labels (N, A); ``class_loss(logits, labels)`` the batch's classification loss."""
    fake = G(x, c_trg)
    scores, class_logits = D(fake)
    adversarial = -scores.mean()
    classification = class_loss(class_logits, label_trg)
    reconstruction = (G(fake, c_org) - x).abs().mean()
    total = adversarial + lambda_cls * classification + lambda_rec * reconstruction
    return total, {"G_adv": adversarial, "G_cls": classification, "G_rec": reconstruction}


def train(cfg: StarGANConfig, data: list, device="cpu", progress: bool = True, checkpoint=None,
          resume: bool = False, desc: str | None = None, log_every: int = 25, fast=None, g_loss=None):
    """Train StarGAN for ``cfg.steps`` iterations; return ``(model, history)``. ``fast``: GPU fast
    paths (``gancourse.fastpaths.FastPaths``; default automatic). ``g_loss``: G's loss, as in
    :class:`StarGAN`.

    ``data``: one ``(images (N, 3, S, S), labels (N, A))`` pair per dataset of ``cfg.datasets``.
    Each iteration visits every dataset in turn (as the reference's multi-dataset training does):
    a D update on a batch of it, and every ``n_critic``-th iteration a G update too.
    """
    if not isinstance(data, (list, tuple)) or len(data) != len(cfg.datasets):
        raise ValueError(f"data: expected {len(cfg.datasets)} (images, labels) pairs, one per dataset")
    for k, (images, labels) in enumerate(data):
        V.images(images, f"data[{k}] images", channels=3)
        V.class_indices(labels, f"data[{k}] labels")
        if labels.shape[0] != images.shape[0]:
            raise ValueError(f"data[{k}]: {images.shape[0]} images but {labels.shape[0]} labels")
    seed_everything(cfg.seed)
    model = prepare(StarGAN(cfg, device, g_loss), fast)  # GPU fast paths; DDP under torchrun
    streams = [index_batches(len(labels), cfg.batch_size, generator=torch.Generator().manual_seed(cfg.seed + k))
               for k, (_, labels) in enumerate(data)]

    def step(i):
        out = {}
        for k, ((images, labels), stream) in enumerate(zip(data, streams)):
            _, idx = next(stream)
            model.set_input(images[idx], labels[idx], dataset=k)
            losses_k = model.optimize_parameters(i)
            suffix = f"_{k}" if len(data) > 1 else ""
            out.update({f"{name}{suffix}": v for name, v in losses_k.items()})
        return out

    if checkpoint is not None:          # grid: 8 inputs of dataset 0, then each translated to another's labels
        x_grid, c_grid = data[0][0][:8], code_for(cfg, data[0][1][:8].roll(1, 0), 0)
        checkpoint.track(model, **{f"batches_{k}": s for k, s in enumerate(streams)},
                         samples=lambda: torch.cat([x_grid, translate(unwrap(model.G), x_grid, c_grid)]))
    history = fit(step, cfg.steps, log_every=log_every, desc=desc or "StarGAN", progress=progress,
                  checkpoint=checkpoint, resume=resume)
    return model, history


# ---- Translating and measuring -------------------------------------------------------------------

def translate(G: StarGenerator, x: torch.Tensor, c: torch.Tensor, batch_size: int | None = None,
              batch_stats: bool = False) -> torch.Tensor:
    """G(x, c) in batches (default 256), x (N, 3, S, S), c (N, code_dim), output on the CPU: in the mode
    G is in, or with ``batch_stats=True`` with batch norm normalising by the statistics of shuffled
    batches (default 64) of x, as in training (:func:`gancourse.inference.in_batches_with_batch_stats`;
    see :func:`shapes_config`)."""
    V.instance(G, "G", StarGenerator)
    V.images(x, "x", channels=3)
    V.tensor(c, "c", ndim=2, last_dim=G.code_dim)
    if c.shape[0] != x.shape[0]:
        raise ValueError(f"c: expected one code per image ({x.shape[0]}), got {c.shape[0]}")
    if not isinstance(batch_stats, bool):
        raise TypeError(f"batch_stats: expected a bool, got {type(batch_stats).__name__}")
    if batch_stats:
        return in_batches_with_batch_stats(G, x, c, batch_size=64 if batch_size is None else batch_size)
    return in_batches(G, x, c, batch_size=256 if batch_size is None else batch_size)


def code_for(cfg: StarGANConfig, labels: torch.Tensor, dataset: int = 0) -> torch.Tensor:
    """G's code for labels (N, A) of ``dataset`` under a configuration (without a model object)."""
    V.instance(cfg, "cfg", StarGANConfig)
    if isinstance(dataset, bool) or not isinstance(dataset, int) or not 0 <= dataset < len(cfg.datasets):
        raise ValueError(f"dataset: expected an index in [0, {len(cfg.datasets) - 1}], got {dataset!r}")
    c = label_code(labels, cfg.datasets[dataset])
    if len(cfg.datasets) > 1:
        c = mask_vector(c, dataset, [sum(g) for g in cfg.datasets])
    return c


@torch.no_grad()
def evaluate_shapes(G: StarGenerator, cfg: StarGANConfig, test, dataset: int = 0, classifier=None,
                    batch_stats: bool = False) -> dict:
    """Notebook 12's numbers for G (:func:`gancourse.judges.shapes.evaluate_attribute_translator`): every
    image of ``test`` (a :class:`gancourse.data.shapes.Shapes`) translated to every target of
    ``dataset`` (whose group names in ``cfg.names`` are shapes attributes) and back. ``dataset`` may be
    another dataset than the one ``test`` was drawn like: the cross-dataset translation the mask
    vector allows. G runs in eval mode (put back as it was), or with ``batch_stats=True`` on the
    statistics of shuffled test batches (:func:`translate`; the two-dataset models, see
    :func:`shapes_config`)."""
    was_training = G.training
    G.eval()                             # batch norm: the running statistics, as at test time
    try:
        return evaluate_attribute_translator(
            lambda x, labels: translate(G, x, code_for(cfg, labels, dataset), batch_stats=batch_stats),
            test, cfg.names[dataset], cfg.datasets[dataset], classifier)
    finally:
        G.train(was_training)


# ---- The shipped models and their recipes: python -m gancourse.train stargan | stargan-mask | stargan-shape ----

PRETRAINED = {"single": "stargan-shapes", "mask": "stargan-shapes-mask", "shape": "stargan-shapes-shape"}
# what each setting changes in shapes_config: the colour x background model's G is twice as wide (at
# ngf 16 its translations had about half the real images' high-frequency energy, softened edges) and
# its reconstruction weight is 3/4 of the paper's (at 10, one seed of three stayed under 70% of that
# energy; at 5, one seed kept the shape in 81%); the
# two-dataset model has CycleGAN's identity term (without it, it exchanged backgrounds that A's labels
# never name: notebook 12, section 6); the shape model's D learns faster and sees noisy images (12a)
SHAPES_SETTINGS = {"single": {"steps": 20000, "ngf": 32, "lambda_rec": 7.5}, "mask": {"lambda_id": 5.0, "steps": 10000},
                   "shape": {"d_lr": 3e-4, "g_lr": 3e-4, "d_noise": 0.5, "batch_size": 16, "steps": 30000}}
SHIPS_D = ("shape",)    # the settings whose checkpoint keeps D too (notebook 12 reads its classifier)
DESCRIPTIONS = {"single": "StarGAN G on 32x32 shapes: colour x background domains",
                "shape": "StarGAN G and D on 32x32 shapes: shape x colour domains (D at 3e-4 with instance noise)",
                "mask": "StarGAN G on two shapes datasets (colour labels / background labels) with the mask vector"}


def _load(variant: str) -> tuple[dict, StarGANConfig]:
    V.choice(variant, "variant", PRETRAINED)
    state = pretrained.load(PRETRAINED[variant])
    config = {k: v for k, v in state["config"].items() if k != "d_spectral_norm"}   # an option since removed
    return state["modules"], StarGANConfig(**config)


def load_pretrained(variant: str = "single") -> tuple[StarGenerator, StarGANConfig]:
    """A shipped StarGAN generator: ``variant`` "single" (colour x background), "mask" (two datasets
    with the mask vector) or "shape" (shape x colour). Returns ``(G, cfg)``; checksum verified."""
    modules, cfg = _load(variant)
    G = build_generator(cfg)
    G.load_state_dict(modules["G"])
    return G.eval(), cfg


def load_pretrained_discriminator(variant: str = "shape") -> tuple[PatchDiscriminator, StarGANConfig]:
    """The D trained beside a shipped G, for the variants that ship it (:data:`SHIPS_D`). Returns
    ``(D, cfg)`` in eval mode."""
    modules, cfg = _load(variant)
    if "D" not in modules:
        raise ValueError(f"variant: {variant!r} ships its G only; D is kept for {list(SHIPS_D)}")
    D = build_discriminator(cfg)
    D.load_state_dict(modules["D"])
    return D.eval(), cfg


def _recipe(variant: str) -> recipes.Recipe:
    """The recipe of one shipped model: the shapes of :func:`gancourse.data.shapes.stargan_datasets`,
    or (``stargan`` only) ``--data`` with one sub-folder per domain."""
    name, two_datasets = RECIPE_NAMES[variant], variant == "mask"

    def configure(args) -> StarGANConfig:
        if args.data is not None and variant != "single":
            raise SystemExit(f"{name}: trains on the shapes only; use the stargan recipe with --data")
        labels = STARGAN_LABELS[variant]
        settings = {"seed": args.seed, "size": args.image_size or 32, **SHAPES_SETTINGS[variant], "names": labels,
                    "datasets": tuple(tuple(len(VALUES[n]) for n in group) for group in labels)}
        settings.update(recipes.options(args))
        return shapes_config(**settings) if args.data is None else StarGANConfig(**settings)

    def data(args, cfg):
        if args.data is None:
            train_data, _ = stargan_datasets(variant, pick(4000, 256), cfg.size, "train", args.seed)  # quick: tests
            return cfg, train_data, stargan_datasets(variant, pick(300, 48), cfg.size, "test", 0)[1]
        folder = class_folders(args.data, size=cfg.size)
        images, labels = folder.tensors()
        return replace(cfg, datasets=((len(folder.classes),),), names=(("domain",),)), [(images, labels[:, None])], None

    def evaluate(model, cfg, history, tests) -> dict:
        G, metrics = unwrap(model.G).cpu().eval(), {"variant": variant, "batch_stats": two_datasets}
        for k, test in enumerate(tests or []):       # a two-dataset G runs on batch statistics (shapes_config)
            for key, value in evaluate_shapes(G, cfg, test, dataset=k, batch_stats=two_datasets).items():
                metrics[f"{key}_{k}" if two_datasets else key] = value
            if two_datasets:                         # across datasets: solid shapes to backgrounds, striped to colours
                for key, value in evaluate_shapes(G, cfg, test, dataset=1 - k, batch_stats=True).items():
                    metrics[f"cross_{key}_{k}to{1 - k}"] = value
        return metrics

    def publish(model, cfg):
        modules = {"G": unwrap(model.G)} | ({"D": unwrap(model.D)} if variant in SHIPS_D else {})
        return PRETRAINED[variant], modules, DESCRIPTIONS[variant]

    return recipes.Recipe(name=name, config=StarGANConfig, configure=configure, data=data, fast=True,
                          train=lambda cfg, data, **kw: train(cfg, data, log_every=100, **kw),
                          evaluate=evaluate, publish=publish, trains_on="the procedural shapes",
                          checkpoint_every=2000)


RECIPE_NAMES = {"single": "stargan", "mask": "stargan-mask", "shape": "stargan-shape"}
RECIPE, RECIPE_MASK, RECIPE_SHAPE = (_recipe(v) for v in ("single", "mask", "shape"))
