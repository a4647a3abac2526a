"""Procedural outdoor scenes: semantic label maps and the RGB images rendered from them (paired data).

A scene is drawn in two steps, both deterministic in a seed:

1. **layout** (the label map): a sky above a hilly horizon, the ground below it, maybe a lake,
   0–3 buildings standing on the horizon (some with a pointed roof), 0–4 trees in front. Five
   classes, ``CLASSES = ("sky", "ground", "water", "trees", "buildings")``, as integers
   (N, H, W).
2. **rendering** (the image): every class gets a colour drawn per image (per object for trees and
   buildings) and a texture cropped at a random place from scikit-image's bundled photographs
   (grass for the ground and the trees, brick for the buildings, gravel for the water), the sky a
   vertical gradient with smooth random clouds, the water ripples, the buildings windows; then a
   lighting gradient (the sun's side and strength) and pixel noise.

Step 2 has its own randomness, so a label map does **not** fix its image pixel for pixel: colours,
texture phases, clouds and noise are free. That is what makes the Pix2Pix ablation of notebook 10
meaningful: a network trained with L1 alone predicts the *average* of those possibilities (flat,
blurry colours), while an adversarial loss asks for one *plausible* image with texture.

Images are rendered at 64x64 and shrunk with area averaging for smaller sizes (so a 32x32 scene is
the 64x64 one, anti-aliased); label maps are rasterised at the requested size directly. Training
and test scenes use different seeds *and* different parts of the textures (top 3/4 versus bottom
1/4 of each photograph), so a test image never reuses a training crop.

    ds = Scenes(n=2000, size=32, split="train")     # maps (2000, 32, 32) int64, images (2000, 3, 32, 32)
    label_map, image = ds[0]
    x = one_hot(ds.maps[:8])                        # (8, 5, 32, 32) float: a generator's input
    viz.show_images(colorize(ds.maps[:8]))          # the maps in the class palette
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from .. import _validate as V
from ..nn.conditioning import one_hot as _one_hot
from .images import SPLITS, check_procedural, texture_image

CLASSES = ("sky", "ground", "water", "trees", "buildings")
SKY, GROUND, WATER, TREES, BUILDINGS = range(5)
N_CLASSES = len(CLASSES)

#: colours of the classes for plotting label maps, RGB in [0, 1], shape (5, 3)
PALETTE = torch.tensor([
    [0.53, 0.81, 0.98],   # sky: light blue
    [0.60, 0.46, 0.33],   # ground: brown
    [0.12, 0.35, 0.80],   # water: deep blue
    [0.13, 0.55, 0.13],   # trees: green
    [0.65, 0.65, 0.65],   # buildings: grey
])

SIZES = (16, 32, 64)
RENDER_SIZE = 64
MAX_BUILDINGS = 3
MAX_TREES = 4


def _check_maps(maps, n_classes: int = N_CLASSES) -> torch.Tensor:
    """Label maps: an integer tensor (N, H, W) with values in [0, n_classes)."""
    V.tensor(maps, "maps", ndim=3, floating=False)
    if maps.is_floating_point() or maps.is_complex() or maps.dtype == torch.bool:
        raise TypeError(f"maps: expected integer class indices (e.g. int64), got dtype {maps.dtype}")
    if maps.numel() and (int(maps.min()) < 0 or int(maps.max()) >= n_classes):
        raise ValueError(f"maps: expected class indices in [0, {n_classes - 1}], got values from "
                         f"{int(maps.min())} to {int(maps.max())}")
    return maps


def one_hot(maps: torch.Tensor, n_classes: int = N_CLASSES) -> torch.Tensor:
    """Label maps (N, H, W) of class indices -> one-hot channels (N, C, H, W), float32.

    The input format of Pix2Pix and SPADE generators for semantic maps (built with ``scatter_``,
    see :func:`gancourse.nn.conditioning.one_hot`).
    """
    _check_maps(maps, n_classes)
    return _one_hot(maps, n_classes)


def colorize(maps: torch.Tensor) -> torch.Tensor:
    """Label maps (N, H, W) -> RGB pictures (N, 3, H, W) in [-1, 1], in the colours of ``PALETTE``."""
    _check_maps(maps)
    rgb = PALETTE.to(maps.device)[maps.long()]             # (N, H, W, 3)
    return rgb.permute(0, 3, 1, 2) * 2 - 1


def class_frequencies(maps: torch.Tensor) -> torch.Tensor:
    """Share of pixels of each class over a batch of maps (N, H, W): a (C,) tensor summing to 1."""
    _check_maps(maps)
    counts = torch.bincount(maps.reshape(-1).long(), minlength=N_CLASSES).double()
    return (counts / counts.sum()).float()


# ------------------------------------------------------------------------------------------------
# Step 1: the layout (geometry of each scene, then the label map at any resolution)
# ------------------------------------------------------------------------------------------------

def _uniform(g: torch.Generator, shape, lo: float, hi: float) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(shape, generator=g)


def _sample_layout(n: int, g: torch.Generator) -> dict:
    """Random geometry of n scenes, in coordinates u (left to right) and v (top to bottom) in [0, 1]."""
    p = {
        # horizon v = horizon + hill * sin(2 pi freq u + phase)
        "horizon": _uniform(g, n, 0.30, 0.55),
        "hill": _uniform(g, n, 0.0, 0.07),
        "hill_freq": _uniform(g, n, 0.5, 2.0),
        "hill_phase": _uniform(g, n, 0.0, 2 * math.pi),
        # a lake: an ellipse below the horizon, present in 60 % of the scenes
        "lake": torch.rand(n, generator=g) < 0.6,
        "lake_cx": _uniform(g, n, 0.1, 0.9),
        "lake_rx": _uniform(g, n, 0.25, 0.7),
        "lake_ry": _uniform(g, n, 0.08, 0.22),
        "lake_depth": _uniform(g, n, 0.2, 0.9),   # where the centre sits between horizon and bottom
        # buildings: rectangles standing on the horizon, some with a triangular roof
        "n_buildings": torch.randint(0, MAX_BUILDINGS + 1, (n,), generator=g),
        "b_x0": _uniform(g, (n, MAX_BUILDINGS), -0.05, 0.85),
        "b_w": _uniform(g, (n, MAX_BUILDINGS), 0.10, 0.28),
        "b_h": _uniform(g, (n, MAX_BUILDINGS), 0.12, 0.40),
        "b_sink": _uniform(g, (n, MAX_BUILDINGS), 0.01, 0.06),
        "b_roof": (torch.rand((n, MAX_BUILDINGS), generator=g) < 0.4).float() * _uniform(g, (n, MAX_BUILDINGS), 0.05, 0.12),
        # trees: elliptic crowns whose bottom touches the ground in front of the horizon
        "n_trees": torch.randint(0, MAX_TREES + 1, (n,), generator=g),
        "t_cx": _uniform(g, (n, MAX_TREES), 0.0, 1.0),
        "t_r": _uniform(g, (n, MAX_TREES), 0.05, 0.11),
        "t_depth": _uniform(g, (n, MAX_TREES), 0.0, 0.35),
    }
    return p


def _horizon(p: dict, u: torch.Tensor) -> torch.Tensor:
    """The horizon height v at horizontal positions u; p's entries are (N,), u broadcasts."""
    return p["horizon"] + p["hill"] * torch.sin(2 * math.pi * p["hill_freq"] * u + p["hill_phase"])


