r"""Defect classifiers: the judge of synthesized defects, and the downstream model Defect-GAN is for.

Two uses, one network (:class:`DefectClassifier`, a small CNN reading a 1-channel texture crop and
answering normal / scratch / spot / crack):

* **the judge** (notebook 14): trained on many real defects of ``gancourse.data.defects`` by the
  recipe ``python -m gancourse.train defect-classifier --publish`` (shipped:
  ``data/defect_classifier.pt``, test accuracy in ``data/MANIFEST.json``). Asked to read
  Defect-GAN's outputs, it says whether a synthesized defect shows the class it was asked for, the
  course's stand-in for the classification scores of Zhang et al. (2021);
* **the downstream task**: :func:`train_classifier` trains the same architecture from scratch on
  any labelled set, e.g. a few real defects, with or without synthesized ones, which is how
  Defect-GAN's samples are meant to be used ("training accurate and robust defect inspection
  networks"). :func:`accuracy` reads held-out real defects.

    clf = defect_classifier()                    # shipped weights, checksum verified, eval mode
    clf.predict(images)                          # (N,) int64 in CLASSES order (0 = normal)
    net = train_classifier(images, labels, steps=300, seed=1)   # a fresh one, from scratch
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .. import _validate as V
from .. import recipes
from ..data.defects import CLASSES, N_CLASSES, Defects
from ..runtime import seed_everything
from .fitting import fit_judge, load_judge, predict_in_batches

PRETRAINED_NAME = "defect-classifier"


@dataclass
class DefectClassifierConfig:
    width: int = 16          # channels of the first block (then 2x and 4x)
    steps: int = 1500
    batch_size: int = 64
    lr: float = 2e-3
    n_per_class: int = 500   # real training samples of each class (the judge sees many)
    size: int = 32
    seed: int = 0


def _block(c_in: int, c_out: int) -> nn.Sequential:
    """3x3 convolution, batch norm, ReLU, then 2x2 max pooling (halves H and W)."""
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU(), nn.MaxPool2d(2))


class DefectClassifier(nn.Module):
    """A small CNN: crops (N, 1, H, W) in [-1, 1] -> class logits (N, 4), classes of ``CLASSES``.

    Three blocks (``width``, 2·width, 4·width channels, each halving the resolution), a 3x3
    convolution, global average pooling (any H = W >= 8 works), a linear layer to the classes.
    """

    def __init__(self, width: int = 16, n_classes: int = N_CLASSES):
        super().__init__()
        w = V.positive_int(width, "width")
        self.n_classes = V.positive_int(n_classes, "n_classes", minimum=2)
        self.body = nn.Sequential(_block(1, w), _block(w, 2 * w), _block(2 * w, 4 * w),
                                  nn.Conv2d(4 * w, 4 * w, 3, padding=1), nn.ReLU())
        self.head = nn.Linear(4 * w, self.n_classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        V.images(images, "images", channels=1)
        if images.shape[-1] < 8 or images.shape[-2] < 8:
            raise ValueError(f"images: expected at least 8x8 pixels, got shape {tuple(images.shape)}")
        return self.head(self.body(images).mean((2, 3)))

    def predict(self, images: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
        """Predicted classes (N,) int64 in eval mode, in batches, on the CPU."""
        V.images(images, "images", channels=1)
        return predict_in_batches(self, images, lambda logits: logits.argmax(1), batch_size, torch.zeros(0, dtype=torch.long))


def augment(images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Changes that keep a defect's class: one of the 8 flips / 90-degree rotations per batch,
    pixel noise (std 0..0.06) and a contrast change x0.85..1.15 per image. (N, 1, H, W) -> same."""
    V.images(images, "images", channels=1)
    n = images.shape[0]
    k = int(torch.randint(0, 4, (1,), generator=generator))
    x = torch.rot90(images, k, dims=(2, 3))
    if torch.rand(1, generator=generator).item() < 0.5:
        x = x.flip(-1)
    u = torch.rand(n, 2, generator=generator).to(x.device)
    x = x * (0.85 + 0.3 * u[:, 1]).view(n, 1, 1, 1)
    x = x + (0.06 * u[:, 0]).view(n, 1, 1, 1) * torch.randn(x.shape, generator=generator).to(x.device)
    return x.clamp(-1, 1)


def _check_labelled(images, labels, n_classes: int = N_CLASSES) -> None:
    V.images(images, "images", channels=1)
    V.tensor(labels, "labels", ndim=1, floating=False)
    if labels.shape[0] != images.shape[0]:
        raise ValueError(f"labels: expected {images.shape[0]} labels (one per image), got {labels.shape[0]}")
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= n_classes):
        raise ValueError(f"labels: expected classes in [0, {n_classes - 1}]")


