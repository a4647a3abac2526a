"""Folders of the user's own images, read robustly: odd files are converted or skipped and counted,
never a crash halfway through an epoch.

Layouts (what ``python -m gancourse.train RECIPE --data PATH`` accepts; :func:`open_folder` detects
them):

=============  ==========================================  ============================================
layout         folder                                      dataset
=============  ==========================================  ============================================
``flat``       ``PATH/**/*.png`` (any depth)                :func:`image_folder`: ``(image, 0)``
``classes``    ``PATH/<class>/**/*.png``, one sub-folder    :func:`class_folders`: ``(image, label)``,
               per class (sorted names = labels 0, 1, ...)  ``classes`` names the labels
``unpaired``   ``PATH/trainA``, ``PATH/trainB`` (and        :func:`cyclegan_folders`: two
               ``testA``, ``testB``), as in CycleGAN        :class:`ImageFolder` objects, one per domain
``paired``     ``PATH/A/x.png`` and ``PATH/B/x.png``:       :func:`paired_folders`: ``(a, b)``
               pairs share their relative name (the
               extensions may differ)
``sidebyside`` ``PATH/*.jpg``, each image A | B side by     :func:`side_by_side_folder`: ``(a, b)`` =
               side (pix2pix's facades, maps)               (left half, right half)
=============  ==========================================  ============================================

Every image comes out as a float32 tensor of shape (C, H, W) in [-1, 1] at the requested ``size``
(an int for square images or ``(H, W)``), with ``channels`` = 1 or 3. The rules:

* **Scan first, cheaply.** Every file with an image extension (.png .jpg .jpeg .bmp .gif .tif
  .tiff .webp .ppm .pgm .pbm) is opened once when the dataset is built: its header gives its size
  and mode; a PNG's chunks are read and their CRCs checked (which finds truncation); a JPEG must
  end with its end-of-image marker (within its last 4 KiB); ``check="full"`` decodes every image
  instead (slower, certain). Files that fail are skipped. Other files (a README, ``.DS_Store``),
  hidden files and ``__MACOSX`` folders are ignored.
* **Skipped, with a reason:** ``unreadable`` (not an image, empty, unknown format),
  ``truncated``, ``too small`` (shorter side below ``min_size``; default 1/8 of the output's
  shorter side, at least 2 pixels: upsampling more than 8x invents the image), ``too large`` (more
  than ``max_pixels`` pixels, 50 million by default, read from the header without decoding: this
  is the protection against decompression bombs, and it sits below Pillow's own 89-million limit),
  and for pairs ``no partner``. ``dataset.report`` holds the counts by reason with a few example
  names, and one warning line says the same when anything was skipped.
* **Converted:** grayscale to RGB (the gray value in every channel) and RGB to grayscale (ITU-R
  601 luma, Pillow's formula); palette images to their colours; **transparency** (RGBA, LA, a
  palette or a colour key with transparency) composited on white by default (``alpha="black"``
  composites on black, ``alpha="drop"`` ignores the alpha channel and keeps the colours stored
  under it); **16-bit** images scaled by 1/65535 (not clipped at 255: 40000 becomes 0.61, i.e.
  0.22 in [-1, 1]); 32-bit integer images read as 16-bit when their values fit in 0-65535 (how
  Pillow opens some 16-bit files), otherwise min-max rescaled; float images kept when in [0, 1],
  otherwise min-max rescaled; the EXIF orientation of photos applied.
* **Resized:** ``resize="crop"`` (default) scales the shorter side to the output and crops the
  centre (the aspect ratio is kept); ``resize="stretch"`` scales both sides to the output.
  Images larger than about twice the output are first reduced by an integer factor while
  decoding (JPEG draft mode, then a box filter), so a 6000 x 4000 photo never becomes a
  288 MB float array. Smaller images are upsampled (bilinear).
* **If a file still fails when it is loaded** (changed or deleted after the scan, damaged in a way
  the fast scan cannot see), the next good image is returned instead, the file is not tried again,
  ``report.failed_at_load`` counts it and a warning names it. With a ``DataLoader`` using worker
  processes, each worker keeps its own count.
"""
from __future__ import annotations

