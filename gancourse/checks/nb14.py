"""Checks for notebook 14 (Defect-GAN: defect synthesis for inspection)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..judges.defects import defect_classifier
from ..models import defectgan
from ..models.defectgan import DefectGANConfig, control_map, generator_loss
from ._core import check_backward, check_variant, close, exercise
from ._nets import TinyTwoHeadD


@exercise("14.2", "layer-wise composition", points=2, difficulty="warm-up")
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


class _TinyLayerG(torch.nn.Module):
    """A layer-wise generator for the check: (x, A) -> (composed, foreground, mask), deterministic."""

    def __init__(self, n_domains):
        super().__init__()
        self.conv = torch.nn.Conv2d(1 + n_domains, 2, 3, padding=1)

    def forward(self, x, A):
        h = self.conv(torch.cat([x, A], 1))
        f, m = torch.tanh(h[:, :1]), torch.sigmoid(h[:, 1:] - 1)
        return x * (1 - m) + f * m, f, m


def _defect_nets(seed=0):
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return _TinyLayerG(4), TinyTwoHeadD(1, 4)


@exercise("14.1", "Defect-GAN's generator loss", points=5, difficulty="core", kind="build")
def ex14_generator_loss(t, defectgan_g_loss):
    """The build exercise of notebook 14, used by its training run (Zhang et al. 2021):
    ``defectgan_g_loss(G, D, x, A_org, A_trg, label_trg, cfg) -> (total, parts)`` with x', m₁ =
    G(x, A_trg), x'', m₂ = G(x', A_org) (G returns (image, foreground, mask)) and parts = {"G_adv":
    −E D_src(x'), "G_cls": CE(D_cls(x'), c), "G_rec": mean |x'' − x|, "G_sd_cyc": mean |m₁ − m₂|,
    "G_sd_con": mean |m₁| + mean |m₂|}, total weighted by cfg's λ_cls^f, λ_rec, λ_sd-cyc, λ_sd-con."""

    g = torch.Generator().manual_seed(143)
    x = torch.rand(6, 1, 8, 8, generator=g) * 2 - 1
    label_org = torch.tensor([0, 0, 0, 1, 2, 3])
    label_trg = torch.tensor([1, 3, 2, 0, 0, 0])
    A_org, A_trg = control_map(label_org, 4, 8), control_map(label_trg, 4, 8)
    configs = (DefectGANConfig(), DefectGANConfig(lambda_cls_fake=1.0, lambda_rec=2.0, lambda_sd_cyc=3.0,
                                                  lambda_sd_con=0.5))
    for cfg in configs:
        G, D = _defect_nets()
        got, err = t.call(defectgan_g_loss, G, D, x, A_org, A_trg, label_trg, cfg, what="defectgan_g_loss")
        if err is not None:
            return
        ok = (isinstance(got, (tuple, list)) and len(got) == 2 and isinstance(got[0], torch.Tensor)
              and got[0].ndim == 0 and isinstance(got[1], dict))
        keys = {"G_adv", "G_cls", "G_rec", "G_sd_cyc", "G_sd_con"}
        if not t.require(ok and keys <= set(got[1]), "return (total, parts): the total loss, a scalar tensor, and a "
                                                     f"dict with the terms {sorted(keys)}"):
            return
        total, parts = got
        RG, RD = _defect_nets()
        ref_total, ref = generator_loss(RG, RD, x, A_org, A_trg, label_trg, cfg)
        ref = {k: float(v.detach()) for k, v in ref.items()}
        value = {k: float(v.detach()) if isinstance(v, torch.Tensor) else float(v) for k, v in parts.items()}
        t.require(close(value["G_adv"], ref["G_adv"], rtol=1e-5),
                  "G_adv: minus the mean of D's score map on the translations x' (WGAN, as StarGAN)")
        with torch.no_grad():
            fake = RG(x, A_trg)[0]
            wrong_cls = F.cross_entropy(RD(fake)[1], label_org)
        if close(value["G_cls"], float(wrong_cls), rtol=1e-5):
            t.require(False, "G_cls: the translations should be classified as their *target* domains, not the input's")
        else:
            t.require(close(value["G_cls"], ref["G_cls"], rtol=1e-5),
                      "G_cls: the cross-entropy of D's class logits on x' against the target domains")
        with torch.no_grad():
            wrong_back = (RG(fake, A_trg)[0] - x).abs().mean()
        if close(value["G_rec"], float(wrong_back), rtol=1e-5):
            t.require(False, "G_rec: the way back uses the input's own control map A_org, not the target's")
        else:
            t.require(close(value["G_rec"], ref["G_rec"], rtol=1e-5),
                      "G_rec: the mean |x'' − x| with x'' = G(x', A_org), the image part of G's output")
        t.require(close(value["G_sd_cyc"], ref["G_sd_cyc"], rtol=1e-5),
                  "G_sd_cyc: the mean |m₁ − m₂| between the mask of the way there and the mask of the way back")
        t.require(close(value["G_sd_con"], ref["G_sd_con"], rtol=1e-5),
                  "G_sd_con: the mean of m₁ plus the mean of m₂ (an L1 penalty on each mask)")
        t.require(close(float(total.detach()), float(ref_total.detach()), rtol=1e-5),
                  "total: G_adv + λ_cls^f·G_cls + λ_rec·G_rec + λ_sd-cyc·G_sd_cyc + λ_sd-con·G_sd_con, "
                  "the weights read from cfg (lambda_cls_fake, lambda_rec, lambda_sd_cyc, lambda_sd_con)")
        check_backward(t, total, ref_total, ((G, RG),),
                       "the gradient reaching G differs from the loss's: G learns through both of its calls and "
                       "through both masks; do not detach the translation")


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


@exercise("14.4", "what the layer-wise composition keeps, measured", points=3, difficulty="core", kind="variant")
def ex14_composition_off(t, answer, G_with, G_without, test):
    """The variant exercise of notebook 14: Defect-GAN trained with and without the layer-wise
    composition, the same length; ``answer`` = {"change_with": ..., "change_without": ..., "lower":
    "with" or "without"}: ``defectgan.evaluate(G, test, seed=0)["change_all"]``, the mean |d − n| over
    all pixels of the defaced held-out normal crops. The check measures both again."""
    judge = defect_classifier()
    check_variant(t, answer, {"change_with": lambda: defectgan.evaluate(G_with, test, judge, seed=0)["change_all"],
                              "change_without": lambda: defectgan.evaluate(G_without, test, judge, seed=0)["change_all"]},
                  how="that generator's change over all pixels: defectgan.evaluate(G, test, judge, "
                      "seed=0)['change_all'] on the held-out crops",
                  lower="changes the crops less", rtol=1e-3, atol=1e-6)
