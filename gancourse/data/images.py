"""Image datasets that ship with the installed dependencies, so every notebook runs offline.

All of them are ``torch.utils.data.Dataset`` objects held in memory as one tensor:

* images: float32, shape (N, C, H, W), values in [-1, 1] (the range of a tanh generator);
* labels: int64, shape (N,); ``classes`` names them.

=============  ==============================================  ====  =============================
dataset        source                                          C     labels
=============  ==============================================  ====  =============================
``Digits``     scikit-learn's ``load_digits``: 1,797 8x8       1     the digit, 0–9
               scans of handwritten digits, upsampled
``Faces``      scikit-image's ``lfw_subset``: 100 face and     1     1 = face, 0 = non-face
               100 non-face crops, 25x25
``Textures``   scikit-image's brick, grass, gravel (512x512),  1     the texture's index
               random crops
=============  ==============================================  ====  =============================

Splits are deterministic: the same ``split`` always holds the same images, on every machine.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from .. import _validate as V

SPLITS = ("train", "test", "all")


class TensorImageDataset(Dataset):
    """Images (N, C, H, W) in [-1, 1] and labels (N,), held in memory.

    ``dataset[i]`` returns ``(image, label)``; ``dataset.images`` / ``dataset.labels`` give the
    whole tensors for fast sampling in small training loops.
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, classes: list[str], name: str = "images"):
        V.images(images, "images")
        if images.numel() and not torch.isfinite(images).all():
            raise ValueError("images: contains NaN or infinite values")
        if images.numel() and (images.min() < -1 - 1e-4 or images.max() > 1 + 1e-4):
            raise ValueError(f"images: expected values in [-1, 1] (the range of a tanh generator), got "
                             f"[{float(images.min()):.3g}, {float(images.max()):.3g}]; map [0, 1] data with x * 2 - 1")
        V.class_indices(labels, "labels", ndim=1, count=images.shape[0])
        if isinstance(classes, str) or not all(isinstance(c, str) for c in classes):
            raise TypeError("classes: expected a list of class names (strings)")
        self.images = images.float().contiguous()
        self.labels = labels.long()
        self.classes = list(classes)
        self.name = name

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, index):
        return self.images[index], self.labels[index]

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.images.shape[1:])

    def __repr__(self):
        c, h, w = self.image_shape
        return f"{type(self).__name__}(n={len(self)}, shape=({c}, {h}, {w}), classes={len(self.classes)})"


def check_procedural(n, size, split, seed, sizes, splits=SPLITS, n_name: str = "n") -> int:
    """The arguments every procedural dataset takes (shapes, scenes, defects): a count ``n`` (named
    ``n_name``) >= 1, a ``size`` among ``sizes``, a split among ``splits``, a non-negative int seed.
    Returns ``n``."""
    n = V.positive_int(n, n_name)
    if isinstance(size, bool) or not isinstance(size, int):
        raise TypeError(f"size: expected an int, got {type(size).__name__}")
    if size not in sizes:
        raise ValueError(f"size: expected one of {sizes}, got {size}")
    V.choice(split, "split", splits)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed: expected a non-negative int, got {seed!r}")
    return n


def _check_split(split) -> str:
    return V.choice(split, "split", SPLITS)


def _check_size(size, name: str = "size", minimum: int = 4) -> int:
    return V.positive_int(size, name, minimum=minimum)


def _resize(images: torch.Tensor, size: int) -> torch.Tensor:
    if images.shape[-1] == size and images.shape[-2] == size:
        return images
    antialias = size < images.shape[-1]
    return F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False, antialias=antialias)


