r"""Procedural surface defects: normal texture crops, and crops with a scratch, a spot or a crack.

The dataset of notebook 14 (Defect-GAN). Automated inspection needs defect images, and real ones
are rare; normal surfaces are plentiful. This dataset imitates that situation on scikit-image's
bundled grayscale textures (brick, grass, gravel):

* a **normal** sample is a random crop of a texture (``size * 2`` pixels, shrunk to ``size`` by
  area averaging, contrast standardised per crop);
* a **defect** sample is another crop with one defect painted on it, and comes with its pixel
  **mask** (the defect's opacity, in [0, 1]), its **class** and the **clean** crop it was painted
  on (so that a restoration can be scored against the truth).

Three defect classes, each drawn with its own random geometry and appearance:

=============  =============================================================================
``scratch``    a thin, nearly straight line, lighter than the surface (exposed material)
``spot``       a roundish stain with a wobbly outline and a soft edge, darker than the surface
``crack``      a jagged dark path (a random walk of short segments), sometimes with a branch
=============  =============================================================================

A defect is painted by layer-wise composition, the very model Defect-GAN learns:
``defect = clean ⊙ (1 − a) + appearance ⊙ a`` with the opacity map ``a`` (the mask). Shapes are
drawn at twice the image size and shrunk, so their edges are anti-aliased.

Labels: 0 = normal, 1 = scratch, 2 = spot, 3 = crack (``CLASSES``). ``Defects(n_per_class=...)``
holds ``n_per_class`` samples of each of the four classes, in the order normal, scratch, spot,
crack, repeated (sample i has label i % 4). Every sample is cut from its own random place (the
normal crops are not the defect crops' clean versions: the two groups are unpaired, as
Defect-GAN's training data are). Training crops come from the top 3/4 of each texture photograph
and test crops from the bottom 1/4, so the two splits never share a pixel of texture; train and
test also use different random streams. Deterministic in (``seed``, ``split``, ``n_per_class``,
``size``).

    ds = Defects(n_per_class=500, size=32, split="train")   # 2,000 images (N, 1, 32, 32) in [-1, 1]
    ds.labels            # (N,) int64, CLASSES
    ds.masks             # (N, 1, 32, 32) float opacity in [0, 1], zero for normal samples
    ds.clean             # (N, 1, 32, 32) the crop before the defect (= the image for normal samples)
    ds.of_class("crack") # the crack images only
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from .. import _validate as V
from .folders import class_folders
from .images import SPLITS, TEXTURE_NAMES, TensorImageDataset, check_procedural, texture_image

CLASSES = ("normal", "scratch", "spot", "crack")
DEFECT_CLASSES = CLASSES[1:]
NORMAL, SCRATCH, SPOT, CRACK = range(4)
N_CLASSES = len(CLASSES)
SIZES = (16, 32, 64)
SUPERSAMPLE = 2                    # shapes are drawn at 2x and shrunk (anti-aliasing)
CROP_SCALE = 2                     # texture pixels per image pixel (a coarser texture reads better at 32 px)
TEXTURE_STD = 0.11                 # contrast of every crop after standardisation, in [0, 1] units
_ROWS = {"train": (0, 384), "test": (384, 512), "all": (0, 512)}
_CHUNK = 256                       # samples rendered at once (bounds the memory of the distance maps)
_CRACK_SEGMENTS = 7


def _generator(seed: int, split: str, size: int, n_per_class: int) -> torch.Generator:
    state = np.random.SeedSequence([seed, SPLITS.index(split), size, n_per_class, 14]).generate_state(1)[0]
    return torch.Generator().manual_seed(int(state))


def _uniform(g: torch.Generator, shape, lo: float, hi: float) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(shape, generator=g)


# ------------------------------------------------------------------------------------------------
# Normal surfaces: standardised texture crops
# ------------------------------------------------------------------------------------------------

def _texture_bank(split: str) -> list[torch.Tensor]:
    """The three photographs as (rows, 512) tensors in [0, 1], limited to the split's rows."""
    r0, r1 = _ROWS[split]
    return [torch.from_numpy(texture_image(name))[r0:r1] for name in TEXTURE_NAMES]


