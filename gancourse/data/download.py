"""Real datasets, for users with a network: download, verify, extract safely, load.

The notebooks never need any of this (they run offline on the embedded datasets). Recipes and
users who want the datasets of the papers use::

    from gancourse import data
    data.fetch("mnist")                          # downloads into data.datasets_dir() / "mnist"
    train = data.load_real("mnist", split="train", size=32)     # (N, 1, 32, 32) in [-1, 1]
    horses, zebras = data.load_real("horse2zebra")              # two ImageFolders

=================  ===========================  ==============================================
name               how it arrives               what ``load_real`` returns
=================  ===========================  ==============================================
``mnist``          downloaded, SHA-256 checked  ``TensorImageDataset`` (N, 1, 28, 28), labels 0-9
``fashion-mnist``  downloaded, MD5 checked      ``TensorImageDataset`` (N, 1, 28, 28), 10 classes
``horse2zebra``    downloaded (no published     ``(ImageFolder A, ImageFolder B)``: horses, zebras
                   checksum, see below)
``facades``        downloaded (idem)            ``PairedImageFolder``: (photo, label map) pairs
``celeba``         by hand (licence, login)     ``ImageFolder`` of the aligned 178x218 faces
``cityscapes``     by hand (login)              ``PairedImageFolder``: (photo, colour label map)
``mvtec_ad``       by hand (registration)       ``ImageFolder`` with classes good / defect types
=================  ===========================  ==============================================

Where files go: ``$GANCOURSE_DATASETS/<name>/`` if that variable is set, else
``~/.cache/gancourse/datasets/<name>/`` (``$XDG_CACHE_HOME`` is respected), or any ``root=`` you pass.
Offline, or for the datasets behind a login, the error (:class:`DatasetUnavailableError`) names the
dataset, the URL, and the folder where to put the files by hand; ``fetch`` then verifies and
unpacks them as if it had downloaded them.

Integrity rules:

* **Checksums.** Where the publisher gives one (MNIST: SHA-256, cross-checked against several
  independent copies; Fashion-MNIST: the MD5 its authors publish, an integrity check only), a
  file whose digest differs is deleted and :class:`ChecksumMismatchError` is raised. Where none is
  published (horse2zebra, facades, and archives you place by hand), the course cannot tell a
  modified file from the original: it checks that the transfer is complete (the announced length)
  and that the archive reads through (every zip record's CRC, every tar member), then records the
  file's SHA-256 in ``<file>.sha256`` and checks it on every later use ("trust on first use").
* **No partial file under the real name.** Bytes go to ``<file>.part``, renamed only once the
  length and checksum match. An interrupted transfer leaves the ``.part`` file; the next call
  resumes it with an HTTP range request, or restarts from zero when the server does not support
  ranges. A ``.part`` file is never used as data.
* **Safe extraction.** Every member of a zip or tar archive is checked before anything is
  written: absolute paths, ``..`` components, links of any kind (symbolic or hard: a chain of
  links, each harmless on paper, can lead outside once the earlier ones exist; the datasets'
  archives hold none), device files and a total size above ``max_bytes`` are refused
  (:class:`UnsafeArchiveError`, nothing extracted). The course writes every member itself, never
  through a link, checking each destination's real path, so the rules hold on every Python version
  (they do not rely on ``tarfile``'s extraction filters, which Python 3.10.0-3.10.11 and
  3.11.0-3.11.3 lack). The archive is unpacked into a temporary folder beside the target and moved
  into place entry by entry, so a crash never leaves a half-extracted folder under the real name.
"""
from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import re
import shutil
import socket
import stat
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
import torch

from .. import _validate as V

DATASETS_ENV = "GANCOURSE_DATASETS"
MAX_ARCHIVE_BYTES = 64 * 2**30   # refuse archives that would unpack to more than 64 GiB
CHUNK = 1 << 20


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------

class DownloadError(OSError):
    """A transfer that failed or ended early; ``url`` and ``path`` say which."""

    def __init__(self, message: str, url: str = "", path: Path | None = None):
        super().__init__(message)
        self.url, self.path = url, path

    def __str__(self):
        return self.args[0]


class ChecksumMismatchError(DownloadError):
    """A complete file whose checksum (or length) differs from the expected one."""


class DatasetUnavailableError(RuntimeError):
    """A dataset that cannot be obtained here (offline, or behind a login): says where to put it."""

    def __init__(self, message: str, dataset: str = "", url: str = "", folder: Path | None = None):
        super().__init__(message)
        self.dataset, self.url, self.folder = dataset, url, folder