def train_classifier(images: torch.Tensor, labels: torch.Tensor, steps: int = 1500, batch_size: int = 64,
                     lr: float = 2e-3, width: int = 16, seed: int = 0, device="cpu", progress: bool = True,
                     balanced: bool = True, checkpoint=None, resume: bool = False, desc: str = "defect classifier",
                     augmentation: bool = True):
    """Train a fresh :class:`DefectClassifier` on ``images`` (N, 1, H, W) and ``labels`` (N,);
    return ``(classifier, history)``.

    Cross-entropy, :func:`augment` (classic augmentation; ``augmentation=False`` trains on the
    images as they are), Adam with a cosine decay to 0, ``steps`` batches of ``batch_size``. ``balanced=True`` draws every batch with equal shares of the classes present
    (so that 10 real cracks among 200 normal crops are not drowned); otherwise uniformly.
    """
    _check_labelled(images, labels)
    steps = V.positive_int(steps, "steps")
    batch_size = V.positive_int(batch_size, "batch_size")
    lr = V.positive_float(lr, "lr")
    if not isinstance(augmentation, bool):
        raise TypeError(f"augmentation: expected a bool, got {type(augmentation).__name__}")
    seed_everything(seed)
    gen = torch.Generator().manual_seed(seed)
    net = DefectClassifier(width).to(device)
    # sampling weights: each present class gets the same total weight
    counts = torch.bincount(labels, minlength=N_CLASSES).float()
    weights = (1.0 / counts[labels]) if balanced else torch.ones(labels.shape[0])

    def batch_loss(i):
        idx = torch.multinomial(weights, batch_size, replacement=True, generator=gen)
        x = augment(images[idx], gen) if augmentation else images[idx]
        return F.cross_entropy(net(x.to(device)), labels[idx].to(device))

    history = fit_judge(net, batch_loss, steps, lr, desc, progress=progress, checkpoint=checkpoint, resume=resume,
                        streams={"gen": gen}, log_every=max(steps // 30, 1))   # gen draws batches and distortions
    return net, history


@torch.no_grad()
def accuracy(classifier: DefectClassifier, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Share of ``images`` (N, 1, H, W) whose predicted class equals ``labels`` (N,)."""
    if not isinstance(classifier, DefectClassifier):
        raise TypeError(f"classifier: expected a DefectClassifier, got {type(classifier).__name__}")
    _check_labelled(images, labels, classifier.n_classes)
    return float((classifier.predict(images) == labels.cpu()).float().mean())


@torch.no_grad()
def per_class_accuracy(classifier: DefectClassifier, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Accuracy (K,) per class of ``CLASSES``: entry k is the share of the images labelled k that are
    read as k (NaN for a class without images)."""
    if not isinstance(classifier, DefectClassifier):
        raise TypeError(f"classifier: expected a DefectClassifier, got {type(classifier).__name__}")
    _check_labelled(images, labels, classifier.n_classes)
    pred, labels = classifier.predict(images), labels.cpu().long()
    hits = torch.bincount(labels[pred == labels], minlength=classifier.n_classes).double()
    totals = torch.bincount(labels, minlength=classifier.n_classes).double()
    return (hits / totals).float()


def defect_classifier(device="cpu") -> DefectClassifier:
    """The course's shipped defect classifier (the judge): checksum verified, weights loaded with
    ``weights_only=True``, in eval mode, gradients switched off."""
    return load_judge(PRETRAINED_NAME, lambda c: DefectClassifier(c["width"]), device=device)


def _train(cfg: DefectClassifierConfig, **kw):
    data = Defects(cfg.n_per_class, cfg.size, "train", seed=cfg.seed)
    return train_classifier(data.images, data.labels, steps=cfg.steps, batch_size=cfg.batch_size, lr=cfg.lr,
                            width=cfg.width, seed=cfg.seed, **kw)


def _test_scores(net, cfg: DefectClassifierConfig, history) -> dict:
    net, test = net.cpu(), Defects(250, cfg.size, "test")
    per_class = per_class_accuracy(net, test.images, test.labels)
    return {"test_accuracy": round(accuracy(net, test.images, test.labels), 4),
            "test_accuracy_per_class": {c: round(float(v), 4) for c, v in zip(CLASSES, per_class)},
            "train_cross_entropy": round(history.mean("cross_entropy"), 4)}


RECIPE = recipes.Recipe(
    name=PRETRAINED_NAME, config=DefectClassifierConfig, train=_train, trains_on="the procedural defects",
    evaluate=_test_scores, checkpoint_every=500, image_size_field="size",
    publish=lambda net, cfg: (PRETRAINED_NAME, {"classifier": net},
                              "small CNN reading normal/scratch/spot/crack on 32x32 texture crops (notebook 14)"))
