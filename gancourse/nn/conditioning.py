r"""Feeding a label to a network: one-hot codes (built with ``scatter_``) and learned embeddings.

A conditional GAN (Mirza & Osindero 2014) gives both G and D the condition y:
:math:`\min_G\max_D\ \mathbb{E}_{x}\log D(x\mid y) + \mathbb{E}_{z}\log(1 - D(G(z\mid y)\mid y))`.
A class label is an integer, and a network needs a vector. Two ways to make one:

* **one-hot**: the vector with a 1 at position y and 0 elsewhere. ``torch.zeros(N, C)`` filled
  with ``scatter_(1, y[:, None], 1)``: fixed, nothing to learn, C numbers per label. The same call
  on dimension 1 of an (N, 1, H, W) map turns a *semantic label map* into C binary channels, which
  is how Pix2Pix and SPADE take a segmentation as input.
* **embedding**: ``nn.Embedding(C, dim)``, a learned table with one row per class: the network
  chooses the code; ``dim`` can be smaller or larger than C.

A one-hot code times a weight matrix *is* an embedding lookup (row y of the matrix), so the two
differ only in where the learnable table sits: in the label code or in the next layer.

Several attributes are several one-hots side by side (:func:`label_code`); labels from several
datasets that label different attributes go in StarGAN's layout with a mask vector
(:func:`mask_vector`).
"""
from __future__ import annotations

import torch
from torch import nn

from .. import _validate as V


