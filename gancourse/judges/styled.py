"""The judge of notebook 15's target domain: a digit classifier for *styled* digits.

The course's digit classifier (:func:`gancourse.judges.digits.digit_classifier`) knows white strokes on black; the
styled digits of :mod:`gancourse.data.styled_digits` (thick, textured strokes on grey) are another
domain, and translations into it must be read by a network that knows it. This is the same small
CNN (:class:`gancourse.judges.digits.DigitClassifier`), trained on the *pool* split (the 1,438
training digits, styled, each drawn in three styles) and tested on the 359 held-out digits in the
target style, which the translators of notebook 15 train and are measured on. Its penultimate
features (64-d) are the space of the notebook's Fréchet distance.

    clf = styled_digit_classifier()          # shipped weights, checksum verified, eval mode, frozen
    probs = metrics.classifier_probs(images, clf)

``python -m gancourse.train styled-digit-classifier --publish`` reproduces ``data/styled_digit_classifier.pt``.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .. import _validate as V
from .. import recipes
from ..data import TensorImageDataset, batches
from ..data.styled_digits import StyledDigits
from ..runtime import seed_everything
from .digits import DigitClassifier, accuracy
from .fitting import fit_judge, load_judge

PRETRAINED_NAME = "styled-digit-classifier"


@dataclass
class StyledClassifierConfig:
    size: int = 16
    width: int = 32
    features: int = 64
    dropout: float = 0.3
    styles: int = 3          # each pool digit drawn with this many style seeds (0, 1, ...)
    steps: int = 2000
    batch_size: int = 128
    lr: float = 1e-3
    seed: int = 0


def jitter(images: torch.Tensor, generator: torch.Generator | None = None, max_shift: int = 1) -> torch.Tensor:
    """Shift each image (N, C, H, W) by up to ``max_shift`` pixels in each direction, wrapping around
    (the styled digits' background is uniform, so the wrapped border is background too)."""
    V.images(images, "images")
    max_shift = V.positive_int(max_shift, "max_shift", minimum=0)
    shifts = torch.randint(-max_shift, max_shift + 1, (images.shape[0], 2), generator=generator)
    return torch.stack([torch.roll(x, (int(dy), int(dx)), dims=(-2, -1)) for x, (dy, dx) in zip(images, shifts)])


def train_styled_digit_classifier(config: StyledClassifierConfig | None = None, device="cpu", progress: bool = True,
                                  checkpoint=None, resume: bool | str = False):
    """Train the classifier on the styled pool; return ``(classifier, history)`` (Adam, cosine decay,
    cross-entropy, random one-pixel shifts). With ``checkpoint`` (a ``gancourse.train.Checkpointer``),
    saves and resumes as ``fit`` does."""
    cfg = config or StyledClassifierConfig()
    V.instance(cfg, "config", StyledClassifierConfig)
    V.positive_int(cfg.styles, "styles")
    seed_everything(cfg.seed)
    pools = [StyledDigits(cfg.size, "pool", seed=s) for s in range(cfg.styles)]
    data = TensorImageDataset(torch.cat([p.images for p in pools]), torch.cat([p.labels for p in pools]),
                              pools[0].classes, name="styled pool")
    stream = batches(data, cfg.batch_size, generator=torch.Generator().manual_seed(cfg.seed), device=device)
    gen = torch.Generator().manual_seed(cfg.seed + 1)
    net = DigitClassifier(cfg.size, cfg.width, cfg.features, cfg.dropout).to(device)

    def batch_loss(i):
        x, y = next(stream)
        return F.cross_entropy(net(jitter(x, gen).to(device)), y)

    history = fit_judge(net, batch_loss, cfg.steps, cfg.lr, "styled digit classifier", progress=progress,
                        checkpoint=checkpoint, resume=resume, streams={"batches": stream, "gen": gen})
    return net, history


def held_out_accuracy(classifier: DigitClassifier, size: int = 16) -> float:
    """Accuracy on the 359 held-out digits in the target style (the translators' ``train`` + ``test``)."""
    few, rest = StyledDigits(size, "train"), StyledDigits(size, "test")
    return accuracy(classifier, torch.cat([few.images, rest.images]), torch.cat([few.labels, rest.labels]))


def styled_digit_classifier(device="cpu") -> DigitClassifier:
    """The shipped styled-digit classifier: checksum verified, ``weights_only=True``, eval mode, frozen."""
    return load_judge(PRETRAINED_NAME, lambda c: DigitClassifier(c["size"], c["width"], c["features"], c["dropout"]),
                      device=device)


RECIPE = recipes.Recipe(
    name=PRETRAINED_NAME, config=StyledClassifierConfig, train=train_styled_digit_classifier,
    trains_on="the embedded styled digits",
    evaluate=lambda net, cfg, history: {"held_out_accuracy": round(held_out_accuracy(net.cpu(), cfg.size), 4),
                                        "train_cross_entropy": round(history.mean("cross_entropy"), 4)},
    publish=lambda net, cfg: (PRETRAINED_NAME, {"classifier": net},
                              "CNN classifier of styled digits (notebook 15's target domain; 64-d features)"))