import math
import numbers
import os
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from .. import _validate as V

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pbm")
MAX_PIXELS = 50_000_000
ALPHA_MODES = ("white", "black", "drop")
RESIZE_MODES = ("crop", "stretch")
CHECK_MODES = ("fast", "full")
LAYOUTS = ("flat", "classes", "unpaired", "paired", "sidebyside")

UNREADABLE, TRUNCATED, TOO_SMALL, TOO_LARGE, NO_PARTNER = (
    "unreadable", "truncated", "too small", "too large", "no partner")

_EXIF_TRANSPOSE = {2: "FLIP_LEFT_RIGHT", 3: "ROTATE_180", 4: "FLIP_TOP_BOTTOM", 5: "TRANSPOSE",
                   6: "ROTATE_270", 7: "TRANSVERSE", 8: "ROTATE_90"}


# --------------------------------------------------------------------------------------------
# The report
# --------------------------------------------------------------------------------------------

@dataclass
class ScanReport:
    """What a scan found: files used, skipped (by reason) and converted (by conversion)."""

    root: str
    found: int = 0                 # files with an image extension
    used: int = 0                  # images (or pairs' files) the dataset serves
    ignored: int = 0               # other files: README, .DS_Store, hidden files
    skipped: Counter = field(default_factory=Counter)      # reason -> number of files
    examples: dict = field(default_factory=dict)           # reason -> up to 5 relative names
    converted: Counter = field(default_factory=Counter)    # conversion -> number of files
    failed_at_load: int = 0        # passed the scan, failed when loaded; another image was served

    def skip(self, reason: str, name: str) -> None:
        self.skipped[reason] += 1
        names = self.examples.setdefault(reason, [])
        if len(names) < 5:
            names.append(name)

    @property
    def n_skipped(self) -> int:
        return sum(self.skipped.values())

    def summary(self) -> str:
        """One line: ``photos: 37 of 40 image files used; skipped 3 (2 truncated, 1 too small)``."""
        line = f"{self.root}: {self.used} of {self.found} image files used"
        if self.skipped:
            parts = ", ".join(f"{n} {reason}" for reason, n in sorted(self.skipped.items()))
            line += f"; skipped {self.n_skipped} ({parts})"
        if self.converted:
            line += "; converted: " + ", ".join(f"{n} {what}" for what, n in sorted(self.converted.items()))
        if self.failed_at_load:
            line += f"; {self.failed_at_load} failed when loaded and were replaced"
        if self.ignored:
            line += f"; {self.ignored} other files ignored"
        return line

    __str__ = summary


# --------------------------------------------------------------------------------------------
# Arguments
# --------------------------------------------------------------------------------------------

def _check_size(size) -> tuple[int, int]:
    if isinstance(size, numbers.Integral) and not isinstance(size, bool):
        return V.positive_int(size, "size", minimum=2), V.positive_int(size, "size", minimum=2)
    if isinstance(size, (tuple, list)) and len(size) == 2:
        return V.positive_int(size[0], "size[0]", minimum=2), V.positive_int(size[1], "size[1]", minimum=2)
    raise TypeError(f"size: expected an int or a pair (H, W) of ints >= 2, got {size!r}")


def _check_channels(channels) -> int:
    channels = V.positive_int(channels, "channels")
    if channels not in (1, 3):
        raise ValueError(f"channels: expected 1 (grayscale) or 3 (RGB), got {channels}")
    return channels


@dataclass(frozen=True)
class _Options:
    size: tuple[int, int]
    channels: int
    alpha: str
    resize: str
    min_size: int
    max_pixels: int
    check: str


def _options(size, channels, alpha, resize, min_size, max_pixels, check) -> _Options:
    hw = _check_size(size)
    channels = _check_channels(channels)
    V.choice(alpha, "alpha", ALPHA_MODES)
    V.choice(resize, "resize", RESIZE_MODES)
    V.choice(check, "check", CHECK_MODES)
    if min_size is None:
        min_size = max(2, math.ceil(min(hw) / 8))
    min_size = V.positive_int(min_size, "min_size")
    max_pixels = V.positive_int(max_pixels, "max_pixels")
    return _Options(hw, channels, alpha, resize, min_size, max_pixels, check)


def _folder(root, name: str = "root") -> Path:
    if not isinstance(root, (str, os.PathLike)):
        raise TypeError(f"{name}: expected a folder path (str or Path), got {type(root).__name__}")
    path = Path(root).expanduser()
    if not path.is_dir():
        what = "is a file, not a folder" if path.exists() else "no such folder"
        raise FileNotFoundError(f"{name}: {path}: {what}")
    return path


