"""Checks for notebook 12 (StarGAN: many domains, one generator)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..judges.shapes import attribute_classifier
from ..models import stargan
from ..models.stargan import generator_loss
from ._core import check_backward, check_variant, close, exercise
from ._nets import TinyTwoHeadD


@exercise("12.3", "the mask vector", points=3, difficulty="core")
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


@exercise("12.4", "the classification loss on the active slice", points=2, difficulty="core")
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


class _TinyG(torch.nn.Module):
    """G(x, c) for the check: the code replicated over the image, one convolution, tanh."""

    def __init__(self, code_dim):
        super().__init__()
        self.conv = torch.nn.Conv2d(3 + code_dim, 3, 3, padding=1)

    def forward(self, x, c):
        c_map = c.view(c.shape[0], c.shape[1], 1, 1).expand(-1, -1, x.shape[2], x.shape[3])
        return torch.tanh(self.conv(torch.cat([x, c_map], 1)))


def _star_nets(seed=0):
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return _TinyG(7), TinyTwoHeadD(3, 7)


def _class_loss(logits, labels):
    """Two groups, 4 colours and 3 backgrounds: one cross-entropy each, summed."""
    return F.cross_entropy(logits[:, :4], labels[:, 0]) + F.cross_entropy(logits[:, 4:], labels[:, 1])


def _code(labels):
    return torch.cat([F.one_hot(labels[:, 0], 4), F.one_hot(labels[:, 1], 3)], 1).float()


@exercise("12.1", "StarGAN's generator loss", points=5, difficulty="core", kind="build")
def ex12_generator_loss(t, stargan_g_loss):
    """The build exercise of notebook 12, used by its training run (Choi et al. 2018, Eqs. 3-6, WGAN-GP's
    adversarial term): ``stargan_g_loss(G, D, x, c_org, c_trg, label_trg, class_loss, lambda_cls,
    lambda_rec) -> (total, parts)``, total = -E D_src(G(x, c)) + λ_cls·class_loss(D_cls(G(x, c)), c)
    + λ_rec·mean|x - G(G(x, c), c')|, parts = {"G_adv", "G_cls", "G_rec"}."""
    g = torch.Generator().manual_seed(12)
    x = torch.rand(5, 3, 8, 8, generator=g) * 2 - 1
    label_org = torch.stack([torch.randint(0, 4, (5,), generator=g), torch.randint(0, 3, (5,), generator=g)], 1)
    label_trg = label_org[torch.tensor([2, 0, 4, 1, 3])]
    c_org, c_trg = _code(label_org), _code(label_trg)
    for lambda_cls, lambda_rec in ((1.0, 10.0), (2.0, 0.0), (0.0, 3.0)):
        G, D = _star_nets()
        got, err = t.call(stargan_g_loss, G, D, x, c_org, c_trg, label_trg, _class_loss, lambda_cls, lambda_rec,
                          what="stargan_g_loss")
        if err is not None:
            return
        ok = (isinstance(got, (tuple, list)) and len(got) == 2 and isinstance(got[0], torch.Tensor)
              and got[0].ndim == 0 and isinstance(got[1], dict))
        if not t.require(ok, "return (total, parts): the total loss, a scalar tensor, and a dict of its terms "
                             '"G_adv", "G_cls" and "G_rec"'):
            return
        total, parts = got
        if not t.require({"G_adv", "G_cls", "G_rec"} <= set(parts), 'parts should hold "G_adv", "G_cls" and "G_rec"'):
            continue
        RG, RD = _star_nets()
        ref_total, ref = generator_loss(RG, RD, x, c_org, c_trg, label_trg, _class_loss, lambda_cls, lambda_rec)
        ref = {k: v.detach() for k, v in ref.items()}
        value = {k: float(v.detach()) if isinstance(v, torch.Tensor) else float(v) for k, v in parts.items()}
        if close(value["G_adv"], -float(ref["G_adv"]), rtol=1e-5):
            t.require(False, "G_adv has the wrong sign: G wants D's score of its translations to be high, so it "
                             "minimises -E D_src(G(x, c))")
        else:
            t.require(close(value["G_adv"], float(ref["G_adv"]), rtol=1e-5),
                      "G_adv: minus the mean of D's score map on the translations G(x, c_trg)")
        with torch.no_grad():
            wrong_labels = _class_loss(RD(RG(x, c_trg))[1], label_org)
        if close(value["G_cls"], float(wrong_labels), rtol=1e-5):
            t.require(False, "G_cls: the translation should be classified as its *target* labels, not the input's")
        else:
            t.require(close(value["G_cls"], float(ref["G_cls"]), rtol=1e-5),
                      "G_cls: class_loss of D's class logits on the translation, against the target labels")
        with torch.no_grad():
            back_to_target = (RG(RG(x, c_trg), c_trg) - x).abs().mean()
            identity = (RG(x, c_org) - x).abs().mean()
        if close(value["G_rec"], float(back_to_target), rtol=1e-5):
            t.require(False, "G_rec: translate back with the *original* code c_org: G(G(x, c_trg), c_org) should give x")
        elif close(value["G_rec"], float(identity), rtol=1e-5):
            t.require(False, "G_rec: this compares G(x, c_org) with x (an identity term); the reconstruction "
                             "translates the translation back: G(G(x, c_trg), c_org)")
        else:
            t.require(close(value["G_rec"], float(ref["G_rec"]), rtol=1e-5),
                      "G_rec: the mean |x - G(G(x, c_trg), c_org)|")
        t.require(close(float(total.detach()), float(ref_total.detach()), rtol=1e-5),
                  "total: G_adv + lambda_cls * G_cls + lambda_rec * G_rec")
        check_backward(t, total, ref_total, ((G, RG),),
                       "the gradient reaching G differs from the loss's: G gets gradients through both of its calls "
                       "(the translation and the way back); do not detach the translation")


@exercise("12.2", "what the reconstruction keeps, measured", points=3, difficulty="core", kind="variant")
def ex12_reconstruction_off(t, answer, G_with, G_without, cfg, test):
    """The variant exercise of notebook 12: two runs of the same length, with λ_rec = 10 and with
    λ_rec = 0; ``answer`` = {"iou_with": ..., "iou_without": ..., "lower": "with" or "without"}: the
    outline IoU between each test image and its translations (``stargan.evaluate_shapes(G, cfg,
    test)["iou"]``). The check measures both again."""
    clf = attribute_classifier()

    def iou(G):
        return stargan.evaluate_shapes(G, cfg, test, classifier=clf)["iou"]

    check_variant(t, answer, {"iou_with": lambda: iou(G_with), "iou_without": lambda: iou(G_without)},
                  how="that generator's outline IoU: stargan.evaluate_shapes(G, cfg, test)['iou'] on the test images",
                  lower="keeps the outline less well (the lower IoU)", atol=1e-3)