class UnsafeArchiveError(ValueError):
    """An archive member that would land outside the target folder, or an archive too large."""


# --------------------------------------------------------------------------------------------
# The registry
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RemoteFile:
    """One file of a dataset: where it comes from and how to check it."""

    name: str                   # file name in the dataset's folder
    url: str
    sha256: str | None = None
    md5: str | None = None      # only where the publisher gives MD5 and nothing better
    size: int | None = None     # bytes
    archive: bool = False       # unpack it into the dataset's folder


@dataclass(frozen=True)
class RealDataset:
    name: str
    description: str
    homepage: str
    files: tuple[RemoteFile, ...]
    ready: tuple[str, ...]      # paths (relative to the folder) that exist once the data are in place
    layout: str                 # the folder as load_real expects it
    manual: bool = False        # behind a login or licence: never downloaded automatically
    ready_any: bool = False     # one of ``ready`` is enough (MVTec AD: any category)
    notes: str = ""


_MNIST = "https://ossci-datasets.s3.amazonaws.com/mnist/"
_FASHION = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
MVTEC_CATEGORIES = ("bottle", "cable", "capsule", "carpet", "grid", "hazelnut", "leather", "metal_nut",
                    "pill", "screw", "tile", "toothbrush", "transistor", "wood", "zipper")

REAL_DATASETS: dict[str, RealDataset] = {
    "mnist": RealDataset(
        "mnist", "MNIST handwritten digits, 60,000 + 10,000, 28x28 grayscale (LeCun et al. 1998)",
        "https://yann.lecun.com/exdb/mnist/",
        (
            RemoteFile("train-images-idx3-ubyte.gz", _MNIST + "train-images-idx3-ubyte.gz",
                       sha256="440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
                       md5="f68b3c2dcbeaaa9fbdd348bbdeb94873", size=9912422),
            RemoteFile("train-labels-idx1-ubyte.gz", _MNIST + "train-labels-idx1-ubyte.gz",
                       sha256="3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
                       md5="d53e105ee54ea40749a09fcbcd1e9432", size=28881),
            RemoteFile("t10k-images-idx3-ubyte.gz", _MNIST + "t10k-images-idx3-ubyte.gz",
                       sha256="8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
                       md5="9fb629c4189551a2d022fa330f9573f3", size=1648877),
            RemoteFile("t10k-labels-idx1-ubyte.gz", _MNIST + "t10k-labels-idx1-ubyte.gz",
                       sha256="f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
                       md5="ec29112dd5afa0611ce80d1b7f02629c", size=4542),
        ),
        ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
         "t10k-labels-idx1-ubyte.gz"),
        "the four idx files, gzipped (as downloaded) or not",
    ),
    "fashion-mnist": RealDataset(
        "fashion-mnist", "Fashion-MNIST, Zalando article images, 60,000 + 10,000, 28x28 grayscale (Xiao et al. 2017)",
        "https://github.com/zalandoresearch/fashion-mnist",
        (
            RemoteFile("train-images-idx3-ubyte.gz", _FASHION + "train-images-idx3-ubyte.gz",
                       md5="8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
            RemoteFile("train-labels-idx1-ubyte.gz", _FASHION + "train-labels-idx1-ubyte.gz",
                       md5="25c81989df183df01b3e8a0aad5dffbe"),
            RemoteFile("t10k-images-idx3-ubyte.gz", _FASHION + "t10k-images-idx3-ubyte.gz",
                       md5="bef4ecab320f06d8554ea6380940ec79"),
            RemoteFile("t10k-labels-idx1-ubyte.gz", _FASHION + "t10k-labels-idx1-ubyte.gz",
                       md5="bb300cfdad3c16e7a12a480ee83cd310"),
        ),
        ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
         "t10k-labels-idx1-ubyte.gz"),
        "the four idx files, gzipped (as downloaded) or not",
        notes="The publisher gives MD5 checksums only: they detect damage, not tampering.",
    ),
    "horse2zebra": RealDataset(
        "horse2zebra", "CycleGAN's horses and zebras from ImageNet, 256x256 (Zhu et al. 2017)",
        "https://github.com/junyanz/pytorch-CycleGAN-and-pix2pix",
        (RemoteFile("horse2zebra.zip", "https://efrosgans.eecs.berkeley.edu/cyclegan/datasets/horse2zebra.zip",
                    archive=True),),
        ("horse2zebra/trainA", "horse2zebra/trainB", "horse2zebra/testA", "horse2zebra/testB"),
        "horse2zebra/{trainA,trainB,testA,testB}/*.jpg",
        notes="No checksum is published: completeness is checked and the SHA-256 recorded on first use.",
    ),
    "facades": RealDataset(
        "facades", "CMP Facades as used by pix2pix: photo | label map side by side, 256x256 each (Isola et al. 2017)",
        "https://github.com/phillipi/pix2pix",
        (RemoteFile("facades.tar.gz", "http://efrosgans.eecs.berkeley.edu/pix2pix/datasets/facades.tar.gz",
                    archive=True),),
        ("facades/train", "facades/val", "facades/test"),
        "facades/{train,val,test}/*.jpg, each image photo | labels",
        notes="No checksum is published: completeness is checked and the SHA-256 recorded on first use.",
    ),
    "celeba": RealDataset(
        "celeba", "CelebA aligned faces, 202,599 images 178x218 (Liu et al. 2015); non-commercial research licence",
        "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html",
        (RemoteFile("img_align_celeba.zip", "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html", archive=True),),
        ("img_align_celeba",),
        "img_align_celeba/*.jpg (and optionally list_eval_partition.txt for the official splits)",
        manual=True,
        notes="Download 'Align&Cropped Images' (img_align_celeba.zip) and, for splits, "
              "'Eval/list_eval_partition.txt' from the project page's Google Drive after accepting the licence.",
    ),
    "cityscapes": RealDataset(
        "cityscapes", "Cityscapes street scenes with fine labels, 2048x1024 (Cordts et al. 2016)",
        "https://www.cityscapes-dataset.com/downloads/",
        (RemoteFile("leftImg8bit_trainvaltest.zip", "https://www.cityscapes-dataset.com/downloads/", archive=True),
         RemoteFile("gtFine_trainvaltest.zip", "https://www.cityscapes-dataset.com/downloads/", archive=True)),
        ("leftImg8bit", "gtFine"),
        "leftImg8bit/{train,val,test}/<city>/*_leftImg8bit.png and gtFine/<split>/<city>/*_gtFine_color.png",
        manual=True,
        notes="Register (free for research) and download leftImg8bit_trainvaltest.zip and gtFine_trainvaltest.zip.",
    ),
    "mvtec_ad": RealDataset(
        "mvtec_ad", "MVTec AD, 15 categories of industrial objects and textures with defects (Bergmann et al. 2019); "
        "CC BY-NC-SA 4.0",
        "https://www.mvtec.com/company/research/datasets/mvtec-ad",
        (RemoteFile("mvtec_anomaly_detection.tar.xz", "https://www.mvtec.com/company/research/datasets/mvtec-ad",
                    archive=True),),
        MVTEC_CATEGORIES,
        "<category>/train/good/*.png, <category>/test/<good|defect type>/*.png, <category>/ground_truth/...",
        manual=True, ready_any=True,
        notes="Fill in the form on the download page and download the whole archive (about 5 GB); or unpack "
              "only the categories you need (e.g. bottle.tar.xz) into the folder yourself.",
    ),
}


