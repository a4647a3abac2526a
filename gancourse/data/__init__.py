"""Data for the course: toy distributions, embedded image datasets, and a batch iterator.

``load_dataset(name, **kwargs)`` builds an image dataset by name; ``make_toy(name, **kwargs)``
builds a toy distribution. Everything here works offline, except ``fetch`` (``download.py``: the
papers' real datasets, downloaded and verified; ``load_real`` reads them once in place).
``open_folder(path)`` and its layout helpers (``folders.py``) read a folder of the user's own
images, the ``--data PATH`` of recipes.
"""
from __future__ import annotations

import torch
from torch.utils.data import Dataset

from .. import _validate as V
from .images import Digits, Faces, TensorImageDataset, Textures, TEXTURE_NAMES, texture_image
from .download import (ChecksumMismatchError, DatasetUnavailableError, DownloadError, UnsafeArchiveError,
                       datasets_dir, fetch, load_real, real_dataset_names)
from .folders import (ImageFolder, PairedImageFolder, ScanReport, class_folders, convert_image,
                      cyclegan_folders, detect_layout, image_folder, open_folder, paired_folders,
                      side_by_side_folder)
from .toy import (TOY_NAMES, Gaussian1D, GaussianMixture, GaussianMixture1D, ParallelLine,
                  SwissRoll, ToyDistribution, grid, make_toy, ring)

_DATASETS = {
    "digits": Digits,
    "faces": Faces,
    "textures": Textures,
}


def register_dataset(name: str, factory) -> None:
    """Make ``load_dataset(name)`` build datasets with ``factory`` (used by later modules)."""
    if not isinstance(name, str) or not name:
        raise TypeError(f"name: expected a non-empty dataset name (str), got {name!r}")
    if not callable(factory):
        raise TypeError(f"factory: expected a class or function that builds the dataset, got {type(factory).__name__}")
    _DATASETS[name] = factory


def dataset_names() -> tuple[str, ...]:
    _load_optional()
    return tuple(sorted(_DATASETS))


