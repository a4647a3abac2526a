r"""Pix2Pix: paired image-to-image translation with a conditional GAN (Isola et al., CVPR 2017).

G translates an input image x (here a one-hot label map) into an output image; D sees the *pair*
(x, image) and says, patch by patch, whether the image is the real partner of x or G's
translation. The objective (the paper's Eq. 4)::

    G* = arg min_G max_D  L_cGAN(G, D) + λ L_L1(G),         λ = 100
    L_cGAN = E log D(x, y) + E log(1 - D(x, G(x)))          (Eq. 1; D sees x too)
    L_L1   = E ||y - G(x)||_1                               (Eq. 3)

The L1 term alone gives the *median* of the possible outputs: right on average, blurry in
detail. The adversarial term alone gives sharp, plausible images that need not match y. Together:
sharp and close. Notebook 10 measures the three.

Settings of the paper and its reference code, used here: U-Net G (:class:`gancourse.nn.UNet`),
PatchGAN D (:class:`gancourse.nn.PatchDiscriminator`, 70x70 at 256x256), batch norm, Adam with
lr 2e-4 and β1 = 0.5 for both, D's loss halved ("we divide the objective by 2 while optimizing D,
which slows down the rate at which D learns relative to G"), one D step per G step, the
non-saturating generator loss. ``gan_mode="vanilla"`` is the paper's cross-entropy;
``gan_mode="lsgan"`` the least-squares loss (Mao et al. 2017) the reference code also offers
(``--gan_mode lsgan``), with targets 1 (real) and 0 (fake): D minimises ½[(D(x,y) - 1)² +
D(x,G(x))²], G minimises (D(x,G(x)) - 1)², so λ = 100 weighs the same size of GAN loss in both
modes.

The recipe ``python -m gancourse.train pix2pix`` trains on the procedural scenes (label map ->
image) or, with ``--data FOLDER``, on your own paired RGB images: ``FOLDER/train/`` (and
optionally ``FOLDER/test/``) or ``FOLDER`` itself, each holding either side-by-side pictures with
the input A on the left half and the target B on the right half (the reference code's *aligned*
layout: the facades, maps and cityscapes datasets of the paper), or ``A/`` and ``B/`` sub-folders
with matching file names (:func:`paired_tensors`). ``pix2pix-l1`` and ``pix2pix-gan`` train the
two ablations.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from .. import _validate as V
from .. import losses, pretrained, recipes
from ..data import TensorImageDataset, batches, detect_layout, paired_folders, side_by_side_folder
from ..data.scenes import Scenes, colorize, one_hot
from ..distributed import unwrap
from ..fastpaths import prepare
from ..inference import in_batches
from ..judges.scenes import scene_segmenter, segmentation_scores
from ..metrics import high_frequency_energy, l1_error
from ..nn.init import init_dcgan
from ..nn.norm import NORMS
from ..nn.patchgan import PatchDiscriminator, PixelDiscriminator
from ..nn.unet import UNet
from ..runtime import pick, seed_everything
from ..train import fit

GAN_MODES = ("vanilla", "lsgan")


@dataclass
class Pix2PixConfig:
    """Defaults: the course's 32x32 scenes model (the paper's values where they fit a CPU)."""
    in_channels: int = 5          # one-hot label map of the scenes (5 classes); 3 for RGB inputs
    out_channels: int = 3
    size: int = 32                # image side; the U-Net goes down to 1x1 (log2(size) levels)
    ngf: int = 16                 # G's base width (64 in the paper)
    max_mult: int = 4             # G's widths are ngf * min(2^i, max_mult) (8 in the paper)
    ndf: int = 32                 # D's base width (64 in the paper)
    d_layers: int = 2             # PatchGAN stride-2 layers (3 = 70x70 at 256; 2 = 34x34; 0 = PixelGAN, 1x1)
    conditional_d: bool = True    # False: D sees the image only, not the input (the paper's Section 4.2)
    skips: bool = True            # False: a plain encoder-decoder (the paper's Figure 5)
    norm: str = "batch"
    dropout: float = 0.5          # on G's 3 innermost decoder layers, as in the paper
    gan_mode: str = "vanilla"     # the paper's cross-entropy; "lsgan": least squares
    lambda_gan: float = 1.0       # 0: "L1 only" (no D at all)
    lambda_l1: float = 100.0      # 0: "GAN only"
    lr: float = 2e-4
    beta1: float = 0.5
    steps: int = 6000
    batch_size: int = 16
    seed: int = 0

    def __post_init__(self):
        V.fields(self, counts=("in_channels", "out_channels", "ngf", "max_mult", "ndf", "steps", "batch_size"))
        self.d_layers = V.positive_int(self.d_layers, "d_layers", minimum=0)
        self.size = V.positive_int(self.size, "size", minimum=8)
        V.choice(self.norm, "norm", NORMS)
        V.choice(self.gan_mode, "gan_mode", GAN_MODES)
        for name in ("skips", "conditional_d"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name}: expected a bool, got {type(getattr(self, name)).__name__}")
        V.fields(self, weights=("lambda_gan", "lambda_l1"))
        if self.lambda_gan == 0 and self.lambda_l1 == 0:
            raise ValueError("lambda_gan, lambda_l1: at least one loss must have a positive weight")
        self.lr = V.positive_float(self.lr, "lr")
        V.unit_interval(self.beta1, "beta1")

    @property
    def variant(self) -> str:
        """"L1 only", "GAN only" or "GAN + L1", from the two weights."""
        if self.lambda_gan == 0:
            return "L1 only"
        return "GAN only" if self.lambda_l1 == 0 else "GAN + L1"


def build_generator(cfg: Pix2PixConfig) -> UNet:
    """The U-Net G of a configuration: (N, in_channels, S, S) -> (N, out_channels, S, S)."""
    return UNet(cfg.in_channels, cfg.out_channels, size=cfg.size, base=cfg.ngf, norm=cfg.norm, dropout=cfg.dropout,
                max_mult=cfg.max_mult, skips=cfg.skips)


def build_discriminator(cfg: Pix2PixConfig) -> torch.nn.Module:
    """D of a configuration: the pair concatenated, (N, in + out channels, S, S) -> score map.

    A PatchGAN with ``cfg.d_layers`` stride-2 layers, or the PixelGAN with ``d_layers=0``; with
    ``conditional_d=False`` it is given the same pair but looks at the image channels only.
    """
    channels = cfg.in_channels + cfg.out_channels if cfg.conditional_d else cfg.out_channels
    if cfg.d_layers == 0:
        D = PixelDiscriminator(channels, base=cfg.ndf, norm=cfg.norm)
    else:
        D = PatchDiscriminator(channels, base=cfg.ndf, n_layers=cfg.d_layers, norm=cfg.norm)
    return D if cfg.conditional_d else ImageOnly(D, cfg.in_channels)


class ImageOnly(torch.nn.Module):
    """An unconditional D behind the conditional interface: (N, in + out channels, S, S) pairs ->
    ``D`` of the last ``out`` channels. The losses stay the same; D just cannot see x, so it can
    only ask "is this a plausible image?", not "is it the image *of this input*?"."""

    def __init__(self, D: torch.nn.Module, condition_channels: int):
        super().__init__()
        self.D, self.condition_channels = D, V.positive_int(condition_channels, "condition_channels")

    @property
    def receptive_field(self) -> int:
        return self.D.receptive_field

    def forward(self, pair: torch.Tensor) -> torch.Tensor:
        return self.D(pair[:, self.condition_channels:])


class Pix2Pix:
    """G, D, their optimisers and the training step of Pix2Pix.

    ``set_input(a, b)`` takes a batch of inputs A (N, in_channels, S, S) and targets B
    (N, out_channels, S, S) in [-1, 1]; ``optimize_parameters()`` does one D step then one G step
    and returns the losses. With ``lambda_gan = 0`` there is no D ("L1 only").

    ``d_loss(D, x, real, fake)`` and ``g_loss(D, x, real, fake) -> (adversarial, l1)`` replace the
    cross-entropy losses (notebook 10's exercise; see :func:`d_loss` and :func:`g_loss` of this
    module, the defaults); G's loss is then ``lambda_gan * adversarial + lambda_l1 * l1``.
    """

    def __init__(self, cfg: Pix2PixConfig | None = None, device="cpu", d_loss=None, g_loss=None):
        self.cfg = cfg = cfg or Pix2PixConfig()
        V.instance(cfg, "cfg", Pix2PixConfig)
        for name, fn in (("d_loss", d_loss), ("g_loss", g_loss)):
            if fn is not None and not callable(fn):
                raise TypeError(f"{name}: expected a function (D, x, real, fake), got {type(fn).__name__}")
        if (d_loss or g_loss) and cfg.gan_mode != "vanilla":
            raise ValueError(f"d_loss, g_loss: replace the cross-entropy losses (gan_mode='vanilla'), "
                             f"got gan_mode={cfg.gan_mode!r}")
        mode = cfg.gan_mode
        self.d_loss = d_loss or (lambda D, x, real, fake: _module_d_loss(D, x, real, fake, mode))
        self.g_loss = g_loss or (lambda D, x, real, fake: _module_g_loss(D, x, real, fake, mode))
        self.device = torch.device(device)
        self.G = init_dcgan(build_generator(cfg)).to(self.device)
        self.opt_G = torch.optim.Adam(self.G.parameters(), lr=cfg.lr, betas=(cfg.beta1, 0.999))
        self.D = self.opt_D = None
        if cfg.lambda_gan > 0:
            self.D = init_dcgan(build_discriminator(cfg)).to(self.device)
            self.opt_D = torch.optim.Adam(self.D.parameters(), lr=cfg.lr, betas=(cfg.beta1, 0.999))

    # ---- losses, on D's raw scores ----------------------------------------------------------
    def loss_D_gan(self, real_scores, fake_scores):
        """D's loss, halved: ½[BCE(real, 1) + BCE(fake, 0)] or ½[(real - 1)² + fake²]."""
        return d_loss_on_scores(real_scores, fake_scores, self.cfg.gan_mode)

    def loss_G_gan(self, fake_scores):
        """G's adversarial loss: -log D(x, G(x)) (non-saturating) or (D(x, G(x)) - 1)²."""
        return g_loss_on_scores(fake_scores, self.cfg.gan_mode)

    # ---- one training step ------------------------------------------------------------------
    def set_input(self, a: torch.Tensor, b: torch.Tensor) -> None:
        V.images(a, "a", channels=self.cfg.in_channels)
        V.images(b, "b", channels=self.cfg.out_channels)
        if a.shape[0] != b.shape[0] or a.shape[-2:] != b.shape[-2:]:
            raise ValueError(f"a and b: expected pairs of the same batch size and image size, "
                             f"got {tuple(a.shape)} and {tuple(b.shape)}")
        self.real_A, self.real_B = a.to(self.device), b.to(self.device)

    def forward(self) -> None:
        self.fake_B = self.G(self.real_A)

    def backward_D(self) -> torch.Tensor:
        """D's loss on the real pair and the detached fake pair (:func:`d_loss`), backpropagated."""
        loss_D = self.d_loss(self.D, self.real_A, self.real_B, self.fake_B)
        loss_D.backward()
        return loss_D

    def backward_G(self) -> dict:
        """λ_GAN · adversarial + λ_L1 · L1 (:func:`g_loss`; no adversarial term without D), backpropagated."""
        adversarial, l1 = self.g_loss(self.D, self.real_A, self.real_B, self.fake_B)
        out, loss_G = {"G_L1": l1}, 0.0
        if self.D is not None:
            out["G_gan"] = adversarial
            loss_G = self.cfg.lambda_gan * adversarial
        if self.cfg.lambda_l1 > 0:
            loss_G = loss_G + self.cfg.lambda_l1 * l1
        loss_G.backward()
        return out

    def optimize_parameters(self) -> dict:
        """One step: G translates the batch; D is updated on (real, fake) pairs; then G."""
        self.forward()
        out = {}
        if self.D is not None:
            self.D.requires_grad_(True)
            self.opt_D.zero_grad(set_to_none=True)
            out["D"] = self.backward_D()
            self.opt_D.step()
            self.D.requires_grad_(False)          # G's step needs gradients through D, not for D
        self.opt_G.zero_grad(set_to_none=True)
        out.update(self.backward_G())
        self.opt_G.step()
        return {k: v.detach() for k, v in out.items()}

    # ---- bookkeeping -------------------------------------------------------------------------
    def modules(self) -> dict:
        return {"G": self.G} if self.D is None else {"G": self.G, "D": self.D}

    def optimizers(self) -> dict:
        return {"G": self.opt_G} if self.D is None else {"G": self.opt_G, "D": self.opt_D}

    @torch.no_grad()
    def translate(self, a: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
        """G(a) in batches, on the CPU. G stays in train mode as in the paper (batch statistics of the
        test batch, dropout on), unless the caller switched it to eval."""
        V.images(a, "a", channels=self.cfg.in_channels)
        return translate(self.G, a, batch_size=batch_size)


def d_loss_on_scores(real_scores: torch.Tensor, fake_scores: torch.Tensor, gan_mode: str = "vanilla") -> torch.Tensor:
    """D's loss on its score maps, halved (the paper's Section 3.3): ½[BCE(real, 1) + BCE(fake, 0)],
    or with ``gan_mode="lsgan"`` ½[(real - 1)² + fake²]."""
    if gan_mode == "lsgan":
        return losses.d_loss_lsgan(real_scores, fake_scores)        # already ½(...) + ½(...)
    return 0.5 * losses.d_loss_bce(real_scores, fake_scores)


def g_loss_on_scores(fake_scores: torch.Tensor, gan_mode: str = "vanilla") -> torch.Tensor:
    """G's adversarial loss on D's scores of the fakes: -log D(x, G(x)) (non-saturating), or with
    ``gan_mode="lsgan"`` (D(x, G(x)) - 1)², the reference's MSE."""
    if gan_mode == "lsgan":
        return 2 * losses.g_loss_lsgan(fake_scores)
    return losses.g_loss_nonsaturating(fake_scores)


def d_loss(D, x: torch.Tensor, real: torch.Tensor, fake: torch.Tensor, gan_mode: str = "vanilla") -> torch.Tensor:
    """D's Pix2Pix loss on pairs stacked as channels [x, image]: the real pair and the fake pair, with
    ``fake`` detached, so this loss reaches D only (:func:`d_loss_on_scores`, halved). x (N, C_in, S, S),
    real and fake (N, C_out, S, S)."""
    real_scores = D(torch.cat([x, real], 1))
    fake_scores = D(torch.cat([x, fake.detach()], 1))      # no gradient into G
    return d_loss_on_scores(real_scores, fake_scores, gan_mode)


def g_loss(D, x: torch.Tensor, real: torch.Tensor, fake: torch.Tensor,
           gan_mode: str = "vanilla") -> tuple[torch.Tensor, torch.Tensor]:
    """G's two Pix2Pix terms, ``(adversarial, l1)``: D's verdict on the fake pair (:func:`g_loss_on_scores`;
    0 when D is None, the "L1 only" model) and the mean |G(x) - y| (the paper's Eqs. 1, 3)."""
    l1 = (fake - real).abs().mean()
    if D is None:
        return torch.zeros((), device=fake.device), l1
    return g_loss_on_scores(D(torch.cat([x, fake], 1)), gan_mode), l1


_module_d_loss, _module_g_loss = d_loss, g_loss      # the defaults, under names the constructor's arguments do not hide


def translate(G: torch.nn.Module, a: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """G applied to inputs (N, C, S, S) in batches of ``batch_size``, in the mode G is in; outputs on the CPU."""
    V.images(a, "a")
    return in_batches(G, a, batch_size=batch_size)


# ------------------------------------------------------------------------------------------------
# Paired data from a folder (read by gancourse.data.folders)
# ------------------------------------------------------------------------------------------------

def paired_tensors(folder, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """All pairs of a folder as two tensors (A, B), each (N, 3, size, size) in [-1, 1].

    ``folder`` holds either ``A/`` and ``B/`` with matching file names (the *paired* layout) or
    side-by-side A|B images (the reference code's *aligned* layout, e.g. ``facades/train``). The
    files are read by :func:`gancourse.data.paired_folders` / :func:`gancourse.data.side_by_side_folder`,
    which convert or skip odd images and report them.
    """
    size = V.positive_int(size, "size", minimum=8)
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"folder: {folder} is not a folder")
    dataset = paired_folders(folder, size) if detect_layout(folder) == "paired" else side_by_side_folder(folder, size)
    if len(dataset) == 0:
        raise ValueError(f"folder: no usable image pairs in {folder}; expected A/ and B/ with matching names, "
                         "or side-by-side A|B images")
    pairs = [dataset[i] for i in range(len(dataset))]
    return torch.stack([a for a, _ in pairs]), torch.stack([b for _, b in pairs])


# ------------------------------------------------------------------------------------------------
# The recipe
# ------------------------------------------------------------------------------------------------

def train(cfg: Pix2PixConfig, a: torch.Tensor, b: torch.Tensor, device="cpu", progress: bool = True,
          checkpoint=None, resume: bool = False, desc: str | None = None, log_every: int = 25, fast=None,
          d_loss=None, g_loss=None):
    """Train Pix2Pix on pairs: inputs ``a`` (N, in_channels, S, S) and targets ``b`` (N, out_channels,
    S, S) in [-1, 1], for ``cfg.steps`` steps of ``cfg.batch_size`` pairs; return ``(model, history)``
    (losses averaged over windows of ``log_every`` steps). ``fast``: GPU fast paths
    (``gancourse.fastpaths.FastPaths``; default automatic). ``d_loss``, ``g_loss``: the losses, as in
    :class:`Pix2Pix`."""
    V.images(a, "a", channels=cfg.in_channels)
    V.images(b, "b", channels=cfg.out_channels)
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"a and b: expected the same number of pairs, got {a.shape[0]} and {b.shape[0]}")

    seed_everything(cfg.seed)
    model = prepare(Pix2Pix(cfg, device, d_loss, g_loss), fast)  # GPU fast paths; DDP under torchrun
    index = TensorImageDataset(torch.zeros(a.shape[0], 1, 1, 1), torch.arange(a.shape[0]), ["pair"])
    stream = batches(index, cfg.batch_size, generator=torch.Generator().manual_seed(cfg.seed))

    def step(i):
        _, idx = next(stream)
        model.set_input(a[idx], b[idx])
        return model.optimize_parameters()

    if checkpoint is not None:          # grid: rows of 8, inputs (label maps in the scenes' colours), G(a), b
        a_grid, b_grid = a[:8], b[:8]
        shown = a_grid if a_grid.shape[1] == 3 else colorize(a_grid.argmax(1))
        checkpoint.track(model, batches=stream, samples=lambda: torch.cat([shown, model.translate(a_grid).cpu(), b_grid]))
    history = fit(step, cfg.steps, log_every=log_every, desc=desc or f"pix2pix ({cfg.variant})", progress=progress,
                  checkpoint=checkpoint, resume=resume)
    return model, history


N_TRAIN, N_TEST = 3000, 256     # the recipe's scenes: as in notebook 10 (full mode)
PRETRAINED = {"L1 only": "pix2pix-scenes-l1", "GAN only": "pix2pix-scenes-gan", "GAN + L1": "pix2pix-scenes"}


def pretrained_generator(variant: str = "GAN + L1") -> tuple[UNet, Pix2PixConfig]:
    """A shipped scenes generator: ``variant`` is "GAN + L1", "L1 only" or "GAN only". Returns
    ``(G, cfg)``; the checkpoint's checksum is verified before loading."""
    V.choice(variant, "variant", PRETRAINED)
    state = pretrained.load(PRETRAINED[variant])
    cfg = Pix2PixConfig(**state["config"])
    G = build_generator(cfg)
    G.load_state_dict(state["modules"]["G"])
    return G, cfg


LAMBDAS = {"GAN + L1": (1.0, 100.0), "L1 only": (0.0, 100.0), "GAN only": (1.0, 0.0)}   # (λ_GAN, λ_L1)


def _recipe(variant: str) -> recipes.Recipe:
    """Recipe ``pix2pix`` (and its ablations ``pix2pix-l1``, ``pix2pix-gan``): scenes, label map ->
    image, or ``--data`` aligned pairs (FOLDER/train and FOLDER/test as the Pix2Pix datasets, or one
    folder of pairs)."""
    lambda_gan, lambda_l1 = LAMBDAS[variant]

    def configure(args) -> Pix2PixConfig:
        return Pix2PixConfig(seed=args.seed, size=args.image_size or 32, lambda_gan=lambda_gan, lambda_l1=lambda_l1,
                             **({"in_channels": 3} if args.data is not None else {}), **recipes.options(args))

    def data(args, cfg):
        if args.data is None:
            train_set, test_set = Scenes(pick(N_TRAIN, 128), cfg.size, "train"), Scenes(pick(N_TEST, 32), cfg.size, "test")
            return cfg, (one_hot(train_set.maps), train_set.images), (one_hot(test_set.maps), test_set.images)
        train_dir, test_dir = args.data / "train", args.data / "test"
        a, b = paired_tensors(train_dir if train_dir.is_dir() else args.data, cfg.size)
        return cfg, (a, b), paired_tensors(test_dir, cfg.size) if test_dir.is_dir() else (a[:200], b[:200])

    def evaluate(model, cfg, history, test) -> dict:
        a_test, b_test = test
        fake = model.translate(a_test).cpu()
        return {"variant": variant, "test_l1": round(l1_error(fake, b_test), 4),
                "test_hf_energy": round(high_frequency_energy(fake), 5),
                "real_hf_energy": round(high_frequency_energy(b_test), 5)}

    return recipes.Recipe(
        name=RECIPE_NAMES[variant], config=Pix2PixConfig, configure=configure, data=data, fast=True,
        train=lambda cfg, data, **kw: train(cfg, *data, **kw), evaluate=evaluate, trains_on="the procedural scenes",
        publish=lambda model, cfg: (PRETRAINED[variant], {"G": unwrap(model.G)},
                                    f"Pix2Pix U-Net on 32x32 scenes, label map -> image ({variant})"))


# The paper's two studies of D (Section 4.2: is D conditional?; Section 4.4: how large a patch does
# it judge?), at 64x64, where a PatchGAN can be smaller than the image. Receptive fields: 1, 16, 34
# (the 70x70 of 256x256 images, scaled), 142 (> 64: every score sees the whole image, an ImageGAN).
STUDY_SIZE = 64
STUDIES = {
    "L1 only": {"lambda_gan": 0.0},
    "PixelGAN (1x1)": {"d_layers": 0},
    "PatchGAN 16x16": {"d_layers": 1},
    "PatchGAN 34x34": {"d_layers": 2},
    "ImageGAN (142x142)": {"d_layers": 4},
    "unconditional D (34x34)": {"d_layers": 2, "conditional_d": False},
}


def study(name: str, seed: int = 0, steps: int = 2000) -> dict:
    """Train one arm of the paper's D studies on 64x64 scenes (3,000 pairs, the recipe's settings
    otherwise) and score it as the paper does (its Tables 1 and 3): the course's 64x64 segmenter on
    the translations of 256 test maps (mIoU against the input maps, pixel accuracy), the L1 error
    to the real images, and the high-frequency energy as a share of the real images' (sharpness).
    ``name``: a key of :data:`STUDIES`. About 5 minutes on one CPU core; the manifest keeps the
    results of three seeds (notebook 10 prints them)."""
    V.choice(name, "name", STUDIES)
    cfg = Pix2PixConfig(size=STUDY_SIZE, seed=V.positive_int(seed, "seed", minimum=0),
                        steps=V.positive_int(steps, "steps"), **STUDIES[name])
    train_set = Scenes(pick(N_TRAIN, 128), STUDY_SIZE, "train")
    test_set = Scenes(pick(N_TEST, 32), STUDY_SIZE, "test")
    model, _ = train(cfg, one_hot(train_set.maps), train_set.images, progress=False)
    fake = model.translate(one_hot(test_set.maps)).cpu()
    scores = segmentation_scores(scene_segmenter(size=STUDY_SIZE), fake, test_set.maps)
    return {"miou": round(scores["miou"], 4), "pixel_accuracy": round(scores["pixel_accuracy"], 4),
            "l1": round(l1_error(fake, test_set.images), 4),
            "hf_ratio": round(high_frequency_energy(fake) / high_frequency_energy(test_set.images), 4)}


RECIPE_NAMES = {"GAN + L1": "pix2pix", "L1 only": "pix2pix-l1", "GAN only": "pix2pix-gan"}
RECIPE, RECIPE_L1, RECIPE_GAN = (_recipe(v) for v in ("GAN + L1", "L1 only", "GAN only"))