def real_dataset_names() -> tuple[str, ...]:
    return tuple(sorted(REAL_DATASETS))


def _entry(name) -> RealDataset:
    if not isinstance(name, str):
        raise TypeError(f"name: expected a dataset name (str), got {type(name).__name__}")
    if name not in REAL_DATASETS:
        raise ValueError(f"name: unknown real dataset {name!r}; expected one of {', '.join(real_dataset_names())}")
    return REAL_DATASETS[name]


def datasets_dir() -> Path:
    """Where real datasets live: ``$GANCOURSE_DATASETS``, else ``~/.cache/gancourse/datasets``."""
    if os.environ.get(DATASETS_ENV):
        return Path(os.environ[DATASETS_ENV]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "gancourse" / "datasets"


def dataset_folder(name: str, root=None) -> Path:
    """The folder of dataset ``name``: ``root`` if given, else ``datasets_dir() / name``."""
    _entry(name)
    if root is None:
        return datasets_dir() / name
    if not isinstance(root, (str, os.PathLike)):
        raise TypeError(f"root: expected a folder path (str or Path), got {type(root).__name__}")
    return Path(root).expanduser()


def is_ready(name: str, root=None) -> bool:
    """True when the dataset's files are in place (see each entry's ``ready`` paths)."""
    entry = _entry(name)
    folder = dataset_folder(name, root)
    found = [(folder / p).exists() or (folder / p.removesuffix(".gz")).exists() for p in entry.ready]
    return any(found) if entry.ready_any else all(found)


# --------------------------------------------------------------------------------------------
# Checksums and downloads
# --------------------------------------------------------------------------------------------

def file_digest(path, algorithm: str = "sha256") -> str:
    """Hex digest of a file (``sha256`` or ``md5``), read in 1 MiB chunks."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def verify_file(path, sha256: str | None = None, md5: str | None = None, size: int | None = None) -> None:
    """Raise :class:`ChecksumMismatchError` (naming the file) unless ``path`` has the given size and digests."""
    path = Path(path)
    if size is not None and path.stat().st_size != size:
        raise ChecksumMismatchError(f"{path}: {path.stat().st_size} bytes, expected {size}", path=path)
    for algorithm, expected in (("sha256", sha256), ("md5", md5)):
        if expected is not None:
            got = file_digest(path, algorithm)
            if got != expected.lower():
                raise ChecksumMismatchError(
                    f"{path}: {algorithm.upper()} {got} does not match the expected {expected}", path=path)


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def download_file(url: str, path, *, sha256: str | None = None, md5: str | None = None, size: int | None = None,
                  timeout: float = 30.0, resume: bool = True, progress: bool = False) -> Path:
    """Download ``url`` to ``path`` through ``path.part``; renamed into place only once verified.

    An existing ``path`` is verified (against ``sha256``/``md5``/``size``, or the ``.sha256`` file
    recorded when it was first downloaded) and returned. An existing ``path.part`` is resumed with
    an HTTP range request when ``resume`` (a server that ignores ranges restarts it from zero).
    Raises :class:`DownloadError` when the transfer fails or ends early (the ``.part`` file stays, to
    be resumed), :class:`ChecksumMismatchError` when the complete file is wrong (it is deleted).
    ``url`` may be ``http(s)://`` or ``file://``.
    """
    if not isinstance(url, str) or not re.match(r"^(https?|file)://", url):
        raise ValueError(f"url: expected an http://, https:// or file:// URL, got {url!r}")
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path: expected a file path, got {type(path).__name__}")
    timeout = V.positive_float(timeout, "timeout")
    if size is not None:
        size = V.positive_int(size, "size", minimum=0)
    for digest, name, length in ((sha256, "sha256", 64), (md5, "md5", 32)):
        if digest is not None and not (isinstance(digest, str) and re.fullmatch(rf"[0-9a-fA-F]{{{length}}}", digest)):
            raise ValueError(f"{name}: expected {length} hexadecimal digits, got {digest!r}")
    path = Path(path)
    if path.is_file():
        _verify_existing(path, sha256, md5, size)
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    offset = part.stat().st_size if resume and part.is_file() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "gancourse"})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:  # the range is past the end: the .part file is unusable
            part.unlink()
            return download_file(url, path, sha256=sha256, md5=md5, size=size, timeout=timeout,
                                 resume=False, progress=progress)
        raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}", url, path) from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", exc)
        raise DownloadError(f"{url}: cannot connect ({reason})", url, path) from None
    with response:
        status = getattr(response, "status", None)
        if offset and status != 206:  # the server sent the whole file: start again
            offset = 0
        length = response.headers.get("Content-Length")
        expected_total = offset + int(length) if length is not None and length.isdigit() else None
        received = offset
        try:
            with open(part, "ab" if offset else "wb") as fh:
                for chunk in iter(lambda: response.read(CHUNK), b""):
                    fh.write(chunk)
                    received += len(chunk)
                    if progress:
                        total = f"/{expected_total / 1e6:.1f}" if expected_total else ""
                        print(f"\r{path.name}: {received / 1e6:.1f}{total} MB", end="", file=sys.stderr, flush=True)
        except (OSError, http.client.HTTPException, socket.timeout) as exc:
            raise DownloadError(
                f"{url}: transfer interrupted after {received} bytes ({type(exc).__name__}); the partial file "
                f"{part} is kept and the next call resumes it", url, path) from None
        finally:
            if progress:
                print(file=sys.stderr)
    if expected_total is not None and received < expected_total:
        raise DownloadError(
            f"{url}: incomplete download, {received} of {expected_total} bytes; the partial file {part} is kept "
            "and the next call resumes it", url, path)
    try:
        verify_file(part, sha256, md5, size)
    except ChecksumMismatchError as exc:
        part.unlink(missing_ok=True)
        raise ChecksumMismatchError(f"{url}: the downloaded file is not the expected one ({exc}); it was deleted. "
                                    "Try again; if it persists, the file on the server has changed.", url, path) from None
    os.replace(part, path)
    if sha256 is None:  # nothing published: record the digest now, check it on every later use
        _sidecar(path).write_text(f"{file_digest(path)}  {path.name}\n")
    return path


def _verify_existing(path: Path, sha256, md5, size) -> None:
    if sha256 is None and md5 is None and _sidecar(path).is_file():
        sha256 = _sidecar(path).read_text().split()[0]
    try:
        verify_file(path, sha256, md5, size)
    except ChecksumMismatchError as exc:
        raise ChecksumMismatchError(f"{exc}. The file is damaged or is not the expected one: delete it to "
                                    "download it again.", path=path) from None


# --------------------------------------------------------------------------------------------
# Safe extraction
# --------------------------------------------------------------------------------------------

def _unsafe_name(name: str) -> str | None:
    """Why an archive member name is unsafe, or None."""
    if not name or "\x00" in name:
        return "empty name"
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        return "absolute path"
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if ".." in parts:
        return "'..' escapes the target folder"
    return None


_LINKS_REFUSED = ("archives holding links are refused: a chain of links, each harmless on paper, can "
                  "lead outside the target folder once the earlier ones exist on disk")


@dataclass
class _Member:
    """One archive member to write: its path parts below the target, a folder or a file, its size."""

    name: str
    parts: tuple[str, ...]
    is_dir: bool
    size: int
    info: object   # the ZipInfo / TarInfo it came from


def _member(where: Path, name: str, is_dir: bool, size: int, info) -> _Member:
    why = _unsafe_name(name)
    if why:
        raise UnsafeArchiveError(f"{where}: member {name!r} refused ({why}); nothing was extracted")
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if not parts and not is_dir:
        raise UnsafeArchiveError(f"{where}: member {name!r} refused (a file without a name); nothing was extracted")
    return _Member(name, parts, is_dir, size, info)


def _plan_zip(archive: zipfile.ZipFile, where: Path, max_bytes: int) -> list[_Member]:
    members = []
    for info in archive.infolist():
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            target = archive.read(info).decode("utf-8", "replace")
            raise UnsafeArchiveError(f"{where}: member {info.filename!r} is a link to {target!r}; "
                                     f"{_LINKS_REFUSED}; nothing was extracted")
        if stat.S_IFMT(mode) and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):  # 0: no type recorded
            raise UnsafeArchiveError(f"{where}: member {info.filename!r} is a device or special file; "
                                     "nothing was extracted")
        members.append(_member(where, info.filename, info.is_dir(), info.file_size, info))
    _check_total(where, members, max_bytes)
    return members


def _plan_tar(archive: tarfile.TarFile, where: Path, max_bytes: int) -> list[_Member]:
    members = []
    for info in archive.getmembers():
        if info.issym() or info.islnk():
            kind = "symbolic" if info.issym() else "hard"
            raise UnsafeArchiveError(f"{where}: member {info.name!r} is a {kind} link to {info.linkname!r}; "
                                     f"{_LINKS_REFUSED}; nothing was extracted")
        if not (info.isfile() or info.isdir()):
            raise UnsafeArchiveError(f"{where}: member {info.name!r} is a device or special file; "
                                     "nothing was extracted")
        members.append(_member(where, info.name, info.isdir(), info.size, info))
    _check_total(where, members, max_bytes)
    return members


def _check_total(where: Path, members: list[_Member], max_bytes: int) -> None:
    total = sum(m.size for m in members)
    if total > max_bytes:
        raise UnsafeArchiveError(f"{where}: would unpack to {total} bytes, more than max_bytes={max_bytes}; "
                                 "nothing was extracted")


def _write_members(members: list[_Member], open_member, staging: Path, where: Path, max_bytes: int) -> None:
    """Write every member below ``staging`` ourselves, never through a link.

    No link is ever created (links are refused when planning), each destination's real path is
    checked to lie inside ``staging`` before it is written, and files are opened with
    ``O_NOFOLLOW``: so nothing can land outside, whatever the Python version and whether or not
    its ``tarfile`` has extraction filters. The bytes actually written count against
    ``max_bytes`` (a member may lie about its size).
    """
    root = Path(os.path.realpath(staging))
    written = 0
    for m in members:
        dest = staging.joinpath(*m.parts)
        real = Path(os.path.realpath(dest))
        if real != root and root not in real.parents:
            raise UnsafeArchiveError(f"{where}: member {m.name!r} would be written to {real}, outside the target "
                                     "folder; nothing was extracted")
        if m.is_dir:
            dest.mkdir(parents=True, exist_ok=True)
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        if dest.is_dir():
            raise UnsafeArchiveError(f"{where}: member {m.name!r} is a file where the archive also has a folder; "
                                     "nothing was extracted")
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
        with open_member(m.info) as src, os.fdopen(os.open(dest, flags, 0o644), "wb") as out:
            while chunk := src.read(CHUNK):
                written += len(chunk)
                if written > max_bytes:
                    raise UnsafeArchiveError(f"{where}: unpacks to more than max_bytes={max_bytes} bytes (its "
                                             "members understate their sizes); nothing was extracted")
                out.write(chunk)


def extract_archive(archive, target, *, max_bytes: int = MAX_ARCHIVE_BYTES) -> list[Path]:
    """Unpack a zip or tar (gz, bz2, xz) archive into ``target`` safely; return the top-level paths.

    Every member is checked first (see the module's rules; links of any kind are refused); then
    the members are written one by one into a temporary folder inside ``target`` (see
    :func:`_write_members`) and each top-level entry is renamed into place. An entry that already
    exists in ``target`` is an error (remove it to unpack again).
    """
    if not isinstance(archive, (str, os.PathLike)):
        raise TypeError(f"archive: expected a file path, got {type(archive).__name__}")
    archive = Path(archive)
    if not archive.is_file():
        raise FileNotFoundError(f"archive: {archive}: no such file")
    if not isinstance(target, (str, os.PathLike)):
        raise TypeError(f"target: expected a folder path, got {type(target).__name__}")
    max_bytes = V.positive_int(max_bytes, "max_bytes")
    target = Path(target)
    if target.exists() and not target.is_dir():
        raise NotADirectoryError(f"target: {target} is a file, not a folder")
    target.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".extracting-{archive.name}-", dir=target))
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                members = _plan_zip(zf, archive, max_bytes)
                bad = zf.testzip()
                if bad is not None:
                    raise UnsafeArchiveError(f"{archive}: member {bad!r} fails its CRC check; the archive is damaged")
                _write_members(members, zf.open, staging, archive, max_bytes)
        elif _is_tar(archive):
            with tarfile.open(archive, "r:*") as tf:
                members = _plan_tar(tf, archive, max_bytes)
                _write_members(members, tf.extractfile, staging, archive, max_bytes)
        else:
            raise ValueError(f"archive: {archive} is neither a zip nor a tar archive")
        tops = sorted(staging.iterdir())
        clash = [p.name for p in tops if (target / p.name).exists() or (target / p.name).is_symlink()]
        if clash:
            raise FileExistsError(f"target: {target} already holds {', '.join(clash)}; remove it to unpack "
                                  f"{archive.name} again")
        placed = []
        for p in tops:
            os.replace(p, target / p.name)
            placed.append(target / p.name)
        return placed
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error) as exc:
        raise UnsafeArchiveError(f"{archive}: damaged or truncated archive ({type(exc).__name__}: {exc})") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _is_tar(path: Path) -> bool:
    try:
        return tarfile.is_tarfile(path)
    except (OSError, tarfile.TarError):
        return False


def _check_archive_reads(path: Path) -> None:
    """Read an archive through (zip CRCs, every tar member) so that a damaged one is found now."""
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                bad = zf.testzip()
            if bad is not None:
                raise UnsafeArchiveError(f"{path}: member {bad!r} fails its CRC check; the archive is damaged")
        elif _is_tar(path):
            with tarfile.open(path, "r:*") as tf:
                for info in tf:
                    if info.isfile():
                        fh = tf.extractfile(info)
                        while fh.read(CHUNK):
                            pass
        else:
            raise UnsafeArchiveError(f"{path}: neither a zip nor a tar archive (damaged or incomplete)")
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError, zlib.error) as exc:
        raise UnsafeArchiveError(f"{path}: damaged or truncated archive ({type(exc).__name__}: {exc})") from None


# --------------------------------------------------------------------------------------------
# fetch and load_real
# --------------------------------------------------------------------------------------------

def _where_to_put(entry: RealDataset, folder: Path) -> str:
    names = ", ".join(f.name for f in entry.files)
    return (f"put {names} into {folder} (or the unpacked {entry.layout} there), "
            f"then call gancourse.data.fetch({entry.name!r}) again, or load_real({entry.name!r}) once unpacked")


def fetch(name: str, root=None, *, timeout: float = 30.0, progress: bool = True,
          max_bytes: int = MAX_ARCHIVE_BYTES) -> Path:
    """Make dataset ``name`` ready in its folder (see :func:`dataset_folder`) and return the folder.

    Already in place: returns at once. Otherwise downloads what is missing (resuming ``.part``
    files), verifies it, unpacks archives safely. Datasets behind a login are never downloaded:
    archives you put in the folder are verified and unpacked. Raises
    :class:`DatasetUnavailableError` (offline, or files to fetch by hand) naming the dataset, the
    URL and the folder; :class:`ChecksumMismatchError` for a wrong file.
    """
    entry = _entry(name)
    folder = dataset_folder(name, root)
    if is_ready(name, folder):
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    present = [f for f in entry.files if (folder / f.name).is_file()]
    if entry.manual and not present:
        raise DatasetUnavailableError(
            f"{name}: cannot be downloaded automatically ({entry.notes}) From {entry.homepage} "
            f"{_where_to_put(entry, folder)}.", name, entry.homepage, folder)
    for remote in entry.files:
        path = folder / remote.name
        if entry.manual:
            if not path.is_file():
                continue
            if not _sidecar(path).is_file():
                _check_archive_reads(path)
            _verify_existing(path, remote.sha256, remote.md5, remote.size)
            if not _sidecar(path).is_file():
                _sidecar(path).write_text(f"{file_digest(path)}  {path.name}\n")
        else:
            try:
                download_file(remote.url, path, sha256=remote.sha256, md5=remote.md5, size=remote.size,
                              timeout=timeout, progress=progress)
            except ChecksumMismatchError:
                raise
            except DownloadError as exc:
                raise DatasetUnavailableError(
                    f"{name}: download failed: {exc}. Offline? Download {remote.url} yourself (or copy it from "
                    f"another machine) and {_where_to_put(entry, folder)}.", name, remote.url, folder) from None
            if remote.archive and remote.sha256 is None and remote.md5 is None:
                try:
                    _check_archive_reads(path)
                except UnsafeArchiveError:
                    path.unlink()
                    _sidecar(path).unlink(missing_ok=True)
                    raise
    for remote in entry.files:
        path = folder / remote.name
        if remote.archive and path.is_file():
            extract_archive(path, folder, max_bytes=max_bytes)
    if not is_ready(name, folder):
        missing = [p for p in entry.ready if not (folder / p).exists()]
        raise DatasetUnavailableError(
            f"{name}: {folder} still lacks {', '.join(missing)} after unpacking; expected {entry.layout}. "
            f"From {entry.homepage} {_where_to_put(entry, folder)}.", name, entry.homepage, folder)
    return folder


def read_idx(path) -> np.ndarray:
    """An idx file (MNIST's format; gzipped or not) as a NumPy uint8 array, its shape from the header."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            raw = fh.read()
    except (OSError, EOFError) as exc:
        raise ValueError(f"{path}: cannot be read ({type(exc).__name__}: {exc}); the file is damaged or truncated") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path}: not an idx file of unsigned bytes (bad magic number)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path}: truncated idx header")
    shape = tuple(int.from_bytes(raw[4 + 4 * k: 8 + 4 * k], "big") for k in range(ndim))
    count = int(np.prod(shape)) if shape else 0
    if len(raw) - header != count:
        raise ValueError(f"{path}: expected {count} bytes of data for shape {shape}, got {len(raw) - header} "
                         "(truncated or damaged)")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


_FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                    "Ankle boot"]


