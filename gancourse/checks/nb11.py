"""Checks for notebook 11 (CycleGAN: unpaired translation)."""
from __future__ import annotations

import torch

from ._core import close, exercise


@exercise("11.1", "the learning-rate factor: constant, then linear", points=2, difficulty="warm-up")
def ex11_lr_factor(t, lr_factor):
    """``lr_factor(step, steps, decay_steps)`` -> the reference schedule's multiplier at a 0-based step."""
    def want(step, steps, decay):
        constant = steps - decay
        if step < constant:
            return 1.0
        k = step - constant + 1                   # the k-th step of the decay
        return 1.0 - k / (decay + 1)

    cases = [(0, 10, 5), (4, 10, 5), (5, 10, 5), (9, 10, 5), (199, 200, 100), (150, 200, 100),
             (0, 6, 6), (5, 6, 6), (3, 4, 0)]
    for step, steps, decay in cases:
        got, err = t.call(lr_factor, step, steps, decay)
        if err is not None:
            return
        hint = ("the factor stays 1 for the first steps - decay_steps steps" if step < steps - decay else
                "during the decay the k-th step (k = 1, 2, ...) gets 1 - k / (decay_steps + 1): the last one "
                "is still above 0")
        t.require(got is not None and close(float(got), want(step, steps, decay)), hint)


@exercise("11.2", "the cycle-consistency and identity losses", points=3, difficulty="core")
def ex11_cycle_identity(t, cycle_identity_loss):
    """``cycle_identity_loss(G, F, x, y, lambda_cyc, lambda_id)`` -> the scalar
    λ_cyc·(|F(G(x)) - x| + |G(F(y)) - y|) + λ_id·λ_cyc·(|G(y) - y| + |F(x) - x|), each |.| a mean."""
    g = torch.Generator().manual_seed(11)
    x = torch.rand(3, 3, 4, 4, generator=g) * 2 - 1
    y = torch.rand(5, 3, 4, 4, generator=g) * 2 - 1
    G = lambda v: 0.5 * v + 0.1                         # noqa: E731  (two simple invertible-ish maps)
    F = lambda v: torch.tanh(v) - 0.2                   # noqa: E731
    mean_abs = lambda a: (a).abs().mean()               # noqa: E731
    cyc = mean_abs(F(G(x)) - x) + mean_abs(G(F(y)) - y)
    idt = mean_abs(G(y) - y) + mean_abs(F(x) - x)
    for lam_cyc, lam_id in ((10.0, 0.5), (10.0, 0.0), (3.0, 1.0)):
        got, err = t.call(cycle_identity_loss, G, F, x.clone(), y.clone(), lam_cyc, lam_id)
        if err is not None:
            return
        ok = isinstance(got, torch.Tensor) and got.numel() == 1
        t.require(ok, "return a scalar tensor (a mean over all pixels and images, then weighted)")
        if not ok:
            return
        if lam_id == 0:
            t.require(close(got, lam_cyc * cyc, rtol=1e-5),
                      "the cycle term: F(G(x)) should give x back and G(F(y)) should give y back (L1, mean)")
        else:
            t.require(close(got, lam_cyc * cyc + lam_id * lam_cyc * idt, rtol=1e-5),
                      "the identity term compares G(y) with y (G's own output domain) and F(x) with x, "
                      "weighted by lambda_id times lambda_cyc")
    ident = lambda v: v                                  # noqa: E731
    got, _ = t.call(cycle_identity_loss, ident, ident, x, y, 10.0, 0.5)
    t.require(got is not None and close(got, 0.0), "with G and F the identity map both terms are exactly 0")


@exercise("11.3", "the Gram matrix of a feature map", points=2, difficulty="core")
def ex11_gram(t, gram):
    """``gram(features)``: (N, C, H, W) -> (N, C, C), entry [n, i, j] = Σ_p f_i(p) f_j(p) / (H·W)."""
    g = torch.Generator().manual_seed(3)
    for shape in ((1, 2, 3, 3), (2, 4, 5, 2), (3, 1, 1, 7)):
        f = torch.randn(*shape, generator=g)
        got, err = t.call(gram, f.clone())
        if err is not None:
            return
        n, c, h, w = shape
        want = torch.einsum("nip,njp->nij", f.reshape(n, c, -1), f.reshape(n, c, -1)) / (h * w)
        ok = isinstance(got, torch.Tensor) and tuple(got.shape) == (n, c, c)
        t.require(ok, f"for features of shape {shape} expect a Gram matrix of shape {(n, c, c)}")
        if ok:
            t.require(close(got, want, rtol=1e-5, atol=1e-6),
                      "entry (i, j) is the product of channel i and channel j summed over positions, "
                      "divided by the number of positions H*W")
    f = torch.randn(1, 3, 4, 4, generator=g)
    perm = torch.randperm(16, generator=g)
    shuffled = f.reshape(1, 3, 16)[:, :, perm].reshape(1, 3, 4, 4)
    a, _ = t.call(gram, f)
    b, _ = t.call(gram, shuffled)
    t.require(a is not None and b is not None and close(a, b, rtol=1e-5),
              "moving pixels around (the same permutation in every channel) must not change the Gram matrix")


@exercise("11.4", "the image pool's rule", points=3, difficulty="challenge")
def ex11_pool(t, pool_step):
    """``pool_step(stored, image, size, flip, slot)`` -> the image D sees; ``stored`` (a list) is
    updated in place. ``flip`` ~ U[0, 1) and ``slot`` in [0, size) are drawn by the caller."""
    def run(size, sequence):
        mine, ref, outs = [], [], []
        for value, flip, slot in sequence:
            image = torch.full((1, 2, 2), float(value))
            got, err = t.call(pool_step, mine, image, size, flip, slot)
            if err is not None:
                return None
            # the reference rule
            if size == 0:
                want = value
            elif len(ref) < size:
                ref.append(float(value))
                want = value
            elif flip < 0.5:
                want, ref[slot] = ref[slot], float(value)
            else:
                want = value
            got_value = float(got.flatten()[0]) if isinstance(got, torch.Tensor) else None
            outs.append((got_value, want, [float(s.flatten()[0]) for s in mine], list(ref)))
        return outs

    scenarios = {
        "while the pool is not full, store every new image and return it": (3, [(1, 0.1, 0), (2, 0.9, 1), (3, 0.2, 2)]),
        "once full, a flip below 1/2 returns the stored image in the given slot and stores the new one there":
            (2, [(1, 0.7, 0), (2, 0.7, 0), (3, 0.2, 1), (4, 0.1, 0), (5, 0.3, 1)]),
        "once full, a flip of 1/2 or more returns the new image and leaves the pool unchanged":
            (2, [(1, 0.0, 0), (2, 0.0, 0), (3, 0.5, 1), (4, 0.99, 0), (5, 0.2, 0), (6, 0.8, 1)]),
        "a pool of size 0 stores nothing and returns every image": (0, [(1, 0.1, 0), (2, 0.9, 0)]),
    }
    for hint, (size, sequence) in scenarios.items():
        outs = run(size, sequence)
        if outs is None:
            return
        t.require(all(got == want for got, want, _, _ in outs), hint)
        t.require(all(mine == ref for _, _, mine, ref in outs), f"{hint} (check what is left in stored)")
