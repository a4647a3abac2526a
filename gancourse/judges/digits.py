"""The small networks that metrics use: a digit classifier trained on the real digits.

A GAN on digits is judged by a network that knows what digits look like (the course's stand-in
for the Inception network behind the Inception Score and FID, Salimans et al. 2016; Heusel et al.
2017). :class:`DigitClassifier` is a small CNN trained on the 1,438 training digits of
``gancourse.data.Digits``; the recipe ``python -m gancourse.train digit-classifier --publish``
reproduces the shipped weights (``data/digit_classifier.pt``), and their test accuracy on the 359
held-out digits is recorded in ``data/MANIFEST.json``.

    clf = judges.digit_classifier()         # loaded, checksum verified, eval mode, frozen
    logits = clf(images)                    # images (N, 1, H, W) in [-1, 1], any H = W >= 8
    feats = clf.features(images)            # (N, 64) penultimate activations (for Fréchet distances)

The classifier resizes its input to its working size (16x16), so 16x16 and 32x32 digits (and
MNIST-like 28x28 ones) go in unchanged. ``gancourse.metrics`` builds the image metrics on it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .. import _validate as V
from .. import recipes
from ..data import Digits, batches
from ..runtime import seed_everything
from .fitting import fit_judge, load_judge, predict_in_batches, to_working_size

PRETRAINED_NAME = "digit-classifier"


@dataclass
class DigitClassifierConfig:
    size: int = 16          # working resolution: inputs are resized to size x size
    width: int = 32         # channels of the first conv block (the second has 2x)
    features: int = 64      # width of the penultimate layer (the Fréchet-distance features)
    dropout: float = 0.3
    steps: int = 3000
    batch_size: int = 128
    lr: float = 1e-3
    seed: int = 0


def _conv_block(c_in: int, c_out: int) -> nn.Sequential:
    """Two 3x3 convolutions with ReLU, then 2x2 max pooling: (N, c_in, h, w) -> (N, c_out, h/2, w/2)."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU(),
        nn.Conv2d(c_out, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU(),
        nn.MaxPool2d(2),
    )