def one_hot(labels: torch.Tensor, n_classes: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """One-hot codes made with ``scatter_``: (N,) -> (N, C), or label maps (N, H, W) -> (N, C, H, W).

    Entry ``[n, c]`` (or ``[n, c, i, j]``) is 1 where the label equals c and 0 elsewhere, so the C
    channels sum to 1 everywhere. Integer labels in [0, C) are required.
    """
    n_classes = V.positive_int(n_classes, "n_classes")
    labels = V.class_indices(labels, "labels", n_classes, ndim=(1, 3)).long()   # (N,) or a label map (N, H, W)
    index = labels.unsqueeze(1)                              # (N, 1) or (N, 1, H, W)
    shape = (labels.shape[0], n_classes) + tuple(labels.shape[1:])
    out = torch.zeros(shape, dtype=dtype, device=labels.device)
    return out.scatter_(1, index, 1)                          # out[n, index[n, ...], ...] = 1


class LabelCode(nn.Module):
    """The vector a conditional network reads for a class label: (N,) integers -> (N, ``dim``).

    ``kind="one_hot"``: the fixed one-hot code (``dim`` = ``n_classes``, nothing to learn).
    ``kind="embedding"``: a learned ``nn.Embedding(n_classes, dim)`` table (``dim`` defaults to
    ``n_classes``, as in the usual PyTorch cGAN examples).
    """

    KINDS = ("one_hot", "embedding")

    def __init__(self, n_classes: int, kind: str = "embedding", dim: int | None = None):
        super().__init__()
        self.n_classes = V.positive_int(n_classes, "n_classes", minimum=2)
        self.kind = V.choice(kind, "kind", self.KINDS)
        if kind == "one_hot":
            if dim is not None and dim != n_classes:
                raise ValueError(f"dim: a one-hot code has n_classes = {n_classes} entries, got dim={dim}")
            self.dim = self.n_classes
            self.table = None
        else:
            self.dim = V.positive_int(dim if dim is not None else n_classes, "dim")
            self.table = nn.Embedding(self.n_classes, self.dim)

    def forward(self, labels: torch.Tensor) -> torch.Tensor:
        labels = V.class_indices(labels, "labels", self.n_classes, ndim=1).long()
        if self.table is None:
            return one_hot(labels, self.n_classes)
        return self.table(labels)

    def extra_repr(self) -> str:
        return f"n_classes={self.n_classes}, kind={self.kind!r}, dim={self.dim}"


# Several categorical attributes, and several datasets: StarGAN's codes (Choi et al. 2018, Section 3.2)

def label_groups(datasets, name: str = "datasets") -> tuple[tuple[int, ...], ...]:
    """Check StarGAN's label layout: for each dataset, the number of values of each of its categorical
    attributes (its *groups*), e.g. ``((4, 3),)`` or ``((4,), (3,))``; each at least 2."""
    if isinstance(datasets, (str, bytes)) or not isinstance(datasets, (tuple, list)) or not datasets:
        raise TypeError(f"{name}: expected a sequence of label groups per dataset, e.g. ((4, 3),), got {datasets!r}")
    out = []
    for k, groups in enumerate(datasets):
        if isinstance(groups, (str, bytes)) or not isinstance(groups, (tuple, list)) or not groups:
            raise TypeError(f"{name}[{k}]: expected a non-empty sequence of group sizes, got {groups!r}")
        out.append(tuple(V.positive_int(g, f"{name}[{k}]", minimum=2) for g in groups))
    return tuple(out)


def label_code(labels: torch.Tensor, groups) -> torch.Tensor:
    """Concatenated one-hot codes of categorical attributes: labels (N, A) int -> (N, Σ groups).

    ``groups``: the number of values of each of the A attributes, e.g. (4, 3) for colour and
    shape; column a of ``labels`` holds values in [0, groups[a]). A single attribute may be given
    as labels of shape (N,).
    """
    groups = label_groups([groups], "groups")[0]
    labels = V.class_indices(labels, "labels")
    if labels.ndim == 1:
        labels = labels.unsqueeze(1)
    if labels.ndim != 2 or labels.shape[1] != len(groups):
        raise ValueError(f"labels: expected shape (N, {len(groups)}) for groups {groups}, got {tuple(labels.shape)}")
    return torch.cat([one_hot(labels[:, a], n) for a, n in enumerate(groups)], dim=1)


def mask_vector(labels: torch.Tensor, dataset: int, n_classes) -> torch.Tensor:
    """StarGAN's unified label for several datasets (Section 3.2): ``[c_1, ..., c_K, m]``.

    ``n_classes``: the size of each dataset's label code, e.g. (4, 3). ``dataset``: which dataset
    the batch comes from (0-based). ``labels``: the batch's labels in that dataset, as class
    indices (N,) (one-hot encoded here) or as a ready code (N, n_classes[dataset]) (e.g. several
    attributes, :func:`label_code`). Returns (N, Σ n_classes + K): the code in the dataset's own
    block, zeros in the blocks of the other datasets (their labels are unknown), and the one-hot
    mask m of length K that tells G which block to read.

    Example with K = 2, n_classes = (4, 3): labels [2] of dataset 0 -> [0 0 1 0 | 0 0 0 | 1 0];
    labels [1] of dataset 1 -> [0 0 0 0 | 0 1 0 | 0 1].
    """
    if isinstance(n_classes, (str, bytes)) or not isinstance(n_classes, (tuple, list)) or len(n_classes) < 2:
        raise ValueError(f"n_classes: expected the label sizes of at least two datasets, got {n_classes!r}")
    n_classes = tuple(V.positive_int(n, "n_classes") for n in n_classes)
    if isinstance(dataset, bool) or not isinstance(dataset, int) or not 0 <= dataset < len(n_classes):
        raise ValueError(f"dataset: expected an index in [0, {len(n_classes) - 1}], got {dataset!r}")
    if not isinstance(labels, torch.Tensor):
        raise TypeError(f"labels: expected a torch.Tensor, got {type(labels).__name__}")
    if labels.is_floating_point():
        if labels.ndim != 2 or labels.shape[1] != n_classes[dataset]:
            raise ValueError(f"labels: a code of dataset {dataset} must have shape (N, {n_classes[dataset]}), "
                             f"got {tuple(labels.shape)}")
        code = labels
    else:
        if labels.ndim != 1:     # neither a code nor indices
            raise ValueError(f"labels: expected class indices (N,) or a float code (N, {n_classes[dataset]}), "
                             f"got shape {tuple(labels.shape)}")
        V.class_indices(labels, f"labels of dataset {dataset}", n_classes[dataset])
        code = one_hot(labels, n_classes[dataset])
    n = code.shape[0]
    parts = [code if k == dataset else code.new_zeros(n, size) for k, size in enumerate(n_classes)]
    mask = code.new_zeros(n, len(n_classes))
    mask[:, dataset] = 1
    return torch.cat(parts + [mask], dim=1)


# A label per pixel: Defect-GAN's spatial & categorical control map (Zhang et al. 2021)

def control_map(domains: torch.Tensor, n_domains: int, size: int | None = None) -> torch.Tensor:
    """The spatial & categorical control map A (N, C, H, W), one-hot over the C = ``n_domains`` domains.

    ``domains``: target domains per image (N,) (training: A is that one-hot code repeated over the
    ``size`` x ``size`` image), or a **domain map** (N, H, W) of integers (inference: any layout,
    e.g. 0 = normal everywhere but a disc of 3 = crack).
    """
    n_domains = V.positive_int(n_domains, "n_domains", minimum=2)
    if not isinstance(domains, torch.Tensor):
        raise TypeError(f"domains: expected an integer torch.Tensor, got {type(domains).__name__}")
    if domains.ndim == 1:
        if size is None:
            raise ValueError("size: a constant control map from domains (N,) needs the image size")
        size = V.positive_int(size, "size")
        return one_hot(domains, n_domains)[:, :, None, None].expand(-1, -1, size, size).contiguous()
    if domains.ndim != 3:
        raise ValueError(f"domains: expected target domains (N,) or a domain map (N, H, W), got shape "
                         f"{tuple(domains.shape)}")
    if size is not None and domains.shape[-2:] != (size, size):
        raise ValueError(f"domains: expected a {size}x{size} domain map, got shape {tuple(domains.shape)}")
    return one_hot(domains, n_domains)
