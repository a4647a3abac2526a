"""Checkpoints that survive interruptions: atomic writes, safe loading, RNG states, exact resume.

A checkpoint is a plain dict saved with ``torch.save`` and read back with
``torch.load(..., weights_only=True)`` (no arbitrary code runs when a file is loaded):

=================  ==========================================================================
key                content
=================  ==========================================================================
``format``         ``"gancourse-checkpoint/1"`` (a file without it is rejected as foreign)
``version``        the gancourse version that wrote it
``step``           the number of completed training steps
``modules``        ``{name: model.state_dict()}``
``optimizers``     ``{name: optimizer.state_dict()}``
``extras``         ``{name: state}`` for anything else with ``state_dict()`` (schedulers, the image
                   pool, batch iterators) and for ``torch.Generator`` objects
``rng``            Python, NumPy, torch CPU and CUDA random states
``config``         the run's configuration (a dict of plain values)
``history``        the loss history so far
=================  ==========================================================================

Files are written to a temporary name in the same folder and renamed into place, so a crash
while saving never leaves a half-written checkpoint under the real name.
"""
from __future__ import annotations

import hashlib
import os
import random
import re
import tempfile
import warnings
import zipfile
from pathlib import Path

import numpy as np
import torch

from .distributed import unwrap

FORMAT = "gancourse-checkpoint/1"


class CheckpointError(ValueError):
    """A checkpoint file that cannot be used: missing, truncated, corrupted, foreign, or written for
    another model."""


class NothingToResumeError(CheckpointError):
    """Resuming was asked for, and the folder holds no usable checkpoint."""


def _first_line(exc: BaseException) -> str:
    """The first line of an exception's message, or its type when the message is empty."""
    lines = str(exc).splitlines()
    return f"{type(exc).__name__}: {lines[0][:200]}" if lines else type(exc).__name__


# --------------------------------------------------------------------------------------------
# Random states
# --------------------------------------------------------------------------------------------

def rng_state() -> dict:
    """Python, NumPy, torch (CPU) and CUDA random states as plain, weights_only-loadable values."""
    py_version, py_internal, py_gauss = random.getstate()
    np_name, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
    state = {
        "python": [py_version, list(py_internal), py_gauss],
        "numpy": [np_name, torch.from_numpy(np_keys.astype(np.int64)), int(np_pos), int(np_has_gauss), float(np_gauss)],
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }
    return state


def set_rng_state(state: dict) -> None:
    """Restore the states returned by :func:`rng_state`."""
    if not isinstance(state, dict) or not {"python", "numpy", "torch"} <= set(state):
        raise CheckpointError("state: expected the dict of rng_state() with 'python', 'numpy' and 'torch' entries")
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available():
        cuda_states = state["cuda"]
        if len(cuda_states) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda_states)
        else:
            warnings.warn("checkpoint: CUDA RNG states were saved with a different number of GPUs; not restored")


# --------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------

