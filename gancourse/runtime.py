"""Where and how a notebook runs: the device, the seed, and quick mode.

Three small decisions every notebook makes in its parameters cell:

* ``pick_device()`` chooses CUDA, then Apple's MPS, then the CPU; the environment variable
  ``GANCOURSE_DEVICE`` (or the ``prefer`` argument) overrides the choice.
* ``seed_everything(seed)`` seeds Python, NumPy and torch (CPU and CUDA) so that a run is
  repeatable on the same machine.
* ``quick_mode()`` reads ``GANCOURSE_QUICK``. ``make test`` sets it to ``1``: notebooks then
  shrink their step counts and sample sizes (they never skip a section).
"""
from __future__ import annotations

import os
import random

import numpy as np
import torch

QUICK_ENV = "GANCOURSE_QUICK"
DEVICE_ENV = "GANCOURSE_DEVICE"

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


def quick_mode() -> bool:
    """True when the environment variable ``GANCOURSE_QUICK`` asks for quick mode.

    Accepted values: ``1/true/yes/on`` (quick) and ``0/false/no/off`` or unset (full).
    Anything else is an error rather than a silent guess.
    """
    value = os.environ.get(QUICK_ENV, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(
        f"environment variable {QUICK_ENV}={value!r}: expected one of 1/true/yes/on or 0/false/no/off"
    )


def pick(full, quick):
    """Return ``quick`` in quick mode and ``full`` otherwise (for step counts, sample sizes)."""
    return quick if quick_mode() else full


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def pick_device(prefer: str | None = None) -> torch.device:
    """The device to train on: ``prefer``, else ``$GANCOURSE_DEVICE``, else CUDA > MPS > CPU.

    ``prefer`` may be ``"cuda"``, ``"cuda:1"``, ``"mps"``, ``"cpu"`` or ``"auto"``. Asking for a
    device that is not available raises ``ValueError`` instead of failing later inside torch.
    """
    choice = prefer if prefer is not None else os.environ.get(DEVICE_ENV, "auto")
    if not isinstance(choice, str):
        raise TypeError(f"prefer: expected a string such as 'cpu' or 'cuda', got {type(choice).__name__}")
    choice = choice.strip().lower() or "auto"
    if choice == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(choice)
    except RuntimeError as exc:
        raise ValueError(f"prefer: {choice!r} is not a device name (try 'cpu', 'cuda' or 'mps')") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"prefer: {choice!r} asked for CUDA, but torch sees no CUDA device")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ValueError(f"prefer: {choice!r}, but only {torch.cuda.device_count()} CUDA device(s) exist")
    if device.type == "mps" and not _mps_available():
        raise ValueError(f"prefer: {choice!r} asked for MPS, but it is not available on this machine")
    if device.type not in {"cpu", "cuda", "mps"}:
        raise ValueError(f"prefer: unsupported device type {device.type!r}; use cpu, cuda or mps")
    return device


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python's ``random``, NumPy and torch (all CUDA devices too); return a CPU generator.

    The returned ``torch.Generator`` is seeded with the same value; pass it to samplers when a
    stream of random numbers should not depend on what else the notebook has drawn.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed: expected an int, got {type(seed).__name__}")
    if not 0 <= int(seed) < 2**32:
        raise ValueError(f"seed: expected 0 <= seed < 2**32, got {seed}")
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device
    return torch.Generator().manual_seed(seed)


def describe_environment() -> dict:
    """Versions and hardware, as a dict: what notebook 00 prints and bug reports should include."""
    import platform

    import matplotlib
    import scipy

    info = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "matplotlib": matplotlib.__version__,
        "cuda available": torch.cuda.is_available(),
        "mps available": _mps_available(),
        "cpu threads": torch.get_num_threads(),
        "quick mode": quick_mode(),
        "device": str(pick_device()),
    }
    try:
        import torchvision

        info["torchvision"] = torchvision.__version__
    except ImportError:  # pragma: no cover - torchvision is a dependency
        info["torchvision"] = "missing"
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info
