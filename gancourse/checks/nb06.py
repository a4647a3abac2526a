"""Checks for notebook 06 (measuring a GAN)."""
from __future__ import annotations

import numpy as np
import torch
from scipy import linalg

from .. import metrics
from ..data import Digits
from ..judges.digits import digit_classifier
from ..models import dcgan
from ._core import answer_number, close, exercise, has_keys


def _reference_frechet(a, b) -> float:
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = linalg.sqrtm(cov_a @ cov_b)
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * np.real(covmean)))


def _variant_frechet(a, b, biased=False, elementwise=False) -> float:
    """The formula with one of two plausible mistakes, to name it in the hint."""
    cov_a, cov_b = np.cov(a, rowvar=False, bias=biased), np.cov(b, rowvar=False, bias=biased)
    root = np.sqrt(np.abs(cov_a @ cov_b)) if elementwise else np.real(linalg.sqrtm(cov_a @ cov_b))
    return float(((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(cov_a + cov_b - 2 * root))


@exercise("06.1", "the Fréchet distance", points=4, difficulty="core", kind="build")
def ex06_frechet(t, frechet):
    """The build exercise of notebook 06, used by its table: ``frechet(a, b)`` for feature sets
    (n_a, d) and (n_b, d) (NumPy arrays): ||mu_a - mu_b||² + tr(S_a + S_b - 2 (S_a S_b)^(1/2)),
    unbiased covariances, a real float."""
    rng = np.random.default_rng(6)
    q, _ = np.linalg.qr(rng.normal(size=(5, 5)))
    cases = [
        (rng.normal(0, 1, (400, 5)), rng.normal(0.3, 1.5, (300, 5))),                 # different means and spreads
        (rng.normal(size=(500, 5)) @ np.diag([3, 1, 1, 0.5, 0.1]) @ q, rng.normal(size=(450, 5))),  # correlated
        (rng.normal(size=(50, 3)), rng.normal(size=(50, 3)) + np.array([1.0, 0.0, 0.0])),
    ]
    for a, b in cases:
        got, err = t.call(frechet, a.copy(), b.copy())
        if err is not None:
            return
        try:
            value = float(got)
        except (TypeError, ValueError):
            t.require(False, "return a plain number (a float), not an array or a complex value")
            return
        want = _reference_frechet(a, b)
        near = lambda x: abs(value - x) <= 1e-6 * max(1.0, abs(x))   # noqa: E731
        if near(want):
            t.require(True, "")
        elif near(_variant_frechet(a, b, biased=True)):
            t.require(False, "your covariances divide by n: the course (and FID) use the unbiased ones, "
                             "divided by n - 1, as np.cov does by default")
        elif near(_variant_frechet(a, b, elementwise=True)):
            t.require(False, "the square root of S_a S_b must be a MATRIX square root (a matrix M with M M = "
                             "S_a S_b), not the square root of each entry")
        else:
            t.require(False, "compare with the formula term by term: the squared distance of the means, then "
                             "the trace of S_a + S_b - 2 (S_a S_b)^(1/2) (a matrix square root, unbiased covariances)")
    same, _ = t.call(frechet, cases[0][0].copy(), cases[0][0].copy())
    t.require(same is not None and abs(float(same)) < 1e-6, "a feature set is at distance 0 from itself")
    shifted, _ = t.call(frechet, cases[0][0].copy(), cases[0][0] + 2.0)
    t.require(shifted is not None and abs(float(shifted) - 4.0 * 5) < 1e-6,
              "shifting every feature of a set by 2 (d = 5) adds exactly 5 * 2² = 20")


@exercise("06.2", "the sample size, measured", points=3, difficulty="core", kind="variant")
def ex06_sample_size(t, answer):
    """The variant exercise of notebook 06: the Fréchet distance of the shipped DCGAN's samples
    (noise seed 7) to the training digits' features, at two sample sizes: ``answer`` =
    {"n_small": ..., "fd_small": ..., "n_large": ..., "fd_large": ..., "larger": "small" or "large"}."""
    if not has_keys(t, answer, ["n_small", "fd_small", "n_large", "fd_large", "larger"]):
        return
    try:
        n_small, n_large = int(answer["n_small"]), int(answer["n_large"])
    except (TypeError, ValueError):
        t.require(False, "n_small and n_large should be whole numbers of samples")
        return
    if not t.require(2 <= n_small < n_large <= 5000, "choose 2 <= n_small < n_large <= 5000"):
        return
    clf = digit_classifier()
    reference = metrics.classifier_features(Digits(16, "train").images, clf)
    G = dcgan.load_pretrained("dcgan-digits")
    measured = {}
    for size_key, n in (("small", n_small), ("large", n_large)):
        samples = G.sample(n, generator=torch.Generator().manual_seed(7))
        measured[size_key] = metrics.frechet_distance(metrics.classifier_features(samples, clf), reference)
        value = answer_number(answer, f"fd_{size_key}")
        t.require(close(value, measured[size_key], rtol=1e-3),
                  f"fd_{size_key} is not the Fréchet distance of {n} samples (noise seed 7) of the shipped DCGAN "
                  "against the training digits' features")
    t.require(answer["larger"] == ("small" if measured["small"] > measured["large"] else "large"),
              '"larger" should say which sample size gave the larger distance, by your own numbers')
    t.require(n_small < 64 < n_large or n_large > 4 * 64,
              "pick the sizes so that they tell you something: one below the feature dimension (64) or the "
              "large one several times above it")


@exercise("06.3", "precision on a k-NN manifold", points=3, difficulty="core")
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


@exercise("06.4", "confident samples and classes covered", points=2, difficulty="core")
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