def _crops(bank: list[torch.Tensor], textures: torch.Tensor, size: int, g: torch.Generator) -> torch.Tensor:
    """One crop per entry of ``textures`` (N,): (N, 1, size, size) in [0, 1], each cut at a random
    place, randomly mirrored, shrunk from ``CROP_SCALE * size`` pixels, standardised to mean 0.5 and
    std ``TEXTURE_STD`` (clipped to [0.02, 0.98] so that defects stay visible on any texture)."""
    n, side = textures.shape[0], CROP_SCALE * size
    out = torch.empty(n, 1, size, size)
    oy, ox = torch.rand(n, generator=g), torch.rand(n, generator=g)
    flip = torch.rand(n, generator=g) < 0.5
    for t, image in enumerate(bank):
        idx = (textures == t).nonzero().flatten()
        if idx.numel() == 0:
            continue
        h, w = image.shape
        ys = (oy[idx] * (h - side + 1)).long()
        xs = (ox[idx] * (w - side + 1)).long()
        r = torch.arange(side)
        crops = image[(ys.view(-1, 1, 1) + r.view(1, side, 1)), (xs.view(-1, 1, 1) + r.view(1, 1, side))]
        crops = torch.where(flip[idx].view(-1, 1, 1), crops.flip(-1), crops)
        out[idx] = F.avg_pool2d(crops.unsqueeze(1), CROP_SCALE)
    mean = out.mean((1, 2, 3), keepdim=True)
    std = out.std((1, 2, 3), keepdim=True).clamp(min=1e-3)
    return (0.5 + TEXTURE_STD * (out - mean) / std).clamp(0.02, 0.98)


# ------------------------------------------------------------------------------------------------
# Defect geometry: opacity maps at the supersampled size
# ------------------------------------------------------------------------------------------------

