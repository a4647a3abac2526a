r"""Judges of translated shapes: an attribute classifier, the outline's IoU, the colour shift.

Notebooks 11 and 12 ask of a translation three things that a network trained on real shapes can
answer (the course's stand-in for the Inception- and FCN-based scores of the papers):

* **does it show the target?** :class:`AttributeClassifier` reads all five attributes of a
  shape image (shape, colour, fill, size, background), one softmax head each. Its fill head is
  the *domain classifier* of CycleGAN's solid <-> striped task; its colour and shape heads score
  StarGAN's translations. Trained on rendered shapes by the recipe
  ``python -m gancourse.train shapes-classifier --publish`` (shipped: ``data/shapes_classifier.pt``,
  test accuracies in ``data/MANIFEST.json``).
* **does it keep what should not change?** :func:`outline_iou` compares the input's foreground
  mask with the foreground found in the translation (:func:`gancourse.data.shapes.foreground_mask`)
  by intersection over union; :func:`color_shift` measures how far the background colour moved and
  whether the shape's colour class survived.
* **can it go back?** the cycle's reconstruction error, :func:`gancourse.metrics.l1_error`.

    clf = attribute_classifier()                 # shipped weights, checksum verified, eval mode
    labels = clf.predict(images)                 # (N, 5) int64, columns as shapes.ATTRIBUTES
    acc = attribute_accuracy(clf, images, "fill", torch.ones(len(images), dtype=torch.long))
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .. import _validate as V
from .. import losses, recipes
from ..data import index_batches
from ..data.shapes import ATTRIBUTES, N_VALUES, VALUES, Shapes, foreground_mask
from ..metrics import high_frequency_energy, l1_error, mask_iou
from ..runtime import seed_everything
from .fitting import blur_and_noise, fit_judge, load_judge, predict_in_batches, to_working_size

PRETRAINED_NAME = "shapes-classifier"
_OFFSETS = [sum(N_VALUES[:k]) for k in range(len(N_VALUES) + 1)]


@dataclass
class AttributeClassifierConfig:
    size: int = 32          # working resolution: inputs are resized to size x size
    width: int = 16         # channels of the first conv block (then 2x and 4x)
    features: int = 128     # width of the shared penultimate layer
    steps: int = 1500
    batch_size: int = 64
    lr: float = 1e-3
    n_train: int = 8000
    seed: int = 0


def _block(c_in: int, c_out: int) -> nn.Sequential:
    """Two 3x3 convolutions with batch norm and ReLU, then 2x2 max pooling (halves H and W)."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU(),
        nn.Conv2d(c_out, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU(),
        nn.MaxPool2d(2))


