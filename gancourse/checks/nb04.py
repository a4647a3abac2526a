"""Checks for notebook 04 (the vanilla GAN on toy mixtures)."""
from __future__ import annotations

import math

import torch

from .. import losses
from ..models.vanilla import algorithm1_step
from ._core import answer_number, close, exercise, has_keys


def _independent_coverage(samples, centers, std):
    """PacGAN's numbers computed here without gancourse.metrics: (modes, hq_fraction)."""
    d = ((samples[:, None, :] - centers[None]) ** 2).sum(-1).sqrt()
    nearest_d, nearest = d.min(1)
    hq = nearest_d <= 3 * std
    return len(set(nearest[hq].tolist())), hq.double().mean().item()


@exercise("04.2", "PacGAN's mode coverage", points=2, difficulty="warm-up")
def ex04_coverage(t, coverage):
    """``coverage(samples, centers, std)`` -> (modes captured, fraction of high-quality samples)."""
    g = torch.Generator().manual_seed(4)
    centers = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])
    cases = [
        centers[torch.randint(0, 4, (300,), generator=g)] + 0.01 * torch.randn(300, 2, generator=g),  # real-like
        centers[1] + 0.01 * torch.randn(200, 2, generator=g),                                          # one mode
        torch.cat([centers[:2] + 0.029, torch.zeros(8, 2)]),                                           # edge: 2.9 std
        centers[:3] + torch.tensor([0.031, 0.0]),                                                      # just outside
    ]
    for x in cases:
        got, err = t.call(coverage, x.clone(), centers.clone(), 0.01)
        if err is not None:
            return
        try:
            modes, hq = int(got[0]), float(got[1])
        except (TypeError, ValueError, IndexError):
            t.require(False, "return a pair (number of modes captured, fraction of high-quality samples)")
            return
        want_modes, want_hq = _independent_coverage(x, centers, 0.01)
        t.require(modes == want_modes, "a mode is captured when at least one HIGH-QUALITY sample has it as nearest mode")
        t.require(close(hq, want_hq, atol=1e-6),
                  "the high-quality fraction counts samples within 3 std of their nearest centre, over ALL samples")


@exercise("04.3", "how many modes does a perfect generator show?", points=3, difficulty="challenge")
def ex04_expected_modes(t, expected_modes):
    """``expected_modes(n, k)``: expected modes captured by n samples of the true k-mode mixture."""
    q = 1 - math.exp(-4.5)  # P(a 2-D Gaussian sample lies within 3 std)
    for n, k in [(1, 8), (5, 8), (20, 25), (100, 25), (2500, 25), (0, 8)]:
        got, err = t.call(expected_modes, n, k)
        if err is not None:
            return
        want = k * (1 - (1 - q / k) ** n)
        t.require(close(float(got), want, rtol=1e-6),
                  "a mode is missed when all n samples miss it; the chance that one sample lands on a given "
                  "mode AND within 3 std combines the mode's weight with section 1's best HQ fraction")


class _Recorder(torch.optim.SGD):
    """SGD that records, at each step, whether the *other* network's parameters hold gradients."""

    def __init__(self, params, watched, log, name):
        super().__init__(params, lr=0.1)
        self.watched, self.log, self.name = list(watched), log, name

    def step(self, closure=None):
        self.log.append((self.name, any(p.grad is not None and bool(p.grad.abs().sum() > 0) for p in self.watched)))
        return super().step(closure)


def _toy_nets(seed=0):
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        G = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
        D = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    return G, D


def _draws(n_calls, shape, seed):
    g = torch.Generator().manual_seed(seed)
    pool = [torch.randn(*shape, generator=g) for _ in range(n_calls + 3)]
    calls = []

    def draw():
        calls.append(1)
        return pool[len(calls) - 1].clone()

    return draw, calls


