"""Property-based tests (hypothesis) of the metrics and the data transforms: what must hold for
every input, not only for the examples the other tests pick. (Digits resizing: tests/test_data.py;
divergences: tests/test_divergences.py.)"""
import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from gancourse import metrics, viz
from gancourse.data import folders

FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])

finite = st.floats(-10, 10, allow_nan=False, width=32)


@st.composite
def coverage_inputs(draw):
    d = draw(st.integers(1, 3))
    k = draw(st.integers(1, 6))
    n = draw(st.integers(1, 40))
    centers = draw(arrays(np.float32, (k, d), elements=finite))
    # samples near the centres (some within 3 std) and anywhere
    near = centers[draw(arrays(np.int64, n, elements=st.integers(0, k - 1)))]
    noise = draw(arrays(np.float32, (n, d), elements=st.floats(-1, 1, width=32)))
    std = draw(st.floats(0.01, 1.0))
    samples = near + noise * draw(st.sampled_from([0.1, 1.0, 10.0])) * std
    return torch.from_numpy(samples), torch.from_numpy(centers), std


@FAST
@given(coverage_inputs(), st.randoms())
def test_mode_coverage_is_invariant_to_the_order_of_samples(inputs, rnd):
    samples, centers, std = inputs
    perm = list(range(len(samples)))
    rnd.shuffle(perm)
    a = metrics.mode_coverage(samples, centers, std)
    b = metrics.mode_coverage(samples[perm], centers, std)
    assert a.modes == b.modes and a.hq_fraction == pytest.approx(b.hq_fraction) and torch.equal(a.counts, b.counts)


@FAST
@given(coverage_inputs())
def test_mode_coverage_counts_are_bounded(inputs):
    samples, centers, std = inputs
    r = metrics.mode_coverage(samples, centers, std)
    assert int(r.counts.sum()) <= len(samples) and r.counts.shape == (len(centers),) and (r.counts >= 0).all()
    assert 0 <= r.modes <= r.n_modes == len(centers)
    assert r.modes == int((r.counts > 0).sum())
    assert 0.0 <= r.hq_fraction <= 1.0
    assert r.hq_fraction == pytest.approx(int(r.counts.sum()) / len(samples))


@FAST
@given(coverage_inputs(), st.integers(1, 20))
def test_adding_far_away_points_never_increases_the_modes(inputs, extra):
    samples, centers, std = inputs
    far = torch.full((extra, samples.shape[1]), 1e4)
    before = metrics.mode_coverage(samples, centers, std)
    after = metrics.mode_coverage(torch.cat([samples, far]), centers, std)
    assert after.modes == before.modes and torch.equal(after.counts, before.counts)
    assert after.hq_fraction <= before.hq_fraction + 1e-12


@FAST
@given(coverage_inputs(), st.sampled_from([0.5, 2.0, 8.0]))
def test_mode_coverage_does_not_depend_on_the_unit_of_length(inputs, scale):
    samples, centers, std = inputs
    # powers of 2 scale every distance exactly in floating point, so the results are identical
    a = metrics.mode_coverage(samples, centers, std)
    b = metrics.mode_coverage(samples * scale, centers * scale, std * scale)
    assert a.modes == b.modes and a.hq_fraction == b.hq_fraction and torch.equal(a.counts, b.counts)


MODES = ["1", "L", "P", "RGB", "RGBA", "LA", "CMYK", "I;16", "I", "F"]


@st.composite
def pil_images(draw):
    mode = draw(st.sampled_from(MODES))
    h, w = draw(st.integers(1, 70)), draw(st.integers(1, 70))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    if mode in ("I;16",):
        return Image.fromarray(rng.integers(0, 65536, (h, w)).astype(np.uint16))
    if mode == "I":
        return Image.fromarray(rng.integers(-(2**20), 2**20, (h, w)).astype(np.int32), "I")
    if mode == "F":
        return Image.fromarray((rng.standard_normal((h, w)) * draw(st.sampled_from([0.1, 100.0]))).astype(np.float32), "F")
    base = Image.fromarray(rng.integers(0, 256, (h, w, 4)).astype(np.uint8), "RGBA")
    return base.convert(mode)


@FAST
@given(pil_images(), st.one_of(st.integers(2, 40), st.tuples(st.integers(2, 40), st.integers(2, 40))),
       st.sampled_from([1, 3]), st.sampled_from(folders.ALPHA_MODES), st.sampled_from(folders.RESIZE_MODES))
