"""Checks for notebook 09 (conditional GAN and AC-GAN)."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ._core import close, exercise


@exercise("09.1", "one-hot codes with scatter_", points=2, difficulty="warm-up")
def ex09_one_hot(t, one_hot_scatter):
    """``one_hot_scatter(labels, n_classes)``: (N,) integers -> (N, n_classes) float, one 1 per row."""
    cases = [(torch.tensor([3, 0, 9, 3]), 10), (torch.tensor([1]), 2), (torch.arange(5).flip(0), 5),
             (torch.tensor([0, 0, 0]), 4)]
    for labels, k in cases:
        got, err = t.call(one_hot_scatter, labels.clone(), k)
        if err is not None:
            return
        ok = isinstance(got, torch.Tensor) and got.shape == (labels.shape[0], k)
        t.require(ok, f"return a tensor of shape (N, n_classes), here {(labels.shape[0], k)}")
        if not ok:
            return
        t.require(got.is_floating_point(), "the code is fed to a network: make it a float tensor")
        t.require(close(got, F.one_hot(labels, k).float()),
                  "each row should hold a single 1, in the column given by the label, and zeros elsewhere")
    labels = torch.tensor([2, 1])
    before = labels.clone()
    t.call(one_hot_scatter, labels, 3)
    t.require(torch.equal(labels, before), "do not modify the labels you were given")


@exercise("09.2", "AC-GAN's discriminator loss", points=3, difficulty="core")
def ex09_acgan_d_loss(t, acgan_d_loss):
    """``acgan_d_loss(src_real, cls_real, src_fake, cls_fake, y_real, y_fake)`` -> BCE + BCE + CE + CE."""
    g = torch.Generator().manual_seed(9)
    for n, k in ((6, 10), (3, 4), (1, 2)):
        src_real, src_fake = torch.randn(n, generator=g) * 2, torch.randn(n, generator=g) * 2
        cls_real, cls_fake = torch.randn(n, k, generator=g), torch.randn(n, k, generator=g)
        y_real, y_fake = torch.randint(0, k, (n,), generator=g), torch.randint(0, k, (n,), generator=g)
        source = F.softplus(-src_real).mean() + F.softplus(src_fake).mean()
        classes = F.cross_entropy(cls_real, y_real) + F.cross_entropy(cls_fake, y_fake)
        got, err = t.call(acgan_d_loss, src_real.clone(), cls_real.clone(), src_fake.clone(), cls_fake.clone(),
                          y_real.clone(), y_fake.clone())
        if err is not None:
            return
        got = float(got)
        if close(got, source, rtol=1e-5):
            t.require(False, "the source terms are right, but the class terms are missing: D also maximises L_C")
        elif close(got, classes, rtol=1e-5):
            t.require(False, "the class terms are right, but the real/fake (source) terms are missing")
        elif close(got, source + F.cross_entropy(cls_real, y_real), rtol=1e-5):
            t.require(False, "L_C has a term on the fake images too: D classifies fakes as the class they were drawn for")
        else:
            t.require(close(got, source + classes, rtol=1e-5),
                      "expected BCE(real source, 1) + BCE(fake source, 0) + CE on real classes + CE on fake classes, "
                      "each a mean over the batch, all on logits")
    # a perfect, confident D: the loss goes to 0, and stays finite
    big = torch.full((2,), 50.0)
    cls = torch.tensor([[50.0, -50.0], [-50.0, 50.0]])
    got, _ = t.call(acgan_d_loss, big, cls, -big, cls, torch.tensor([0, 1]), torch.tensor([0, 1]))
    t.require(got is not None and math.isfinite(float(got)) and float(got) < 1e-6,
              "a D that is right with huge logits should have a loss close to 0 (use the losses *with_logits*)")


@exercise("09.3", "per-class accuracy", points=2, difficulty="core")
def ex09_per_class_accuracy(t, per_class_accuracy):
    """``per_class_accuracy(predicted, requested, n_classes)`` -> (K,) hits / requests, NaN if never requested."""
    predicted = torch.tensor([0, 0, 1, 2, 2, 2, 1])
    requested = torch.tensor([0, 1, 1, 2, 2, 0, 1])
    got, err = t.call(per_class_accuracy, predicted.clone(), requested.clone(), 4)
    if err is not None:
        return
    got = torch.as_tensor(got, dtype=torch.float64)
    ok = got.shape == (4,)
    t.require(ok, "return one accuracy per class: shape (n_classes,)")
    if not ok:
        return
    t.require(close(got[:3], [0.5, 2 / 3, 1.0]),
              "entry k is (samples requested as k AND predicted as k) / (samples requested as k)")
    t.require(bool(torch.isnan(got[3])), "a class that was never requested has no accuracy: return NaN there, not 0")
    g = torch.Generator().manual_seed(3)
    req = torch.randint(0, 10, (500,), generator=g)
    pred = torch.where(torch.rand(500, generator=g) < 0.8, req, torch.randint(0, 10, (500,), generator=g))
    got, _ = t.call(per_class_accuracy, pred, req, 10)
    expected = torch.tensor([(pred[req == k] == k).double().mean().item() for k in range(10)])
    t.require(got is not None and close(torch.as_tensor(got, dtype=torch.float64), expected),
              "wrong values on a random batch of 500 samples: count per requested class")