def _load_optional() -> None:
    # Procedural datasets live in their own modules; importing them registers them.
    import importlib

    for module in ("shapes", "scenes", "defects"):
        try:
            importlib.import_module(f"{__name__}.{module}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{module}":
                raise


def load_dataset(name: str, **kwargs) -> Dataset:
    """An embedded dataset by name, e.g. ``load_dataset("digits", size=32, split="test")``."""
    if not isinstance(name, str):
        raise TypeError(f"name: expected a dataset name (str), got {type(name).__name__}")
    _load_optional()
    if name not in _DATASETS:
        raise ValueError(f"name: unknown dataset {name!r}; expected one of {', '.join(sorted(_DATASETS))}")
    return _DATASETS[name](**kwargs)


class Batches:
    """Shuffled minibatches forever (epoch after epoch), moved to ``device``; resumable.

    ``dataset`` may be a ``TensorImageDataset`` (fast path: indexing one tensor), a
    ``ToyDistribution`` (fresh samples each batch), or any map-style ``Dataset`` (read through a
    DataLoader). ``next(batches)`` gives ``(images, labels)`` for datasets and ``points`` for toy
    distributions. The iterator owns its random generator, and ``state_dict()`` records where it
    is, so that a resumed run sees exactly the batches an uninterrupted run would have seen.
    """

    def __init__(self, dataset, batch_size: int, generator: torch.Generator | None = None,
                 device: torch.device | str = "cpu", drop_last: bool = True, workers: int = 0,
                 pin_memory: bool | None = None):
        self.batch_size = V.positive_int(batch_size, "batch_size")
        # Fast paths for real datasets on a GPU: ``workers`` processes decode images while the
        # GPU trains (map-style datasets only), and batches go through pinned memory so that the
        # copy to the GPU does not block the host (default: on when ``device`` is a GPU).
        self.workers = V.positive_int(workers, "workers", minimum=0)
        self.pin_memory = (torch.device(device).type == "cuda") if pin_memory is None else bool(pin_memory)
        self._loader = None
        if not isinstance(dataset, (ToyDistribution, Dataset)):
            raise TypeError(f"dataset: expected a Dataset or a ToyDistribution, got {type(dataset).__name__}")
        if isinstance(dataset, Dataset) and drop_last and self.batch_size > len(dataset):
            raise ValueError(f"batch_size: {self.batch_size} is larger than the dataset ({len(dataset)} items)")
        if generator is None:  # draw a seed from the global RNG, so seed_everything still applies
            generator = torch.Generator().manual_seed(int(torch.randint(0, 2**62, (1,))))
        self.dataset, self.generator, self.device, self.drop_last = dataset, generator, device, drop_last
        self._epoch_state = generator.get_state()
        self._perm = None
        self._position = 0

    def __iter__(self):
        return self

    def _new_epoch(self):
        from ..distributed import shard

        self._epoch_state = self.generator.get_state()
        # Under torchrun every rank draws the same permutation and keeps its own share of it.
        self._perm = shard(torch.randperm(len(self.dataset), generator=self.generator))
        self._position = 0
        self._loader = None

    def _to_device(self, t: torch.Tensor) -> torch.Tensor:
        if self.pin_memory and torch.device(self.device).type == "cuda":
            return t.pin_memory().to(self.device, non_blocking=True)
        return t.to(self.device)

    def __next__(self):
        if isinstance(self.dataset, ToyDistribution):
            from ..distributed import rank, world_size

            if world_size() == 1:
                return self._to_device(self.dataset.sample(self.batch_size, generator=self.generator))
            points = self.dataset.sample(self.batch_size * world_size(), generator=self.generator)
            return self._to_device(points[rank() * self.batch_size:(rank() + 1) * self.batch_size])
        n = len(self._perm) if self._perm is not None else len(self.dataset)
        stop = n - self.batch_size if self.drop_last else n - 1
        if self._perm is None or self._position > stop:
            self._new_epoch()
        idx = self._perm[self._position:self._position + self.batch_size]
        self._position += self.batch_size
        if isinstance(self.dataset, TensorImageDataset):
            return self._to_device(self.dataset.images[idx]), self._to_device(self.dataset.labels[idx])
        if self.workers > 0:
            return self._next_from_workers(idx)
        return self._collate([self.dataset[int(i)] for i in idx])

    def _collate(self, items):
        if isinstance(items[0], (list, tuple)):
            return tuple(self._to_device(torch.stack([torch.as_tensor(it[k]) for it in items]))
                         for k in range(len(items[0])))
        return self._to_device(torch.stack([torch.as_tensor(it) for it in items]))

    def _next_from_workers(self, idx):
        """The batch ``idx`` read by a DataLoader whose workers prefetch the rest of this epoch's
        batches in the order this iterator will ask for them (so resume stays exact)."""
        if self._loader is None or self._loader[0] != self._position - self.batch_size:
            start = self._position - self.batch_size
            order = [self._perm[k:k + self.batch_size].tolist()
                     for k in range(start, len(self._perm) - (self.batch_size if self.drop_last else 1) + 1,
                                    self.batch_size)]
            loader = torch.utils.data.DataLoader(self.dataset, batch_sampler=order, num_workers=self.workers,
                                                 collate_fn=lambda items: items, persistent_workers=False)
            self._loader = [start, iter(loader)]
        items = next(self._loader[1])
        self._loader[0] += self.batch_size
        return self._collate(items)

    def state_dict(self) -> dict:
        if isinstance(self.dataset, ToyDistribution) or self._perm is None:
            return {"generator": self.generator.get_state(), "position": -1}
        return {"generator": self._epoch_state, "position": self._position}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])
        self._perm = None
        if state["position"] >= 0:
            self._new_epoch()  # replays the permutation drawn at the start of the saved epoch
            self._position = int(state["position"])


def batches(dataset, batch_size: int, generator: torch.Generator | None = None,
            device: torch.device | str = "cpu", drop_last: bool = True, workers: int = 0,
            pin_memory: bool | None = None) -> Batches:
    """Shorthand for :class:`Batches`: ``next(batches(data, 64))`` is a shuffled minibatch."""
    return Batches(dataset, batch_size, generator=generator, device=device, drop_last=drop_last,
                   workers=workers, pin_memory=pin_memory)


def index_batches(n: int, batch_size: int, generator: torch.Generator | None = None) -> Batches:
    """Shuffled minibatches of the row indices 0..n-1: ``_, idx = next(stream)`` gives a batch (B,) of
    indices, so that one draw picks the images and every label or map that goes with them. Resumable
    like :class:`Batches` (it is one, over a dataset of indices)."""
    n = V.positive_int(n, "n")
    index = TensorImageDataset(torch.zeros(n, 1, 1, 1), torch.arange(n), ["index"])
    return batches(index, batch_size, generator=generator)


__all__ = [
    "Digits", "Faces", "Textures", "TensorImageDataset", "TEXTURE_NAMES", "texture_image",
    "ToyDistribution", "Gaussian1D", "GaussianMixture", "GaussianMixture1D", "ParallelLine",
    "SwissRoll", "grid", "ring", "make_toy", "TOY_NAMES",
    "load_dataset", "register_dataset", "dataset_names", "batches", "Batches", "index_batches",
    "ImageFolder", "PairedImageFolder", "ScanReport", "image_folder", "class_folders", "cyclegan_folders",
    "paired_folders", "side_by_side_folder", "open_folder", "detect_layout", "convert_image",
    "fetch", "load_real", "datasets_dir", "real_dataset_names", "DatasetUnavailableError", "DownloadError",
    "ChecksumMismatchError", "UnsafeArchiveError",
]
