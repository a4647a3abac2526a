"""Checks for notebook 16 (the GAN zoo)."""
from __future__ import annotations

import itertools
import math

import torch
import torch.nn.functional as F

from ._core import close, exercise


@exercise("16.1", "one level of a Laplacian pyramid", points=2, difficulty="warm-up")
def ex16_laplacian_level(t, laplacian_level):
    """``laplacian_level(x)``: images (N, C, H, W) -> (low, high): low = 2x2 average pooling
    (N, C, H/2, W/2), high = x - bilinear upsampling of low (N, C, H, W)."""
    g = torch.Generator().manual_seed(16)
    for shape in ((2, 1, 8, 8), (1, 3, 4, 6), (3, 1, 16, 16)):
        x = torch.rand(shape, generator=g) * 2 - 1
        got, err = t.call(laplacian_level, x.clone())
        if err is not None:
            return
        ok = isinstance(got, (tuple, list)) and len(got) == 2
        t.require(ok, "return a pair (low, high)")
        if not ok:
            return
        low, high = got
        want_low = F.avg_pool2d(x, 2)
        up = F.interpolate(want_low, scale_factor=2, mode="bilinear", align_corners=False)
        t.require(isinstance(low, torch.Tensor) and close(low, want_low),
                  "low: halve the image by averaging each 2x2 block (blur and subsample)")
        t.require(isinstance(high, torch.Tensor) and high.shape == x.shape,
                  "high has the size of the input: it is the detail the blurry copy misses")
        if isinstance(high, torch.Tensor) and high.shape == x.shape:
            t.require(close(high, x - up, atol=1e-6),
                      "high = x - upsample(low), upsampling bilinearly (align_corners=False) back to x's size")
            t.require(close(up + high, x, atol=1e-6), "upsample(low) + high must give x back exactly")
    flat = torch.full((1, 1, 4, 4), 0.3)
    got, _ = t.call(laplacian_level, flat)
    t.require(got is not None and close(got[1], torch.zeros_like(flat), atol=1e-6),
              "a constant image has no detail: its high-pass part is 0")


@exercise("16.2", "InfoGAN's mutual-information lower bound", points=3, difficulty="core")
def ex16_mi_bound(t, mi_lower_bound):
    """``mi_lower_bound(q_logits, codes)``: Q's logits (N, K) for images made with categorical codes
    (N,) uniform over K values -> L_I = H(c) + E log Q(c | x) = log K - CE, in nats."""
    g = torch.Generator().manual_seed(162)
    for n, k in ((50, 10), (7, 3), (1, 2)):
        logits, codes = torch.randn(n, k, generator=g) * 3, torch.randint(0, k, (n,), generator=g)
        want = math.log(k) - float(F.cross_entropy(logits, codes))
        got, err = t.call(mi_lower_bound, logits.clone(), codes.clone())
        if err is not None:
            return
        if got is not None and close(float(got), -float(F.cross_entropy(logits, codes)), rtol=1e-5):
            t.require(False, "E log Q(c | x) is only half of the bound: add the entropy of the code, H(c) = log K")
        else:
            t.require(got is not None and close(float(got), want, rtol=1e-5, atol=1e-6),
                      "L_I = log K + mean over the batch of log softmax(q)[c]; use log-softmax on the logits")
    codes = torch.tensor([0, 1, 2, 3])
    got, _ = t.call(mi_lower_bound, torch.zeros(4, 4), codes)
    t.require(got is not None and close(float(got), 0.0, atol=1e-6),
              "a Q that guesses uniformly learns nothing about c: the bound is 0")
    got, _ = t.call(mi_lower_bound, 100 * F.one_hot(codes, 4).float(), codes)
    t.require(got is not None and close(float(got), math.log(4), atol=1e-5) and math.isfinite(float(got)),
              "a Q that is sure and right reaches the maximum, H(c) = log K (and stays finite with huge logits)")


@exercise("16.3", "matching codes to digits", points=3, difficulty="core")
def ex16_code_agreement(t, matched_agreement):
    """``matched_agreement(codes, predicted, n_classes)``: the share of images whose predicted class is
    the one matched to their code, under the one-to-one matching of codes to classes that makes this
    share largest."""
    def brute(codes, pred, k):
        best = 0
        for perm in itertools.permutations(range(k)):
            best = max(best, int((torch.tensor(perm)[codes] == pred).sum()))
        return best / codes.numel()

    g = torch.Generator().manual_seed(163)
    k = 5
    for noise in (0.0, 0.3, 0.8):
        codes = torch.randint(0, k, (60,), generator=g)
        perm = torch.randperm(k, generator=g)
        pred = torch.where(torch.rand(60, generator=g) < noise, torch.randint(0, k, (60,), generator=g), perm[codes])
        got, err = t.call(matched_agreement, codes.clone(), pred.clone(), k)
        if err is not None:
            return
        if got is not None and close(float(got), float((codes == pred).float().mean())) and not close(float(got), brute(codes, pred, k)):
            t.require(False, "codes are arbitrary names: code 3 may mean digit 7; match them first")
        else:
            t.require(got is not None and close(float(got), brute(codes, pred, k)),
                      "build the confusion matrix counts[code, class] and find the one-to-one assignment with the "
                      "largest total (scipy.optimize.linear_sum_assignment with maximize=True)")
    # two codes that both look like the same class: only one of them may claim it
    codes = torch.tensor([0, 0, 1, 1, 2, 2])
    pred = torch.tensor([1, 1, 1, 1, 2, 2])
    got, _ = t.call(matched_agreement, codes, pred, 3)
    t.require(got is not None and close(float(got), 4 / 6),
              "the matching is one-to-one: two codes cannot both be assigned the same class")
