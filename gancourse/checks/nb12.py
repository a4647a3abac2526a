"""Checks for notebook 12 (StarGAN: many domains, one generator)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ._core import close, exercise


@exercise("12.1", "the target label as image channels", points=2, difficulty="warm-up")
def ex12_replicate(t, replicate_label):
    """``replicate_label(c, h, w)``: codes (N, C) -> maps (N, C, h, w), every pixel holding the code."""
    g = torch.Generator().manual_seed(12)
    for n, c, h, w in ((1, 3, 2, 2), (4, 5, 3, 7), (2, 1, 1, 1)):
        code = torch.rand(n, c, generator=g)
        got, err = t.call(replicate_label, code.clone(), h, w)
        if err is not None:
            return
        ok = isinstance(got, torch.Tensor) and tuple(got.shape) == (n, c, h, w)
        t.require(ok, f"codes of shape {(n, c)} at {h}x{w} should give maps of shape {(n, c, h, w)}")
        if ok:
            t.require(close(got, code[:, :, None, None].expand(n, c, h, w)),
                      "channel k of image n is the constant code[n, k] at every pixel")


@exercise("12.2", "the mask vector", points=3, difficulty="core")
def ex12_mask_vector(t, my_mask_vector):
    """``my_mask_vector(labels, dataset, n_classes)``: class indices (N,) of dataset ``dataset`` ->
    (N, sum(n_classes) + len(n_classes)) = [one-hot block of each dataset (zeros but the active
    one), one-hot mask of the dataset]."""
    def want(labels, dataset, n_classes):
        parts = [F.one_hot(labels, k).float() if d == dataset else torch.zeros(len(labels), k)
                 for d, k in enumerate(n_classes)]
        mask = torch.zeros(len(labels), len(n_classes))
        mask[:, dataset] = 1
        return torch.cat(parts + [mask], 1)

    cases = [(torch.tensor([2]), 0, (4, 3)), (torch.tensor([1]), 1, (4, 3)), (torch.tensor([0, 3, 1]), 0, (4, 3)),
             (torch.tensor([4, 0]), 2, (2, 3, 5))]
    for labels, dataset, n_classes in cases:
        got, err = t.call(my_mask_vector, labels.clone(), dataset, n_classes)
        if err is not None:
            return
        w = want(labels, dataset, n_classes)
        ok = isinstance(got, torch.Tensor) and got.shape == w.shape
        t.require(ok, f"{len(labels)} labels with label sets {n_classes} give a code of shape {tuple(w.shape)}")
        if not ok:
            return
        t.require(close(got[:, -len(n_classes):], w[:, -len(n_classes):]),
                  "the last entries are the mask: a one-hot vector of the dataset the labels come from")
        t.require(close(got, w), "the active dataset's block holds the one-hot labels; the other datasets' "
                                 "blocks hold zeros (their labels are unknown)")


@exercise("12.3", "the classification loss on the active slice", points=2, difficulty="core")
def ex12_active_loss(t, active_class_loss):
    """``active_class_loss(logits, labels, dataset, n_classes)``: cross-entropy of the block of D's
    class logits (N, sum(n_classes)) that belongs to ``dataset``."""
    g = torch.Generator().manual_seed(5)
    for dataset, n_classes in ((0, (4, 3)), (1, (4, 3)), (1, (2, 5, 3))):
        logits = torch.randn(6, sum(n_classes), generator=g, requires_grad=True)
        labels = torch.randint(0, n_classes[dataset], (6,), generator=g)
        got, err = t.call(active_class_loss, logits, labels, dataset, n_classes)
        if err is not None:
            return
        start = sum(n_classes[:dataset])
        want = F.cross_entropy(logits[:, start:start + n_classes[dataset]], labels)
        ok = isinstance(got, torch.Tensor) and got.numel() == 1
        t.require(ok and close(got, want, rtol=1e-5),
                  "take the columns of the active dataset (after the blocks of the datasets before it) and "
                  "apply the cross-entropy with the labels")
        if ok and got.requires_grad:
            (grad,) = torch.autograd.grad(got, logits)
            outside = torch.ones(sum(n_classes), dtype=torch.bool)
            outside[start:start + n_classes[dataset]] = False
            t.require(grad[:, outside].abs().sum() == 0,
                      "the other datasets' outputs must get no gradient: their labels are unknown here")
        else:
            t.require(False, "the loss must stay differentiable with respect to the logits")


@exercise("12.4", "the gradient penalty for a given interpolation", points=3, difficulty="challenge")
def ex12_gradient_penalty(t, my_gradient_penalty):
    """``my_gradient_penalty(critic, real, fake, eps)``: mean over samples of (‖∇ critic(x̂)‖₂ - 1)²
    with x̂ = eps·real + (1 - eps)·fake, eps of shape (N, 1, 1, 1); critic outputs are summed per sample."""
    g = torch.Generator().manual_seed(7)
    w = torch.randn(1, 3, 4, 4, generator=g)

    def linear(x):                                    # gradient w everywhere: norm |w|
        return (x * w).sum((1, 2, 3))

    def patches(x):                                   # a score map (N, 1, 2, 2): summed per sample
        return F.avg_pool2d((x ** 2).sum(1, keepdim=True), 2)

    real = torch.randn(5, 3, 4, 4, generator=g)
    fake = torch.randn(5, 3, 4, 4, generator=g)
    eps = torch.rand(5, 1, 1, 1, generator=g)
    got, err = t.call(my_gradient_penalty, linear, real, fake, eps)
    if err is not None:
        return
    t.require(isinstance(got, torch.Tensor) and close(got, (w.norm() - 1) ** 2, rtol=1e-5),
              "for a linear critic the gradient is its weight everywhere: the penalty is (|w| - 1)^2")
    got, err = t.call(my_gradient_penalty, patches, real, fake, eps)
    if err is not None:
        return
    x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(patches(x_hat).sum(), x_hat)
    want = ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()
    t.require(isinstance(got, torch.Tensor) and close(got, want, rtol=1e-4),
              "interpolate with eps * real + (1 - eps) * fake, differentiate the critic's summed output per "
              "sample, take each sample's gradient norm, then the mean of (norm - 1)^2")
    real_p = real.clone().requires_grad_(True)
    got, err = t.call(my_gradient_penalty, patches, real_p, fake, eps)
    if err is None:
        ok = isinstance(got, torch.Tensor) and got.requires_grad
        t.require(ok, "the penalty must be differentiable (create_graph=True), so that D can be trained on it")
