"""Checks for notebook 14 (Defect-GAN: defect synthesis for inspection)."""
from __future__ import annotations

import torch

from ._core import close, exercise


@exercise("14.1", "layer-wise composition", points=2, difficulty="warm-up")
def ex14_compose(t, compose):
    """``compose(n, f, m)``: background (N, C, H, W), foreground (N, C, H, W), mask (N, 1, H, W) in
    [0, 1] -> n ⊙ (1 − m) + f ⊙ m, the mask broadcast over the channels."""
    g = torch.Generator().manual_seed(141)
    for channels in (1, 3):
        n = torch.rand(2, channels, 6, 6, generator=g) * 2 - 1
        f = torch.rand(2, channels, 6, 6, generator=g) * 2 - 1
        for m in (torch.rand(2, 1, 6, 6, generator=g), torch.zeros(2, 1, 6, 6), torch.ones(2, 1, 6, 6)):
            got, err = t.call(compose, n.clone(), f.clone(), m.clone())
            if err is not None:
                return
            if not t.require(isinstance(got, torch.Tensor) and got.shape == n.shape,
                             "return an image shaped like the background (N, C, H, W)"):
                return
            if float(m.max()) == 0:
                t.require(torch.equal(got, n), "where the mask is 0 the background must pass through unchanged")
            elif float(m.min()) == 1:
                t.require(close(got, f, atol=1e-7), "where the mask is 1 the output is the foreground")
            else:
                t.require(close(got, n * (1 - m) + f * m, rtol=1e-6, atol=1e-7),
                          "blend pixel by pixel: the mask says how much of the foreground covers the background")


@exercise("14.2", "the spatial-distribution losses", points=3, difficulty="core")
def ex14_sd_losses(t, sd_losses):
    """``sd_losses(m1, m2)``: masks of the way there and back (N, 1, H, W) -> (L_sd-cyc, L_sd-con) =
    (mean |m1 − m2|, mean |m1| + mean |m2|)."""
    g = torch.Generator().manual_seed(142)
    cases = [(torch.rand(3, 1, 5, 5, generator=g), torch.rand(3, 1, 5, 5, generator=g)),
             (torch.zeros(2, 1, 4, 4), torch.zeros(2, 1, 4, 4))]
    m = torch.rand(2, 1, 4, 4, generator=g)
    cases.append((m, m.clone()))
    for m1, m2 in cases:
        got, err = t.call(sd_losses, m1.clone(), m2.clone())
        if err is not None:
            return
        if not t.require(isinstance(got, (tuple, list)) and len(got) == 2, "return two numbers: (L_sd_cyc, L_sd_con)"):
            return
        cyc, con = (float(torch.as_tensor(v)) for v in got)
        t.require(close(cyc, float((m1 - m2).abs().mean()), rtol=1e-5, atol=1e-7),
                  "L_sd-cyc compares the two masks: restoration should remove exactly what defacement added")
        t.require(close(con, float(m1.abs().mean() + m2.abs().mean()), rtol=1e-5, atol=1e-7),
                  "L_sd-con pushes both masks towards 0 (an L1 penalty on each, added)")


@exercise("14.3", "a control map that places a defect", points=3, difficulty="core")
def ex14_place_defect(t, place_defect):
    """``place_defect(n_domains, size, cls, top, left, height, width)`` -> A (1, n_domains, size, size):
    one-hot, domain 0 (normal) everywhere except domain ``cls`` in the rectangle."""
    for args in ((4, 16, 3, 2, 5, 4, 6), (4, 8, 1, 0, 0, 8, 8), (5, 12, 4, 10, 3, 2, 9)):
        n_domains, size, cls, top, left, height, width = args
        got, err = t.call(place_defect, *args)
        if err is not None:
            return
        expected = torch.zeros(1, n_domains, size, size)
        expected[0, 0] = 1
        expected[0, 0, top:top + height, left:left + width] = 0
        expected[0, cls, top:top + height, left:left + width] = 1
        if not t.require(isinstance(got, torch.Tensor) and tuple(got.shape) == (1, n_domains, size, size),
                         "return one map (1, n_domains, size, size): channels first, like an image"):
            return
        got = got.float()
        t.require(torch.equal(got.sum(1), torch.ones(1, size, size)),
                  "every pixel is one-hot: exactly one domain is 1, the others 0")
        t.require(torch.equal(got, expected), "domain 0 (normal) outside the rectangle, the defect class inside it; "
                  "rows top .. top + height - 1, columns left .. left + width - 1")