# --------------------------------------------------------------------------------------------
# Decoding and conversion
# --------------------------------------------------------------------------------------------

def _pil():
    from PIL import Image

    return Image


def _has_alpha(img) -> bool:
    return img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info


def _reduce_for(img, target_hw: tuple[int, int]):
    """Shrink a large image by an integer factor while keeping both sides >= the target."""
    w, h = img.size
    factor = min(h // target_hw[0], w // target_hw[1])
    if factor >= 2:
        img = img.reduce(factor)
    return img


def _to_unit_array(img, channels: int, alpha: str, target_hw: tuple[int, int] | None) -> np.ndarray:
    """A Pillow image as a float32 array (H, W, channels) in [0, 1] (see the module's rules)."""
    Image = _pil()
    orientation = 1
    try:
        orientation = int(img.getexif().get(0x0112, 1))
    except Exception:  # a damaged EXIF block is not a reason to lose the image
        pass
    if target_hw is not None and orientation in (5, 6, 7, 8):  # stored sideways: compare with W, H
        target_hw = (target_hw[1], target_hw[0])
    if target_hw is not None and img.format == "JPEG":
        img.draft(img.mode, (target_hw[1], target_hw[0]))  # decode at 1/2, 1/4 or 1/8 scale when possible
    mode = img.mode
    if mode.startswith("I;16") or mode == "I":
        img = img.convert("I") if mode != "I" else img
        if target_hw is not None:
            img = _reduce_for(img, target_hw)
        arr = np.asarray(img, dtype=np.float64)
        if mode.startswith("I;16") or (arr.size and arr.min() >= 0 and arr.max() <= 65535):
            arr = arr / 65535.0
        else:
            arr = _minmax(arr)
        arr = arr[..., None]
    elif mode == "F":
        if target_hw is not None:
            img = _reduce_for(img, target_hw)
        arr = np.asarray(img, dtype=np.float64)
        arr = np.nan_to_num(arr, nan=0.0, posinf=1.0, neginf=0.0)
        if arr.size and (arr.min() < 0 or arr.max() > 1):
            arr = _minmax(arr)
        arr = arr[..., None]
    elif _has_alpha(img):
        # Composite before any reduction: Pillow's filters premultiply alpha, which would lose the
        # colours under transparent pixels that alpha="drop" keeps.
        img = img.convert("RGBA")
        if alpha == "drop":
            img = img.convert("RGB")
        else:
            background = (255, 255, 255, 255) if alpha == "white" else (0, 0, 0, 255)
            img = Image.alpha_composite(Image.new("RGBA", img.size, background), img).convert("RGB")
        if channels == 1:
            img = img.convert("L")
        if target_hw is not None:
            img = _reduce_for(img, target_hw)
        arr = np.asarray(img, dtype=np.float64) / 255.0
        if arr.ndim == 2:
            arr = arr[..., None]
    else:
        img = img.convert("L" if mode in ("L", "1") else "RGB")
        if img.mode == "RGB" and channels == 1:
            img = img.convert("L")  # ITU-R 601-2 luma
        if target_hw is not None:
            img = _reduce_for(img, target_hw)
        arr = np.asarray(img, dtype=np.float64) / 255.0
        if arr.ndim == 2:
            arr = arr[..., None]
    arr = _channels(arr, channels)
    name = _EXIF_TRANSPOSE.get(orientation)
    if name is not None:
        arr = _apply_transpose(arr, name)
    return np.ascontiguousarray(arr, dtype=np.float32)


def _minmax(arr: np.ndarray) -> np.ndarray:
    lo, hi = float(arr.min()), float(arr.max())
    return np.zeros_like(arr) if hi <= lo else (arr - lo) / (hi - lo)


def _channels(arr: np.ndarray, channels: int) -> np.ndarray:
    if arr.shape[-1] == channels:
        return arr
    if channels == 3:  # gray -> RGB
        return np.repeat(arr, 3, axis=-1)
    r, g, b = arr[..., 0], arr[..., 1], arr[..., 2]  # RGB -> gray, ITU-R 601-2 luma as in Pillow
    return (0.299 * r + 0.587 * g + 0.114 * b)[..., None]


def _apply_transpose(arr: np.ndarray, name: str) -> np.ndarray:
    ops = {
        "FLIP_LEFT_RIGHT": lambda a: a[:, ::-1],
        "FLIP_TOP_BOTTOM": lambda a: a[::-1],
        "ROTATE_180": lambda a: a[::-1, ::-1],
        "ROTATE_90": lambda a: np.rot90(a, 1),       # counter-clockwise, as Pillow's ROTATE_90
        "ROTATE_270": lambda a: np.rot90(a, -1),
        "TRANSPOSE": lambda a: a.transpose(1, 0, 2),
        "TRANSVERSE": lambda a: np.rot90(a, 2).transpose(1, 0, 2),
    }
    return ops[name](arr)


def _fit(arr: np.ndarray, size: tuple[int, int], resize: str) -> torch.Tensor:
    """(h, w, C) in [0, 1] -> (C, H, W) in [-1, 1] at ``size`` (crop: keep the aspect ratio)."""
    x = torch.from_numpy(np.ascontiguousarray(arr)).permute(2, 0, 1)[None]  # (1, C, h, w)
    h, w = x.shape[-2:]
    H, W = size
    if resize == "stretch":
        new = (H, W)
    else:
        scale = max(H / h, W / w)
        new = (max(H, round(h * scale)), max(W, round(w * scale)))
    if new != (h, w):
        x = F.interpolate(x, size=new, mode="bilinear", align_corners=False,
                          antialias=new[0] < h or new[1] < w)
    top, left = (new[0] - H) // 2, (new[1] - W) // 2
    x = x[0, :, top:top + H, left:left + W]
    return (x.clamp(0, 1) * 2 - 1).contiguous()


def convert_image(image, size=64, channels: int = 3, alpha: str = "white", resize: str = "crop") -> torch.Tensor:
    """Convert one image to the course's convention: a float32 tensor (C, H, W) in [-1, 1].

    ``image``: a Pillow image (any mode: 1, L, P, RGB, RGBA, LA, CMYK, I;16, I, F, ...) or a NumPy
    array (H, W) / (H, W, 1|3|4) of uint8 (0-255), uint16 (0-65535) or floats in [0, 1].
    ``size``: int or (H, W); ``channels``: 1 or 3; ``alpha`` and ``resize`` as in the module's
    rules. The image is used at whatever size it has (the folder datasets' size limits do not
    apply here).
    """
    Image = _pil()
    hw = _check_size(size)
    channels = _check_channels(channels)
    V.choice(alpha, "alpha", ALPHA_MODES)
    V.choice(resize, "resize", RESIZE_MODES)
    if isinstance(image, np.ndarray):
        image = _array_to_pil(image)
    elif not isinstance(image, Image.Image):
        raise TypeError(f"image: expected a PIL.Image.Image or a NumPy array, got {type(image).__name__}")
    if image.width < 1 or image.height < 1:
        raise ValueError(f"image: expected at least 1 x 1 pixels, got {image.width} x {image.height}")
    return _fit(_to_unit_array(image, channels, alpha, hw), hw, resize)


def _array_to_pil(arr: np.ndarray):
    Image = _pil()
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[-1] not in (3, 4)):
        raise ValueError(f"image: expected an array of shape (H, W) or (H, W, 1|3|4), got {arr.shape}")
    if arr.dtype == np.uint8:
        return Image.fromarray(arr)
    if arr.dtype == np.uint16:
        if arr.ndim == 2:
            return Image.fromarray(arr)  # mode I;16
        arr = arr.astype(np.float64) / 65535.0
    elif arr.dtype.kind == "f":
        if not np.isfinite(arr).all():
            raise ValueError("image: contains NaN or infinite values")
        if arr.size and (arr.min() < 0 or arr.max() > 1):
            raise ValueError(f"image: expected floats in [0, 1], got range [{arr.min():.3g}, {arr.max():.3g}]")
    else:
        raise TypeError(f"image: expected an array of dtype uint8, uint16 or float, got {arr.dtype}")
    if arr.ndim == 2:
        return Image.fromarray(arr.astype(np.float32), mode="F")
    return Image.fromarray(np.round(arr * 255).astype(np.uint8))


