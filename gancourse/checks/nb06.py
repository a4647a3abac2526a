"""Checks for notebook 06 (measuring a GAN)."""
from __future__ import annotations

import numpy as np
import torch

from ._core import close, exercise


@exercise("06.1", "the Fréchet distance in one dimension", points=2, difficulty="warm-up")
def ex06_frechet_1d(t, frechet_1d):
    """``frechet_1d(a, b)``: two 1-D samples -> (mean_a - mean_b)² + (std_a - std_b)², unbiased std."""
    rng = np.random.default_rng(6)
    cases = [(rng.normal(0, 1, 500), rng.normal(0.5, 2, 300)),
             (rng.normal(3, 0.1, 50), rng.normal(3, 0.1, 50)),
             (np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.0]))]
    for a, b in cases:
        got, err = t.call(frechet_1d, a.copy(), b.copy())
        if err is not None:
            return
        want = (a.mean() - b.mean()) ** 2 + (a.std(ddof=1) - b.std(ddof=1)) ** 2
        t.require(close(float(got), want, rtol=1e-6, atol=1e-12),
                  "in 1-D, tr(S_a + S_b - 2 (S_a S_b)^(1/2)) is (s_a - s_b)^2; use the unbiased std (ddof=1), as np.cov does")


@exercise("06.2", "precision on a k-NN manifold", points=3, difficulty="core")
def ex06_precision(t, precision):
    """``precision(real, fake, k)``: (n, d), (m, d) tensors -> share of fake points inside the real manifold."""
    g = torch.Generator().manual_seed(6)
    real = torch.randn(200, 2, generator=g)
    cases = [
        (real, torch.randn(150, 2, generator=g), 3),
        (real, torch.randn(150, 2, generator=g) * 3, 3),
        (real, torch.randn(150, 2, generator=g) + 2.5, 5),
        (real, real[:40].clone(), 1),
        (real, real.clone() + 100, 3),
    ]
    for r, f, k in cases:
        got, err = t.call(precision, r.clone(), f.clone(), k)
        if err is not None:
            return
        d_rr = torch.cdist(r, r)
        radii = d_rr.sort(dim=1).values[:, k]          # column 0 is each point itself
        want = (torch.cdist(f, r) <= radii[None]).any(dim=1).double().mean().item()
        t.require(close(float(got), want, atol=1e-9),
                  "a fake point counts when it lies within the k-NN radius of AT LEAST ONE real point; "
                  "a real point's radius is the distance to its k-th nearest OTHER real point")


@exercise("06.3", "confident samples and classes covered", points=2, difficulty="core")
def ex06_class_scores(t, scores):
    """``scores(probs, threshold, min_share)``: (n, K) probabilities -> (confident fraction, classes covered)."""
    g = torch.Generator().manual_seed(60)
    logits = 4 * torch.randn(300, 10, generator=g)
    logits[:150, 3] += 6  # many samples of class 3: some classes get little
    cases = [(torch.softmax(logits, 1), 0.9, 0.05), (torch.softmax(logits, 1), 0.5, 0.02),
             (torch.eye(4)[torch.tensor([0, 0, 1, 2, 0, 0])], 0.9, 0.2)]
    for probs, threshold, min_share in cases:
        got, err = t.call(scores, probs.clone(), threshold, min_share)
        if err is not None:
            return
        try:
            confident, covered = float(got[0]), int(got[1])
        except (TypeError, ValueError, IndexError):
            t.require(False, "return a pair (fraction of confident samples, number of classes covered)")
            return
        top, pred = probs.max(1)
        shares = torch.bincount(pred, minlength=probs.shape[1]).double() / probs.shape[0]
        t.require(close(confident, (top > threshold).double().mean().item()),
                  "a sample is confident when its LARGEST class probability exceeds the threshold")
        t.require(covered == int((shares >= min_share).sum()),
                  "a class is covered when the share of samples whose most probable class it is reaches min_share")
