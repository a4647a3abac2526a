"""Checks for notebook 04 (the vanilla GAN on toy mixtures)."""
from __future__ import annotations

import math

import torch

from ._core import close, exercise


def _independent_coverage(samples, centers, std):
    """PacGAN's numbers computed here without gancourse.metrics: (modes, hq_fraction)."""
    d = ((samples[:, None, :] - centers[None]) ** 2).sum(-1).sqrt()
    nearest_d, nearest = d.min(1)
    hq = nearest_d <= 3 * std
    return len(set(nearest[hq].tolist())), hq.double().mean().item()


@exercise("04.1", "PacGAN's mode coverage", points=2, difficulty="warm-up")
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


@exercise("04.2", "packing samples for the discriminator", points=2, difficulty="core")
def ex04_pack(t, pack):
    """``pack(x, m)``: (n, d) -> (n // m, m * d), consecutive rows side by side (PacGAN's input)."""
    x = torch.arange(24, dtype=torch.float32).reshape(12, 2)
    for m in (1, 2, 3, 4):
        got, err = t.call(pack, x.clone(), m)
        if err is not None:
            return
        want = torch.cat([x[i::m] for i in range(m)], dim=1)
        t.require(isinstance(got, torch.Tensor) and tuple(got.shape) == (12 // m, 2 * m),
                  "the packed tensor has n/m rows of m*d numbers")
        t.require(isinstance(got, torch.Tensor) and got.shape == want.shape and torch.equal(got, want),
                  "row j of the packed tensor holds samples j*m, j*m+1, ..., j*m+m-1, in that order")
    raised = False
    try:
        pack(x.clone(), 5)
    except ValueError:
        raised = True
    except NotImplementedError:
        raise
    except Exception:
        pass
    t.require(raised, "when n is not a multiple of m, raise a ValueError (a pack must not mix real and fake)")


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
