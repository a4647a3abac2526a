r"""Styled digits: the course's digits redrawn in another style, the small target domain of notebook 15.

DeepI2I (Wang et al., NeurIPS 2020) transfers a GAN pretrained on a large source domain to
image-to-image translation on a *small* target domain. Here the source is the 1,438 plain training
digits (white strokes on black) and the target is the same ten classes drawn differently:

=============  =====================================================  ================================
style          how                                                    kept per image (``params``)
=============  =====================================================  ================================
thickness      grey dilation of the strokes by a disk of radius 0,    ``thickness`` in {0, 1, 2}
               1 or 2 pixels at 32x32 (scikit-image morphology)
texture        the strokes' brightness follows a crop of              ``texture_row``, ``texture_col``
               scikit-image's ``gravel`` texture, between 0.6 and 1 
background     a constant grey level in [0, 0.35] (of [0, 1])         ``background``
=============  =====================================================  ================================

The style is drawn per image from a generator seeded by (``seed``, split), so every machine makes
the same images. A translation "3 -> 8" in this domain should change the digit and keep the style
(thickness, texture, background): :func:`background_level` measures the easiest of the three.

Splits (disjoint source digits):

* ``"pool"``: the 1,438 digits of ``Digits(split="train")``, styled: a *large* sample of the target
  domain, used only to train the target-domain classifier and as the reference set of Fréchet
  distances (the translator never sees it);
* ``"train"``: the first ``per_class`` held-out digits of each class (``Digits(split="test")``),
  styled: the small training set of the translation (20 per class by default: 200 images);
* ``"test"``: the remaining held-out digits (159 with ``per_class=20``): inputs for evaluation.

    few = StyledDigits(16, "train")           # (200, 1, 16, 16) in [-1, 1], labels 0-9
    few.params["background"]                  # (200,) grey level of each image, in [0, 1]
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .. import _validate as V
from .images import Digits, TensorImageDataset, _resize, texture_image

SPLITS = ("pool", "train", "test")
BACKGROUND_RANGE = (0.0, 0.35)
STROKE_RANGE = (0.6, 1.0)
THICKNESS = (0, 1, 2)            # dilation radius at 32x32, in pixels
RENDER = 32                      # styles are drawn at 32x32, then resized to ``size``
_SPLIT_SEED = {"pool": 11, "train": 12, "test": 13}


def _few_shot_indices(labels: np.ndarray, per_class: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the first ``per_class`` images of every class, and of the rest (both sorted)."""
    first, rest = [], []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        first.append(idx[:per_class])
        rest.append(idx[per_class:])
    return np.sort(np.concatenate(first)), np.sort(np.concatenate(rest))


def stylize(ink: torch.Tensor, thickness: torch.Tensor, background: torch.Tensor,
            texture_origin: torch.Tensor) -> torch.Tensor:
    r"""Redraw digits in the target style: (N, 1, 32, 32) ink in [0, 1] -> images (N, 1, 32, 32) in [0, 1].

    For each image, with d = dilation of the ink by a disk of radius ``thickness[i]`` (grey-level
    morphology, scikit-image) and t = the gravel texture's crop at ``texture_origin[i]`` rescaled to
    [0.6, 1]: :math:`x = b\,(1 - d) + t\,d`, b = ``background[i]``. ``thickness`` (N,) integers in
    {0, 1, 2}, ``background`` (N,) in [0, 1], ``texture_origin`` (N, 2) integer (row, column) of the
    crop in the 128x128 texture (the 512x512 image shrunk 4x, so that its grain is visible at 32x32).
    """
    from skimage.morphology import dilation, disk

    V.images(ink, "ink", channels=1)
    if tuple(ink.shape[-2:]) != (RENDER, RENDER):
        raise ValueError(f"ink: expected {RENDER}x{RENDER} images, got shape {tuple(ink.shape)}")
    n = ink.shape[0]
    for value, name, shape in ((thickness, "thickness", (n,)), (background, "background", (n,)),
                               (texture_origin, "texture_origin", (n, 2))):
        if not isinstance(value, torch.Tensor) or tuple(value.shape) != shape:
            raise ValueError(f"{name}: expected a tensor of shape {shape}, got "
                             f"{tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__}")
    if thickness.is_floating_point() or int(thickness.min()) < 0 or int(thickness.max()) > max(THICKNESS):
        raise ValueError(f"thickness: expected integers in {THICKNESS}")
    texture = torch.from_numpy(texture_image("gravel"))[None, None]
    texture = F.interpolate(texture, size=(128, 128), mode="area")[0, 0]
    texture = (texture - texture.min()) / (texture.max() - texture.min())
    lo, hi = STROKE_RANGE
    out = torch.empty_like(ink)
    for i in range(n):
        img = ink[i, 0].numpy()
        r = int(thickness[i])
        d = torch.from_numpy(dilation(img, disk(r)) if r > 0 else img.copy())
        r0, c0 = int(texture_origin[i, 0]), int(texture_origin[i, 1])
        t = lo + (hi - lo) * texture[r0:r0 + RENDER, c0:c0 + RENDER]
        b = float(background[i])
        out[i, 0] = b * (1 - d) + t * d
    return out.clamp(0, 1)