def _stratified_split(labels: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of a train/test split that keeps each class's share (deterministic in ``seed``)."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        rng.shuffle(idx)
        n_test = int(round(test_fraction * len(idx)))
        test.append(idx[:n_test])
        train.append(idx[n_test:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


class Digits(TensorImageDataset):
    """scikit-learn's 1,797 handwritten digits, upsampled from 8x8 to ``size`` x ``size``.

    ``split``: ``"train"`` (80 %, 1,438 images), ``"test"`` (20 %, 359), or ``"all"``, stratified
    by class with a fixed seed. Pixel intensities 0–16 are mapped linearly to [-1, 1].
    """

    def __init__(self, size: int = 16, split: str = "train"):
        from sklearn.datasets import load_digits

        size = _check_size(size)
        split = _check_split(split)
        bunch = load_digits()
        x = torch.from_numpy(bunch.images.astype(np.float32) / 16.0)[:, None]  # (N, 1, 8, 8) in [0, 1]
        y = bunch.target.astype(np.int64)
        if split != "all":
            train_idx, test_idx = _stratified_split(y, 0.2, seed=0)
            idx = train_idx if split == "train" else test_idx
            x, y = x[idx], y[idx]
        x = _resize(x, size).clamp(0, 1) * 2 - 1
        super().__init__(x, torch.from_numpy(y), [str(d) for d in range(10)], name="digits")


class Faces(TensorImageDataset):
    """scikit-image's ``lfw_subset``: 100 faces (label 1) and 100 non-faces (label 0), 25x25.

    ``split``: ``"train"`` (160) / ``"test"`` (40) / ``"all"`` (200), stratified, fixed seed.
    """

    def __init__(self, size: int = 25, split: str = "all"):
        from skimage.data import lfw_subset

        size = _check_size(size)
        split = _check_split(split)
        raw = lfw_subset().astype(np.float32)  # (200, 25, 25) in [0, 1]; first 100 are faces
        y = np.array([1] * 100 + [0] * 100, dtype=np.int64)
        x = torch.from_numpy(raw)[:, None]
        if split != "all":
            train_idx, test_idx = _stratified_split(y, 0.2, seed=0)
            idx = train_idx if split == "train" else test_idx
            x, y = x[idx], y[idx]
        x = _resize(x, size).clamp(0, 1) * 2 - 1
        super().__init__(x, torch.from_numpy(y), ["non-face", "face"], name="faces")


TEXTURE_NAMES = ("brick", "grass", "gravel")


def texture_image(name: str) -> np.ndarray:
    """One of scikit-image's bundled 512x512 grayscale textures, as float32 in [0, 1]."""
    import skimage.data

    V.choice(name, "name", TEXTURE_NAMES)
    return getattr(skimage.data, name)().astype(np.float32) / 255.0


def random_crops(image: np.ndarray, n: int, size: int, rng: np.random.Generator,
                 rows: tuple[int, int] | None = None) -> np.ndarray:
    """``n`` random ``size`` x ``size`` crops of a 2-D (or H, W, C) array, rows limited to ``rows``."""
    if not isinstance(image, np.ndarray) or image.ndim not in (2, 3):
        raise ValueError(f"image: expected a NumPy array (H, W) or (H, W, C), got "
                         f"{getattr(image, 'shape', type(image).__name__)}")
    n = V.positive_int(n, "n")
    size = V.positive_int(size, "size")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng: expected a numpy.random.Generator, got {type(rng).__name__}")
    h, w = image.shape[:2]
    r0, r1 = rows if rows is not None else (0, h)
    if r1 - r0 < size or w < size:
        raise ValueError(f"size: crop {size} does not fit in rows {r0}-{r1} of a {h}x{w} image")
    ys = rng.integers(r0, r1 - size + 1, size=n)
    xs = rng.integers(0, w - size + 1, size=n)
    return np.stack([image[y:y + size, x:x + size] for y, x in zip(ys, xs)])


class Textures(TensorImageDataset):
    """Random crops of scikit-image's brick, grass and gravel textures (512x512, grayscale).

    ``size``: crop side in pixels. ``n_per_texture`` crops of each texture. Train crops come from
    the top 3/4 of each image and test crops from the bottom 1/4, so the splits never overlap.
    ``scale`` > 1 takes crops of ``size * scale`` pixels and shrinks them (coarser texture).
    """

    def __init__(self, size: int = 32, split: str = "train", n_per_texture: int = 500,
                 textures=TEXTURE_NAMES, scale: float = 1.0, seed: int = 0):
        size = _check_size(size)
        split = _check_split(split)
        n_per_texture = V.positive_int(n_per_texture, "n_per_texture")
        scale = V.positive_float(scale, "scale")
        textures = tuple(textures)
        for name in textures:
            V.choice(name, "textures", TEXTURE_NAMES)
        crop = max(size, int(round(size * scale)))
        rows = {"train": (0, 384), "test": (384, 512), "all": (0, 512)}[split]
        rng = np.random.default_rng([seed, SPLITS.index(split)])
        xs, ys = [], []
        for label, name in enumerate(textures):
            crops = random_crops(texture_image(name), n_per_texture, crop, rng, rows)
            xs.append(torch.from_numpy(crops)[:, None])
            ys.append(torch.full((n_per_texture,), label, dtype=torch.long))
        x = _resize(torch.cat(xs), size).clamp(0, 1) * 2 - 1
        super().__init__(x, torch.cat(ys), list(textures), name="textures")