def test_every_image_converts_to_the_requested_shape_and_range(img, size, channels, alpha, resize):
    x = folders.convert_image(img, size, channels=channels, alpha=alpha, resize=resize)
    h, w = (size, size) if isinstance(size, int) else size
    assert x.shape == (channels, h, w) and x.dtype == torch.float32
    assert torch.isfinite(x).all() and x.min() >= -1 and x.max() <= 1


@FAST
@given(st.integers(1, 30), st.integers(1, 30), st.integers(2, 24), st.integers(0, 255))
def test_a_constant_image_stays_constant_at_any_size(h, w, size, value):
    x = folders.convert_image(Image.new("L", (w, h), value), size, channels=3)
    assert torch.allclose(x, torch.full_like(x, value / 255 * 2 - 1), atol=1e-5)


@FAST
@given(arrays(np.uint16, st.tuples(st.integers(2, 12), st.integers(2, 12))))
def test_16_bit_images_map_linearly_without_clipping(arr):
    x = folders.convert_image(arr, arr.shape, channels=1, resize="stretch")  # same size: no resampling
    assert torch.allclose(x[0].double(), torch.from_numpy(arr / 65535.0 * 2 - 1), atol=1e-6)


@FAST
@given(st.integers(1, 13), st.sampled_from([1, 3]), st.integers(1, 9), st.integers(1, 9), st.integers(1, 6),
       st.integers(0, 3), st.integers(0, 2**31 - 1))
def test_make_grid_tiles_every_image_exactly(n, c, h, w, nrow, padding, seed):
    images = torch.rand(n, c, h, w, generator=torch.Generator().manual_seed(seed)) * 2 - 1
    grid = viz.make_grid(images, nrow=nrow, padding=padding)
    ncol = min(nrow, n)
    rows = math.ceil(n / ncol)
    assert grid.shape == (rows * (h + padding) + padding, ncol * (w + padding) + padding, c)
    assert grid.min() >= 0 and grid.max() <= 1
    for k in range(n):
        r, col = divmod(k, ncol)
        y0, x0 = padding + r * (h + padding), padding + col * (w + padding)
        tile = grid[y0:y0 + h, x0:x0 + w].transpose(2, 0, 1)
        assert np.allclose(tile, (images[k].numpy() + 1) / 2, atol=1e-6)


@FAST
@given(arrays(np.float32, st.tuples(st.integers(1, 4), st.just(1), st.integers(1, 5), st.integers(1, 5)),
              elements=st.floats(-100, 100, width=32)))
def test_make_grid_clamps_out_of_range_images(arr):
    grid = viz.make_grid(torch.from_numpy(arr))
    assert grid.min() >= 0 and grid.max() <= 1


samples_1d = arrays(np.float64, st.integers(1, 30), elements=st.floats(-50, 50))


@FAST
@given(samples_1d, samples_1d, samples_1d, st.floats(-20, 20))
def test_wasserstein_1d_is_a_metric_that_measures_translations(x, y, z, shift):
    from gancourse import divergences as dv

    assert dv.wasserstein_1d(x, x) == pytest.approx(0, abs=1e-9)
    assert dv.wasserstein_1d(x, y) >= 0
    assert dv.wasserstein_1d(x, y) == pytest.approx(dv.wasserstein_1d(y, x), rel=1e-9, abs=1e-9)
    assert dv.wasserstein_1d(x, z) <= dv.wasserstein_1d(x, y) + dv.wasserstein_1d(y, z) + 1e-7
    # moving every sample by `shift` costs exactly |shift| (the property a WGAN critic exploits)
    assert dv.wasserstein_1d(x + shift, x) == pytest.approx(abs(shift), rel=1e-9, abs=1e-7)


probabilities = arrays(np.float64, 5, elements=st.floats(0, 1)).filter(lambda a: a.sum() > 1e-3)


