"""Checks for notebook 11 (CycleGAN: unpaired translation)."""
from __future__ import annotations

import torch

from ..judges.shapes import attribute_classifier
from ..models import cyclegan
from ..models.cyclegan import generator_loss
from ._core import check_backward, check_variant, close, exercise


def _nets(seed=0):
    """Tiny stand-ins for G, F (3 -> 3 channels, tanh) and D_X, D_Y (patch maps), seeded."""
    nn = torch.nn
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        G = nn.Sequential(nn.Conv2d(3, 3, 3, padding=1), nn.Tanh())
        F = nn.Sequential(nn.Conv2d(3, 3, 3, padding=1), nn.Tanh())
        D_X = nn.Sequential(nn.Conv2d(3, 2, 3, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(2, 1, 3, 1, 1))
        D_Y = nn.Sequential(nn.Conv2d(3, 2, 3, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(2, 1, 3, 1, 1))
    return G, F, D_X, D_Y


def _value(v):
    return float(v.detach()) if isinstance(v, torch.Tensor) else float(v)


@exercise("11.1", "CycleGAN's generator loss", points=5, difficulty="core", kind="build")
def ex11_generator_loss(t, cyclegan_g_loss):
    """The build exercise of notebook 11, used by its training runs (Zhu et al. 2017, Eqs. 1-3 with
    LSGAN's terms, identity term of Section 5.2): ``cyclegan_g_loss(G, F, D_X, D_Y, x, y, fake_y,
    fake_x, lambda_cyc, lambda_id) -> (total, parts)``, total = E(D_Y(G(x)) - 1)² + E(D_X(F(y)) - 1)²
    + λ_cyc·(|F(G(x)) - x| + |G(F(y)) - y|) + λ_id·λ_cyc·(|G(y) - y| + |F(x) - x|) and ``parts`` =
    {"G_adv", "cycle", "identity"} (identity when λ_id > 0). x and y batches of different sizes."""
    g = torch.Generator().manual_seed(11)
    x, y = torch.rand(4, 3, 8, 8, generator=g) * 2 - 1, torch.rand(5, 3, 8, 8, generator=g) * 2 - 1
    for lambda_cyc, lambda_id in ((10.0, 0.5), (10.0, 0.0), (0.0, 0.5), (3.0, 2.0)):
        G, F, D_X, D_Y = _nets()
        fake_y, fake_x = G(x), F(y)
        got, err = t.call(cyclegan_g_loss, G, F, D_X, D_Y, x, y, fake_y, fake_x, lambda_cyc, lambda_id,
                          what="cyclegan_g_loss")
        if err is not None:
            return
        ok = (isinstance(got, (tuple, list)) and len(got) == 2 and isinstance(got[0], torch.Tensor)
              and got[0].ndim == 0 and isinstance(got[1], dict))
        if not t.require(ok, "return (total, parts): the total loss, a scalar tensor, and a dict of its terms "
                             '"G_adv", "cycle" and "identity"'):
            return
        total, parts = got
        R, Rf, RX, RY = _nets()
        ref_total, ref = generator_loss(R, Rf, RX, RY, x, y, R(x), Rf(y), lambda_cyc, lambda_id)
        keys = {"G_adv", "cycle"} | ({"identity"} if lambda_id > 0 else set())
        if not t.require(keys <= set(parts), f"parts should hold the terms {sorted(keys)}"):
            continue
        with torch.no_grad():
            bce = (torch.nn.functional.softplus(-D_Y(fake_y)).mean() + torch.nn.functional.softplus(-D_X(fake_x)).mean())
            swapped = ((D_X(fake_y) - 1) ** 2).mean() + ((D_Y(fake_x) - 1) ** 2).mean()
        adv = _value(parts["G_adv"])
        if close(adv, _value(bce), rtol=1e-5):
            t.require(False, "G_adv: CycleGAN's adversarial terms are LSGAN's, E(D(fake) - 1)², not the log loss")
        elif close(adv, _value(swapped), rtol=1e-5):
            t.require(False, "G_adv: D_Y judges G's outputs (domain Y) and D_X judges F's: the discriminators are swapped")
        else:
            t.require(close(adv, _value(ref["G_adv"]), rtol=1e-5),
                      "G_adv: E(D_Y(G(x)) - 1)² + E(D_X(F(y)) - 1)², means over the patch maps")
        t.require(close(_value(parts["cycle"]), _value(ref["cycle"]), rtol=1e-5),
                  "cycle: the mean |F(G(x)) - x| plus the mean |G(F(y)) - y|: each image is compared with its own "
                  "round trip")
        if lambda_id > 0:
            t.require(close(_value(parts["identity"]), _value(ref["identity"]), rtol=1e-5),
                      "identity: G fed y (already in its output domain) should return y, F fed x should return x: "
                      "mean |G(y) - y| + mean |F(x) - x|")
        if lambda_id > 0 and lambda_cyc != 1 and close(
                _value(total), _value(ref["G_adv"] + lambda_cyc * ref["cycle"] + lambda_id * ref["identity"]), rtol=1e-5):
            t.require(False, "total: the identity weight is lambda_id * lambda_cyc (0.5 x 10 = 5 in the paper), "
                             "not lambda_id alone")
        else:
            t.require(close(_value(total), _value(ref_total), rtol=1e-5),
                      "total: G_adv + lambda_cyc * cycle + lambda_id * lambda_cyc * identity")
        # gradients reach G and F as the reference's do (no detach anywhere on the generators' side)
        check_backward(t, total, ref_total, ((G, R), (F, Rf)),
                       "the gradients reaching G and F differ from the loss's: do not detach the translations "
                       "(the adversarial terms reach G through D) and use the given fake_y = G(x), fake_x = F(y)")


@exercise("11.4", "the Gram matrix of a feature map", points=2, difficulty="core")
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


@exercise("11.3", "the image pool's rule", points=3, difficulty="challenge")
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


@exercise("11.2", "what the cycle keeps, measured", points=3, difficulty="core", kind="variant")
def ex11_cycle_off(t, answer, with_cycle, without_cycle, X_test, Y_test):
    """The variant exercise of notebook 11: two runs of the same length, with λ_cyc = 10 and with
    λ_cyc = 0; ``with_cycle`` and ``without_cycle`` are their (G, F) pairs; ``answer`` =
    {"iou_with": ..., "iou_without": ..., "lower": "with" or "without"}, the outline IoU of the
    X -> Y translations the student measured (``cyclegan.evaluate_shapes`` on the test shapes).
    The check measures both again."""
    clf = attribute_classifier()

    def iou(pair):
        return cyclegan.evaluate_shapes(*pair, X_test, Y_test, clf)["iou_XtoY"]

    check_variant(t, answer, {"iou_with": lambda: iou(with_cycle), "iou_without": lambda: iou(without_cycle)},
                  how="that model's outline IoU for X -> Y: cyclegan.evaluate_shapes(G, F, X_test, Y_test, "
                      "classifier)['iou_XtoY']",
                  lower="keeps the outline less well (the lower IoU)", atol=1e-3)