def background_level(images: torch.Tensor) -> torch.Tensor:
    """The grey level of each image's background, in [0, 1]: (N, 1, H, W) in [-1, 1] -> (N,).

    The median over the pixels of the outer ring (two pixels wide at 16x16, four at 32x32), where
    the digits of this dataset rarely reach; mapped from [-1, 1] to [0, 1]. A translation that
    keeps the style keeps this number.
    """
    V.images(images, "images", channels=1)
    h, w = images.shape[-2:]
    if h < 8 or w < 8:
        raise ValueError(f"images: expected at least 8x8 pixels, got shape {tuple(images.shape)}")
    k = max(1, h // 8)
    x = images.detach().float().cpu()[:, 0]
    ring = torch.cat([x[:, :k].flatten(1), x[:, -k:].flatten(1), x[:, k:-k, :k].flatten(1),
                      x[:, k:-k, -k:].flatten(1)], 1)
    return (ring.median(dim=1).values + 1) / 2


class StyledDigits(TensorImageDataset):
    """The digits in the target style (thickness, gravel texture, grey background), see the module doc.

    ``size``: side in pixels (16 or 32 are the course's; any >= 8 works). ``split``: ``"pool"``,
    ``"train"`` or ``"test"``. ``per_class``: how many held-out digits of each class form the small
    ``"train"`` split (the rest is ``"test"``). ``seed``: the style draws. Images (N, 1, size, size)
    in [-1, 1]; ``labels`` (N,) digits; ``params``: ``thickness`` (N,) int64, ``background`` (N,)
    float in [0, 1], ``texture_row`` / ``texture_col`` (N,) int64.
    """

    def __init__(self, size: int = 16, split: str = "train", per_class: int = 20, seed: int = 0):
        size = V.positive_int(size, "size", minimum=8)
        V.choice(split, "split", SPLITS)
        per_class = V.positive_int(per_class, "per_class")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed: expected an int >= 0, got {seed!r}")
        source = Digits(RENDER, "train" if split == "pool" else "test")
        ink, labels = (source.images + 1) / 2, source.labels
        if split != "pool":
            counts = torch.bincount(labels, minlength=10)
            if per_class >= int(counts.min()):
                raise ValueError(f"per_class: expected fewer than {int(counts.min())} (the rarest class of the "
                                 f"held-out digits), got {per_class}")
            first, rest = _few_shot_indices(labels.numpy(), per_class)
            idx = torch.from_numpy(first if split == "train" else rest)
            ink, labels = ink[idx], labels[idx]
        n = ink.shape[0]
        g = torch.Generator().manual_seed(int(np.random.SeedSequence([int(seed), _SPLIT_SEED[split]]).generate_state(1)[0]))
        thickness = torch.randint(0, len(THICKNESS), (n,), generator=g)
        lo, hi = BACKGROUND_RANGE
        background = lo + (hi - lo) * torch.rand(n, generator=g)
        origin = torch.randint(0, 128 - RENDER + 1, (n, 2), generator=g)
        styled = stylize(ink, thickness, background, origin)
        images = _resize(styled, size).clamp(0, 1) * 2 - 1
        super().__init__(images, labels, [str(d) for d in range(10)], name=f"styled digits ({split})")
        self.split = split
        self.params = {"thickness": thickness, "background": background,
                       "texture_row": origin[:, 0], "texture_col": origin[:, 1]}
