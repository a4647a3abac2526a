r"""Procedural shapes: one circle, square or triangle per image, every attribute a label.

The dataset of notebooks 11 and 12 (unpaired and many-domain translation). Each image holds one
shape on a plain, slightly shaded background; five attributes are drawn independently per image
and kept as integer labels:

=============  =====================================================  ==================
attribute      values                                                 what changes
=============  =====================================================  ==================
``shape``      circle, square, triangle                               the outline
``color``      red, green, blue, yellow                               the shape's colour
``fill``       solid, striped                                         diagonal dark stripes
``size``       small, large                                           circumradius band
``background`` grey, cream, sky                                       the background tint
=============  =====================================================  ==================

Continuous parameters are kept too (``params``: centre, radius, rotation, stripe phase). A
striped shape alternates bands of its colour with bands of a dark shade of the same colour (a
zebra's stripes), at 45 degrees with a period of 1/8 of the image side and a random phase, so the
hue of a shape survives the stripes. Colours carry a small random jitter, backgrounds a gentle
gradient, every pixel a little noise.

Each image comes with its **foreground mask** (``masks``, (N, 1, S, S) bool: the pixels more
than half covered by the shape), so that translations can be scored by how well they keep the
outline (intersection over union of foreground masks, notebook 11). Images are rendered at 3x
(size 32) or 2x (size 64) and shrunk by area averaging (anti-aliased edges); sizes 32 (default)
and 64.

Determinism: image i depends only on (``seed``, ``split``, the fixed attributes, i): the
parameters are drawn in blocks of 256 images from a generator seeded by those, so the first 50
images of ``Shapes(n=100)`` are the 50 images of ``Shapes(n=50)``. Train and test splits use
different streams.

**Unpaired domains for CycleGAN.** ``fixed={"fill": "striped"}`` draws only striped shapes, from
a stream of its own: :func:`cyclegan_domains` returns X (solid) and Y (striped) with every other
attribute drawn independently in the two, so no image of X has its twin in Y (a horse <-> zebra in
miniature).

    ds = Shapes(n=2000, size=32)                    # images (2000, 3, 32, 32) in [-1, 1]
    ds.attributes[:, ATTRIBUTES.index("color")]     # (2000,) int64 colour labels
    ds.labels                                       # the ``target`` attribute (default "shape")
    X, Y = cyclegan_domains(n=2000)                 # solid and striped shapes, unpaired
"""
from __future__ import annotations

import math
import zlib

import numpy as np
import torch
import torch.nn.functional as F

from .. import _validate as V
from .images import TensorImageDataset, check_procedural

ATTRIBUTES = ("shape", "color", "fill", "size", "background")
VALUES = {
    "shape": ("circle", "square", "triangle"),
    "color": ("red", "green", "blue", "yellow"),
    "fill": ("solid", "striped"),
    "size": ("small", "large"),
    "background": ("grey", "cream", "sky"),
}
N_VALUES = tuple(len(VALUES[a]) for a in ATTRIBUTES)     # (3, 4, 2, 2, 3)

#: shape colours, RGB in [0, 1], one row per ``VALUES["color"]``
COLORS = torch.tensor([
    [0.85, 0.15, 0.15],
    [0.15, 0.62, 0.20],
    [0.15, 0.30, 0.85],
    [0.95, 0.80, 0.10],
])
#: background colours, RGB in [0, 1], one row per ``VALUES["background"]``
BACKGROUNDS = torch.tensor([
    [0.82, 0.82, 0.82],
    [0.93, 0.88, 0.74],
    [0.76, 0.86, 0.96],
])
#: circumradius bands (fractions of the image side) of the two sizes
RADII = ((0.18, 0.24), (0.27, 0.34))
STRIPE_PERIOD = 1 / 8          # of the image side
STRIPE_ANGLE = math.pi / 4
DARK = 0.3                     # the dark stripes: this fraction of the shape's colour
SIZES = (32, 64)
SPLITS = ("train", "test")
SUPERSAMPLE = {32: 3, 64: 2}  # render at 96x96 or 128x128, then shrink
BLOCK = 256                    # images per block of random draws (fixes what image i looks like)