@exercise("04.1", "Algorithm 1's training step", points=5, difficulty="core", kind="build")
def ex04_gan_step(t, gan_step):
    """The build exercise of notebook 04, used by its training runs (Goodfellow et al. 2014, Algorithm 1):
    ``gan_step(G, D, opt_G, opt_D, real_batch, noise, k, g_loss) -> (loss_D, loss_G)``: k times, D's
    binary cross-entropy on a fresh real batch and fresh fakes G(noise()) detached, zero_grad,
    backward, step; then G's loss ``g_loss(D(G(noise())))`` on fresh noise, zero_grad, backward, step."""
    for k in (1, 3):
        results = {}
        for who, fn in (("yours", gan_step), ("reference", algorithm1_step)):
            G, D = _toy_nets()
            log = []
            opt_G = _Recorder(G.parameters(), D.parameters(), log, "G")
            opt_D = _Recorder(D.parameters(), G.parameters(), log, "D")
            real, real_calls = _draws(k, (6, 2), 41)
            noise, noise_calls = _draws(k + 1, (6, 2), 42)
            out, err = t.call(fn, G, D, opt_G, opt_D, real, noise, k, losses.g_loss_nonsaturating, what="gan_step")
            if err is not None:
                return
            results[who] = (G, D, out, log, len(real_calls), len(noise_calls))
        G, D, out, log, n_real, n_noise = results["yours"]
        RG, RD, ref_out, _, _, _ = results["reference"]
        steps = [name for name, _ in log]
        if not t.require(steps == ["D"] * k + ["G"], f"with k = {k}: {k} D step(s) first, then one G step "
                                                       f"(your optimisers stepped in the order {steps})"):
            continue
        t.require(not any(other for name, other in log if name == "D"),
                  "D's step reached G: the fakes must be detached in D's loss (G(z).detach()), or D's update "
                  "also pushes G's gradients around")
        t.require(n_real == k and n_noise == k + 1,
                  f"with k = {k}: draw a fresh real batch for every D step ({k}) and fresh noise for every D step "
                  f"and for the G step ({k + 1}); you drew {n_real} real batches and {n_noise} noise batches")
        same = all(close(p, q, atol=1e-6) for a, b in ((G, RG), (D, RD)) for p, q in zip(a.parameters(), b.parameters()))
        t.require(same, "after your step the weights differ from Algorithm 1's: zero each optimiser's gradients "
                        "before its backward pass, D's loss is the binary cross-entropy on logits (real: 1, fake: 0), "
                        "G's loss is g_loss of D's logits on fresh fakes")
        ok = isinstance(out, (tuple, list)) and len(out) == 2 and all(isinstance(v, torch.Tensor) for v in out)
        if t.require(ok, "return (loss_D, loss_G): D's last loss and G's loss, as tensors"):
            t.require(close(float(out[0].detach()), float(ref_out[0].detach()), rtol=1e-5)
                      and close(float(out[1].detach()), float(ref_out[1].detach()), rtol=1e-5),
                      "the returned losses should be D's loss of the last D step and G's loss")


@exercise("04.4", "what k does, measured", points=3, difficulty="core", kind="variant")
def ex04_k(t, answer, runs, n=2500):
    """The variant exercise of notebook 04: runs with k = 1 and k = 5 (same seeds, same generator
    steps); ``runs`` = {1: [ToyGAN, ...], 5: [ToyGAN, ...]}; ``answer`` = {"modes_k1": ..., "modes_k5": ...,
    "hq_k1": ..., "hq_k5": ...}: the means over the seeds of modes captured and HQ % (``gan.coverage(n)``)."""
    if not has_keys(t, answer, ["modes_k1", "modes_k5", "hq_k1", "hq_k5"]):
        return
    if not t.require(isinstance(runs, dict) and {1, 5} <= set(runs) and all(len(runs[k]) for k in (1, 5)),
                     "runs should be {1: [your k = 1 runs], 5: [your k = 5 runs]}"):
        return
    for k in (1, 5):
        covs = [gan.coverage(n) for gan in runs[k]]
        modes = sum(c.modes for c in covs) / len(covs)
        hq = sum(100 * c.hq_fraction for c in covs) / len(covs)
        for key, value, what in ((f"modes_k{k}", modes, "modes captured"), (f"hq_k{k}", hq, "HQ %")):
            got = answer_number(answer, key)
            if key.startswith("hq") and not close(got, value, atol=1e-3) and close(got, hq / 100, rtol=1e-3):
                t.require(False, f"{key}: give the high-quality share in percent, as the tables do")
            else:
                t.require(close(got, value, atol=1e-3), f"{key} is not the mean {what} of your k = {k} runs "
                                                        f"(gan.coverage({n}) of each, averaged over the seeds)")
