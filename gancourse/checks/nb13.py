"""Checks for notebook 13 (SPADE: semantic image synthesis)."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..judges.scenes import scene_segmenter
from ..models import spade
from ..nn.spade import SPADE
from ._core import check_variant, close, exercise


@exercise("13.2", "mean intersection over union", points=2, difficulty="warm-up")
def ex13_mean_iou(t, mean_iou):
    """``mean_iou(pred, target, n_classes)``: integer maps (N, H, W) -> the mean over the classes present
    in ``pred`` or ``target`` of TP / (TP + FP + FN), pixels of all images pooled."""
    from ..metrics import mean_iou as reference

    g = torch.Generator().manual_seed(13)
    target = torch.randint(0, 4, (3, 8, 8), generator=g)
    noisy = torch.where(torch.rand(3, 8, 8, generator=g) < 0.3, torch.randint(0, 4, (3, 8, 8), generator=g), target)
    cases = [(target, target, 4), (noisy, target, 4), (noisy, target, 6),
             (torch.zeros(1, 4, 4, dtype=torch.long), torch.ones(1, 4, 4, dtype=torch.long), 3)]
    for pred, tgt, n in cases:
        got, err = t.call(mean_iou, pred.clone(), tgt.clone(), n)
        if err is not None:
            return
        try:
            got = float(got)
        except (TypeError, ValueError):
            t.require(False, "return one number, the mean IoU")
            return
        expected, per_class = reference(pred, tgt, n)
        over_all = float(torch.nan_to_num(per_class, nan=0.0).mean())
        if not close(got, expected, rtol=1e-6) and close(got, over_all, rtol=1e-6):
            t.require(False, "classes that appear in neither map have no IoU (0/0): leave them out of the mean")
            return
        t.require(close(got, expected, rtol=1e-6) and math.isfinite(got),
                  "IoU of class c = pixels where both maps say c / pixels where at least one says c, "
                  "counted over all images together; then average over the classes that occur")


def _onehot(labels, n):
    return F.one_hot(labels, n).permute(0, 3, 1, 2).float()


@exercise("13.1", "the SPADE layer", points=5, difficulty="core", kind="build")
def ex13_spade_layer(t, spade_layer):
    """The build exercise of notebook 13, used by its SPADE generator (Park et al. 2019, Eq. 1):
    ``spade_layer(channels, label_channels, hidden)`` builds an ``nn.Module`` whose
    ``forward(h, segmap)`` returns BN(h)·(1 + γ(m)) + β(m): a parameter-free batch norm of h
    (N, C, H, W); the one-hot map (N, L, H_m, W_m) resized to H x W (nearest); a shared 3x3 conv to
    ``hidden`` channels + ReLU; two 3x3 convs from it give γ and β, (N, C, H, W) each."""
    with torch.random.fork_rng():
        torch.manual_seed(13)
        layer, err = t.call(spade_layer, 4, 3, 6, what="spade_layer(4, 3, 6)")
    if err is not None:
        return
    if not t.require(isinstance(layer, torch.nn.Module), "spade_layer(channels, label_channels, hidden) should "
                                                          "return an nn.Module (an instance of your class)"):
        return
    layer.train()
    ref = SPADE(4, 3, hidden=6)
    n_params, n_ref = sum(p.numel() for p in layer.parameters()), sum(p.numel() for p in ref.parameters())
    t.require(n_params == n_ref,
              f"your layer has {n_params} parameters, SPADE's has {n_ref}: a shared 3x3 convolution from the map "
              "to `hidden` channels, two 3x3 convolutions from there to `channels` each (γ and β), and a "
              "normalisation without learned parameters (affine=False)")
    g = torch.Generator().manual_seed(14)
    h = torch.randn(3, 4, 8, 8, generator=g) * 2 + 1
    segmap = _onehot(torch.randint(0, 3, (3, 16, 16), generator=g), 3)
    out, err = t.call(layer, h, segmap, what="your layer")
    if err is not None:
        return
    if not t.require(isinstance(out, torch.Tensor) and out.shape == h.shape,
                     "forward(h, segmap) should return a tensor shaped like h (N, C, H, W)"):
        return
    with torch.no_grad():
        # 1. a normalisation: a positive scale and a shift per channel of h change nothing
        scaled, _ = t.call(layer, h * torch.tensor([2.0, 0.5, 3.0, 1.5]).view(1, 4, 1, 1) + 4.0, segmap)
        t.require(scaled is not None and close(scaled, out, atol=1e-4),
                  "normalise h first (mean 0, variance 1 per channel): scaling or shifting a channel of h must "
                  "not change the output")
        # 2. with batch statistics (over N, H, W): shifting one image of the batch changes the others
        shifted_h = h.clone()
        shifted_h[0] += 3.0
        shifted, _ = t.call(layer, shifted_h, segmap)
        t.require(shifted is not None and not close(shifted[1:], out[1:], atol=1e-4),
                  "normalise with batch statistics (over N, H, W, as the paper's generator's batch norm), "
                  "not per image")
        # 3. the map is read, and resized with nearest-neighbour interpolation
        other, _ = t.call(layer, h, segmap.roll(5, dims=-1))
        t.require(other is not None and not close(other, out, atol=1e-4),
                  "the output should depend on the label map: γ and β are computed from it")
        resized, _ = t.call(layer, h, F.interpolate(segmap, size=(8, 8), mode="nearest"))
        t.require(resized is not None and close(resized, out, atol=1e-5),
                  "resize the map to h's size with nearest-neighbour interpolation (labels stay labels), "
                  "inside the layer: the map may come at any resolution")
        # 4. the scale is 1 + γ: with every parameter at zero the layer is the plain normalisation
        saved = [p.detach().clone() for p in layer.parameters()]
        for p in layer.parameters():
            p.zero_()
        zeroed, _ = t.call(layer, h, segmap)
        for p, v in zip(layer.parameters(), saved):
            p.copy_(v)
        plain = F.batch_norm(h, None, None, training=True, eps=1e-5)
        t.require(zeroed is not None and close(zeroed, plain, atol=1e-4),
                  "write the scale as (1 + γ): with γ = β = 0 the layer must return the normalised h unchanged")
    # 5. every parameter learns
    out, _ = t.call(layer, h, segmap)
    if isinstance(out, torch.Tensor) and out.requires_grad:
        out.pow(2).mean().backward()
        t.require(all(p.grad is not None and float(p.grad.abs().sum()) > 0 for p in layer.parameters()),
                  "every parameter should receive a gradient: γ and β both enter the output")
    else:
        t.require(False, "the output should be differentiable with respect to the layer's parameters")


@exercise("13.3", "feature matching over scales", points=3, difficulty="core")
def ex13_feature_matching(t, feature_matching):
    """``feature_matching(real, fake)``: lists (one per scale) of lists (one per D layer) of tensors ->
    Σ_layers mean |real − fake|, averaged over the scales; real features detached."""
    from ..losses import feature_matching as reference

    g = torch.Generator().manual_seed(15)
    for scales, layers in ((2, 3), (1, 2), (3, 1)):
        real = [[torch.randn(2, 4 * (k + 1), 8 >> s, 8 >> s, generator=g) for k in range(layers)] for s in range(scales)]
        fake = [[torch.randn(r.shape, generator=g).requires_grad_(True) for r in scale] for scale in real]
        real_leaf = [[r.clone().requires_grad_(True) for r in scale] for scale in real]
        got, err = t.call(feature_matching, real_leaf, fake)
        if err is not None:
            return
        if not t.require(isinstance(got, torch.Tensor) and got.ndim == 0, "return a scalar tensor"):
            return
        expected = reference(real, [[f.detach() for f in scale] for scale in fake])
        if not t.require(close(got.detach(), expected, rtol=1e-5),
                         "per layer the mean absolute difference; add the layers of a scale; average the scales"):
            return
        got.backward()
        t.require(all(r.grad is None or float(r.grad.abs().sum()) == 0 for scale in real_leaf for r in scale),
                  "the loss trains G only: detach the real features")
        t.require(all(f.grad is not None for scale in fake for f in scale), "the fake features must keep their gradients")


@exercise("13.4", "what feature matching buys, measured", points=3, difficulty="core", kind="variant")
def ex13_feature_matching_off(t, answer, G_with, G_without, maps):
    """The variant exercise of notebook 13: SPADE trained with λ_FM = 10 and with λ_FM = 0, the same
    length; ``answer`` = {"miou_with": ..., "miou_without": ..., "lower": "with" or "without"}: the
    segmenter's mIoU on the generators' images of the held-out ``maps`` (``spade.evaluate``). The
    check measures both again."""
    segmenter = scene_segmenter()
    check_variant(t, answer, {"miou_with": lambda: spade.evaluate(G_with, maps, segmenter)["miou"],
                              "miou_without": lambda: spade.evaluate(G_without, maps, segmenter)["miou"]},
                  how="that generator's mIoU on the held-out maps: spade.evaluate(G, maps, segmenter)['miou']",
                  lower="has the lower mIoU", atol=1e-3)