def _attribute_value(name: str, value) -> int:
    """An attribute value given by index or by name -> its index."""
    values = VALUES[name]
    if isinstance(value, str):
        if value not in values:
            raise ValueError(f"fixed[{name!r}]: unknown value {value!r}; expected one of {', '.join(values)}")
        return values.index(value)
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value < len(values):
        raise ValueError(f"fixed[{name!r}]: expected an index in [0, {len(values) - 1}] or one of "
                         f"{', '.join(values)}, got {value!r}")
    return int(value)


def _check_fixed(fixed) -> dict[str, int]:
    if fixed is None:
        return {}
    if not isinstance(fixed, dict):
        raise TypeError(f"fixed: expected a dict {{attribute: value}}, got {type(fixed).__name__}")
    out = {}
    for name, value in fixed.items():
        if name not in ATTRIBUTES:
            raise ValueError(f"fixed: unknown attribute {name!r}; expected some of {', '.join(ATTRIBUTES)}")
        out[name] = _attribute_value(name, value)
    return dict(sorted(out.items()))


def _block_generator(seed: int, split: str, fixed: dict, block: int) -> torch.Generator:
    """The generator of one block of images: a function of (seed, split, fixed attributes, block)."""
    stream = zlib.crc32(repr(sorted(fixed.items())).encode())     # a fixed attribute = another stream
    state = np.random.SeedSequence([seed, SPLITS.index(split), stream, block]).generate_state(1)[0]
    return torch.Generator().manual_seed(int(state))


def _draw(n: int, g: torch.Generator, fixed: dict) -> tuple[torch.Tensor, dict]:
    """Labels (n, 5) int64 and continuous parameters of n images."""
    labels = torch.stack([torch.randint(0, k, (n,), generator=g) for k in N_VALUES], 1)
    for name, value in fixed.items():
        labels[:, ATTRIBUTES.index(name)] = value
    u = torch.rand(n, 9, generator=g)
    size = labels[:, 3]
    lo = torch.tensor([RADII[0][0], RADII[1][0]])[size]
    hi = torch.tensor([RADII[0][1], RADII[1][1]])[size]
    r = lo + (hi - lo) * u[:, 0]
    margin = r + 0.04                                   # the shape never touches the border
    params = {
        "cx": margin + (1 - 2 * margin) * u[:, 1],
        "cy": margin + (1 - 2 * margin) * u[:, 2],
        "radius": r,
        "angle": 2 * math.pi * u[:, 3],
        "phase": u[:, 4],
        "color_jitter": (u[:, 5:8] - 0.5) * 0.12,          # +-0.06 per channel
        "gradient": (u[:, 8] - 0.5) * 0.16,                # background brightness slope, top to bottom
    }
    return labels, params