class DigitClassifier(nn.Module):
    """A small CNN: images (N, 1, H, W) in [-1, 1] -> 10 class logits (N, 10).

    Layout: resize to ``size`` x ``size`` -> two conv blocks (``width``, ``2 width`` channels, each
    halving the resolution) -> flatten -> linear to ``features`` + ReLU (the *penultimate features*,
    :meth:`features`) -> dropout -> linear to 10 logits.
    """

    def __init__(self, size: int = 16, width: int = 32, features: int = 64, dropout: float = 0.3,
                 n_classes: int = 10):
        super().__init__()
        self.size = V.positive_int(size, "size", minimum=8)
        if self.size % 4:
            raise ValueError(f"size: expected a multiple of 4 (two 2x poolings), got {size}")
        width = V.positive_int(width, "width")
        self.feature_dim = V.positive_int(features, "features")
        dropout = V.positive_float(dropout, "dropout", allow_zero=True)
        if dropout >= 1:
            raise ValueError(f"dropout: expected a probability in [0, 1), got {dropout}")
        self.n_classes = V.positive_int(n_classes, "n_classes", minimum=2)
        self.body = nn.Sequential(_conv_block(1, width), _conv_block(width, 2 * width), nn.Flatten())
        self.penultimate = nn.Sequential(nn.Linear(2 * width * (self.size // 4) ** 2, self.feature_dim), nn.ReLU())
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(self.feature_dim, self.n_classes))

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        """Check a batch (N, 1, H, W) and resize it to the working size (antialiased when shrinking)."""
        V.images(images, "images", channels=1)
        if images.shape[-1] < 8 or images.shape[-2] < 8:
            raise ValueError(f"images: expected at least 8x8 pixels, got shape {tuple(images.shape)}")
        return to_working_size(self, images, self.size)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """Penultimate activations, shape (N, ``features``): the space of the course's Fréchet distance."""
        return self.penultimate(self.body(self.prepare(images)))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Class logits, shape (N, 10)."""
        return self.head(self.features(images))

    def predict(self, images: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
        """Class probabilities (N, 10) in eval mode, computed in batches."""
        V.images(images, "images", channels=1)
        return predict_in_batches(self, images, lambda logits: torch.softmax(logits, dim=1), batch_size,
                          torch.zeros(0, self.n_classes))


def augment(images: torch.Tensor, generator: torch.Generator | None = None, max_rotation: float = 12.0,
            max_shift: float = 0.12, scale: tuple[float, float] = (0.9, 1.1)) -> torch.Tensor:
    """Random small affine distortions of a batch (N, C, H, W): rotation (degrees), shift (fraction
    of the half-width), zoom; the background (-1) fills the borders. Makes the classifier robust to
    the slightly off-centre digits a generator draws."""
    V.images(images, "images")
    n = images.shape[0]
    u = torch.rand(n, 4, generator=generator).to(images.device)
    angle = (2 * u[:, 0] - 1) * math.radians(max_rotation)
    zoom = scale[0] + (scale[1] - scale[0]) * u[:, 1]
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack([torch.stack([cos, -sin, (2 * u[:, 2] - 1) * max_shift], 1),
                         torch.stack([sin, cos, (2 * u[:, 3] - 1) * max_shift], 1)], 1)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    # grid_sample pads with zeros; shift to [0, 2] so that the padding is the black background
    return F.grid_sample(images + 1, grid, mode="bilinear", padding_mode="zeros", align_corners=False) - 1


@torch.no_grad()
def accuracy(classifier: DigitClassifier, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Share of ``images`` (N, 1, H, W) whose most probable class is ``labels`` (N,)."""
    V.instance(classifier, "classifier", DigitClassifier)
    V.class_indices(labels, "labels", ndim=1, count=images.shape[0])
    pred = classifier.predict(images).argmax(1)
    return float((pred == labels.cpu()).float().mean())


def train_digit_classifier(config: DigitClassifierConfig | None = None, device="cpu", progress: bool = True,
                           checkpoint=None, resume: bool = False):
    """Train a :class:`DigitClassifier` on ``Digits(split="train")``; return ``(classifier, history)``.

    Each step takes a batch, draws it at 16x16 or 32x32 (so both sizes are seen), distorts it with
    :func:`augment`, and minimises the cross-entropy with Adam; the learning rate decays with a
    cosine schedule to 0.
    """
    cfg = config or DigitClassifierConfig()
    V.instance(cfg, "config", DigitClassifierConfig)
    seed_everything(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    streams = {s: batches(Digits(s, "train"), cfg.batch_size, generator=torch.Generator().manual_seed(cfg.seed + s),
                          device=device) for s in (16, 32)}
    net = DigitClassifier(cfg.size, cfg.width, cfg.features, cfg.dropout).to(device)

    def batch_loss(i):
        x, y = next(streams[16 if torch.rand(1, generator=gen).item() < 0.5 else 32])
        return F.cross_entropy(net(augment(x, gen)), y)

    history = fit_judge(net, batch_loss, cfg.steps, cfg.lr, "digit classifier", progress=progress,
                        checkpoint=checkpoint, resume=resume,
                        streams={"batches16": streams[16], "batches32": streams[32], "gen": gen})
    return net, history


def test_accuracy(classifier: DigitClassifier) -> dict:
    """Accuracy on the 359 held-out digits, at 16x16 and at 32x32: ``{"test_accuracy_16": ..., ...}``."""
    out = {}
    for size in (16, 32):
        test = Digits(size, "test")
        out[f"test_accuracy_{size}"] = round(accuracy(classifier, test.images, test.labels), 4)
    return out


def digit_classifier(device="cpu") -> DigitClassifier:
    """The course's shipped digit classifier: checksum verified, weights loaded with
    ``weights_only=True``, in eval mode, with gradients switched off."""
    return load_judge(PRETRAINED_NAME, lambda c: DigitClassifier(c["size"], c["width"], c["features"], c["dropout"]),
                      device=device)


RECIPE = recipes.Recipe(
    name=PRETRAINED_NAME, config=DigitClassifierConfig, train=train_digit_classifier, trains_on="the embedded digits",
    evaluate=lambda net, cfg, history: {**test_accuracy(net.cpu()),
                                        "train_cross_entropy": round(history.mean("cross_entropy"), 4)},
    publish=lambda net, cfg: (PRETRAINED_NAME, {"classifier": net},
                              "small CNN digit classifier for metrics (penultimate features: 64-d)"),
    image_size_field="size")