# --------------------------------------------------------------------------------------------
# Scanning
# --------------------------------------------------------------------------------------------

def _is_image_name(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS


def _list_files(root: Path, report: ScanReport, recursive: bool = True, select=None) -> list[Path]:
    """Image files under ``root``, sorted by relative path (the same order on every machine).

    ``select(relative_posix_path) -> bool``, when given, keeps only the files it accepts (the others
    are neither scanned nor counted: a split list, or one kind of file among several).
    """
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d != "__MACOSX")
        if not recursive:
            dirnames[:] = []
        for name in filenames:
            path = Path(dirpath) / name
            if select is not None and not select(path.relative_to(root).as_posix()):
                continue
            if name.startswith(".") or not _is_image_name(path):
                report.ignored += 1
            else:
                found.append(path)
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def _inspect(path: Path, opts: _Options) -> tuple[str | None, str, tuple[int, int], str]:
    """``(reason or None, detail, (width, height), mode)`` for one file, decoding as little as possible."""
    Image = _pil()
    try:
        if path.stat().st_size == 0:
            return UNREADABLE, "empty file", (0, 0), ""
        with Image.open(path) as img:
            size, mode, fmt = img.size, img.mode, img.format
            if "transparency" in img.info and mode in ("P", "L", "RGB"):
                mode += "+transparency"  # a palette entry or colour key that is transparent
            w, h = size
            if w * h > opts.max_pixels:
                return TOO_LARGE, f"{w} x {h} pixels > max_pixels={opts.max_pixels}", size, mode
            if min(w, h) < opts.min_size:
                return TOO_SMALL, f"{w} x {h} pixels, shorter side < min_size={opts.min_size}", size, mode
            if opts.check == "full":
                img.load()
            elif fmt == "PNG":
                img.verify()  # reads every chunk and checks its CRC: finds truncation
        if opts.check == "fast" and fmt == "JPEG" and not _jpeg_has_end(path):
            return TRUNCATED, "no JPEG end-of-image marker", size, mode
        return None, "", size, mode
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        return TOO_LARGE, str(exc), (0, 0), ""
    except Image.UnidentifiedImageError:
        return UNREADABLE, "not an image Pillow can read", (0, 0), ""
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        text = str(exc)
        reason = TRUNCATED if "truncated" in text.lower() or isinstance(exc, EOFError) else UNREADABLE
        return reason, f"{type(exc).__name__}: {text[:120]}", (0, 0), ""
    except Exception as exc:  # any other decoder failure: skip the file, never the epoch
        return UNREADABLE, f"{type(exc).__name__}: {str(exc)[:120]}", (0, 0), ""