class AttributeClassifier(nn.Module):
    """A small CNN: shape images (N, 3, H, W) in [-1, 1] -> logits of the five attributes.

    ``forward`` returns one tensor (N, 14): the logits of shape (3), colour (4), fill (2), size
    (2) and background (3), concatenated in the order of ``ATTRIBUTES``; :meth:`logits` picks one
    attribute's block, :meth:`predict` returns the labels (N, 5). Inputs of another side are
    resized to ``size`` first (bilinear, antialiased when shrinking).
    """

    def __init__(self, size: int = 32, width: int = 16, features: int = 128):
        super().__init__()
        self.size = V.positive_int(size, "size", minimum=8)
        if self.size % 8:
            raise ValueError(f"size: expected a multiple of 8 (three 2x poolings), got {size}")
        width = V.positive_int(width, "width")
        features = V.positive_int(features, "features")
        self.body = nn.Sequential(_block(3, width), _block(width, 2 * width), _block(2 * width, 4 * width),
                                  nn.Flatten(), nn.Linear(4 * width * (self.size // 8) ** 2, features), nn.ReLU(),
                                  nn.Dropout(0.2))
        self.head = nn.Linear(features, sum(N_VALUES))

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        V.images(images, "images", channels=3)
        return to_working_size(self, images, self.size)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(self.prepare(images)))

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """Penultimate activations (N, features): the space of Fréchet distances on shapes
        (``gancourse.metrics.classifier_features``)."""
        return self.body(self.prepare(images))

    @staticmethod
    def logits(out: torch.Tensor, attribute: str) -> torch.Tensor:
        """The block of ``out`` (N, 14) that holds ``attribute``'s logits: (N, number of values)."""
        k = ATTRIBUTES.index(V.choice(attribute, "attribute", ATTRIBUTES))
        return out[:, _OFFSETS[k]:_OFFSETS[k + 1]]

    def predict(self, images: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
        """Predicted labels (N, 5) int64 in eval mode, columns in the order of ``ATTRIBUTES``."""
        V.images(images, "images", channels=3)
        return predict_in_batches(self, images, lambda out: torch.stack([self.logits(out, a).argmax(1) for a in ATTRIBUTES], 1),
                          batch_size, torch.zeros(0, len(ATTRIBUTES), dtype=torch.long))


def loss(classifier: AttributeClassifier, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Sum over the five attributes of the cross-entropy of their heads; labels (N, 5)."""
    return losses.grouped_cross_entropy(classifier(images), labels, N_VALUES)


def augment(images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Nuisances a generator's output may have and a rendered image has not: a random blur (a 3x3
    box filter mixed in with weight 0..0.6), pixel noise (std 0..0.08) and a +-1 pixel shift.
    Images (N, 3, H, W) in [-1, 1] -> the same shape. None of them changes an attribute."""
    V.images(images, "images", channels=3)
    n = images.shape[0]
    u = torch.rand(n, 2, generator=generator).to(images.device)
    x = blur_and_noise(images, 0.6 * u[:, 0], 0.08 * u[:, 1], generator)
    shift = torch.randint(-1, 2, (2,), generator=generator)
    x = torch.roll(x, shifts=(int(shift[0]), int(shift[1])), dims=(2, 3))
    return x.clamp(-1, 1)


def train_attribute_classifier(config: AttributeClassifierConfig | None = None, device="cpu",
                               progress: bool = True, checkpoint=None, resume: bool = False):
    """Train an :class:`AttributeClassifier` on ``config.n_train`` rendered shapes (train split, all
    attributes mixed), with :func:`augment`, Adam and a cosine learning-rate decay to 0. Returns
    ``(classifier, history)``."""
    cfg = config or AttributeClassifierConfig()
    V.instance(cfg, "config", AttributeClassifierConfig)
    seed_everything(cfg.seed)
    data = Shapes(cfg.n_train, cfg.size, "train", seed=cfg.seed)
    # batches of indices, so that one draw gives the images and all five labels
    stream = index_batches(len(data), cfg.batch_size, generator=torch.Generator().manual_seed(cfg.seed + 1))
    gen = torch.Generator().manual_seed(cfg.seed)
    net = AttributeClassifier(cfg.size, cfg.width, cfg.features).to(device)

    def batch_loss(i):
        _, idx = next(stream)
        return loss(net, augment(data.images[idx].to(device), gen), data.attributes[idx].to(device))

    history = fit_judge(net, batch_loss, cfg.steps, cfg.lr, "shapes classifier", progress=progress,
                        checkpoint=checkpoint, resume=resume, streams={"batches": stream, "augment": gen})
    return net, history


@torch.no_grad()
def attribute_accuracy(classifier: AttributeClassifier, images: torch.Tensor, attribute: str,
                       targets: torch.Tensor) -> float:
    """Share of ``images`` (N, 3, H, W) whose predicted ``attribute`` equals ``targets`` (N,)."""
    V.instance(classifier, "classifier", AttributeClassifier)
    V.choice(attribute, "attribute", ATTRIBUTES)
    V.tensor(targets, "targets", ndim=1, floating=False)
    if targets.shape[0] != images.shape[0]:
        raise ValueError(f"targets: expected {images.shape[0]} labels (one per image), got {targets.shape[0]}")
    pred = classifier.predict(images)[:, ATTRIBUTES.index(attribute)]
    return float((pred == targets.cpu()).float().mean())


@torch.no_grad()
def per_value_accuracy(classifier: AttributeClassifier, images: torch.Tensor, attribute: str,
                       targets: torch.Tensor) -> torch.Tensor:
    """Accuracy per target value (K,) of ``attribute`` (K values): entry k is the share of the
    images asked to show value k that the classifier reads as k (NaN where no image asked for k)."""
    V.instance(classifier, "classifier", AttributeClassifier)
    V.choice(attribute, "attribute", ATTRIBUTES)
    V.tensor(targets, "targets", ndim=1, floating=False)
    if targets.shape[0] != images.shape[0]:
        raise ValueError(f"targets: expected {images.shape[0]} labels (one per image), got {targets.shape[0]}")
    k = len(VALUES[attribute])
    if targets.numel() and (int(targets.min()) < 0 or int(targets.max()) >= k):
        raise ValueError(f"targets: expected values in [0, {k - 1}] for {attribute!r}")
    pred = classifier.predict(images)[:, ATTRIBUTES.index(attribute)]
    targets = targets.cpu().long()
    hits = torch.bincount(targets[pred == targets], minlength=k).double()
    totals = torch.bincount(targets, minlength=k).double()
    return (hits / totals).float()


def outline_iou(masks: torch.Tensor, translations: torch.Tensor, threshold: float = 0.7) -> torch.Tensor:
    """Per-image IoU (N,) between the inputs' foreground ``masks`` (N, 1, H, W) bool and the
    foreground found in their ``translations`` (N, 3, H, W) by
    :func:`~gancourse.data.shapes.foreground_mask`. 1 = the outline is kept pixel for pixel."""
    V.tensor(masks, "masks", ndim=4, floating=False)
    V.images(translations, "translations", channels=3)
    if masks.shape[0] != translations.shape[0] or masks.shape[-2:] != translations.shape[-2:]:
        raise ValueError(f"masks and translations: expected the same batch and image size, got "
                         f"{tuple(masks.shape)} and {tuple(translations.shape)}")
    return mask_iou(masks.bool(), foreground_mask(translations, threshold))


def color_shift(inputs: torch.Tensor, outputs: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """How far the background colour moved: per image (N,), the mean over RGB of
    |mean background colour of ``outputs`` - that of ``inputs``|, in [0, 1] units (1 = black to
    white). The background is every pixel at least 2 pixels away from the input's foreground
    ``masks`` (N, 1, H, W). Inputs and outputs (N, 3, H, W) in [-1, 1]."""
    V.images(inputs, "inputs", channels=3)
    V.images(outputs, "outputs", channels=3)
    V.tensor(masks, "masks", ndim=4, floating=False)
    if inputs.shape != outputs.shape or masks.shape[0] != inputs.shape[0] or masks.shape[-2:] != inputs.shape[-2:]:
        raise ValueError(f"inputs, outputs, masks: expected matching shapes (N, 3, H, W), (N, 3, H, W), "
                         f"(N, 1, H, W), got {tuple(inputs.shape)}, {tuple(outputs.shape)}, {tuple(masks.shape)}")
    near = F.max_pool2d(masks.float().cpu(), 5, stride=1, padding=2) > 0       # dilate by 2 pixels
    back = (~near).float()
    count = back.sum((2, 3)).clamp(min=1)
    mean_in = (inputs.detach().float().cpu() * back).sum((2, 3)) / count     # (N, 3)
    mean_out = (outputs.detach().float().cpu() * back).sum((2, 3)) / count
    return ((mean_out - mean_in).abs() / 2).mean(1)


def test_accuracy(classifier: AttributeClassifier, n: int = 2000, size: int = 32) -> dict:
    """Accuracy of each attribute on ``n`` test-split shapes: ``{"test_accuracy_shape": ..., ...}``."""
    test = Shapes(n, size, "test")
    pred = classifier.predict(test.images)
    return {f"test_accuracy_{a}": round(float((pred[:, k] == test.attributes[:, k]).float().mean()), 4)
            for k, a in enumerate(ATTRIBUTES)}


def attribute_classifier(device="cpu") -> AttributeClassifier:
    """The course's shipped shapes classifier: checksum verified, weights loaded with
    ``weights_only=True``, in eval mode, gradients switched off."""
    return load_judge(PRETRAINED_NAME, lambda c: AttributeClassifier(c["size"], c["width"], c["features"]),
                      device=device)


RECIPE = recipes.Recipe(
    name=PRETRAINED_NAME, config=AttributeClassifierConfig, train=train_attribute_classifier,
    trains_on="the procedural shapes",
    evaluate=lambda net, cfg, history: {**test_accuracy(net.cpu(), size=cfg.size),
                                        "train_cross_entropy": round(history.mean("cross_entropy"), 4)},
    publish=lambda net, cfg: (PRETRAINED_NAME, {"classifier": net},
                              "small CNN reading the five attributes of a shapes image (notebooks 11-12)"),
    image_size_field="size")


# ------------------------------------------------------------------------------------------------
# The course's scores of translated shapes (notebooks 11 and 12)
# ------------------------------------------------------------------------------------------------

@torch.no_grad()
def fill_translation_scores(classifier: AttributeClassifier, source: Shapes, fake: torch.Tensor,
                            back: torch.Tensor, tag: str) -> dict:
    """Notebook 11's numbers for one direction ``tag`` ("XtoY" or "YtoX") of a solid <-> striped
    translator: ``source`` the test shapes of one domain, ``fake`` (N, 3, H, W) their translations,
    ``back`` those translated back. Returns ``domain_acc_<tag>`` (share the fill head reads as the
    other fill), ``iou_<tag>`` (mean :func:`outline_iou`), ``cycle_l1_<X or Y>`` (mean |back -
    source|, [-1, 1] units), ``color_kept_<tag>`` (share whose colour class is the input's) and
    ``bg_shift_<tag>`` (mean :func:`color_shift`), each rounded to 4 decimals."""
    fill, color = ATTRIBUTES.index("fill"), ATTRIBUTES.index("color")
    pred = classifier.predict(fake)
    return {f"domain_acc_{tag}": round(float((pred[:, fill] == 1 - source.attributes[:, fill]).float().mean()), 4),
            f"iou_{tag}": round(float(outline_iou(source.masks, fake).mean()), 4),
            f"cycle_l1_{tag[0]}": round(l1_error(back, source.images), 4),
            f"color_kept_{tag}": round(float((pred[:, color] == source.attributes[:, color]).float().mean()), 4),
            f"bg_shift_{tag}": round(float(color_shift(source.images, fake, source.masks).mean()), 4)}


@torch.no_grad()
def attribute_translation_scores(classifier: AttributeClassifier, test: Shapes, names, targets: torch.Tensor,
                                 fakes: torch.Tensor, back: torch.Tensor) -> dict:
    """Notebook 12's numbers for a translator asked to set the attributes ``names`` (A of them):
    every image of ``test`` (N) translated to each of D target combinations, ``fakes`` (D·N, 3, H, W)
    with row d·N + i the image i asked for ``targets[d·N + i]`` (D·N, A), and ``back`` (D·N, 3, H, W)
    the fakes translated back to the images' own labels. Returns ``acc_<name>`` (accuracy per target
    value), ``acc_<name>_min``, ``rec_l1`` (mean |back - x|), ``kept_<attribute>`` for each of shape,
    colour, background that no target names (share of fakes that still show the input's), ``iou``
    (mean outline IoU of input and fake), and ``hf_energy`` / ``real_hf_energy`` (the fakes' and the
    test images' high-frequency energy, :func:`gancourse.metrics.high_frequency_energy`: blurred
    blobs have less)."""
    repeats = fakes.shape[0] // len(test)
    out = {}
    for a, name in enumerate(names):
        acc = per_value_accuracy(classifier, fakes, name, targets[:, a])
        out[f"acc_{name}"] = [round(float(v), 4) for v in acc]
        out[f"acc_{name}_min"] = round(float(acc.min()), 4)
    out["rec_l1"] = round(float((back - test.images.repeat(repeats, 1, 1, 1)).abs().mean()), 4)
    for kept in ("shape", "color", "background"):           # what must not change
        if kept not in names:
            out[f"kept_{kept}"] = round(attribute_accuracy(classifier, fakes, kept,
                                                           test.attribute(kept).repeat(repeats)), 4)
    out["iou"] = round(float(outline_iou(test.masks.repeat(repeats, 1, 1, 1), fakes).mean()), 4)
    out["hf_energy"] = round(high_frequency_energy(fakes), 5)
    out["real_hf_energy"] = round(high_frequency_energy(test.images), 5)
    return out


@torch.no_grad()
def evaluate_attribute_translator(translate, test: Shapes, names, groups, classifier=None) -> dict:
    """Notebook 12's numbers for a translator ``translate(images, labels (M, A)) -> images`` that sets
    the shapes attributes ``names`` (A of them; ``groups``: how many values each takes): every image
    of ``test`` translated to every combination of values (12 for colour x background) and back to
    its own labels, read by ``classifier`` (default: the shipped one) as
    :func:`attribute_translation_scores` says."""
    if not callable(translate):
        raise TypeError(f"translate: expected a function (images, labels), got {type(translate).__name__}")
    if not isinstance(test, Shapes):
        raise TypeError(f"test: expected a Shapes dataset, got {type(test).__name__}")
    for name in names:
        V.choice(name, "names", ATTRIBUTES)
    clf = classifier if classifier is not None else attribute_classifier()
    combos = torch.cartesian_prod(*[torch.arange(g) for g in groups]).view(-1, len(groups))   # (D, A)
    own = torch.stack([test.attribute(n) for n in names], 1).repeat(len(combos), 1)
    targets = combos.repeat_interleave(len(test), 0)                   # every image to every target
    fakes = translate(test.images.repeat(len(combos), 1, 1, 1), targets)
    return attribute_translation_scores(clf, test, names, targets, fakes, translate(fakes, own))