def _idx_dataset(name: str, folder: Path, split: str, size, channels):
    from .images import TensorImageDataset, _resize

    prefix = "train" if split == "train" else "t10k"

    def find(stem):
        for candidate in (folder / f"{stem}.gz", folder / stem):
            if candidate.is_file():
                return candidate
        raise FileNotFoundError(f"{folder}: lacks {stem}.gz")

    images = read_idx(find(f"{prefix}-images-idx3-ubyte"))
    labels = read_idx(find(f"{prefix}-labels-idx1-ubyte"))
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(f"{folder}: images {images.shape} and labels {labels.shape} do not match")
    x = torch.from_numpy(images.astype(np.float32) / 255.0)[:, None]
    if size is not None and size != x.shape[-1]:
        x = _resize(x, size)
    x = x.clamp(0, 1) * 2 - 1
    if channels == 3:
        x = x.expand(-1, 3, -1, -1)
    classes = [str(d) for d in range(10)] if name == "mnist" else list(_FASHION_CLASSES)
    return TensorImageDataset(x, torch.from_numpy(labels.astype(np.int64)), classes, name=name)


def load_real(name: str, root=None, *, split: str = "train", size: int | None = None, channels: int | None = None,
              download: bool = False, category: str = "bottle", **options):
    """Load a prepared real dataset in the course's convention (images in [-1, 1], (C, H, W)).

    ``root``: the dataset's folder (default :func:`dataset_folder`); the unpacked inner folder
    (e.g. the one holding ``trainA``) is accepted too. ``split``: ``train`` / ``test`` (and ``val``
    for facades, celeba, cityscapes). ``size``: output side (default: 28 for the MNISTs, 256
    otherwise); ``channels``: 1 or 3 (default: 1 for the MNISTs, 3 otherwise). ``download=True``
    calls :func:`fetch` first when the files are missing. ``category``: MVTec AD's category.
    Other keyword arguments go to the folder datasets (``alpha``, ``resize``, ``check``, ...).
    Returns what the module's table says.
    """
    entry = _entry(name)
    folder = dataset_folder(name, root)
    splits = {"mnist": ("train", "test"), "fashion-mnist": ("train", "test"), "horse2zebra": ("train", "test"),
              "facades": ("train", "val", "test"), "celeba": ("train", "val", "test"),
              "cityscapes": ("train", "val", "test"), "mvtec_ad": ("train", "test")}[name]
    V.choice(split, "split", splits)
    if size is not None:
        size = V.positive_int(size, "size", minimum=2)
    if channels is not None and channels not in (1, 3):
        raise ValueError(f"channels: expected 1 or 3, got {channels!r}")
    base = _locate(entry, folder)
    if base is None:
        if download:
            fetch(name, folder)
            base = _locate(entry, folder)
        else:
            url = entry.files[0].url
            raise DatasetUnavailableError(
                f"{name}: not found in {folder} (expected {entry.layout}). Call gancourse.data.fetch({name!r}) "
                f"to download it from {url}" + (" (it cannot: see its page)" if entry.manual else "")
                + f", or {_where_to_put(entry, folder)}.", name, url, folder)
    if name in ("mnist", "fashion-mnist"):
        return _idx_dataset(name, base, split, size, channels or 1)
    from . import folders

    size = size or 256
    channels = channels or 3
    if name == "horse2zebra":
        return folders.cyclegan_folders(base, size, channels, split=split, **options)
    if name == "facades":
        return folders.side_by_side_folder(base / split, size, channels, **options)
    if name == "celeba":
        select = _celeba_split(base, split)
        return folders.image_folder(base / "img_align_celeba", size, channels, select=select, **options)
    if name == "cityscapes":
        return folders.PairedImageFolder(
            base / "leftImg8bit" / split, base / "gtFine" / split, size, channels,
            select=lambda rel: rel.endswith(("_leftImg8bit.png", "_gtFine_color.png")),
            pair_key=lambda key: re.sub(r"_(leftImg8bit|gtFine_color)$", "", key), **options)
    V.choice(category, "category", MVTEC_CATEGORIES)
    if not (base / category).is_dir():
        raise DatasetUnavailableError(f"mvtec_ad: category {category!r} not found in {base}; "
                                      f"{_where_to_put(entry, base)}.", name, entry.homepage, base)
    return folders.class_folders(base / category / split, size, channels, **options)


def _locate(entry: RealDataset, folder: Path) -> Path | None:
    """The folder the loader reads, or None when the data are not there.

    Archives that unpack into one folder (``horse2zebra/trainA``) are read from that inner folder;
    ``root`` may also point at it directly.
    """
    inner = {p.split("/", 1)[0] for p in entry.ready if "/" in p}
    if is_ready(entry.name, folder):
        return folder / inner.pop() if len(inner) == 1 else folder
    if len(inner) == 1 and all("/" in p and (folder / p.split("/", 1)[1]).exists() for p in entry.ready):
        return folder
    return None


def _celeba_split(folder: Path, split: str):
    """CelebA's official split from list_eval_partition.txt (0 train, 1 val, 2 test); None without it."""
    listing = folder / "list_eval_partition.txt"
    if not listing.is_file():
        if split != "train":
            raise DatasetUnavailableError(f"celeba: split {split!r} needs list_eval_partition.txt in {folder}",
                                          "celeba", REAL_DATASETS["celeba"].homepage, folder)
        return None
    code = {"train": "0", "val": "1", "test": "2"}[split]
    keep = {line.split()[0] for line in listing.read_text().splitlines() if line.split()[1:2] == [code]}
    return lambda rel: rel in keep