def save_atomic(obj, path) -> Path:
    """``torch.save(obj)`` to a temporary file beside ``path``, flushed, then renamed onto ``path``."""
    path = _path(path, "path")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(obj, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def sha256(path) -> str:
    """Hex SHA-256 of a file (what ``sha256sum`` prints)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_file(path, map_location="cpu", require_format: bool = True) -> dict:
    """Load a checkpoint safely (``weights_only=True``); clear errors that name the file.

    Raises :class:`CheckpointError` for a missing, truncated, corrupted or foreign file.
    """
    path = _path(path, "path")
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path}: no such file")
    _check_records(path)
    try:
        obj = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises several types for damaged files
        raise CheckpointError(
            f"checkpoint {path}: cannot be read ({_first_line(exc)}). "
            "The file is truncated, corrupted, or not a torch checkpoint."
        ) from None
    if require_format and (not isinstance(obj, dict) or obj.get("format") != FORMAT):
        raise CheckpointError(
            f"checkpoint {path}: not a gancourse checkpoint (expected a dict with format={FORMAT!r})"
        )
    return obj


def _path(value, name: str) -> Path:
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{name}: expected a file path (str or Path), got {type(value).__name__}")
    return Path(value)


def _check_records(path: Path) -> None:
    """Compare every record of a checkpoint with the CRC-32 that ``torch.save`` wrote for it.

    ``torch.load`` does not check them: a flipped bit inside the weights would load silently as
    wrong numbers. A file that is not a zip archive (truncated before its directory, or foreign)
    is left to ``torch.load``'s own error.
    """
    if not zipfile.is_zipfile(path):
        return
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except Exception as exc:  # a damaged directory raises zipfile, zlib or decoding errors
        raise CheckpointError(
            f"checkpoint {path}: cannot be read ({_first_line(exc)}). "
            "The file is corrupted."
        ) from None
    if bad is not None:
        raise CheckpointError(
            f"checkpoint {path}: corrupted (record {bad!r} fails its CRC-32 check); the file was damaged "
            "after it was written."
        )


def _stateful(obj) -> bool:
    return hasattr(obj, "state_dict") and hasattr(obj, "load_state_dict")


def collect_state(step: int, modules: dict, optimizers: dict | None = None, extras: dict | None = None,
                  config: dict | None = None, history: dict | None = None) -> dict:
    """Everything needed to continue training exactly, as one weights_only-loadable dict."""
    from . import __version__

    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise ValueError(f"step: expected an int >= 0, got {step!r}")
    for name, value in (("modules", modules), ("optimizers", optimizers or {}), ("extras", extras or {})):
        if not isinstance(value, dict):
            raise TypeError(f"{name}: expected a dict {{name: object}}, got {type(value).__name__}")

    extra_states = {}
    for name, obj in (extras or {}).items():
        if isinstance(obj, torch.Generator):
            extra_states[name] = {"generator": obj.get_state()}
        elif _stateful(obj):
            extra_states[name] = obj.state_dict()
        else:
            raise TypeError(f"extras[{name!r}]: expected an object with state_dict() or a torch.Generator, "
                            f"got {type(obj).__name__}")
    return {
        "format": FORMAT,
        "version": __version__,
        "step": int(step),
        "modules": {k: unwrap(m).state_dict() for k, m in modules.items()},  # no DDP "module." prefixes
        "optimizers": {k: o.state_dict() for k, o in (optimizers or {}).items()},
        "extras": extra_states,
        "rng": rng_state(),
        "config": dict(config or {}),
        "history": {k: list(v) for k, v in (history or {}).items()},
    }


def restore_state(state: dict, modules: dict, optimizers: dict | None = None, extras: dict | None = None,
                  restore_rng: bool = True) -> int:
    """Load ``state`` (from :func:`collect_state`) into the given objects; return the step."""
    if not isinstance(state, dict) or "modules" not in state or "step" not in state:
        raise CheckpointError("state: expected a checkpoint dict (from load_file or collect_state) "
                              "with 'step' and 'modules'")
    where = f"checkpoint {state['file']}" if "file" in state else "checkpoint"
    advice = ("it was written by another recipe or with other options (image size, widths, classes): "
              "resume with the options of the run that wrote it, or train into another folder")
    for name, module in modules.items():
        if name not in state["modules"]:
            raise CheckpointError(f"{where} has no module {name!r} (it holds {sorted(state['modules'])}); {advice}")
        try:
            unwrap(module).load_state_dict(state["modules"][name])
        except RuntimeError as exc:  # missing/unexpected keys, size mismatches: say the first one
            lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
            detail = (lines[1] if len(lines) > 1 else lines[0] if lines else type(exc).__name__)[:300]
            raise CheckpointError(f"{where}: module {name!r} does not fit this model ({detail}); {advice}") from None
    for name, opt in (optimizers or {}).items():
        if name in state["optimizers"]:
            try:
                opt.load_state_dict(state["optimizers"][name])
            except (ValueError, KeyError) as exc:
                raise CheckpointError(f"{where}: optimizer {name!r} does not fit this model ({_first_line(exc)}); "
                                      f"{advice}") from None
    for name, obj in (extras or {}).items():
        if name not in state.get("extras", {}):
            continue
        saved = state["extras"][name]
        if isinstance(obj, torch.Generator):
            obj.set_state(saved["generator"])
        else:
            obj.load_state_dict(saved)
    if restore_rng and "rng" in state:
        set_rng_state(state["rng"])
    return int(state["step"])


class CheckpointManager:
    """Numbered checkpoints in a folder (``ckpt_00001000.pt``), the last ``keep`` of them kept.

    ``save(step, ...)`` writes atomically and prunes; ``latest()`` returns the newest checkpoint
    that loads, skipping (with a warning naming it) any that is damaged.
    """

    pattern = re.compile(r"^ckpt_(\d+)\.pt$")
    temporary = re.compile(r"^\.ckpt_\d+\.pt\..+\.tmp$")   # save_atomic's names, left by a killed write

    def __init__(self, directory, keep: int = 3):
        if not isinstance(keep, int) or isinstance(keep, bool) or keep < 1:
            raise ValueError(f"keep: expected an int >= 1, got {keep!r}")
        self.directory = _path(directory, "directory")
        self.keep = keep

    def path(self, step: int) -> Path:
        return self.directory / f"ckpt_{int(step):08d}.pt"

    def list(self) -> list[Path]:
        """Checkpoint files, oldest first."""
        if not self.directory.is_dir():
            return []
        found = [(int(m.group(1)), p) for p in self.directory.iterdir() if (m := self.pattern.match(p.name))]
        return [p for _, p in sorted(found)]

    def remove_temporaries(self) -> list[Path]:
        """Delete the temporary files of writes that never finished (a process killed while saving)."""
        if not self.directory.is_dir():
            return []
        stale = [p for p in self.directory.iterdir() if self.temporary.match(p.name)]
        for p in stale:
            p.unlink(missing_ok=True)
        return stale

    def save(self, state: dict) -> Path:
        path = save_atomic(state, self.path(state["step"]))
        others = [p for p in self.list() if p != path]
        for old in others[:max(len(others) - (self.keep - 1), 0)]:  # never the file just written
            old.unlink(missing_ok=True)
        return path

    def latest(self, map_location="cpu") -> dict | None:
        """The newest loadable checkpoint, or None when the folder has none.

        A damaged file is renamed to ``ckpt_....pt.damaged`` (kept for inspection, no longer a
        candidate), so that it can neither be picked up later nor push good checkpoints out of the
        last ``keep``.
        """
        for path in reversed(self.list()):
            try:
                return {**load_file(path, map_location=map_location), "file": str(path)}
            except CheckpointError as exc:
                aside = path.with_name(path.name + ".damaged")
                try:
                    os.replace(path, aside)
                    where = f" Renamed to {aside.name};"
                except OSError:
                    where = ""
                warnings.warn(f"{exc}{where} falling back to the previous checkpoint.")
        return None