@FAST
@given(probabilities, probabilities, probabilities)
def test_tv_and_the_square_root_of_js_satisfy_the_triangle_inequality(a, b, c):
    from gancourse import divergences as dv

    p, q, r = a / a.sum(), b / b.sum(), c / c.sum()
    assert dv.tv(p, r) <= dv.tv(p, q) + dv.tv(q, r) + 1e-12
    assert math.sqrt(dv.js(p, r)) <= math.sqrt(dv.js(p, q)) + math.sqrt(dv.js(q, r)) + 1e-9
    # JS <= TV * log 2 (Lin 1991): JS is never larger than the total variation allows
    assert dv.js(p, q) <= dv.tv(p, q) * math.log(2) + 1e-12


@st.composite
def feature_sets(draw, max_rows=20):
    d = draw(st.integers(1, 4))
    n = draw(st.integers(d + 3, max_rows))
    m = draw(st.integers(d + 3, max_rows))
    seed = draw(st.integers(0, 2**31 - 1))
    g = torch.Generator().manual_seed(seed)
    scale = draw(st.sampled_from([0.1, 1.0, 5.0]))
    return torch.randn(n, d, generator=g, dtype=torch.float64) * scale, \
        torch.randn(m, d, generator=g, dtype=torch.float64) * scale + draw(st.floats(-3, 3))


@FAST
@given(feature_sets(), arrays(np.float64, 4, elements=st.floats(-10, 10)))
def test_frechet_distance_properties(sets, shift):
    a, b = sets
    t = torch.from_numpy(shift[:a.shape[1]])
    fd = metrics.frechet_distance(a, b)
    assert fd >= 0 and math.isfinite(fd)
    assert fd == pytest.approx(metrics.frechet_distance(b, a), rel=1e-6, abs=1e-8)
    assert metrics.frechet_distance(a, a.clone()) == pytest.approx(0, abs=1e-8)
    assert metrics.frechet_distance(a + t, b + t) == pytest.approx(fd, rel=1e-6, abs=1e-8)
    # same covariance, means apart by t: the distance is exactly |t|^2 (Heusel et al. 2017, Eq. 6)
    assert metrics.frechet_distance(a + t, a) == pytest.approx(float(t @ t), rel=1e-6, abs=1e-8)


@FAST
@given(feature_sets(), st.integers(1, 2), st.randoms())
def test_precision_recall_properties(sets, k, rnd):
    real, fake = sets
    pr = metrics.precision_recall(real, fake, k=k)
    assert 0 <= pr.precision <= 1 and 0 <= pr.recall <= 1
    swapped = metrics.precision_recall(fake, real, k=k)
    assert (swapped.precision, swapped.recall) == (pr.recall, pr.precision)
    perm = list(range(len(fake)))
    rnd.shuffle(perm)
    again = metrics.precision_recall(real, fake[perm], k=k)
    assert (again.precision, again.recall) == (pr.precision, pr.recall)
    assert metrics.precision_recall(real, real.clone(), k=k)[:2] == (1.0, 1.0)


@FAST
@given(feature_sets(), st.integers(1, 3))
def test_nearest_neighbours_properties(sets, k):
    queries, reference = sets
    nn_ = metrics.nearest_neighbours(queries, reference, k=k)
    assert nn_.distances.shape == nn_.indices.shape == (len(queries), k)
    assert (nn_.distances >= 0).all() and (nn_.distances.diff(dim=1) >= 0).all()
    direct = torch.cdist(queries.float(), reference.float()).min(dim=1).values
    assert torch.allclose(nn_.distances[:, 0], direct, atol=1e-5)
    copies = metrics.nearest_neighbours(reference[:3], reference, k=1)
    assert torch.allclose(copies.distances[:, 0], torch.zeros(3), atol=1e-5), "a copy has distance 0"


@FAST
@given(st.integers(1, 30), st.integers(2, 6), st.integers(0, 2**31 - 1), st.floats(0.05, 0.95))
def test_class_scores_are_shares_whatever_the_classifier(n, k, seed, threshold):
    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, k))
    images = torch.rand(n, 1, 4, 4, generator=torch.Generator().manual_seed(seed)) * 2 - 1
    s = metrics.class_scores(images, net, threshold=threshold)
    assert s.class_fractions.shape == (k,) and float(s.class_fractions.sum()) == pytest.approx(1.0)
    assert 0 <= s.classes_covered <= k and 0 <= s.confident_fraction <= 1 and 0 <= s.tv_to_uniform < 1
    flipped = metrics.class_scores(images.flip(0), net, threshold=threshold)
    assert torch.equal(flipped.class_fractions, s.class_fractions), "the order of the samples does not matter"
