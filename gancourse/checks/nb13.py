"""Checks for notebook 13 (SPADE: semantic image synthesis)."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ._core import close, exercise


@exercise("13.1", "mean intersection over union", points=2, difficulty="warm-up")
def ex13_mean_iou(t, mean_iou):
    """``mean_iou(pred, target, n_classes)``: integer maps (N, H, W) -> the mean over the classes present
    in ``pred`` or ``target`` of TP / (TP + FP + FN), pixels of all images pooled."""
    from ..metrics import mean_iou as reference

    g = torch.Generator().manual_seed(13)
    target = torch.randint(0, 4, (3, 8, 8), generator=g)
    noisy = torch.where(torch.rand(3, 8, 8, generator=g) < 0.3, torch.randint(0, 4, (3, 8, 8), generator=g), target)
    cases = [(target, target, 4), (noisy, target, 4), (noisy, target, 6),
             (torch.zeros(1, 4, 4, dtype=torch.long), torch.ones(1, 4, 4, dtype=torch.long), 3)]
    for pred, tgt, n in cases:
        got, err = t.call(mean_iou, pred.clone(), tgt.clone(), n)
        if err is not None:
            return
        try:
            got = float(got)
        except (TypeError, ValueError):
            t.require(False, "return one number, the mean IoU")
            return
        expected, per_class = reference(pred, tgt, n)
        over_all = float(torch.nan_to_num(per_class, nan=0.0).mean())
        if not close(got, expected, rtol=1e-6) and close(got, over_all, rtol=1e-6):
            t.require(False, "classes that appear in neither map have no IoU (0/0): leave them out of the mean")
            return
        t.require(close(got, expected, rtol=1e-6) and math.isfinite(got),
                  "IoU of class c = pixels where both maps say c / pixels where at least one says c, "
                  "counted over all images together; then average over the classes that occur")


@exercise("13.2", "the SPADE layer", points=3, difficulty="core")
def ex13_spade(t, spade_forward):
    """``spade_forward(h, segmap, shared, gamma, beta)``: instance-normalise h (no affine, eps 1e-5),
    resize the one-hot map to h's size (nearest), hidden = shared(map), return norm(h)·(1 + gamma(hidden))
    + beta(hidden)."""
    g = torch.Generator().manual_seed(14)
    for size, map_size in ((8, 16), (4, 16), (16, 16)):
        torch.manual_seed(int(torch.randint(0, 1000, (1,), generator=g)))
        shared = torch.nn.Sequential(torch.nn.Conv2d(3, 6, 3, padding=1), torch.nn.ReLU())
        gamma, beta = torch.nn.Conv2d(6, 4, 3, padding=1), torch.nn.Conv2d(6, 4, 3, padding=1)
        h = torch.randn(2, 4, size, size, generator=g) * 2 + 1
        labels = torch.randint(0, 3, (2, map_size, map_size), generator=g)
        segmap = F.one_hot(labels, 3).permute(0, 3, 1, 2).float()
        with torch.no_grad():
            m = F.interpolate(segmap, size=(size, size), mode="nearest")
            hidden = shared(m)
            expected = F.instance_norm(h, eps=1e-5) * (1 + gamma(hidden)) + beta(hidden)
            got, err = t.call(spade_forward, h.clone(), segmap.clone(), shared, gamma, beta)
        if err is not None:
            return
        if not t.require(isinstance(got, torch.Tensor) and got.shape == h.shape,
                         "return a tensor shaped like h (N, C, H, W)"):
            return
        plain = F.instance_norm(h) * gamma(shared(m)) + beta(shared(m))
        if close(got, plain, rtol=1e-4, atol=1e-5) and not close(got, expected, rtol=1e-4, atol=1e-5):
            t.require(False, "the scale is (1 + gamma): a zero gamma must leave the normalised h unchanged")
            return
        t.require(close(got, expected, rtol=1e-4, atol=1e-5),
                  "normalise each channel of each image (mean 0, variance 1 over H, W), resize the map with "
                  "nearest-neighbour interpolation to h's size before the shared layer, then scale and shift")


@exercise("13.3", "feature matching over scales", points=3, difficulty="core")
def ex13_feature_matching(t, feature_matching):
    """``feature_matching(real, fake)``: lists (one per scale) of lists (one per D layer) of tensors ->
    Σ_layers mean |real − fake|, averaged over the scales; real features detached."""
    from ..losses import feature_matching as reference

    g = torch.Generator().manual_seed(15)
    for scales, layers in ((2, 3), (1, 2), (3, 1)):
        real = [[torch.randn(2, 4 * (k + 1), 8 >> s, 8 >> s, generator=g) for k in range(layers)] for s in range(scales)]
        fake = [[torch.randn(r.shape, generator=g).requires_grad_(True) for r in scale] for scale in real]
        real_leaf = [[r.clone().requires_grad_(True) for r in scale] for scale in real]
        got, err = t.call(feature_matching, real_leaf, fake)
        if err is not None:
            return
        if not t.require(isinstance(got, torch.Tensor) and got.ndim == 0, "return a scalar tensor"):
            return
        expected = reference(real, [[f.detach() for f in scale] for scale in fake])
        if not t.require(close(got.detach(), expected, rtol=1e-5),
                         "per layer the mean absolute difference; add the layers of a scale; average the scales"):
            return
        got.backward()
        t.require(all(r.grad is None or float(r.grad.abs().sum()) == 0 for scale in real_leaf for r in scale),
                  "the loss trains G only: detach the real features")
        t.require(all(f.grad is not None for scale in fake for f in scale), "the fake features must keep their gradients")