def _jpeg_has_end(path: Path) -> bool:
    with open(path, "rb") as fh:
        fh.seek(max(0, path.stat().st_size - 4096))
        return b"\xff\xd9" in fh.read()


def _conversions(mode: str, size: tuple[int, int], opts: _Options, halves: bool = False) -> list[str]:
    w, h = size
    if halves:
        w //= 2
    done = []
    if mode.startswith("I;16") or mode == "I":
        done.append("16-bit scaled")
    elif mode in ("RGBA", "LA", "PA", "RGBa", "La") or mode.endswith("+transparency"):
        done.append("alpha dropped" if opts.alpha == "drop" else f"alpha composited on {opts.alpha}")
    mode = mode.removesuffix("+transparency")
    gray = mode in ("1", "L", "LA", "La", "I", "F") or mode.startswith("I;16")
    if gray and opts.channels == 3:
        done.append("grayscale to RGB")
    elif not gray and opts.channels == 1:
        done.append("colour to grayscale")
    H, W = opts.size
    if h < H or w < W:
        done.append("upsampled")
    elif h >= 2 * H and w >= 2 * W:
        done.append("downscaled")
    return done


def _scan(paths: list[Path], root: Path, opts: _Options, report: ScanReport,
          halves: bool = False, prefix: str = "") -> list[Path]:
    kept = []
    for path in paths:
        report.found += 1
        reason, _, size, mode = _inspect(path, opts)
        if reason is None and halves and size[0] < 2:
            reason = TOO_SMALL
        if reason is not None:
            report.skip(reason, prefix + path.relative_to(root).as_posix())
            continue
        kept.append(path)
        report.used += 1
        for what in _conversions(mode, size, opts, halves):
            report.converted[what] += 1
    return kept