def _grid(s: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel-centre coordinates (1, s, 1) and (1, 1, s) in [0, 1]."""
    c = (torch.arange(s, dtype=torch.float32) + 0.5) / s
    return c.view(1, s, 1), c.view(1, 1, s)


def _segment_distance(v, u, a, b) -> torch.Tensor:
    """Distance from every pixel (v, u) to segments a -> b; a, b: (N, K, 2) as (v, u) -> (N, K, s, s)."""
    av, au = a[..., 0, None, None], a[..., 1, None, None]
    dv, du = (b - a)[..., 0, None, None], (b - a)[..., 1, None, None]
    pv, pu = v.unsqueeze(1) - av, u.unsqueeze(1) - au
    t = ((pv * dv + pu * du) / (dv ** 2 + du ** 2).clamp(min=1e-8)).clamp(0, 1)
    return torch.sqrt((pv - t * dv) ** 2 + (pu - t * du) ** 2)


def _line_alpha(distance: torch.Tensor, half_width: torch.Tensor, s: int) -> torch.Tensor:
    """Opacity of a stroke: 1 within ``half_width`` of the path, a one-pixel linear fade outside."""
    edge = 1.0 / s
    return ((half_width.view(-1, 1, 1) + edge - distance) / edge).clamp(0, 1)


def _scratch(n: int, s: int, g: torch.Generator) -> tuple[torch.Tensor, dict]:
    """Thin, slightly bent lines: a two-segment path through a random centre at a random angle."""
    centre = _uniform(g, (n, 2), 0.3, 0.7)
    angle = _uniform(g, n, 0.0, math.pi)
    length = _uniform(g, n, 0.45, 0.8)
    bend = _uniform(g, n, -0.04, 0.04)
    direction = torch.stack([torch.sin(angle), torch.cos(angle)], 1)
    normal = torch.stack([direction[:, 1], -direction[:, 0]], 1)
    a = centre - 0.5 * length.view(n, 1) * direction
    b = centre + 0.5 * length.view(n, 1) * direction
    m = centre + bend.view(n, 1) * normal
    pts_a, pts_b = torch.stack([a, m], 1), torch.stack([m, b], 1)
    v, u = _grid(s)
    dist = _segment_distance(v, u, pts_a, pts_b).amin(1)
    half = _uniform(g, n, 0.4, 0.65) / s * SUPERSAMPLE        # about one image pixel wide
    return _line_alpha(dist, half, s), {}


def _spot(n: int, s: int, g: torch.Generator) -> tuple[torch.Tensor, dict]:
    """Stains: an ellipse whose radius wobbles with the angle (two random harmonics), soft edge."""
    centre = _uniform(g, (n, 2), 0.25, 0.75)
    radius = _uniform(g, n, 0.09, 0.17)
    aspect = _uniform(g, n, 0.7, 1.0)
    tilt = _uniform(g, n, 0.0, math.pi)
    harm = _uniform(g, (n, 2), 0.0, 0.18)
    phase = _uniform(g, (n, 2), 0.0, 2 * math.pi)
    v, u = _grid(s)
    col = lambda t: t.view(n, 1, 1)                                    # noqa: E731
    dv, du = v - col(centre[:, 0]), u - col(centre[:, 1])
    c, si = torch.cos(col(tilt)), torch.sin(col(tilt))
    x, y = c * du + si * dv, (-si * du + c * dv) / col(aspect)
    rho, theta = torch.sqrt(x ** 2 + y ** 2), torch.atan2(y, x)
    r = col(radius) * (1 + col(harm[:, 0]) * torch.cos(2 * theta + col(phase[:, 0]))
                       + col(harm[:, 1]) * torch.cos(3 * theta + col(phase[:, 1])))
    soft = 0.25 * col(radius)
    alpha = ((r - rho) / soft + 0.5).clamp(0, 1)
    return alpha, {"depth": _uniform(g, (n, 1, 1), 0.0, 1.0)}


def _crack(n: int, s: int, g: torch.Generator) -> tuple[torch.Tensor, dict]:
    """Cracks: a random walk of short segments whose heading turns sharply at every vertex, and
    with probability 1/2 a shorter branch leaving from one of its vertices."""
    k = _CRACK_SEGMENTS
    start = _uniform(g, (n, 2), 0.25, 0.75)
    heading = _uniform(g, n, 0.0, 2 * math.pi)
    turns = _uniform(g, (n, k), -0.9, 0.9)
    steps = _uniform(g, (n, k), 0.05, 0.09)
    angles = heading.view(n, 1) + torch.cumsum(turns, 1)
    moves = torch.stack([torch.sin(angles), torch.cos(angles)], 2) * steps.unsqueeze(2)
    # centre the path on the start point so that it stays inside the image
    path = torch.cat([torch.zeros(n, 1, 2), torch.cumsum(moves, 1)], 1)
    path = path - path.mean(1, keepdim=True) + start.unsqueeze(1)
    a, b = path[:, :-1], path[:, 1:]
    branch_from = torch.randint(1, k - 1, (n,), generator=g)
    origin = path[torch.arange(n), branch_from]
    b_angle = angles[torch.arange(n), branch_from] + torch.where(torch.rand(n, generator=g) < 0.5, 1.0, -1.0) \
        * _uniform(g, n, 0.6, 1.2)
    b_turns = _uniform(g, (n, 3), -0.6, 0.6)
    b_angles = b_angle.view(n, 1) + torch.cumsum(b_turns, 1)
    b_moves = torch.stack([torch.sin(b_angles), torch.cos(b_angles)], 2) * _uniform(g, (n, 3, 1), 0.04, 0.06)
    b_path = torch.cat([origin.unsqueeze(1), origin.unsqueeze(1) + torch.cumsum(b_moves, 1)], 1)
    has_branch = torch.rand(n, generator=g) < 0.5
    v, u = _grid(s)
    dist = _segment_distance(v, u, a, b).amin(1)
    b_dist = _segment_distance(v, u, b_path[:, :-1], b_path[:, 1:]).amin(1)
    dist = torch.where(has_branch.view(n, 1, 1), torch.minimum(dist, b_dist), dist)
    half = _uniform(g, n, 0.5, 0.9) / s * SUPERSAMPLE
    return _line_alpha(dist, half, s), {}


_SHAPES = {SCRATCH: _scratch, SPOT: _spot, CRACK: _crack}


def _appearance(kind: int, clean: torch.Tensor, extra: dict, g: torch.Generator) -> torch.Tensor:
    """What the defect's pixels look like (N, 1, s, s) in [0, 1], given the clean surface."""
    n = clean.shape[0]
    if kind == SCRATCH:                     # exposed, lighter material, a little of the texture left
        level = _uniform(g, (n, 1, 1, 1), 0.85, 0.97)
        return level + 0.15 * (clean - 0.5)
    if kind == SPOT:                        # a stain: the surface darkened, darker towards the middle
        darkness = _uniform(g, (n, 1, 1, 1), 0.25, 0.45)
        return clean * darkness * (0.8 + 0.4 * extra["depth"].unsqueeze(1))
    level = _uniform(g, (n, 1, 1, 1), 0.02, 0.1)      # a crack: a dark gap
    return level + 0.1 * clean


# ------------------------------------------------------------------------------------------------
# The dataset
# ------------------------------------------------------------------------------------------------

def _paint(clean: torch.Tensor, kind: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """One random defect of class ``kind`` on each clean crop (n, 1, size, size) in [0, 1]:
    (images, masks), drawn at twice the size and shrunk."""
    n, size = clean.shape[0], clean.shape[-1]
    alpha, extra = _SHAPES[kind](n, size * SUPERSAMPLE, g)
    alpha = F.avg_pool2d(alpha.unsqueeze(1), SUPERSAMPLE)              # (n, 1, size, size)
    look = _appearance(kind, clean, extra, g)
    return (clean * (1 - alpha) + look.clamp(0, 1) * alpha).clamp(0, 1), alpha


def paint(clean: torch.Tensor, kind: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Paint one new random defect of class ``kind`` (1 = scratch, 2 = spot, 3 = crack) on each
    crop of ``clean`` (N, 1, H, W) in [-1, 1], by the dataset's own process. Returns ``(images,
    masks)``: images in [-1, 1], masks (N, 1, H, W) opacity in [0, 1]. Two seeds give two different
    real defects of the same class on the same surface: the variation a defect synthesiser should
    reach (notebook 14)."""
    V.images(clean, "clean", channels=1)
    if isinstance(kind, bool) or not isinstance(kind, int) or kind not in _SHAPES:
        raise ValueError(f"kind: expected a defect class in {sorted(_SHAPES)} (scratch, spot, crack), got {kind!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed: expected a non-negative int, got {seed!r}")
    g = torch.Generator().manual_seed(seed)
    images, masks = [], []
    for start in range(0, clean.shape[0], _CHUNK):
        im, m = _paint((clean[start:start + _CHUNK] + 1) / 2, kind, g)
        images.append(im * 2 - 1)
        masks.append(m)
    return torch.cat(images), torch.cat(masks)


def make_defects(n_per_class: int, size: int = 32, split: str = "train", seed: int = 0) -> dict:
    """The tensors of :class:`Defects`: ``{"images", "labels", "masks", "clean", "textures"}``.

    ``4 * n_per_class`` samples, sample i of class i % 4. images and clean: (N, 1, size, size) in
    [-1, 1]; masks: (N, 1, size, size) opacity in [0, 1] (zeros for normal samples); labels and
    textures: (N,) int64 (``CLASSES``, index into ``TEXTURE_NAMES``).
    """
    check_procedural(n_per_class, size, split, seed, SIZES, n_name="n_per_class")
    g = _generator(int(seed), split, size, n_per_class)
    n = N_CLASSES * n_per_class
    labels = torch.arange(n) % N_CLASSES
    textures = torch.randint(0, len(TEXTURE_NAMES), (n,), generator=g)
    clean = _crops(_texture_bank(split), textures, size, g)
    images, masks = clean.clone(), torch.zeros_like(clean)
    for kind, draw in _SHAPES.items():
        idx = (labels == kind).nonzero().flatten()
        for start in range(0, idx.numel(), _CHUNK):
            chunk = idx[start:start + _CHUNK]
            images[chunk], masks[chunk] = _paint(clean[chunk], kind, g)
    return {"images": images * 2 - 1, "labels": labels, "masks": masks, "clean": clean * 2 - 1,
            "textures": textures}


class Defects(TensorImageDataset):
    """Normal and defective texture crops: ``dataset[i] = (image, label)``.

    ``n_per_class`` samples of each class of ``CLASSES`` (normal, scratch, spot, crack), side
    ``size`` (16, 32 or 64), one channel, in [-1, 1]. Besides ``images`` and ``labels``:
    ``masks`` (N, 1, H, W) defect opacity in [0, 1], ``clean`` (N, 1, H, W) the crop before the
    defect, ``textures`` (N,) which photograph the crop comes from. 2,000 samples take about a
    second of one CPU core.
    """

    def __init__(self, n_per_class: int = 500, size: int = 32, split: str = "train", seed: int = 0):
        t = make_defects(n_per_class, size, split, seed)
        super().__init__(t["images"], t["labels"], list(CLASSES), name="defects")
        self.masks, self.clean, self.textures = t["masks"], t["clean"], t["textures"]
        self.size, self.split, self.seed = size, split, seed

    def of_class(self, name: str) -> torch.Tensor:
        """The images (M, 1, H, W) of one class, by name (``"normal"``, ``"scratch"``, ...)."""
        k = CLASSES.index(V.choice(name, "name", CLASSES))
        return self.images[self.labels == k]

    def index_of_class(self, name: str) -> torch.Tensor:
        """Indices (M,) of the samples of one class, by name."""
        k = CLASSES.index(V.choice(name, "name", CLASSES))
        return (self.labels == k).nonzero().flatten()

    def __repr__(self):
        return (f"Defects(n={len(self)}, size={self.size}, split={self.split!r}, "
                f"classes={'/'.join(CLASSES)})")


def random_regions(n: int, size: int, generator: torch.Generator | None = None,
                   side: tuple[float, float] = (0.4, 0.65)) -> torch.Tensor:
    """``n`` random regions (N, size, size) bool where a defect may go: half axis-aligned rectangles,
    half ellipses, each side (or diameter) a uniform share ``side`` of the image, anywhere inside it.
    Defect-GAN's training shows G control maps with such regions (the rest of the map says "normal"); the same
    distribution gives the held-out placements that measure whether G follows them."""
    n = V.positive_int(n, "n")
    size = V.positive_int(size, "size")
    lo, hi = side
    if not 0 < lo <= hi <= 1:
        raise ValueError(f"side: expected shares 0 < low <= high <= 1, got {side!r}")
    u = torch.rand(n, 6, generator=generator)
    h, w = (lo + (hi - lo) * u[:, 0]) * size, (lo + (hi - lo) * u[:, 1]) * size
    top, left = u[:, 2] * (size - h), u[:, 3] * (size - w)
    c = torch.arange(size, dtype=torch.float32) + 0.5
    rows, cols = c.view(1, -1, 1), c.view(1, 1, -1)
    cy, cx = (top + h / 2).view(-1, 1, 1), (left + w / 2).view(-1, 1, 1)
    ry, rx = (h / 2).view(-1, 1, 1), (w / 2).view(-1, 1, 1)
    box = ((rows - cy).abs() <= ry) & ((cols - cx).abs() <= rx)
    ellipse = ((rows - cy) / ry) ** 2 + ((cols - cx) / rx) ** 2 <= 1
    return torch.where((u[:, 4] < 0.5).view(-1, 1, 1), box, ellipse)


def targets_for(labels: torch.Tensor, n_domains: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Defect-GAN's training targets: a random defect class (1 .. n_domains − 1) for every normal image
    (label 0), normal (0) for every defect image. labels (N,) int -> targets (N,) int."""
    V.class_indices(labels, "labels", V.positive_int(n_domains, "n_domains", minimum=2), ndim=1)
    random_defect = torch.randint(1, n_domains, labels.shape, generator=generator).to(labels.device)
    return torch.where(labels == 0, random_defect, torch.zeros_like(labels))


def few_shot(n_normal: int, n_real_defects: int, size: int = 32, seed: int = 0):
    """Notebook 14's training set: ``n_normal`` real normal crops and the first ``n_real_defects`` real
    crops of each defect class of ``Defects(max(...), size, "train", seed)``. Returns ``(images (M, 1,
    S, S), labels (M,), dataset)``; the same call always returns the same crops, so a classifier can
    be trained on exactly the real defects a GAN saw."""
    n_normal = V.positive_int(n_normal, "n_normal")
    n_real_defects = V.positive_int(n_real_defects, "n_real_defects")
    ds = Defects(max(n_normal, n_real_defects), size, "train", seed=seed)
    idx = torch.cat([ds.index_of_class("normal")[:n_normal]] +
                    [ds.index_of_class(name)[:n_real_defects] for name in CLASSES[1:]])
    return ds.images[idx], ds.labels[idx], ds


def folder_domains(root, size: int) -> tuple[torch.Tensor, torch.Tensor, list]:
    """Real defects from ``root/<class>/...`` (MVTec AD's ``test/`` layout): RGB images (N, 3, size,
    size) in [-1, 1], domain labels (N,) with the normal class (``good`` or ``normal``) as domain 0,
    and the class names in domain order."""
    folder = class_folders(root, size, channels=3)
    names = list(folder.classes)
    normal = next((n for n in ("good", "normal") if n in names), None)
    if normal is None or len(names) < 2:
        raise ValueError(f"data: expected class sub-folders of {root} including 'good' or 'normal' and at least "
                         f"one defect class, got {names}")
    order = [normal] + [n for n in names if n != normal]
    remap = torch.tensor([order.index(n) for n in names])
    images, labels = folder.tensors()
    return images, remap[labels], order


def _register() -> None:
    from . import register_dataset

    register_dataset("defects", Defects)


_register()

__all__ = ["CLASSES", "DEFECT_CLASSES", "N_CLASSES", "NORMAL", "SCRATCH", "SPOT", "CRACK", "Defects", "few_shot", "folder_domains", "make_defects", "paint", "random_regions", "targets_for"]
