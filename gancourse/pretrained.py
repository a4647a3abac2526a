"""Pretrained checkpoints shipped in ``data/``: listed in ``data/MANIFEST.json`` with a checksum and
the command that regenerates them, verified before loading, loaded with ``weights_only=True``.

    state = pretrained.load("dcgan-digits")      # dict: modules, config, metrics
    G.load_state_dict(state["modules"]["G"])

A checksum mismatch is an error, not a warning: a damaged or edited file never silently changes
what a notebook shows. To rebuild a file, run the command the manifest lists for it (the README's
table shows them all); ``save`` then writes the file and updates the manifest.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import torch

from . import distributed
from .checkpoint import FORMAT, CheckpointError, load_file, save_atomic, sha256

DATA_ENV = "GANCOURSE_DATA"


class ChecksumError(CheckpointError):
    """A shipped file whose SHA-256 differs from the manifest's."""


def data_dir() -> Path:
    """The folder holding the shipped checkpoints: ``$GANCOURSE_DATA`` or the repository's ``data/``."""
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV])
    return Path(__file__).resolve().parent.parent / "data"


def manifest_path() -> Path:
    return data_dir() / "MANIFEST.json"


def manifest() -> dict:
    """``{name: {file, sha256, bytes, command, description, metrics}}`` from ``data/MANIFEST.json``."""
    path = manifest_path()
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: no checkpoint manifest. The pretrained files live in the repository's data/ folder; "
            f"install the course with `pip install -e .` from a clone, or set {DATA_ENV} to that folder."
        )
    return json.loads(path.read_text())


def names() -> list[str]:
    return sorted(manifest())


def path(name: str, verify: bool = True) -> Path:
    """Path of the checkpoint ``name``, its checksum verified (``ChecksumError`` on mismatch)."""
    if not isinstance(name, str):
        raise TypeError(f"name: expected a checkpoint name (str), got {type(name).__name__}")
    entries = manifest()
    if name not in entries:
        raise ValueError(f"name: unknown pretrained checkpoint {name!r}; expected one of {', '.join(sorted(entries))}")
    entry = entries[name]
    file = data_dir() / entry["file"]
    if not file.is_file():
        raise CheckpointError(f"checkpoint {file}: missing. Regenerate it with: {entry['command']}")
    if verify:
        digest = sha256(file)
        if digest != entry["sha256"]:
            raise ChecksumError(
                f"checkpoint {file}: SHA-256 {digest[:16]}... does not match the manifest's "
                f"{entry['sha256'][:16]}... The file is damaged or was changed; restore it from git "
                f"(`git checkout -- {Path('data') / entry['file']}`) or regenerate it with: {entry['command']}"
            )
    return file


def load(name: str, map_location="cpu") -> dict:
    """Verify and load a shipped checkpoint: a dict with ``modules``, ``config`` and ``metrics``."""
    return load_file(path(name), map_location=map_location)


def save(name: str, modules: dict, *, command: str, description: str, config: dict | None = None,
         metrics: dict | None = None, file: str | None = None, dtype: torch.dtype | None = None) -> Path:
    """Write a small checkpoint into ``data/`` (weights in float32, or in ``dtype`` such as
    ``torch.float16`` to halve the file; no optimizer state) and record it in the manifest with its
    checksum, the command that made it and its measured metrics. ``load_state_dict`` casts the
    stored weights back to the network's own dtype; measure the metrics on the stored weights."""
    from . import __version__

    if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9][a-z0-9._-]*", name):
        raise ValueError(f"name: expected a lower-case name such as 'dcgan-digits', got {name!r}")
    if not isinstance(modules, dict) or not modules or not all(isinstance(m, torch.nn.Module) for m in modules.values()):
        raise TypeError("modules: expected a non-empty dict {name: torch.nn.Module}")
    for value, label in ((command, "command"), (description, "description")):
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{label}: expected a non-empty string (the manifest records it)")
    if file is not None and (not isinstance(file, str) or "/" in file or "\\" in file or not file.endswith(".pt")):
        raise ValueError(f"file: expected a file name ending in .pt, without folders, got {file!r}")

    file = file or f"{name.replace('-', '_')}.pt"
    if not distributed.is_main():  # under torchrun, rank 0 alone writes
        return data_dir() / file
    modules = {k: distributed.unwrap(m) for k, m in modules.items()}
    state = {
        "format": FORMAT,
        "version": __version__,
        "step": int((config or {}).get("steps", 0)),
        "modules": {k: {p: (t.detach().cpu().to(dtype) if dtype is not None and t.is_floating_point()
                            else t.detach().cpu()).clone() for p, t in m.state_dict().items()}
                    for k, m in modules.items()},
        "optimizers": {},
        "extras": {},
        "config": dict(config or {}),
        "metrics": dict(metrics or {}),
        "history": {},
    }
    target = save_atomic(state, data_dir() / file)
    entries = manifest() if manifest_path().is_file() else {}
    entries[name] = {
        "file": file,
        "sha256": sha256(target),
        "bytes": target.stat().st_size,
        "command": command,
        "description": description,
        "metrics": dict(metrics or {}),
    }
    manifest_path().write_text(json.dumps(dict(sorted(entries.items())), indent=2) + "\n")
    return target


def load_into(name: str, **modules: torch.nn.Module) -> dict:
    """Load the named checkpoint's weights into the given modules (``G=G, D=D``); return the state."""
    for key, module in modules.items():
        if not isinstance(module, torch.nn.Module):
            raise TypeError(f"{key}: expected a torch.nn.Module to load weights into, got {type(module).__name__}")
    state = load(name)
    for key, module in modules.items():
        if key not in state["modules"]:
            raise CheckpointError(f"checkpoint {name!r} has no module {key!r}; it holds {sorted(state['modules'])}")
        module.load_state_dict(state["modules"][key])
    return state
