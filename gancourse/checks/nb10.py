"""Checks for notebook 10 (Pix2Pix: paired translation)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .. import metrics
from ..metrics import high_frequency_energy
from ..models import pix2pix
from ._core import answer_number, close, exercise, has_keys, lower_of


def _expected_l1(prediction, answers):
    return (answers - prediction.unsqueeze(0)).abs().mean(0)


@exercise("10.2", "the prediction with the smallest expected L1 error", points=2, difficulty="warm-up")
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


class _PairCritic(torch.nn.Module):
    """A small patch critic for the check: reads the pair (x, image) stacked as channels, x first."""

    def __init__(self, x_channels, y_channels, seed=0):
        super().__init__()
        self.expected = x_channels + y_channels
        with torch.random.fork_rng():          # the student's random state is left alone
            torch.manual_seed(seed)
            self.net = torch.nn.Sequential(torch.nn.Conv2d(self.expected, 4, 3, 2, 1), torch.nn.LeakyReLU(0.2),
                                           torch.nn.Conv2d(4, 1, 3, 1, 1))
        self.seen = []

    def forward(self, pair):
        if not isinstance(pair, torch.Tensor) or pair.ndim != 4 or pair.shape[1] != self.expected:
            shape = tuple(pair.shape) if isinstance(pair, torch.Tensor) else type(pair).__name__
            raise ValueError(f"D judges the pair: x and the image stacked as channels, {self.expected} channels "
                             f"in all, got {shape}")
        self.seen.append(pair)
        return self.net(pair)


def _p2p_reference(D, x, real, fake):
    real_scores, fake_scores = D(torch.cat([x, real], 1)), D(torch.cat([x, fake.detach()], 1))
    d = 0.5 * (F.softplus(-real_scores).mean() + F.softplus(fake_scores).mean())
    adversarial = F.softplus(-D(torch.cat([x, fake], 1))).mean()
    return d, adversarial, (fake - real).abs().mean()


@exercise("10.1", "Pix2Pix's losses on pairs", points=5, difficulty="core", kind="build")
def ex10_pix2pix_losses(t, d_loss, g_loss):
    """The build exercise of notebook 10, used by its three training runs (Isola et al. 2017, Eqs. 1,
    3, 4 and Section 3.3): ``d_loss(D, x, real, fake)`` = ½[BCE(D([x, real]), 1) + BCE(D([x, fake]), 0)]
    on D's patch maps, with ``fake`` detached; ``g_loss(D, x, real, fake) -> (adversarial, l1)`` with
    the non-saturating -log D([x, fake]) and the mean |fake - real|, and a zero adversarial term when
    D is None. The pair is stacked as channels, x first. x (N, C_in, S, S); real, fake (N, C_out, S, S)."""
    g = torch.Generator().manual_seed(10)
    x = F.one_hot(torch.randint(0, 5, (3, 8, 8), generator=g), 5).permute(0, 3, 1, 2).float()
    real = torch.rand(3, 3, 8, 8, generator=g) * 2 - 1
    D = _PairCritic(5, 3)
    # fake comes out of a "generator" parameter, so we can see where the gradients go
    w = torch.nn.Parameter(torch.randn(3, 3, 8, 8, generator=g) * 0.5)
    fake = torch.tanh(w)
    ref_d, ref_adv, ref_l1 = (v.detach() for v in _p2p_reference(D, x, real, fake))
    # --- D's loss
    D.seen.clear()
    got, err = t.call(d_loss, D, x, real, fake, what="d_loss")
    if err is None and t.require(isinstance(got, torch.Tensor) and got.ndim == 0,
                                 "d_loss should return a scalar tensor (means over the batch and the patch map)"):
        pairs = list(D.seen)
        with torch.no_grad():
            swapped = 0.5 * (F.softplus(D(torch.cat([x, real], 1))).mean()
                             + F.softplus(-D(torch.cat([x, fake.detach()], 1))).mean())
        order = [torch.cat([real, x], 1), torch.cat([fake.detach(), x], 1)]
        if pairs and any(p.shape == order[0].shape and close(p.detach(), o) for p in pairs for o in order):
            t.require(False, "d_loss: stack the pair with x first, then the image (torch.cat([x, image], 1)): "
                             "D's input channels have a fixed meaning")
        elif close(float(got.detach()), 2 * float(ref_d), rtol=1e-5):
            t.require(False, "d_loss: halve D's loss (the paper divides D's objective by 2, which slows D "
                             "down relative to G)")
        elif close(float(got.detach()), float(swapped), rtol=1e-5):
            t.require(False, "d_loss: real and fake are swapped: D should call the real pair real (target 1)")
        else:
            t.require(close(float(got.detach()), float(ref_d), rtol=1e-5),
                      "d_loss: expected ½[BCE(D(x, real), 1) + BCE(D(x, fake), 0)], each a mean over the patch "
                      "map, on D's logits")
        w.grad = None
        if got.requires_grad:
            got.backward()
            t.require(w.grad is None or float(w.grad.abs().max()) == 0,
                      "d_loss reaches the generator: detach the fake images in D's loss, or D's step will "
                      "also push G (the symptom training would hide)")
            D.zero_grad(set_to_none=True)
        else:
            t.require(False, "d_loss should be differentiable with respect to D's weights")
    # --- G's losses
    got, err = t.call(g_loss, D, x, real, fake, what="g_loss")
    ok = err is None and isinstance(got, (tuple, list)) and len(got) == 2 and all(
        isinstance(v, torch.Tensor) and v.ndim == 0 for v in got)
    if err is None:
        t.require(ok, "g_loss should return two scalar tensors: (adversarial term, L1 term)")
    if ok:
        adv, l1 = got
        with torch.no_grad():
            saturating = -F.softplus(D(torch.cat([x, fake], 1))).mean()
        if close(float(adv.detach()), float(saturating), rtol=1e-5):
            t.require(False, "g_loss: this is the saturating log(1 - D(x, G(x))); use the non-saturating "
                             "-log D(x, G(x))")
        else:
            t.require(close(float(adv.detach()), float(ref_adv), rtol=1e-5),
                      "g_loss: the adversarial term is -log D(x, G(x)) = BCE(D([x, fake]), 1), a mean over the "
                      "batch and the patch map")
        t.require(close(float(l1.detach()), float(ref_l1), rtol=1e-5),
                  "g_loss: the L1 term is the mean absolute difference between the translation and its target")
        w.grad = None
        if adv.requires_grad and l1.requires_grad:
            (adv + 3 * l1).backward()
            w_ref = w.detach().clone().requires_grad_(True)
            _, a_ref, l_ref = _p2p_reference(D, x, real, torch.tanh(w_ref))
            (want,) = torch.autograd.grad(a_ref + 3 * l_ref, w_ref)
            t.require(w.grad is not None and close(w.grad, want, atol=1e-6),
                      "g_loss: the gradient does not reach G as it should: do not detach the translation in G's "
                      "losses, and compare it with its own target")
        else:
            for term, v in (("adversarial", adv), ("L1", l1)):
                t.require(v.requires_grad, f"g_loss: the {term} term does not reach G: compute it from the "
                                           "translation itself (no detach, no .item())")
        D.zero_grad(set_to_none=True)
    # --- the "L1 only" model has no D
    got, err = t.call(g_loss, None, x, real, fake.detach(), what="g_loss (D = None)")
    if err is None:
        t.require(isinstance(got, (tuple, list)) and len(got) == 2 and isinstance(got[0], torch.Tensor)
                  and float(got[0].detach()) == 0 and isinstance(got[1], torch.Tensor)
                  and close(float(got[1].detach()), float(ref_l1), rtol=1e-5),
                  "g_loss with D = None (the L1-only model): return a zero adversarial term and the L1 term")


@exercise("10.3", "high-frequency energy", points=3, difficulty="core")
def ex10_hf_energy(t, hf_energy):
    """``hf_energy(images)``: (N, C, H, W) -> mean squared response of the 3x3 Laplacian, no padding."""
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


def _l1_in_training_mode(G, inputs, targets, seeds=(0, 1, 2)):
    """The L1 error of G's translations (training mode: batch statistics, dropout on), for a few seeds."""
    values = []
    for seed in seeds:
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            G.train()
            values.append(metrics.l1_error(pix2pix.translate(G, inputs), targets))
    return values