def _inside(labels: torch.Tensor, p: dict, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Boolean (n, R, R): which render-grid points (u right, v down, in [0, 1]) lie inside each shape."""
    col = lambda t: t.view(-1, 1, 1)
    du, dv = u - col(p["cx"]), v - col(p["cy"])
    cos, sin = col(torch.cos(p["angle"])), col(torch.sin(p["angle"]))
    x, y = cos * du + sin * dv, -sin * du + cos * dv           # coordinates in the shape's own frame
    r = col(p["radius"])
    circle = x ** 2 + y ** 2 < (0.88 * r) ** 2                 # areas of the three shapes are similar
    square = torch.maximum(x.abs(), y.abs()) < 0.78 * r
    # equilateral triangle of circumradius r: three half-planes x·n_k < r/2, normals 120 degrees apart
    tri = torch.ones_like(circle)
    for k in range(3):
        a = math.pi / 2 + 2 * math.pi * k / 3
        tri = tri & (x * math.cos(a) + y * math.sin(a) < r / 2)
    shape = col(labels[:, 0])
    return torch.where(shape == 0, circle, torch.where(shape == 1, square, tri))


def _render_block(labels: torch.Tensor, p: dict, size: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Images (n, 3, size, size) in [0, 1] and masks (n, 1, size, size) bool of one block."""
    k = SUPERSAMPLE[size]
    n, R = labels.shape[0], size * k
    c = (torch.arange(R, dtype=torch.float32) + 0.5) / R
    v, u = c.view(1, R, 1), c.view(1, 1, R)
    inside = _inside(labels, p, u, v)                                      # (n, R, R)
    t = (u * math.cos(STRIPE_ANGLE) + v * math.sin(STRIPE_ANGLE)) / STRIPE_PERIOD + p["phase"].view(-1, 1, 1)
    dark = (labels[:, 2] == 1).view(-1, 1, 1) & (torch.frac(t) < 0.5)    # stripes of striped shapes only
    colour = (COLORS[labels[:, 1]] + p["color_jitter"]).clamp(0, 1).view(n, 3, 1, 1)
    shade = torch.where(dark, DARK, 1.0).unsqueeze(1)                     # (n, 1, R, R)
    back = BACKGROUNDS[labels[:, 4]].view(n, 3, 1, 1) * (1 + p["gradient"].view(n, 1, 1, 1) * (v - 0.5))
    img = torch.where(inside.unsqueeze(1), colour * shade, back)
    img = F.avg_pool2d(img, k)                                             # area averaging: anti-aliased
    cover = F.avg_pool2d(inside.unsqueeze(1).float(), k)
    img = img + 0.02 * torch.randn(img.shape, generator=g)
    return img.clamp(0, 1), cover > 0.5


def make_shapes(n: int, size: int = 32, split: str = "train", seed: int = 0,
                fixed: dict | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, dict]:
    """``n`` shape images with their labels, foreground masks and parameters.

    Returns ``images`` (n, 3, size, size) float32 in [-1, 1], ``labels`` (n, 5) int64 (columns in
    the order of ``ATTRIBUTES``), ``masks`` (n, 1, size, size) bool and ``params`` (a dict of (n,)
    tensors: cx, cy, radius (fractions of the side), angle (radians), phase (of the stripes)).
    ``fixed`` pins attributes, e.g. ``{"fill": "striped"}`` (by name or index); each distinct
    ``fixed`` draws from its own random stream. ``size`` is 32 or 64.
    """
    n = check_procedural(n, size, split, seed, SIZES, SPLITS)
    fixed = _check_fixed(fixed)
    images, labels, masks, params = [], [], [], []
    for block in range(math.ceil(n / BLOCK)):
        g = _block_generator(int(seed), split, fixed, block)
        lab, par = _draw(BLOCK, g, fixed)                                # always a whole block: i fixes image i
        keep = min(BLOCK, n - block * BLOCK)
        lab, par = lab[:keep], {k: v[:keep] for k, v in par.items()}
        img, mask = _render_block(lab, par, size, g)
        images.append(img), labels.append(lab), masks.append(mask), params.append(par)
    params = {k: torch.cat([p[k] for p in params]) for k in ("cx", "cy", "radius", "angle", "phase")}
    return torch.cat(images) * 2 - 1, torch.cat(labels), torch.cat(masks), params


class Shapes(TensorImageDataset):
    """Shape images with all their attributes: ``dataset[i] = (image, label)``.

    ``images`` (N, 3, S, S) in [-1, 1]; ``labels`` (N,): the ``target`` attribute (default
    ``"shape"``), so that ``data.batches`` and classifiers work as on any labelled dataset;
    ``attributes`` (N, 5) int64: all five labels, columns in the order of ``ATTRIBUTES``;
    ``masks`` (N, 1, S, S) bool: the foreground; ``params``: continuous parameters (see
    :func:`make_shapes`). ``fixed`` pins attributes (``{"fill": "solid"}``). 4,000 images take a
    few seconds to render.
    """

    def __init__(self, n: int = 2000, size: int = 32, split: str = "train", seed: int = 0,
                 target: str = "shape", fixed: dict | None = None):
        V.choice(target, "target", ATTRIBUTES)
        images, attributes, masks, params = make_shapes(n, size, split, seed, fixed)
        k = ATTRIBUTES.index(target)
        super().__init__(images, attributes[:, k].clone(), list(VALUES[target]), name="shapes")
        self.attributes, self.masks, self.params = attributes, masks, params
        self.size, self.split, self.seed, self.target = size, split, seed, target
        self.fixed = _check_fixed(fixed)

    def attribute(self, name: str) -> torch.Tensor:
        """The (N,) labels of one attribute, e.g. ``ds.attribute("color")``."""
        V.choice(name, "name", ATTRIBUTES)
        return self.attributes[:, ATTRIBUTES.index(name)]

    def __repr__(self):
        fixed = f", fixed={ {k: VALUES[k][v] for k, v in self.fixed.items()} }" if self.fixed else ""
        return f"Shapes(n={len(self)}, size={self.size}, split={self.split!r}, target={self.target!r}{fixed})"


def cyclegan_domains(n: int = 2000, size: int = 32, split: str = "train", seed: int = 0,
                     attribute: str = "fill", values=(0, 1)) -> tuple[Shapes, Shapes]:
    """Two unpaired domains for CycleGAN: X has ``attribute`` = ``values[0]``, Y ``values[1]``.

    With the defaults: X = solid shapes, Y = striped shapes. The two are drawn from independent
    random streams: shape, colour, size, background and position of the i-th image of X have
    nothing to do with those of the i-th (or any) image of Y. ``labels`` of both hold the value of
    ``attribute`` (for the fill: 0 in X, 1 in Y). Values by index or name (``("red", "blue")``).
    """
    V.choice(attribute, "attribute", ATTRIBUTES)
    if not isinstance(values, (tuple, list)) or len(values) != 2:
        raise TypeError(f"values: expected a pair of attribute values, got {values!r}")
    x_value, y_value = (_attribute_value(attribute, v) for v in values)
    if x_value == y_value:
        raise ValueError(f"values: expected two different values of {attribute!r}, got {values!r}")
    X = Shapes(n, size, split, seed, target=attribute, fixed={attribute: x_value})
    Y = Shapes(n, size, split, seed, target=attribute, fixed={attribute: y_value})
    return X, Y


# the attributes behind StarGAN's label groups in each setting of notebook 12 (one tuple per dataset)
STARGAN_LABELS = {"single": (("color", "background"),), "mask": (("color",), ("background",)),
                  "shape": (("shape", "color"),)}


def stargan_datasets(setting: str, n: int, size: int = 32, split: str = "train", seed: int = 0):
    """The labelled datasets of notebook 12's StarGAN: ``([(images, labels (N, A)), ...], [Shapes, ...])``,
    one pair per dataset, labelled with the attributes of :data:`STARGAN_LABELS`.

    ``"single"``: one dataset of solid shapes labelled with (colour, background); ``"shape"``: the same
    labelled with (shape, colour); ``"mask"``: two datasets with different label sets and renderings,
    solid shapes labelled with colour only and striped shapes labelled with background only (their
    other attributes are drawn but not given).
    """
    V.choice(setting, "setting", STARGAN_LABELS)
    if setting != "mask":
        names = STARGAN_LABELS[setting][0]
        ds = Shapes(n, size, split, seed, target=names[0], fixed={"fill": "solid"})
        return [(ds.images, torch.stack([ds.attribute(a) for a in names], 1))], [ds]
    (a_name,), (b_name,) = STARGAN_LABELS["mask"]
    a = Shapes(n, size, split, seed, target=a_name, fixed={"fill": "solid"})
    b = Shapes(n, size, split, seed, target=b_name, fixed={"fill": "striped"})
    return [(a.images, a.labels.unsqueeze(1)), (b.images, b.labels.unsqueeze(1))], [a, b]


def foreground_mask(images: torch.Tensor, threshold: float = 0.7) -> torch.Tensor:
    """Estimated foreground (N, 1, H, W) bool of shape images (N, 3, H, W) in [-1, 1].

    The background colour of each image is the median of its border pixels (shapes never touch the
    border); a pixel is foreground where some channel differs from it by more than ``threshold``
    (in [-1, 1] units). Used to find the outline in a *translated* image, whose true mask is
    unknown. The default threshold is about half the weakest shape-background contrast; on
    rendered images the estimate agrees with ``masks`` (mean IoU 0.99, tested above 0.97).
    """
    V.images(images, "images", channels=3)
    threshold = V.positive_float(threshold, "threshold")
    x = images.detach().float().cpu()
    border = torch.cat([x[:, :, 0], x[:, :, -1], x[:, :, 1:-1, 0], x[:, :, 1:-1, -1]], dim=2)   # (N, 3, P)
    background = border.median(dim=2).values.view(-1, 3, 1, 1)
    return ((x - background).abs().amax(1, keepdim=True) > threshold)


def _register() -> None:
    from . import register_dataset

    register_dataset("shapes", Shapes)


_register()

__all__ = ["ATTRIBUTES", "VALUES", "N_VALUES", "COLORS", "BACKGROUNDS", "Shapes", "make_shapes",
           "cyclegan_domains", "foreground_mask"]
