"""Measuring a GAN: mode coverage on toy mixtures; classifier scores, Fréchet distance, precision/recall
and nearest neighbours for images.

``mode_coverage(samples, centers, std)`` follows PacGAN (Lin et al. 2018, Section 5.1), so that the
course's numbers compare with the published tables:

* each sample is assigned to its nearest mode centre;
* it is **high quality** when it lies within 3 standard deviations of that centre;
* a mode is **captured** when at least one high-quality sample is assigned to it;
* the high-quality percentage is (high-quality samples) / (all samples).

One high-quality sample is a low bar: 2,500 points spread uniformly over the grid's square
capture most of its 25 modes (``toy_baselines``). ``mode_coverage(..., min_share=s)`` is the
stricter rule reported beside PacGAN's: a mode counts only when it receives at least ``s`` times
its fair share n/K of the samples (high-quality ones), e.g. ``s = 0.25``.

PacGAN evaluates 2,500 samples per trained generator (Table 1: ring of 8 with σ = 0.01 on the unit
circle, grid of 25 with σ = 0.05 on {-4, -2, 0, 2, 4}²).

For images (notebook 06), built on a classifier trained on the real data (by default the course's
digit classifier, ``gancourse.judges.digits.digit_classifier()``):

=============================  ==============================================================
``class_scores``               class shares, classes covered, share of confident samples
``classifier_features``        penultimate features (N, d), the space of the next two
``frechet_distance``           Fréchet distance of Gaussians fitted to two feature sets (FID's formula)
``precision_recall``           improved precision / recall on k-NN manifolds (Kynkäänniemi et al. 2019)
``nearest_neighbours``         nearest training images of samples (the memorisation check)
``image_report``               all of the above as one dict of rounded numbers
``inception_features``         Inception-v3 features for a real FID, from weights the user supplies
``per_class_accuracy``         for a class-conditional G: the share of samples of each requested
                               class that the classifier recognises as that class (notebook 09)
``l1_error``                   mean |G(x) − y| of translations against their targets (notebook 10)
``high_frequency_energy``      sharpness: mean squared Laplacian response (notebook 10)
``mean_iou``                   semantic segmentation: per-class intersection over union and its
                               mean, of predicted against true label maps (notebook 13)
=============================  ==============================================================
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from scipy.linalg import LinAlgWarning

from . import _validate as V
from .divergences import w2_gaussians


class ModeCoverage(NamedTuple):
    modes: int                   # modes captured
    hq_fraction: float           # share of samples within 3 std of their nearest mode
    counts: torch.Tensor         # high-quality samples per mode, shape (k,)
    n_modes: int                 # number of modes in total
    min_count: int = 1           # high-quality samples a mode needs to count as captured

    def __str__(self):
        rule = "" if self.min_count == 1 else f" (a mode needs {self.min_count} HQ samples)"
        return f"{self.modes}/{self.n_modes} modes{rule}, {100 * self.hq_fraction:.1f}% high quality"


def mode_coverage(samples: torch.Tensor, centers: torch.Tensor, std: float, threshold: float = 3.0,
                  min_share: float | None = None) -> ModeCoverage:
    """Modes captured and fraction of high-quality samples (PacGAN's definition).

    ``samples``: (n, d) generated points; ``centers``: (k, d) mode centres; ``std``: the modes'
    standard deviation (the unit of distance); ``threshold``: how many std count as high quality.
    ``min_share``: None for PacGAN's rule (one high-quality sample captures a mode); a number s
    for the stricter rule, a mode counts only with at least ceil(s·n/k) high-quality samples.
    """
    V.tensor(samples, "samples", ndim=2)
    if isinstance(centers, torch.Tensor):
        centers = centers.detach().float()
    else:
        centers = torch.as_tensor(V.as_float_array(centers, "centers", ndim=2), dtype=torch.float32)
    V.tensor(centers, "centers", ndim=2)
    if samples.shape[1] != centers.shape[1]:
        raise ValueError(f"samples and centers: expected points of the same dimension, got "
                         f"{samples.shape[1]} and {centers.shape[1]}")
    if samples.shape[0] == 0:
        raise ValueError("samples: expected at least one sample")
    if centers.shape[0] == 0:
        raise ValueError("centers: expected at least one mode centre")
    if not torch.isfinite(samples).all():
        raise ValueError("samples: contains NaN or infinite values (did training diverge?)")
    if not torch.isfinite(centers).all():
        raise ValueError("centers: contains NaN or infinite values")
    std = V.positive_float(std, "std")
    threshold = V.positive_float(threshold, "threshold")
    min_count = 1
    if min_share is not None:
        min_share = V.positive_float(min_share, "min_share")
        min_count = max(1, int(np.ceil(min_share * samples.shape[0] / centers.shape[0] - 1e-9)))
    x = samples.detach().float().cpu()
    c = centers.float().cpu()
    # exact per-row distances: cdist's matrix-product shortcut (used above 25 rows) can break ties
    # between equal points differently depending on their place in the batch
    dist = torch.cdist(x, c, compute_mode="donot_use_mm_for_euclid_dist")  # (n, k)
    nearest_dist, nearest = dist.min(dim=1)
    high_quality = nearest_dist <= threshold * std
    counts = torch.bincount(nearest[high_quality], minlength=c.shape[0])
    return ModeCoverage(int((counts >= min_count).sum()), float(high_quality.float().mean()), counts, c.shape[0],
                        min_count)


def toy_baselines(centers: torch.Tensor, std: float, n: int = 2500, generator: torch.Generator | None = None
                  ) -> dict[str, torch.Tensor]:
    """Samples that know nothing of the modes, to show what a mode table means at noise level.

    ``"uniform square"``: n points uniform over the square that holds every centre ±3 std;
    ``"smear"``: n points spread along the curves that join the modes (for modes on a circle, the
    circle; otherwise the lines of the grid through the centres), with a radial or perpendicular
    jitter of one std: a generator that found the layout but not the modes.
    """
    V.tensor(centers, "centers", ndim=2, last_dim=2)
    std = V.positive_float(std, "std")
    n = V.positive_int(n, "n")
    c = centers.double()
    lo, hi = c.min(0).values - 3 * std, c.max(0).values + 3 * std
    uniform = lo + (hi - lo) * torch.rand(n, 2, generator=generator, dtype=torch.float64)
    radii = c.norm(dim=1)
    if torch.allclose(radii, radii[0].expand_as(radii), rtol=1e-6) and float(radii[0]) > 0:
        angle = 2 * np.pi * torch.rand(n, generator=generator, dtype=torch.float64)
        r = radii[0] + std * torch.randn(n, generator=generator, dtype=torch.float64)
        smear = torch.stack([r * torch.cos(angle), r * torch.sin(angle)], dim=1)
    else:
        xs, ys = torch.unique(c[:, 0]), torch.unique(c[:, 1])
        along = c.min(0).values + (c.max(0).values - c.min(0).values) * torch.rand(n, 2, generator=generator,
                                                                                 dtype=torch.float64)
        horizontal = torch.rand(n, generator=generator, dtype=torch.float64) < 0.5
        line_y = ys[torch.randint(len(ys), (n,), generator=generator)]
        line_x = xs[torch.randint(len(xs), (n,), generator=generator)]
        jitter = std * torch.randn(n, generator=generator, dtype=torch.float64)
        smear = torch.where(horizontal[:, None], torch.stack([along[:, 0], line_y + jitter], 1),
                            torch.stack([line_x + jitter, along[:, 1]], 1))
    return {"uniform square": uniform.float(), "smear": smear.float()}


# ============================================================================================
# Images: scores built on a classifier trained on the real data, Fréchet distance, precision and
# recall on k-NN manifolds, nearest training neighbours.
# ============================================================================================

def _classifier(classifier):
    if classifier is None:
        from .judges.digits import digit_classifier   # the judges build on this module

        return digit_classifier()
    if not isinstance(classifier, torch.nn.Module):
        raise TypeError(f"classifier: expected a torch.nn.Module (e.g. judges.digit_classifier()), "
                        f"got {type(classifier).__name__}")
    return classifier


@torch.no_grad()
def classifier_probs(images: torch.Tensor, classifier=None, batch_size: int = 512) -> torch.Tensor:
    """Class probabilities (N, K) of ``images`` (N, C, H, W) under ``classifier`` (eval mode).

    ``classifier`` defaults to the course's digit classifier (``judges.digit_classifier()``).
    """
    V.images(images, "images")
    batch_size = V.positive_int(batch_size, "batch_size")
    net = _classifier(classifier)
    was_training = net.training
    net.eval()
    try:
        return torch.cat([torch.softmax(net(images[i:i + batch_size]), dim=1).cpu()
                          for i in range(0, images.shape[0], batch_size)])
    finally:
        net.train(was_training)


@torch.no_grad()
def classifier_features(images: torch.Tensor, classifier=None, batch_size: int = 512) -> torch.Tensor:
    """Penultimate features (N, d) of ``images`` (N, C, H, W): ``classifier.features(x)`` in eval mode.

    These play the role of Inception's pool3 features in FID (Heusel et al. 2017): the space in
    which :func:`frechet_distance` and :func:`precision_recall` compare real and generated images.
    """
    V.images(images, "images")
    batch_size = V.positive_int(batch_size, "batch_size")
    net = _classifier(classifier)
    if not hasattr(net, "features"):
        raise TypeError("classifier: expected a module with a .features(images) method (penultimate activations)")
    was_training = net.training
    net.eval()
    try:
        return torch.cat([net.features(images[i:i + batch_size]).float().cpu()
                          for i in range(0, images.shape[0], batch_size)])
    finally:
        net.train(was_training)


class ClassScores(NamedTuple):
    class_fractions: torch.Tensor   # share of samples whose most probable class is k, shape (K,)
    classes_covered: int            # classes with a share >= min_share
    confident_fraction: float       # share of samples whose top probability exceeds the threshold
    tv_to_uniform: float            # total variation between class_fractions and uniform, in [0, 1)
    n: int

    def __str__(self):
        k = self.class_fractions.numel()
        return (f"{self.classes_covered}/{k} classes covered, {100 * self.confident_fraction:.1f}% confident, "
                f"class shares {100 * float(self.class_fractions.min()):.1f}–{100 * float(self.class_fractions.max()):.1f}%")


def class_scores(images: torch.Tensor, classifier=None, threshold: float = 0.9,
                 min_share: float | None = None) -> ClassScores:
    """What a classifier trained on the real data says about a batch of samples (N, C, H, W).

    * ``class_fractions[k]``: share of samples whose arg-max class is k (all samples count);
    * ``classes_covered``: classes that get at least ``min_share`` of the samples (default: half
      the uniform share, 1 / (2K)): a mode-coverage count for images;
    * ``confident_fraction``: share of samples with max_k p(k | x) > ``threshold`` (0.9): a proxy
      for "looks like a clear digit", the quality half of the Inception Score's two ingredients
      (Salimans et al. 2016: confident p(y|x), and a marginal p(y) spread over the classes);
    * ``tv_to_uniform``: ½ Σ_k |class_fractions[k] − 1/K|, 0 for perfectly balanced classes.
    """
    threshold = V.positive_float(threshold, "threshold")
    if threshold >= 1:
        raise ValueError(f"threshold: expected a probability in (0, 1), got {threshold}")
    probs = classifier_probs(images, classifier)
    n, k = probs.shape
    if n == 0:
        raise ValueError("images: expected at least one image")
    if min_share is None:
        min_share = 0.5 / k
    min_share = V.positive_float(min_share, "min_share")
    top, pred = probs.max(dim=1)
    fractions = torch.bincount(pred, minlength=k).float() / n
    return ClassScores(fractions, int((fractions >= min_share - 1e-12).sum()), float((top > threshold).float().mean()),
                       float(0.5 * (fractions - 1.0 / k).abs().sum()), n)


def _features(x, name: str) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        V.tensor(x, name, ndim=2)
    arr = V.as_float_array(x, name, ndim=2)
    if arr.shape[0] < 2:
        raise ValueError(f"{name}: expected at least 2 feature vectors (rows), got {arr.shape[0]}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name}: contains NaN or infinite values")
    return arr


def frechet_distance(features_a, features_b) -> float:
    r"""Fréchet distance between Gaussians fitted to two feature sets (N_a, d) and (N_b, d).

    .. math:: d^2 = \|\mu_a - \mu_b\|^2 + \operatorname{tr}\big(\Sigma_a + \Sigma_b - 2(\Sigma_a\Sigma_b)^{1/2}\big)

    the squared Wasserstein-2 distance between N(μ_a, Σ_a) and N(μ_b, Σ_b) (Dowson & Landau 1982),
    which is what FID reports on Inception features (Heusel et al. 2017, Eq. 6). Means and
    (unbiased) covariances are estimated from the rows; the closed form is
    ``divergences.w2_gaussians(..., squared=True)``. The estimate is biased upwards for finite N
    (notebook 06 measures it): compare values only at equal sample sizes.
    """
    a = _features(features_a, "features_a")
    b = _features(features_b, "features_b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"features_a and features_b: expected the same feature dimension, got {a.shape[1]} and {b.shape[1]}")
    with warnings.catch_warnings():
        # features with dead units have singular covariances; sqrtm handles them but warns
        warnings.simplefilter("ignore", category=LinAlgWarning)
        return float(w2_gaussians(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False),
                                  squared=True))


def _points(x, name: str) -> torch.Tensor:
    V.tensor(x, name)
    if x.ndim < 2:
        raise ValueError(f"{name}: expected a batch (N, ...) of vectors or images, got shape {tuple(x.shape)}")
    if x.shape[0] == 0:
        raise ValueError(f"{name}: expected at least one row")
    if not torch.isfinite(x).all():  # a NaN would silently fall outside every ball
        raise ValueError(f"{name}: expected finite values, got {int((~torch.isfinite(x)).sum())} NaN/inf entries")
    return x.detach().reshape(x.shape[0], -1).float().cpu()


def _chunked_cdist(a: torch.Tensor, b: torch.Tensor, chunk: int = 2048):
    for i in range(0, a.shape[0], chunk):
        yield i, torch.cdist(a[i:i + chunk], b)


class Neighbours(NamedTuple):
    distances: torch.Tensor   # (n, k), Euclidean, ascending
    indices: torch.Tensor     # (n, k), rows of the reference set


def nearest_neighbours(queries: torch.Tensor, reference: torch.Tensor, k: int = 1) -> Neighbours:
    """The ``k`` nearest rows of ``reference`` (M, ...) to each row of ``queries`` (N, ...), in L2.

    Images are flattened, so (N, C, H, W) works directly: the memorisation check of a GAN
    compares each sample with its nearest *training* image (a copy has distance 0). Returns
    distances (N, k) in ascending order and their indices (N, k) into ``reference``.
    """
    q = _points(queries, "queries")
    r = _points(reference, "reference")
    if q.shape[1] != r.shape[1]:
        raise ValueError(f"queries and reference: expected the same size per row, got {q.shape[1]} and {r.shape[1]}")
    k = V.positive_int(k, "k")
    if k > r.shape[0]:
        raise ValueError(f"k: expected at most {r.shape[0]} (the reference size), got {k}")
    dists, idxs = [], []
    for _, d in _chunked_cdist(q, r):
        v, i = d.topk(k, dim=1, largest=False)
        dists.append(v)
        idxs.append(i)
    return Neighbours(torch.cat(dists), torch.cat(idxs))


def _knn_radii(x: torch.Tensor, k: int) -> torch.Tensor:
    """Distance from each row of x to its k-th nearest *other* row: (n,)."""
    radii = []
    for _, d in _chunked_cdist(x, x):
        radii.append(d.topk(k + 1, dim=1, largest=False).values[:, k])  # column 0 is the point itself
    return torch.cat(radii)


def _inside_union(points: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor) -> torch.Tensor:
    """Boolean (n,): does each point lie in at least one ball B(centres[i], radii[i])?"""
    out = []
    for _, d in _chunked_cdist(points, centres):
        out.append((d <= radii[None, :]).any(dim=1))
    return torch.cat(out)


class PrecisionRecall(NamedTuple):
    precision: float   # share of generated samples inside the real manifold
    recall: float      # share of real samples inside the generated manifold
    k: int

    def __str__(self):
        return f"precision {self.precision:.3f}, recall {self.recall:.3f} (k = {self.k})"


def precision_recall(real_features: torch.Tensor, fake_features: torch.Tensor, k: int = 3) -> PrecisionRecall:
    """Improved precision and recall (Kynkäänniemi et al. 2019, Eqs. 1–3), on features (N, d).

    The manifold of a set Φ is the union of balls centred at its points, each with the radius to
    that point's k-th nearest neighbour in Φ (k = 3 in the paper). Precision = share of fake
    points inside the real manifold (quality); recall = share of real points inside the fake
    manifold (coverage). Both lie in [0, 1]. Rows are flattened, so images (N, C, H, W) work too.
    """
    real = _points(real_features, "real_features")
    fake = _points(fake_features, "fake_features")
    if real.shape[1] != fake.shape[1]:
        raise ValueError(f"real_features and fake_features: expected the same dimension, got {real.shape[1]} and {fake.shape[1]}")
    k = V.positive_int(k, "k")
    if k >= min(real.shape[0], fake.shape[0]):
        raise ValueError(f"k: expected fewer than {min(real.shape[0], fake.shape[0])} (the smaller set's size), got {k}")
    precision = _inside_union(fake, real, _knn_radii(real, k)).float().mean()
    recall = _inside_union(real, fake, _knn_radii(fake, k)).float().mean()
    return PrecisionRecall(float(precision), float(recall), k)


def image_report(samples: torch.Tensor, real: torch.Tensor, classifier=None, k: int = 3,
                 train: torch.Tensor | None = None) -> dict:
    """Every image metric of notebook 06 at once, as a dict of rounded numbers (for tables).

    ``samples`` and ``real`` (reference images, e.g. the held-out test digits): (N, 1, H, W). With
    ``train`` (the training images), also the median distance from a sample to its nearest
    training image (a copy scores 0).
    """
    net = _classifier(classifier)
    cs = class_scores(samples, net)
    f_fake = classifier_features(samples, net)
    f_real = classifier_features(real, net)
    pr = precision_recall(f_real, f_fake, k=k)
    out = {
        "classes covered": cs.classes_covered,
        "confident %": round(100 * cs.confident_fraction, 1),
        "min class %": round(100 * float(cs.class_fractions.min()), 1),
        "max class %": round(100 * float(cs.class_fractions.max()), 1),
        "Fréchet distance": round(frechet_distance(f_fake, f_real), 2),
        "precision": round(pr.precision, 3),
        "recall": round(pr.recall, 3),
    }
    if train is not None:
        out["median NN distance to train"] = round(float(nearest_neighbours(samples, train).distances[:, 0].median()), 3)
    return out


# ============================================================================================
# Conditional generation and paired translation (notebooks 09 and 10)
# ============================================================================================

@torch.no_grad()
def per_class_accuracy(images: torch.Tensor, requested: torch.Tensor, classifier=None) -> torch.Tensor:
    """For samples of a class-conditional G: accuracy (K,), entry k = share of the samples generated
    for class k that ``classifier`` assigns to class k (K = the classifier's number of classes).

    ``images``: (N, C, H, W); ``requested``: (N,) the class each sample was generated for;
    ``classifier`` defaults to the course's digit classifier. A class never requested gets NaN.
    """
    V.images(images, "images")
    V.tensor(requested, "requested", ndim=1, floating=False)
    if requested.is_floating_point() or requested.dtype == torch.bool:
        raise TypeError(f"requested: expected integer class indices, got dtype {requested.dtype}")
    if requested.shape[0] != images.shape[0] or requested.shape[0] == 0:
        raise ValueError(f"requested: expected one class per image ({images.shape[0]}, at least one), "
                         f"got {requested.shape[0]}")
    probs = classifier_probs(images, classifier)
    k = probs.shape[1]
    if int(requested.min()) < 0 or int(requested.max()) >= k:
        raise ValueError(f"requested: expected classes in [0, {k - 1}] (the classifier's), got values from "
                         f"{int(requested.min())} to {int(requested.max())}")
    pred = probs.argmax(1)
    requested = requested.cpu().long()
    hits = torch.bincount(requested[pred == requested], minlength=k).double()
    totals = torch.bincount(requested, minlength=k).double()
    return (hits / totals).float()      # 0/0 = NaN for classes with no sample


def l1_error(fake: torch.Tensor, real: torch.Tensor) -> float:
    """Mean absolute difference between translations and their targets, both (N, C, H, W) in [-1, 1]:
    the L1 term of Pix2Pix (Isola et al. 2017, Eq. 3) measured on held-out pairs."""
    V.images(fake, "fake")
    V.images(real, "real")
    if fake.shape != real.shape:
        raise ValueError(f"fake and real: expected the same shape, got {tuple(fake.shape)} and {tuple(real.shape)}")
    return float((fake.detach().float().cpu() - real.detach().float().cpu()).abs().mean())


_LAPLACIAN = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])


def high_frequency_energy(images: torch.Tensor) -> float:
    r"""Sharpness: the mean squared response of the discrete Laplacian, :math:`\mathbb{E}(\Delta x)^2`.

    ``images``: (N, C, H, W) in [-1, 1], H and W >= 3. The Laplacian (the 3x3 kernel
    [[0, 1, 0], [1, -4, 1], [0, 1, 0]]) is applied to every channel without padding; its output
    is large where intensity changes abruptly (edges, texture, noise) and 0 on linear ramps, so a
    blurred image has less of it than the sharp original. This is the "variance of the Laplacian"
    focus measure (Pech-Pacheco et al., ICPR 2000), in a form that is additive over pixels.
    """
    V.images(images, "images")
    if images.shape[-1] < 3 or images.shape[-2] < 3:
        raise ValueError(f"images: expected at least 3x3 pixels, got shape {tuple(images.shape)}")
    x = images.detach().float().cpu()
    n, c, h, w = x.shape
    response = torch.nn.functional.conv2d(x.reshape(n * c, 1, h, w), _LAPLACIAN.view(1, 1, 3, 3))
    return float(response.pow(2).mean())


def mask_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Intersection over union of two batches of binary masks, per image: (N, ...) bool -> (N,).

    |a ∧ b| / |a ∨ b| over all pixels of each image; two empty masks count as a perfect match (1).
    Notebook 11 uses it to ask whether a translation kept the shape's outline.
    """
    for value, name in ((a, "a"), (b, "b")):
        if not isinstance(value, torch.Tensor) or value.dtype != torch.bool:
            raise TypeError(f"{name}: expected a bool tensor of masks, got "
                            f"{value.dtype if isinstance(value, torch.Tensor) else type(value).__name__}")
    if a.shape != b.shape or a.ndim < 2:
        raise ValueError(f"a and b: expected masks of the same shape (N, ...), got {tuple(a.shape)} and {tuple(b.shape)}")
    inter = (a & b).flatten(1).sum(1).double()
    union = (a | b).flatten(1).sum(1).double()
    return torch.where(union > 0, inter / union.clamp(min=1), torch.ones_like(union)).float()


def mean_iou(pred: torch.Tensor, target: torch.Tensor, n_classes: int) -> tuple[float, torch.Tensor]:
    """Mean intersection over union of predicted label maps against true ones, the measure of
    semantic segmentation benchmarks (and of SPADE's Table 1, on a segmenter's reading of
    generated images).

    ``pred``, ``target``: integer maps (N, H, W) with classes in [0, ``n_classes``). Pixels of all
    images are pooled: IoU_c = TP_c / (TP_c + FP_c + FN_c). Returns ``(miou, iou)``: the mean over
    the classes present in ``target`` or ``pred`` (a class absent from both has no IoU, NaN in
    ``iou``) and the per-class tensor (n_classes,).
    """
    n_classes = V.positive_int(n_classes, "n_classes", minimum=2)
    V.class_indices(pred, "pred", n_classes, ndim=3)           # label maps (N, H, W)
    V.class_indices(target, "target", n_classes, ndim=3)
    if pred.shape != target.shape:
        raise ValueError(f"pred and target: expected the same shape, got {tuple(pred.shape)} and {tuple(target.shape)}")
    p, t = pred.reshape(-1).long().cpu(), target.reshape(-1).long().cpu()
    confusion = torch.bincount(t * n_classes + p, minlength=n_classes ** 2).view(n_classes, n_classes).double()
    tp = confusion.diag()
    union = confusion.sum(0) + confusion.sum(1) - tp
    iou = torch.where(union > 0, tp / union.clamp(min=1), torch.full_like(tp, float("nan")))
    present = union > 0
    return float(iou[present].mean()) if present.any() else float("nan"), iou.float()

def inception_features(images: torch.Tensor, weights, batch_size: int = 32, device="cpu") -> torch.Tensor:
    """Inception-v3 pool features (N, 2048) of ``images`` (N, 1 or 3, H, W) in [-1, 1], for a real FID.

    FID (Heusel et al. 2017) is :func:`frechet_distance` on these features. The weights are not
    shipped and never downloaded here: ``weights`` is the path of a torchvision ``inception_v3``
    state dict (``Inception_V3_Weights.IMAGENET1K_V1``, e.g. from a machine with a network), loaded
    with ``weights_only=True``. Images are repeated to 3 channels, resized to 299x299 (bilinear)
    and normalised with ImageNet's statistics. The reference FID implementation uses a TensorFlow
    port of slightly different weights, so values computed this way are close to, not equal to,
    published FIDs; compare models with one implementation only.
    """
    V.images(images, "images")
    if images.shape[1] not in (1, 3):
        raise ValueError(f"images: expected 1 or 3 channels, got shape {tuple(images.shape)}")
    batch_size = V.positive_int(batch_size, "batch_size")
    path = Path(weights) if isinstance(weights, (str, Path)) else None
    if path is None:
        raise TypeError(f"weights: expected the path of an inception_v3 state dict, got {type(weights).__name__}")
    if not path.is_file():
        raise FileNotFoundError(f"weights: {path} does not exist. Save torchvision's inception_v3 ImageNet weights "
                                "there on a machine with a network (torchvision.models.Inception_V3_Weights).")
    from torchvision.models import Inception3   # heavy, and only for the optional Inception scores

    net = Inception3(aux_logits=True, init_weights=False)
    net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    net.fc = torch.nn.Identity()
    net.eval().to(device)
    mean = torch.tensor([0.485, 0.456, 0.406], device=device).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225], device=device).view(1, 3, 1, 1)
    out = []
    with torch.no_grad():
        for i in range(0, images.shape[0], batch_size):
            x = images[i:i + batch_size].to(device, torch.float32)
            x = x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x
            x = F.interpolate((x + 1) / 2, size=(299, 299), mode="bilinear", align_corners=False)
            out.append(net((x - mean) / std).cpu())
    return torch.cat(out)
