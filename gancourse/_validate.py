"""Argument checks shared by the package: each raises a ValueError/TypeError naming the argument.

Public functions call these first, so that bad input stops at the door with a sentence a student
can act on ("p: expected probabilities summing to 1, got sum 0.93") instead of a traceback deep
inside torch or scipy.
"""
from __future__ import annotations

import numbers

import numpy as np
import torch


def as_float_array(x, name: str, ndim: int | tuple[int, ...] | None = None) -> np.ndarray:
    """Convert ``x`` (list, NumPy array or tensor) to a float64 NumPy array, checking its rank."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().double().numpy()
    elif isinstance(x, (str, bytes, dict, set)) or x is None:
        raise TypeError(f"{name}: expected an array, list or tensor of numbers, got {type(x).__name__}")
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name}: expected numbers, could not convert {type(x).__name__} ({exc})") from None
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else ndim
        if arr.ndim not in allowed:
            want = " or ".join(f"{d}-D" for d in allowed)
            raise ValueError(f"{name}: expected a {want} array, got shape {tuple(arr.shape)}")
    return arr


def _epsilon(x) -> float:
    """Machine epsilon of the floating type ``x`` arrived in (float64 for lists and integers)."""
    if isinstance(x, torch.Tensor) and x.is_floating_point():
        return torch.finfo(x.dtype).eps
    if isinstance(x, np.ndarray) and np.issubdtype(x.dtype, np.floating):
        return float(np.finfo(x.dtype).eps)
    return float(np.finfo(np.float64).eps)


def probability_vector(p, name: str, atol: float = 1e-6) -> np.ndarray:
    """Check that ``p`` is a 1-D probability vector: finite, non-negative, summing to one.

    The sum may miss 1 by ``atol``, or by what normalising in the input's own precision can leave:
    8·ε·log2(n) for n entries of machine epsilon ε (a float32 softmax over 10⁷ entries misses 1 by
    up to about 7e-6; pairwise summation's error grows like ε·log2 n).
    """
    eps = _epsilon(p)
    arr = as_float_array(p, name, ndim=1)
    if arr.size == 0:
        raise ValueError(f"{name}: expected a non-empty probability vector, got length 0")
    if np.isnan(arr).any():
        raise ValueError(f"{name}: contains NaN; expected probabilities")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name}: contains infinite values; expected probabilities")
    if (arr < 0).any():
        raise ValueError(f"{name}: contains negative entries (min {arr.min():.3g}); expected probabilities >= 0")
    total = arr.sum()
    tolerance = max(atol, 8 * eps * np.log2(arr.size + 1))
    if abs(total - 1.0) > tolerance:
        raise ValueError(f"{name}: expected probabilities summing to 1 (within {tolerance:.2g}), "
                         f"got sum {total:.10g}")
    return arr


def same_length(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    if len(a) != len(b):
        raise ValueError(
            f"{name_a} and {name_b}: expected distributions on the same support (same length), "
            f"got lengths {len(a)} and {len(b)}"
        )


def positive_int(value, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral,)):
        raise TypeError(f"{name}: expected an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name}: expected an int >= {minimum}, got {value}")
    return int(value)


def positive_float(value, name: str, allow_zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a number, got {type(value).__name__}")
    value = float(value)
    if not np.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name}: expected a finite number {bound}, got {value}")
    return value


def tensor(x, name: str, ndim: int | tuple[int, ...] | None = None, last_dim: int | None = None,
           floating: bool = True) -> torch.Tensor:
    """Check that ``x`` is a torch tensor of the expected rank (and trailing size)."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(x).__name__}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else ndim
        if x.ndim not in allowed:
            want = " or ".join(str(d) for d in allowed)
            raise ValueError(f"{name}: expected a tensor with {want} dimensions, got shape {tuple(x.shape)}")
    if last_dim is not None and x.shape[-1] != last_dim:
        raise ValueError(f"{name}: expected last dimension {last_dim}, got shape {tuple(x.shape)}")
    if floating and not x.is_floating_point():
        raise TypeError(f"{name}: expected a floating-point tensor, got dtype {x.dtype}")
    return x


def images(x, name: str, channels: int | None = None) -> torch.Tensor:
    """Check a batch of images: a float tensor of shape (N, C, H, W)."""
    tensor(x, name, ndim=4)
    if channels is not None and x.shape[1] != channels:
        raise ValueError(f"{name}: expected {channels} channel(s) in shape (N, C, H, W), got shape {tuple(x.shape)}")
    return x


def class_indices(labels, name: str, n_classes: int | None = None, ndim: int | tuple[int, ...] | None = None,
                  count: int | None = None) -> torch.Tensor:
    """Check class indices: an integer tensor (not bool) of rank ``ndim``, values in [0, ``n_classes``),
    ``count`` of them along the first axis (one per image); returned unchanged."""
    if not isinstance(labels, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor of class indices, got {type(labels).__name__}")
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise TypeError(f"{name}: expected integer class indices, got dtype {labels.dtype}")
    allowed = (ndim,) if isinstance(ndim, int) else ndim
    if (allowed is not None and labels.ndim not in allowed) or \
            (count is not None and (labels.ndim == 0 or labels.shape[0] != count)):
        rank = f" of rank {' or '.join(map(str, allowed))}" if allowed else ""
        each = f", {count} along the first (one per image)" if count is not None else ""
        raise ValueError(f"{name}: expected a tensor{rank}{each}, got shape {tuple(labels.shape)}")
    if n_classes is not None and labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= n_classes):
        raise ValueError(f"{name}: expected classes in [0, {n_classes - 1}], "
                         f"got values from {int(labels.min())} to {int(labels.max())}")
    return labels


def unit_interval(value, name: str):
    """A real number in [0, 1), e.g. Adam's β's or an average's decay; returned unchanged."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < 1:
        raise ValueError(f"{name}: expected a number in [0, 1), got {value!r}")
    return value


def choice(value, name: str, options) -> str:
    options = list(options)
    if value not in options:
        raise ValueError(f"{name}: unknown value {value!r}; expected one of {', '.join(map(repr, options))}")
    return value


def fields(config, *, counts=(), sizes=(), weights=(), rates=(), betas=(), flags=()) -> None:
    """Check and normalise a config dataclass's fields in place, by kind: ``counts`` ints >= 1 (widths,
    steps, batch sizes), ``sizes`` ints >= 0 (e.g. a number of blocks), ``weights`` numbers >= 0 (loss
    weights, noise levels), ``rates`` numbers > 0 (learning rates), ``betas`` numbers in [0, 1),
    ``flags`` bools. The errors name the field."""
    for name in flags:
        if not isinstance(getattr(config, name), bool):
            raise TypeError(f"{name}: expected a bool, got {type(getattr(config, name)).__name__}")
    for name in counts:
        setattr(config, name, positive_int(getattr(config, name), name))
    for name in sizes:
        setattr(config, name, positive_int(getattr(config, name), name, minimum=0))
    for name in weights:
        setattr(config, name, positive_float(getattr(config, name), name, allow_zero=True))
    for name in rates:
        setattr(config, name, positive_float(getattr(config, name), name))
    for name in betas:
        unit_interval(getattr(config, name), name)


def instance(value, name: str, cls):
    """``value`` if it is a ``cls``; else a TypeError naming the argument and both types."""
    if not isinstance(value, cls):
        raise TypeError(f"{name}: expected a{'n' if cls.__name__[0] in 'AEIOU' else ''} {cls.__name__}, "
                        f"got {type(value).__name__}")
    return value


def optional_function(value, name: str, signature: str):
    """``value`` if it is None or callable; else a TypeError naming the arguments it should take."""
    if value is not None and not callable(value):
        raise TypeError(f"{name}: expected a function {signature}, got {type(value).__name__}")
    return value
