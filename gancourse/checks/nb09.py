"""Checks for notebook 09 (conditional GAN and AC-GAN)."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..judges.digits import digit_classifier
from ..models import cgan
from ._core import check_variant, close, exercise


@exercise("09.3", "one-hot codes with scatter_", points=2, difficulty="warm-up")
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


def _ac_reference(src_real, cls_real, src_fake, cls_fake, y_real, y_fake):
    d = (F.softplus(-src_real).mean() + F.softplus(src_fake).mean(),
         F.cross_entropy(cls_real, y_real) + F.cross_entropy(cls_fake, y_fake))
    g = (F.softplus(-src_fake).mean(), F.cross_entropy(cls_fake, y_fake))
    return d, g


def _pair(t, got, what):
    """The answer as two scalar tensors (source, class), or None with a hint."""
    ok = (isinstance(got, (tuple, list)) and len(got) == 2
          and all(isinstance(v, torch.Tensor) and v.ndim == 0 for v in got))
    t.require(ok, f"{what} should return two scalar tensors, (source loss, class loss), each a mean over the batch")
    return tuple(got) if ok else None


@exercise("09.1", "AC-GAN's losses", points=5, difficulty="core", kind="build")
def ex09_acgan_losses(t, acgan_d_loss, acgan_g_loss):
    """The build exercise of notebook 09, used by its AC-GAN training run (Odena et al. 2017, Eqs. 2-3,
    as losses to minimise):
    ``acgan_d_loss(src_real, cls_real, src_fake, cls_fake, y_real, y_fake) -> (source, class)`` with
    source = BCE(real logits, 1) + BCE(fake logits, 0) = -L_S and class = CE on the real images with
    their labels + CE on the fakes with the labels they were drawn for = -L_C;
    ``acgan_g_loss(src_fake, cls_fake, y_fake) -> (source, class)`` with the non-saturating source
    term -log D_S(G(z, c)) and CE(class logits of the fakes, c). Source logits (N,), class logits (N, K)."""
    g = torch.Generator().manual_seed(9)
    for n, k in ((6, 10), (3, 4)):
        args = (torch.randn(n, generator=g) * 2, torch.randn(n, k, generator=g), torch.randn(n, generator=g) * 2,
                torch.randn(n, k, generator=g), torch.randint(0, k, (n,), generator=g),
                torch.randint(0, k, (n,), generator=g))
        (d_src, d_cls), (g_src, g_cls) = _ac_reference(*args)
        got, err = t.call(acgan_d_loss, *[a.clone() for a in args], what="acgan_d_loss")
        got = _pair(t, got, "acgan_d_loss") if err is None else None
        if got is not None:
            src, cls = (float(v) for v in got)
            if close(src, d_cls, rtol=1e-5) and close(cls, d_src, rtol=1e-5):
                t.require(False, "acgan_d_loss: the two losses are swapped: return (source, class) in that order")
            else:
                t.require(close(src, d_src, rtol=1e-5),
                          "acgan_d_loss: the source loss is -L_S: BCE(real source logits, 1) + BCE(fake source "
                          "logits, 0), each a mean, on logits"
                          + (" (real and fake are swapped: D calls real images real)"
                             if close(src, F.softplus(args[0]).mean() + F.softplus(-args[2]).mean(), rtol=1e-5) else ""))
                if close(cls, F.cross_entropy(args[1], args[4]), rtol=1e-5):
                    t.require(False, "acgan_d_loss: L_C has a term on the fakes too: D learns to classify G's "
                                     "images as the class they were drawn for")
                else:
                    t.require(close(cls, d_cls, rtol=1e-5),
                              "acgan_d_loss: the class loss is -L_C: cross-entropy of the real images' class logits "
                              "with their labels + that of the fakes' with the labels they were drawn for")
        got, err = t.call(acgan_g_loss, args[2].clone(), args[3].clone(), args[5].clone(), what="acgan_g_loss")
        got = _pair(t, got, "acgan_g_loss") if err is None else None
        if got is not None:
            src, cls = (float(v) for v in got)
            if close(src, -F.softplus(args[2]).mean(), rtol=1e-5):
                t.require(False, "acgan_g_loss: this is the saturating source loss log(1 - D_S(G(z))), whose "
                                 "gradient vanishes when D rejects the fakes; use -log D_S(G(z))")
            elif close(src, F.softplus(args[2]).mean(), rtol=1e-5):
                t.require(False, "acgan_g_loss: the source loss pushes the fakes towards 'fake': G wants D "
                                 "to call its images real (target 1)")
            else:
                t.require(close(src, g_src, rtol=1e-5),
                          "acgan_g_loss: the source loss is the non-saturating -log D_S(G(z, c)), a mean, on logits")
            t.require(close(cls, g_cls, rtol=1e-5),
                      "acgan_g_loss: the class loss is the cross-entropy of the fakes' class logits with the "
                      "labels they were drawn for (G maximises L_C too)")
    # confident, extreme logits: finite values (losses written on logits, not on probabilities)
    big, cls = torch.tensor([200.0, -150.0]), torch.tensor([[90.0, -90.0], [-90.0, 90.0]])
    y = torch.tensor([0, 1])
    got, err = t.call(acgan_d_loss, big, cls, -big, cls, y, y, what="acgan_d_loss")
    got = _pair(t, got, "acgan_d_loss") if err is None else None
    t.require(got is not None and all(math.isfinite(float(v)) for v in got),
              "acgan_d_loss is inf or nan for logits such as 200: the log of a sigmoid that rounds to 0 or 1; "
              "use the losses that take logits (binary_cross_entropy_with_logits, cross_entropy)")
    # gradients: both losses differentiable, with the reference's gradients with respect to the logits
    args = [torch.randn(5, generator=g), torch.randn(5, 3, generator=g), torch.randn(5, generator=g),
            torch.randn(5, 3, generator=g), torch.randint(0, 3, (5,), generator=g), torch.randint(0, 3, (5,), generator=g)]
    for what, fn, picks in (("acgan_d_loss", acgan_d_loss, (0, 1, 2, 3, 4, 5)), ("acgan_g_loss", acgan_g_loss, (2, 3, 5))):
        inputs = [args[j].clone().requires_grad_(j < 4) for j in picks]
        got, err = t.call(fn, *inputs, what=what)
        got = _pair(t, got, what) if err is None else None
        if got is None:
            continue
        logits = [x for x in inputs if x.requires_grad]
        if not t.require(all(v.requires_grad for v in got),
                         f"{what}: both losses must be differentiable (no .item(), no detach): the optimiser "
                         "steps through them"):
            continue
        grads = torch.autograd.grad(got[0] + 2 * got[1], logits, allow_unused=True)
        ref_in = [args[j].clone().requires_grad_(j < 4) for j in range(6)]
        d_ref, g_ref = _ac_reference(*ref_in)
        r = d_ref if what == "acgan_d_loss" else g_ref
        want = torch.autograd.grad(r[0] + 2 * r[1], [ref_in[j] for j in picks if j < 4])
        t.require(all(a is not None and close(a, b, atol=1e-6) for a, b in zip(grads, want)),
                  f"{what}: the gradients with respect to the logits differ from the losses' (each term a mean "
                  "over the batch, built from torch operations on the logits)")


@exercise("09.4", "per-class accuracy", points=2, difficulty="core")
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


@exercise("09.2", "what G's class term does, measured", points=3, difficulty="core", kind="variant")
def ex09_class_term(t, answer, G_with, G_without, per_class=1000):
    """The variant exercise of notebook 09: two AC-GAN runs of the same length, the second without the
    class term in G's loss; ``answer`` = {"mean_with": ..., "mean_without": ..., "lower": "with" or
    "without"}, the mean per-class accuracies the student measured (``cgan.class_accuracy`` with the
    course's classifier, ``per_class`` samples per class, seed 1). The check measures both again."""
    clf = digit_classifier()

    def mean_accuracy(G):
        return float(cgan.class_accuracy(G, clf, per_class=per_class, seed=1).mean())

    check_variant(t, answer, {"mean_with": lambda: mean_accuracy(G_with), "mean_without": lambda: mean_accuracy(G_without)},
                  how="that generator's mean per-class accuracy: cgan.class_accuracy with the course's classifier, "
                      "per_class samples per class, seed 1, averaged over the classes",
                  lower="has the lower mean accuracy", atol=1e-4, fraction=True)