def _rasterize(p: dict, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Label maps (N, size, size) int64 and object ids (N, size, size): 0 none, 1..3 buildings, 4..7 trees."""
    n = p["horizon"].shape[0]
    c = (torch.arange(size, dtype=torch.float32) + 0.5) / size    # pixel centres
    v = c.view(1, size, 1)
    u = c.view(1, 1, size)
    col = lambda t: t.view(n, 1, 1)                                # (N,) -> broadcastable over pixels
    horizon = _horizon({k: col(p[k]) for k in ("horizon", "hill", "hill_freq", "hill_phase")}, u)
    labels = torch.where(v < horizon, SKY, GROUND).expand(n, size, size).clone()
    objects = torch.zeros(n, size, size, dtype=torch.long)

    lake_cy = col(p["horizon"] + 0.05 + p["lake_depth"] * (1.0 - p["horizon"]))
    inside = ((u - col(p["lake_cx"])) / col(p["lake_rx"])) ** 2 + ((v - lake_cy) / col(p["lake_ry"])) ** 2 < 1
    labels[inside & (v > horizon + 0.04) & col(p["lake"])] = WATER

    for k in range(MAX_BUILDINGS):
        x0, w = col(p["b_x0"][:, k]), col(p["b_w"][:, k])
        base = _horizon({key: col(p[key]) for key in ("horizon", "hill", "hill_freq", "hill_phase")}, x0 + w / 2)
        base = base + col(p["b_sink"][:, k])
        top = base - col(p["b_h"][:, k])
        roof = col(p["b_roof"][:, k]) * (1 - (2 * (u - x0) / w - 1).abs())   # a triangle over the width
        body = (u >= x0) & (u < x0 + w) & (v < base) & (v >= top - roof)
        present = col(p["n_buildings"] > k)
        labels[body & present] = BUILDINGS
        objects[body & present] = 1 + k

    for k in range(MAX_TREES):
        cx, r = col(p["t_cx"][:, k]), col(p["t_r"][:, k])
        ground_at = _horizon({key: col(p[key]) for key in ("horizon", "hill", "hill_freq", "hill_phase")}, cx)
        bottom = ground_at + 0.02 + col(p["t_depth"][:, k]) * 0.5
        ry = 1.3 * r
        crown = ((u - cx) / r) ** 2 + ((v - (bottom - ry)) / ry) ** 2 < 1
        present = col(p["n_trees"] > k)
        labels[crown & present] = TREES
        objects[crown & present] = 1 + MAX_BUILDINGS + k
    return labels, objects


# ------------------------------------------------------------------------------------------------
# Step 2: rendering (colours, textures, lighting, noise)
# ------------------------------------------------------------------------------------------------

# how many texture pixels one 64-pixel scene spans (smaller = coarser texture)
_TEXTURE_SPAN = {"grass": 192, "brick": 112, "gravel": 160}


def _textures(split: str) -> dict:
    """The three photographs, shrunk to their span, normalised to mean 0 and std 1, limited to the
    split's rows (train: top 3/4, test: bottom 1/4, all: everything). Values: (rows, cols) tensors."""
    out = {}
    for name, span in _TEXTURE_SPAN.items():
        img = torch.from_numpy(texture_image(name))[None, None]
        side = 512 * RENDER_SIZE // span
        img = F.interpolate(img, size=(side, side), mode="area")[0, 0]
        img = (img - img.mean()) / img.std()
        rows = {"train": (0, 3 * side // 4), "test": (3 * side // 4, side), "all": (0, side)}[split]
        out[name] = img[rows[0]:rows[1]]
    return out


def _crops(texture: torch.Tensor, n: int, size: int, g: torch.Generator) -> torch.Tensor:
    """n random size x size crops (N, size, size) of a 2-D texture, randomly mirrored left-right;
    rows wrap around when the texture's band is shorter than the crop."""
    h, w = texture.shape
    oy = torch.randint(0, h, (n,), generator=g)
    ox = torch.randint(0, w - size + 1, (n,), generator=g)
    flip = torch.rand(n, generator=g) < 0.5
    r = torch.arange(size)
    cols = ox.view(n, 1) + r.view(1, size)
    cols = torch.where(flip.view(n, 1), ox.view(n, 1) + size - 1 - r.view(1, size), cols)
    rows = (oy.view(n, 1) + r.view(1, size)) % h
    return texture[rows.view(n, size, 1), cols.view(n, 1, size)]


def _smooth_noise(n: int, size: int, cells: int, g: torch.Generator) -> torch.Tensor:
    """Low-frequency noise (N, size, size): a cells x cells grid of N(0, 1) values, bicubic upsampled."""
    coarse = torch.randn(n, 1, cells, cells, generator=g)
    return F.interpolate(coarse, size=(size, size), mode="bicubic", align_corners=False)[:, 0]


def _jitter(g, n, base, spread) -> torch.Tensor:
    """Colours (N, 3): ``base`` (3,) plus uniform jitter of +-``spread`` per channel."""
    return torch.tensor(base).view(1, 3) + _uniform(g, (n, 3), -spread, spread)


# entries of each scene's colour table: sky, ground, water, one per tree, one per building facade,
# one per building's windows
_T0 = 3
_B0 = _T0 + MAX_TREES
_W0 = _B0 + MAX_BUILDINGS
_ENTRIES = _W0 + MAX_BUILDINGS


def _render(p: dict, labels: torch.Tensor, objects: torch.Tensor, textures: dict,
            g: torch.Generator) -> torch.Tensor:
    """RGB images (N, 3, S, S) in [0, 1] for label maps and object ids at the render size S.

    Every pixel reads two colours A and B from its scene's colour table and mixes them,
    ``rgb = (A (1 - t) + B t) (1 + m) (1 - c) + 0.95 c``, where t (a gradient), m (texture,
    ripples) and c (clouds) are one-channel maps: few full-size RGB operations, so thousands of
    scenes render in seconds.
    """
    n, s, _ = labels.shape
    c = (torch.arange(s, dtype=torch.float32) + 0.5) / s
    v = c.view(1, s, 1)
    u = c.view(1, 1, s)
    col = lambda t: t.view(n, 1, 1)
    is_ = lambda k: labels == k
    A = torch.zeros(n, _ENTRIES, 3)
    B = torch.zeros(n, _ENTRIES, 3)

    # sky: from the zenith colour to a paler (at sunset: orange) horizon, with smooth random clouds
    zenith = _jitter(g, n, (0.22, 0.42, 0.82), 0.10)
    sunset = (torch.rand(n, generator=g) < 0.25).view(n, 1)
    pale = torch.where(sunset, _jitter(g, n, (0.95, 0.62, 0.38), 0.05), _jitter(g, n, (0.80, 0.88, 0.96), 0.04))
    A[:, SKY], B[:, SKY] = zenith, pale
    cloudiness = _uniform(g, n, 0.0, 1.0)
    cloud = ((_smooth_noise(n, s, 5, g) - 0.6) * 1.5).clamp(0, 1) * col(cloudiness)
    cloud = torch.where(is_(SKY), cloud, 0.0)

    # ground: green or dry, lighter towards the horizon (t = 1 - v: B at the top, A at the bottom)
    dry = (torch.rand(n, generator=g) < 0.3).view(n, 1)
    ground = torch.where(dry, _jitter(g, n, (0.55, 0.48, 0.30), 0.06), _jitter(g, n, (0.30, 0.50, 0.20), 0.07))
    A[:, GROUND], B[:, GROUND] = 0.85 * ground, 1.1 * ground

    # water: between deep blue and the sky's horizon colour
    A[:, WATER] = B[:, WATER] = 0.65 * _jitter(g, n, (0.10, 0.25, 0.45), 0.05) + 0.35 * pale

    # trees: one green per tree
    for k in range(MAX_TREES):
        A[:, _T0 + k] = B[:, _T0 + k] = _jitter(g, n, (0.11, 0.32, 0.13), 0.05)

    # buildings: a facade colour per building, its windows dark or lit
    facades = torch.tensor([[0.55, 0.55, 0.57], [0.76, 0.69, 0.56], [0.62, 0.32, 0.26], [0.45, 0.40, 0.36]])
    pick = torch.randint(0, len(facades), (n, MAX_BUILDINGS), generator=g)
    A[:, _B0:_W0] = facades[pick] + _uniform(g, (n, MAX_BUILDINGS, 3), -0.05, 0.05)
    lit = torch.rand(n, MAX_BUILDINGS, 1, generator=g) < 0.3
    A[:, _W0:] = torch.where(lit, torch.tensor([0.92, 0.85, 0.50]), torch.tensor([0.12, 0.14, 0.20]))
    B[:, _B0:] = A[:, _B0:]
    has_windows = torch.rand(n, MAX_BUILDINGS, generator=g) < 0.75

    # which table entry each pixel reads
    b = (objects - 1).clamp(0, MAX_BUILDINGS - 1)
    x_local = (u - torch.gather(p["b_x0"], 1, b.view(n, -1)).view(n, s, s)) * s   # pixels from the left wall
    fx, fy = (x_local / 5.0) % 1, (v * s / 6.0) % 1
    window = ((fx > 0.45) & (fx < 0.85) & (fy > 0.35) & (fy < 0.8) & (x_local > 2)
              & torch.gather(has_windows, 1, b.view(n, -1)).view(n, s, s) & is_(BUILDINGS))
    entry = labels.clone()                                              # sky, ground, water: 0, 1, 2
    entry = torch.where(is_(TREES), _T0 + objects - 1 - MAX_BUILDINGS, entry)
    entry = torch.where(is_(BUILDINGS), _B0 + b, entry)
    entry = torch.where(window, _W0 + b, entry)

    # one-channel maps: the mixing weight t, the texture modulation m
    t = torch.where(is_(SKY), (v / col(p["horizon"] + p["hill"])).clamp(0, 1) ** 1.5, 1 - v)
    grass = _crops(textures["grass"], n, s, g)
    leaves = _crops(textures["grass"].flip(0), n, s, g)     # upside down: another look
    brick = _crops(textures["brick"], n, s, g)
    gravel = _crops(textures["gravel"], n, s, g)
    period = _uniform(g, n, 2.5, 4.0)                      # ripple period in pixels of the render
    ripples = torch.sin(2 * math.pi * (v * s / col(period) + 0.25 * _smooth_noise(n, s, 4, g)))
    m = torch.zeros(n, s, s)
    m = torch.where(is_(GROUND), 0.22 * grass, m)
    m = torch.where(is_(WATER), 0.12 * ripples + 0.08 * gravel, m)
    m = torch.where(is_(TREES), 0.35 * leaves, m)
    m = torch.where(is_(BUILDINGS) & ~window, 0.18 * brick, m)

    # lighting (the sun's strength and side), folded into the one-channel factor
    strength = _uniform(g, n, 0.80, 1.15)
    side = _uniform(g, n, -0.3, 0.3)
    light = col(strength) * (1 + col(side) * (u - 0.5))
    scale = ((1 + m) * (1 - cloud) * light).unsqueeze(1)
    flat = (entry + _ENTRIES * torch.arange(n).view(n, 1, 1)).reshape(-1)
    a = A.reshape(-1, 3)[flat].view(n, s, s, 3).permute(0, 3, 1, 2)
    bb = B.reshape(-1, 3)[flat].view(n, s, s, 3).permute(0, 3, 1, 2)
    img = torch.lerp(a, bb, t.unsqueeze(1)) * scale + (0.95 * cloud * light).unsqueeze(1)
    img = img + 0.025 * torch.randn(img.shape, generator=g)
    return img.clamp(0, 1)


def _generator(seed: int, split: str) -> torch.Generator:
    state = np.random.SeedSequence([seed, SPLITS.index(split)]).generate_state(1)[0]
    return torch.Generator().manual_seed(int(state))


def _make(n: int, size: int, split: str, seed: int, renders: int) -> tuple[torch.Tensor, list[torch.Tensor]]:
    g = _generator(int(seed), split)
    layout = _sample_layout(n, g)
    hi_labels, hi_objects = _rasterize(layout, RENDER_SIZE)
    textures = _textures(split)
    images = [_render(layout, hi_labels, hi_objects, textures, g) for _ in range(renders)]
    if size == RENDER_SIZE:
        labels = hi_labels
    else:
        labels, _ = _rasterize(layout, size)
        images = [F.avg_pool2d(x, RENDER_SIZE // size) for x in images]   # area averaging = anti-aliased shrink
    return labels, [x * 2 - 1 for x in images]


def make_scenes(n: int, size: int = 32, split: str = "train", seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` paired scenes: label maps (n, size, size) int64 with values in [0, 5) and images
    (n, 3, size, size) float32 in [-1, 1]. Deterministic in (``seed``, ``split``).

    ``size`` is 16, 32 or 64. Random numbers are drawn in bulk, so the scenes depend on ``n`` too:
    compare datasets built with the same ``n``.
    """
    check_procedural(n, size, split, seed, SIZES)
    labels, images = _make(n, size, split, seed, renders=1)
    return labels, images[0]


def render_variants(n: int, k: int, size: int = 32, split: str = "train", seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``n`` label maps of ``make_scenes(n, size, split, seed)``, each rendered ``k`` times with
    fresh colours, textures, lighting and noise: maps (n, size, size) and images
    (k, n, 3, size, size) in [-1, 1]. ``images[0]`` is exactly ``make_scenes``'s images.

    How much a map leaves open: two renders of one map are two equally right answers for a
    translation network (notebook 10 measures their L1 distance).
    """
    check_procedural(n, size, split, seed, SIZES)
    k = V.positive_int(k, "k")
    labels, images = _make(n, size, split, seed, renders=k)
    return labels, torch.stack(images)


def make_instances(n: int, size: int = 32, split: str = "train", seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """The label maps of ``make_scenes(n, size, split, seed)`` and their **instance** maps, both
    (n, size, size) int64: 0 where no object is, 1-3 the buildings, 4-7 the trees. Two trees that
    touch are one blob in the label map and two ids here (what pix2pixHD's instance maps add)."""
    check_procedural(n, size, split, seed, SIZES)
    return _rasterize(_sample_layout(n, _generator(int(seed), split)), size)


def boundary_map(instances: torch.Tensor) -> torch.Tensor:
    """pix2pixHD's instance boundary map (Wang et al. 2018, Section 3.3): 1 at a pixel whose instance
    id differs from one of its 4 neighbours, else 0. ``instances``: (N, H, W) integer ids -> (N, 1, H, W)
    float."""
    V.tensor(instances, "instances", ndim=3, floating=False)
    edge = torch.zeros(instances.shape, dtype=torch.bool)
    vertical = instances[:, 1:, :] != instances[:, :-1, :]
    horizontal = instances[:, :, 1:] != instances[:, :, :-1]
    edge[:, 1:, :] |= vertical
    edge[:, :-1, :] |= vertical
    edge[:, :, 1:] |= horizontal
    edge[:, :, :-1] |= horizontal
    return edge.float().unsqueeze(1)


class Scenes(Dataset):
    """Paired scenes for image-to-image translation: ``dataset[i] = (label_map, image)``.

    ``maps``: (N, H, W) int64 class indices (``CLASSES``); ``images``: (N, 3, H, W) float32 in
    [-1, 1]. ``n`` scenes of side ``size`` (16, 32 or 64), from the ``split``'s seed stream and
    texture rows ("train", "test" or "all"), deterministic in ``seed``. 2,000 scenes take 2-3 seconds
    of one CPU core to generate. :func:`one_hot` turns the maps into a generator's input.
    """

    classes = CLASSES
    palette = PALETTE

    def __init__(self, n: int = 2000, size: int = 32, split: str = "train", seed: int = 0):
        self.maps, self.images = make_scenes(n, size, split, seed)
        self.size, self.split, self.seed = size, split, seed
        self.name = "scenes"

    def __len__(self) -> int:
        return self.maps.shape[0]

    def __getitem__(self, index):
        return self.maps[index], self.images[index]

    @property
    def n_classes(self) -> int:
        return N_CLASSES

    def __repr__(self):
        return f"Scenes(n={len(self)}, size={self.size}, split={self.split!r}, classes={len(self.classes)})"


def _register() -> None:
    from . import register_dataset

    register_dataset("scenes", Scenes)


_register()

__all__ = ["CLASSES", "N_CLASSES", "PALETTE", "Scenes", "make_scenes", "render_variants", "one_hot", "colorize",
           "class_frequencies", "make_instances", "boundary_map"]
