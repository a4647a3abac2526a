"""Checks for notebook 10 (Pix2Pix: paired translation)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ._core import close, exercise


def _expected_l1(prediction, answers):
    return (answers - prediction.unsqueeze(0)).abs().mean(0)


@exercise("10.1", "the prediction with the smallest expected L1 error", points=2, difficulty="warm-up")
def ex10_best_l1(t, best_l1_prediction):
    """``best_l1_prediction(answers)``: k equally likely answers (k, ...) -> the prediction (...) that
    minimises the mean absolute error to them, elementwise (a median)."""
    g = torch.Generator().manual_seed(12)
    cases = [torch.rand(7, 3, 4, 4, generator=g) ** 3, torch.randn(5, 10, generator=g),
             torch.tensor([[0.0], [0.0], [10.0]]), torch.rand(4, 6, generator=g)]
    for answers in cases:
        got, err = t.call(best_l1_prediction, answers.clone())
        if err is not None:
            return
        got = torch.as_tensor(got, dtype=answers.dtype)
        if not t.require(got.shape == answers.shape[1:], "return one prediction per element: shape answers.shape[1:]"):
            return
        # any median is optimal (for even k, every value between the two middle answers is)
        best = _expected_l1(answers.median(0).values, answers)
        t.require(bool((_expected_l1(got, answers) <= best + 1e-6).all()),
                  "some predictions have a larger mean absolute error than possible: under L1 the best answer "
                  "is not the average (that is the best answer under L2)")


@exercise("10.2", "the Pix2Pix generator loss", points=3, difficulty="core")
def ex10_generator_loss(t, generator_loss):
    """``generator_loss(fake_logits, fake, real, lam)`` -> -E log σ(D(x, G(x))) + lam · E|G(x) - y|."""
    g = torch.Generator().manual_seed(10)
    for lam in (100.0, 0.0, 3.5):
        logits = torch.randn(4, 1, 6, 6, generator=g) * 3
        fake = torch.rand(4, 3, 8, 8, generator=g) * 2 - 1
        real = torch.rand(4, 3, 8, 8, generator=g) * 2 - 1
        expected = F.softplus(-logits).mean() + lam * (fake - real).abs().mean()
        got, err = t.call(generator_loss, logits.clone(), fake.clone(), real.clone(), lam)
        if err is not None:
            return
        ok = isinstance(got, torch.Tensor) and got.ndim == 0
        t.require(ok, "return a scalar tensor (means over the batch, the patch map and the pixels)")
        if not ok:
            return
        gan_only = F.softplus(-logits).mean()
        if lam == 0.0:
            t.require(close(got, gan_only, rtol=1e-5),
                      "with lam = 0 only the adversarial term remains: -log D(x, G(x)), non-saturating, on logits")
        else:
            t.require(close(got, expected, rtol=1e-5),
                      "add lam times the mean absolute error between G(x) and the target y (mean, not sum)")
    huge = torch.full((2, 1, 3, 3), -200.0)
    got, _ = t.call(generator_loss, huge, torch.zeros(2, 3, 4, 4), torch.zeros(2, 3, 4, 4), 100.0)
    t.require(got is not None and torch.isfinite(torch.as_tensor(got)).all(),
              "a confident D (logit -200) must not give inf: compute -log sigmoid(l) as softplus(-l)")


@exercise("10.3", "high-frequency energy", points=3, difficulty="core")
def ex10_hf_energy(t, hf_energy):
    """``hf_energy(images)``: (N, C, H, W) -> mean squared response of the 3x3 Laplacian, no padding."""
    from ..metrics import high_frequency_energy

    g = torch.Generator().manual_seed(11)
    for shape in ((3, 3, 16, 16), (2, 1, 5, 9)):
        x = torch.rand(shape, generator=g) * 2 - 1
        got, err = t.call(hf_energy, x.clone())
        if err is not None:
            return
        t.require(got is not None and close(float(got), high_frequency_energy(x), rtol=1e-4),
                  "convolve every channel separately with [[0, 1, 0], [1, -4, 1], [0, 1, 0]] (no padding), "
                  "square, and average over everything")
    ramp = torch.linspace(-1, 1, 12).view(1, 1, 1, 12).expand(2, 3, 12, 12).clone()
    got, _ = t.call(hf_energy, ramp)
    t.require(got is not None and close(float(got), 0.0, atol=1e-9),
              "a linear ramp has no curvature: its Laplacian, and so its energy, is 0 (did you pad the border?)")
    flat = torch.full((1, 3, 6, 6), 0.3)
    got, _ = t.call(hf_energy, flat)
    t.require(got is not None and close(float(got), 0.0, atol=1e-9), "a flat image has zero energy")
