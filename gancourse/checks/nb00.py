"""Checks for notebook 00 (getting started)."""
from __future__ import annotations

import numpy as np
import torch

from ._core import close, exercise


@exercise("00.1", "images to 8-bit pixels", points=2, difficulty="warm-up")
def ex00_to_uint8(t, to_uint8):
    """``to_uint8(x)``: images in [-1, 1] (float tensor) -> uint8 tensor in [0, 255], same shape."""
    x = torch.tensor([[-1.0, 0.0, 1.0], [-0.5, 0.5, 0.999]]).reshape(1, 1, 2, 3)
    out, err = t.call(to_uint8, x.clone())
    if err is not None:
        return
    t.require(isinstance(out, torch.Tensor), "return a torch.Tensor")
    if not isinstance(out, torch.Tensor):
        return
    t.require(out.dtype == torch.uint8, f"the result should have dtype torch.uint8, yours has {out.dtype}")
    t.require(tuple(out.shape) == tuple(x.shape), f"keep the shape {tuple(x.shape)}; yours is {tuple(out.shape)}")
    expected = ((x + 1) * 127.5).round().clamp(0, 255)
    got = out.double() if out.shape == x.shape else None
    t.require(got is not None and close(got, expected, atol=1.0),
              "-1 should become 0, 0 about 128 and 1 exactly 255 (scale, shift, round)")
    big, err = t.call(to_uint8, torch.tensor([[[[-3.0, 2.0]]]]))
    t.require(big is not None and err is None and [int(v) for v in big.reshape(-1)] == [0, 255],
              "values outside [-1, 1] should be clipped to 0 and 255, not wrap around")


@exercise("00.2", "reproducible draws", points=2, difficulty="warm-up")
def ex00_same_draws(t, draw):
    """``draw(seed)``: 5 standard normal numbers that depend only on ``seed``."""
    a, err = t.call(draw, 3)
    if err is not None:
        return
    b, _ = t.call(draw, 3)
    c, _ = t.call(draw, 4)
    ok_type = all(isinstance(v, torch.Tensor) for v in (a, b, c))
    t.require(ok_type, "return a torch.Tensor of 5 numbers")
    if not ok_type:
        return
    t.require(a.numel() == 5, f"draw 5 numbers; you returned {a.numel()}")
    t.require(torch.equal(a, b), "two calls with the same seed should give identical numbers: seed inside the function")
    t.require(not torch.equal(a, c), "different seeds should give different numbers")
    vals = np.concatenate([t.call(draw, s)[0].reshape(-1).numpy() for s in range(40)])
    t.require(abs(vals.mean()) < 0.35 and 0.7 < vals.std() < 1.3,
              f"the numbers should be standard normal (mean 0, std 1); yours have mean {vals.mean():.2f}, std {vals.std():.2f}")
