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
from ..data.defects import CLASSES, N_CLASSES, Defects, paint, random_regions
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
    V.class_indices(labels, "labels", n_classes, ndim=1, count=images.shape[0])


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
    V.instance(classifier, "classifier", DefectClassifier)
    _check_labelled(images, labels, classifier.n_classes)
    return float((classifier.predict(images) == labels.cpu()).float().mean())


@torch.no_grad()
def per_class_accuracy(classifier: DefectClassifier, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Accuracy (K,) per class of ``CLASSES``: entry k is the share of the images labelled k that are
    read as k (NaN for a class without images)."""
    V.instance(classifier, "classifier", DefectClassifier)
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


# ------------------------------------------------------------------------------------------------
# The course's scores of synthesized defects (notebook 14)
# ------------------------------------------------------------------------------------------------

def change_outside(before: torch.Tensor, after: torch.Tensor, region: torch.Tensor) -> float:
    """Mean |after − before| over the pixels **outside** ``region`` (N, 1, H, W) bool, pooled over
    the batch and the channels; images (N, C, H, W) in [-1, 1]. The number a composition model
    should keep near 0: the background must not move."""
    V.images(before, "before")
    V.images(after, "after", channels=before.shape[1])
    if not isinstance(region, torch.Tensor) or region.dtype != torch.bool:
        raise TypeError(f"region: expected a bool tensor (N, 1, H, W), got "
                        f"{region.dtype if isinstance(region, torch.Tensor) else type(region).__name__}")
    if after.shape != before.shape or region.shape != (before.shape[0], 1, *before.shape[-2:]):
        raise ValueError(f"before, after, region: expected (N, C, H, W), (N, C, H, W), (N, 1, H, W), got "
                         f"{tuple(before.shape)}, {tuple(after.shape)}, {tuple(region.shape)}")
    outside = (~region).expand_as(before)
    if not outside.any():
        raise ValueError("region: covers every pixel; nothing is outside it")
    return float((after - before).abs()[outside].mean())


@torch.no_grad()
def synthesis_scores(classifier: DefectClassifier, test: Defects, x: torch.Tensor, targets: torch.Tensor,
                     defaced: tuple, defaced_again: tuple, restored: torch.Tensor, threshold: float = 0.1,
                     seed: int = 0) -> dict:
    """Notebook 14's numbers for a defect synthesizer (see ``gancourse.models.defectgan.evaluate``):
    ``x`` (M, C, S, S) the normal test crops asked for the defect classes ``targets`` (M,),
    ``defaced = (d, m)`` the results and their masks (M, 1, S, S), ``defaced_again`` the same with other
    noise, ``restored`` the test set's real defects asked for "normal". A mask's pixel counts as the
    defect's where m > ``threshold``. Returns class_accuracy (and per class), change_outside_mask (mean
    |d − x| outside the masks; NaN when a mask covers everything), change_outside_mask_50 (outside
    m > 0.5), change_all, mask_area, restored_normal, restore_l1_outside / restore_l1_inside (against
    the clean crops, outside / inside the true masks), diversity (mean |d − d'| inside either mask) and
    real_variation (the same for two real defects of a class painted on the same crops, seeds from
    ``seed``)."""
    (d, m), (d2, m2) = defaced, defaced_again
    defects = test.labels != 0
    real_variation = []
    for kind in range(1, int(targets.max()) + 1):
        clean = test.clean[test.labels == 0]
        (a, ma), (b, mb) = paint(clean, kind, seed=2 * seed + 1), paint(clean, kind, seed=2 * seed + 2)
        real_variation.append(float((a - b).abs()[(ma > threshold) | (mb > threshold)].mean()))
    pred = classifier.predict(d)
    region, inside = m > threshold, (m > threshold) | (m2 > threshold)
    true_mask = test.masks[defects] > 0.5

    def outside(mask):
        return change_outside(x, d, mask) if not bool(mask.all()) else float("nan")

    return {"class_accuracy": float((pred == targets).float().mean()),
            "class_accuracy_per_class": [float((pred[targets == c] == c).float().mean())
                                         for c in range(1, int(targets.max()) + 1)],
            "change_outside_mask": outside(region),
            "change_outside_mask_50": outside(m > 0.5),
            "change_all": float((d - x).abs().mean()),
            "mask_area": float(region.float().mean()),
            "restored_normal": float((classifier.predict(restored) == 0).float().mean()),
            "restore_l1_outside": change_outside(test.clean[defects], restored, true_mask),
            "restore_l1_inside": float((restored - test.clean[defects]).abs()[true_mask].mean()),
            "diversity": float((d - d2).abs()[inside].mean()) if inside.any() else 0.0,
            "real_variation": sum(real_variation) / len(real_variation)}


@torch.no_grad()
def placement_scores(classifier: DefectClassifier, region: torch.Tensor, classes: torch.Tensor, placed: torch.Tensor,
                     mask: torch.Tensor, mask_uniform: torch.Tensor) -> dict:
    """Does a synthesizer put the defect where its control map asks? ``region`` (n, S, S) bool the
    requested regions, ``classes`` (n,) the requested defect classes, ``placed`` the results and
    ``mask`` (n, 1, S, S) their masks, ``mask_uniform`` the masks when the map asks for the class
    everywhere. Returns the share of the mask's mass inside the region (``placement_inside``), the
    same for the uniform map (``placement_inside_uniform``: where it puts a defect when nobody says
    where; uniformly random placement scores the region's area), the share of placed defects the
    classifier reads as requested (``placement_class_accuracy``) and the regions' mean area."""
    r = region.unsqueeze(1).float()
    return {"placement_inside": float((mask * r).sum() / mask.sum().clamp(min=1e-8)),
            "placement_inside_uniform": float((mask_uniform * r).sum() / mask_uniform.sum().clamp(min=1e-8)),
            "placement_class_accuracy": float((classifier.predict(placed) == classes).float().mean()),
            "placement_region_area": float(r.mean())}


@torch.no_grad()
def evaluate_synthesizer(synthesize, test: Defects, n_domains: int, classifier=None, seed: int = 0,
                         threshold: float = 0.1, n_placements: int = 300) -> dict:
    """Notebook 14's numbers for a defect synthesizer ``synthesize(x, domains, seed) -> (output,
    foreground, mask)`` (a Defect-GAN generator: domains are target domains (N,) or domain maps
    (N, H, W)) on a test split: every normal crop of ``test`` defaced towards each of the
    ``n_domains - 1`` defect classes, twice (noise seeds ``seed``, ``seed + 1``), every real defect
    restored (asked for "normal"), and ``n_placements`` placements: a normal crop, a defect class
    and a region of :func:`gancourse.data.defects.random_regions`, all drawn from ``seed``, the map
    asking for the class inside the region and "normal" outside (and, for comparison, for the class
    everywhere). Read by ``classifier`` (default: the shipped defect classifier); the numbers:
    :func:`synthesis_scores` and :func:`placement_scores`."""
    if not callable(synthesize):
        raise TypeError(f"synthesize: expected a function (x, domains, seed), got {type(synthesize).__name__}")
    if not isinstance(test, Defects):
        raise TypeError(f"test: expected a Defects dataset, got {type(test).__name__}")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 < threshold < 1:
        raise ValueError(f"threshold: expected a mask opacity in (0, 1), got {threshold!r}")
    n_placements = V.positive_int(n_placements, "n_placements")
    clf = classifier if classifier is not None else defect_classifier()
    if not callable(getattr(clf, "predict", None)):
        raise TypeError(f"classifier: expected a classifier with .predict(images) -> labels, got {type(clf).__name__}")
    normal, k = test.of_class("normal"), n_domains - 1
    x = normal.repeat(k, 1, 1, 1)                                      # every normal crop to every class
    targets = torch.arange(1, k + 1).repeat_interleave(normal.shape[0])
    defects = test.labels != 0
    d, _, m = synthesize(x, targets, seed)
    d2, _, m2 = synthesize(x, targets, seed + 1)                       # other noise: the diversity
    restored, _, _ = synthesize(test.images[defects], torch.zeros(int(defects.sum()), dtype=torch.long), seed)
    g = torch.Generator().manual_seed(int(seed) + 1000)
    canvas = normal[torch.randint(0, normal.shape[0], (n_placements,), generator=g)]
    region = random_regions(n_placements, normal.shape[-1], g)
    cls = torch.randint(1, n_domains, (n_placements,), generator=g)
    placed, _, mask = synthesize(canvas, cls.view(-1, 1, 1) * region, seed)
    _, _, mask_uniform = synthesize(canvas, cls, seed)
    return {**synthesis_scores(clf, test, x, targets, (d, m), (d2, m2), restored, threshold, seed),
            **placement_scores(clf, region, cls, placed, mask, mask_uniform)}