@exercise("10.4", "what the skip connections keep, measured", points=3, difficulty="core", kind="variant")
def ex10_skips(t, answer, G_with, G_without, inputs, targets):
    """The variant exercise of notebook 10: GAN + L1 trained with and without the U-Net's skip
    connections, the same length; ``answer`` = {"l1_with": ..., "l1_without": ..., "lower": "with" or
    "without"}, the L1 errors the student measured on the held-out pairs (``inputs``, ``targets``),
    G in training mode as in the paper. Dropout makes each measurement a little random: the check
    measures both generators with three seeds and accepts a value within that spread."""
    if not has_keys(t, answer, ["l1_with", "l1_without", "lower"]):
        return
    means = {}
    for key, G in (("l1_with", G_with), ("l1_without", G_without)):
        values = torch.tensor(_l1_in_training_mode(G, inputs, targets))
        means[key] = float(values.mean())
        tolerance = max(0.01 * means[key], 4 * float(values.std()))
        value = answer_number(answer, key)
        t.require(abs(value - means[key]) <= tolerance,
                  f"{key} is not that generator's L1 error on the held-out pairs (measured here: about "
                  f"{means[key]:.3f}): translate the test inputs with G in training mode and average |G(x) - y|")
    mine = {k: answer[k] for k in ("l1_with", "l1_without")}
    try:
        truth = lower_of({"with": float(mine["l1_with"]), "without": float(mine["l1_without"])})
    except (TypeError, ValueError):
        truth = set()
    t.require(answer["lower"] in truth, '"lower" should say which run ("with" or "without") has the lower '
                                        "L1 error, by your own numbers")