def _warn_report(report: ScanReport, warn: bool) -> None:
    if warn and report.skipped:
        warnings.warn(report.summary(), stacklevel=3)


def _load(path: Path, opts: _Options, halves: bool = False):
    Image = _pil()
    with Image.open(path) as img:
        if halves:
            target = (opts.size[0], 2 * opts.size[1])
            arr = _to_unit_array(img, opts.channels, opts.alpha, target)
            mid = arr.shape[1] // 2
            return _fit(arr[:, :mid], opts.size, opts.resize), _fit(arr[:, mid:2 * mid], opts.size, opts.resize)
        return _fit(_to_unit_array(img, opts.channels, opts.alpha, opts.size), opts.size, opts.resize)


class _Robust(Dataset):
    """Shared by the folder datasets: ``_get(i)`` may fail; ``__getitem__`` then serves the next."""

    report: ScanReport

    def __len__(self) -> int:
        raise NotImplementedError

    def _get(self, index: int):
        raise NotImplementedError

    def _name(self, index: int) -> str:
        raise NotImplementedError

    def __getitem__(self, index):
        n = len(self)
        if isinstance(index, torch.Tensor):
            index = int(index)
        if not isinstance(index, numbers.Integral) or isinstance(index, bool):
            raise TypeError(f"index: expected an int, got {type(index).__name__}")
        if not -n <= index < n:
            raise IndexError(f"index: {index} out of range for {n} items")
        index %= n
        bad = self.__dict__.setdefault("_bad", set())
        for k in range(n):
            i = (index + k) % n
            if i in bad:
                continue
            try:
                return self._get(i)
            except Exception as exc:  # a file that passed the scan and still fails: serve another
                bad.add(i)
                self.report.failed_at_load += 1
                warnings.warn(f"{self._name(i)}: failed to load ({type(exc).__name__}: {str(exc)[:120]}); "
                              f"serving another image instead ({self.report.failed_at_load} so far)")
        raise RuntimeError(f"{self.report.root}: none of the {n} scanned images can be loaded any more")


# --------------------------------------------------------------------------------------------
# Datasets
# --------------------------------------------------------------------------------------------

class ImageFolder(_Robust):
    """Images from a folder, scanned once, served as ``(image, label)`` with image (C, H, W) in [-1, 1].

    Use the helpers: :func:`image_folder` (all images, label 0) and :func:`class_folders` (one
    sub-folder per class). ``files``, ``labels``, ``classes``: the images kept after the scan,
    their labels, the class names. ``report``: the :class:`ScanReport`. ``select(relative_path) ->
    bool`` keeps only the files it accepts (a split list); the others are not counted.
    """

    def __init__(self, root, size=64, channels: int = 3, *, by_class: bool = False, alpha: str = "white",
                 resize: str = "crop", min_size: int | None = None, max_pixels: int = MAX_PIXELS,
                 check: str = "fast", warn: bool = True, select=None):
        root = _folder(root)
        if select is not None and not callable(select):
            raise TypeError(f"select: expected a function of a relative path, got {type(select).__name__}")
        self.root = root
        self.options = _options(size, channels, alpha, resize, min_size, max_pixels, check)
        self.report = ScanReport(root.name or str(root))
        if by_class:
            class_dirs = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith(".")
                                and d.name != "__MACOSX")
            if not class_dirs:
                raise ValueError(f"root: {root} has no class sub-folders; expected {root}/<class>/<images>")
            self.report.ignored += sum(1 for p in root.iterdir() if p.is_file())
            self.classes = [d.name for d in class_dirs]
            files, labels = [], []
            for label, d in enumerate(class_dirs):
                kept = _scan(_list_files(d, self.report, select=select), d, self.options, self.report,
                             prefix=f"{d.name}/")
                files += kept
                labels += [label] * len(kept)
        else:
            self.classes = [root.name or "images"]
            files = _scan(_list_files(root, self.report, select=select), root, self.options, self.report)
            labels = [0] * len(files)
        if not files:
            raise ValueError(f"root: no usable images in {root} ({self.report.summary()})")
        self.files, self.labels = files, labels
        _warn_report(self.report, warn)

    def __len__(self) -> int:
        return len(self.files)

    def _get(self, index: int):
        return _load(self.files[index], self.options), self.labels[index]

    def _name(self, index: int) -> str:
        return str(self.files[index])

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return (self.options.channels, *self.options.size)

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Every image loaded at once: ``(images (N, C, H, W) in [-1, 1], labels (N,) int64)``, for sets
        that fit in memory (the recipes' ``--data`` folders)."""
        items = [self[i] for i in range(len(self))]
        return torch.stack([x for x, _ in items]), torch.tensor([int(y) for _, y in items], dtype=torch.long)

    def __repr__(self):
        c, h, w = self.image_shape
        return f"ImageFolder({self.root.name!r}, n={len(self)}, shape=({c}, {h}, {w}), classes={len(self.classes)})"


class PairedImageFolder(_Robust):
    """Aligned pairs ``(a, b)`` for Pix2Pix, each (C, H, W) in [-1, 1].

    Either two folders whose files pair by relative name without extension (``root_a/x.png`` with
    ``root_b/x.jpg``), or, with ``root_b=None``, one folder of side-by-side images (A on the left
    half, B on the right). A file without a partner, or whose partner is skipped, is counted as
    ``no partner``. ``channels_b``: B's channel count when it differs from A's (a label map).
    ``select(relative_path) -> bool`` keeps only some files on both sides; ``pair_key(relative
    name without extension) -> key`` matches names that differ by a suffix (Cityscapes'
    ``x_leftImg8bit`` with ``x_gtFine_color``).
    """

    def __init__(self, root_a, root_b=None, size=256, channels: int = 3, *, channels_b: int | None = None,
                 alpha: str = "white", resize: str = "crop", min_size: int | None = None,
                 max_pixels: int = MAX_PIXELS, check: str = "fast", warn: bool = True, select=None,
                 pair_key=None):
        root_a = _folder(root_a, "root_a")
        for fn, name in ((select, "select"), (pair_key, "pair_key")):
            if fn is not None and not callable(fn):
                raise TypeError(f"{name}: expected a function of a relative path, got {type(fn).__name__}")
        self._select, self._pair_key = select, pair_key
        self.options = _options(size, channels, alpha, resize, min_size, max_pixels, check)
        self.options_b = _options(size, channels if channels_b is None else channels_b, alpha, resize,
                                  min_size, max_pixels, check)
        self.side_by_side = root_b is None
        if self.side_by_side:
            self.report = ScanReport(root_a.name or str(root_a))
            kept = _scan(_list_files(root_a, self.report, select=select), root_a, self.options, self.report,
                         halves=True)
            self.pairs = [(p, p) for p in kept]
        else:
            root_b = _folder(root_b, "root_b")
            self.report = ScanReport(f"{root_a.parent.name}/{{{root_a.name},{root_b.name}}}")
            self.pairs = self._match(root_a, root_b)
        if not self.pairs:
            raise ValueError(f"root_a: no usable image pairs ({self.report.summary()})")
        _warn_report(self.report, warn)

    def _match(self, root_a: Path, root_b: Path) -> list[tuple[Path, Path]]:
        def keyed(root):
            out = {}
            for p in _list_files(root, self.report, select=self._select):
                key = p.relative_to(root).with_suffix("").as_posix()
                out.setdefault(self._pair_key(key) if self._pair_key else key, p)
            return out

        def name(path, root):
            return f"{root.name}/{path.relative_to(root).as_posix()}"

        files_a, files_b = keyed(root_a), keyed(root_b)
        pairs = []
        for key in sorted(set(files_a) | set(files_b)):
            a, b = files_a.get(key), files_b.get(key)
            if a is None or b is None:
                self.report.found += 1
                self.report.skip(NO_PARTNER, name(a, root_a) if a else name(b, root_b))
                continue
            ok_a = _scan([a], root_a, self.options, self.report, prefix=f"{root_a.name}/")
            ok_b = _scan([b], root_b, self.options_b, self.report, prefix=f"{root_b.name}/")
            if ok_a and ok_b:
                pairs.append((a, b))
            elif ok_a or ok_b:  # the partner of a skipped file is skipped too
                self.report.used -= 1
                self.report.skip(NO_PARTNER, name(a, root_a) if ok_a else name(b, root_b))
        return pairs

    def __len__(self) -> int:
        return len(self.pairs)

    def _get(self, index: int):
        a, b = self.pairs[index]
        if self.side_by_side:
            left, right = _load(a, self.options, halves=True)
            if self.options_b.channels != self.options.channels:
                right = _load(a, self.options_b, halves=True)[1]
            return left, right
        return _load(a, self.options), _load(b, self.options_b)

    def _name(self, index: int) -> str:
        a, b = self.pairs[index]
        return str(a) if a == b else f"{a} / {b}"

    def __repr__(self):
        c, (h, w) = self.options.channels, self.options.size
        return f"PairedImageFolder(n={len(self)}, shape=({c}, {h}, {w}), side_by_side={self.side_by_side})"


# --------------------------------------------------------------------------------------------
# Layout helpers: what recipes' --data PATH uses
# --------------------------------------------------------------------------------------------

def image_folder(root, size=64, channels: int = 3, **options) -> ImageFolder:
    """Every image under ``root`` (any depth), label 0: the data of an unconditional GAN."""
    return ImageFolder(root, size, channels, **options)


def class_folders(root, size=64, channels: int = 3, **options) -> ImageFolder:
    """``root/<class>/...``: one sub-folder per class, labels 0, 1, ... in sorted folder order.

    Files directly in ``root`` are ignored (counted in ``report.ignored``).
    """
    return ImageFolder(root, size, channels, by_class=True, **options)


def cyclegan_folders(root, size=256, channels: int = 3, split: str = "train",
                     **options) -> tuple[ImageFolder, ImageFolder]:
    """CycleGAN's layout ``root/trainA``, ``root/trainB`` (``split="test"``: ``testA``, ``testB``).

    Returns the two domains as two datasets (they are unpaired and may differ in length).
    """
    split = V.choice(split, "split", ("train", "test"))
    root = _folder(root)
    missing = [f"{split}{d}" for d in "AB" if not (root / f"{split}{d}").is_dir()]
    if missing:
        raise FileNotFoundError(f"root: {root} lacks {' and '.join(missing)}; expected {root}/{split}A and "
                                f"{root}/{split}B, one folder of images per domain")
    return (ImageFolder(root / f"{split}A", size, channels, **options),
            ImageFolder(root / f"{split}B", size, channels, **options))


def paired_folders(root, size=256, channels: int = 3, **options) -> PairedImageFolder:
    """Pix2Pix's aligned pairs: ``root/A/x.png`` with ``root/B/x.png`` (names match, extensions may differ)."""
    root = _folder(root)
    missing = [d for d in "AB" if not (root / d).is_dir()]
    if missing:
        raise FileNotFoundError(f"root: {root} lacks {' and '.join(missing)}; expected {root}/A and {root}/B "
                                "holding images with matching names")
    return PairedImageFolder(root / "A", root / "B", size, channels, **options)


def side_by_side_folder(root, size=256, channels: int = 3, **options) -> PairedImageFolder:
    """Pix2Pix's combined images (facades, maps): each file is A | B side by side; returns ``(a, b)``."""
    return PairedImageFolder(root, None, size, channels, **options)


def detect_layout(root) -> str:
    """Guess the layout of ``root`` (see the module's table) from its folders, without reading images."""
    root = _folder(root)
    subdirs = {d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith(".")} - {"__MACOSX"}
    if {"trainA", "trainB"} <= subdirs or {"testA", "testB"} <= subdirs:
        return "unpaired"
    if {"A", "B"} <= subdirs:
        return "paired"
    top_images = any(p.is_file() and _is_image_name(p) and not p.name.startswith(".") for p in root.iterdir())
    if subdirs and not top_images:
        return "classes"
    return "flat"


def open_folder(root, layout: str | None = None, size=64, channels: int = 3, **options):
    """The dataset for ``--data PATH``: ``layout`` one of flat, classes, unpaired, paired, sidebyside
    (None: :func:`detect_layout`; side-by-side images cannot be told from flat ones, so ask for them).

    Returns an :class:`ImageFolder`, a :class:`PairedImageFolder`, or for ``unpaired`` a pair of
    ImageFolders (domain A, domain B).
    """
    layout = detect_layout(root) if layout is None else V.choice(layout, "layout", LAYOUTS)
    builders = {"flat": image_folder, "classes": class_folders, "unpaired": cyclegan_folders,
                "paired": paired_folders, "sidebyside": side_by_side_folder}
    return builders[layout](root, size, channels, **options)
