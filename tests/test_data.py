"""Toy distributions and embedded datasets: shapes, ranges, exact densities, splits, bad input."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from gancourse import data


@pytest.mark.parametrize("name", data.TOY_NAMES)
def test_every_toy_distribution_samples_the_right_shape(name):
    dist = data.make_toy(name)
    x = dist.sample(50, generator=torch.Generator().manual_seed(0))
    assert x.shape == (50, dist.dim) and x.dtype == torch.float32 and torch.isfinite(x).all()
    again = dist.sample(50, generator=torch.Generator().manual_seed(0))
    assert torch.equal(x, again), "sampling with the same seed must repeat"


@pytest.mark.parametrize("dist", [data.Gaussian1D(1.0, 0.5), data.GaussianMixture1D([-2, 1], [0.3, 0.8], [0.3, 0.7])])
def test_1d_densities_integrate_to_one_and_match_samples(dist):
    xs = torch.linspace(-8, 8, 20001)
    dens = dist.density(xs)
    assert float(torch.trapezoid(dens, xs)) == pytest.approx(1.0, abs=1e-6)
    samples = dist.sample(20000, generator=torch.Generator().manual_seed(1)).squeeze(1)
    mean = float(torch.trapezoid(dens * xs, xs))
    assert float(samples.mean()) == pytest.approx(mean, abs=0.03)


@pytest.mark.parametrize("dist", [data.ring(), data.grid(), data.ring(8, 1.0, 0.01)])
def test_2d_mixture_density_integrates_to_one(dist):
    # integrate each component's neighbourhood on a fine grid
    total = 0.0
    for c, s in zip(dist.centers, dist.stds):
        h = 6 * float(s)
        g = torch.linspace(-h, h, 301)
        gx, gy = torch.meshgrid(g + c[0], g + c[1], indexing="ij")
        dens = dist.density(torch.stack([gx.reshape(-1), gy.reshape(-1)], 1)).reshape(301, 301)
        total += float(torch.trapezoid(torch.trapezoid(dens, g, dim=1), g))
    assert total == pytest.approx(1.0, abs=1e-3)


def test_ring_and_grid_geometry():
    ring = data.ring()
    assert torch.allclose(ring.centers.norm(dim=1), torch.full((8,), 2.0))
    grid = data.grid()
    assert sorted(set(grid.centers[:, 0].tolist())) == [-4, -2, 0, 2, 4]


def test_singular_distributions_say_they_have_no_density():
    for dist in (data.SwissRoll(), data.ParallelLine(0.5)):
        assert not dist.has_density
        with pytest.raises(NotImplementedError):
            dist.log_prob(torch.zeros(3, 2))
    x = data.ParallelLine(0.5).sample(10)
    assert torch.all(x[:, 0] == 0.5) and torch.all((x[:, 1] >= 0) & (x[:, 1] <= 1))


def test_toy_bad_input():
    with pytest.raises(ValueError, match="name: unknown toy distribution 'rings'"):
        data.make_toy("rings")
    with pytest.raises(ValueError, match="n: expected an int >= 1"):
        data.ring().sample(0)
    with pytest.raises(TypeError, match="n: expected an int"):
        data.ring().sample(2.5)
    with pytest.raises(ValueError, match="x: expected points of shape"):
        data.ring().log_prob(torch.zeros(4, 3))
    with pytest.raises(ValueError, match="std: expected one finite positive value"):
        data.GaussianMixture([[0, 0], [1, 1]], std=[-1, 1])


def test_digits_dataset():
    train = data.load_dataset("digits", size=16, split="train")
    test = data.load_dataset("digits", size=32, split="test")
    assert train.images.shape == (1438, 1, 16, 16) and test.images.shape == (359, 1, 32, 32)
    assert train.images.min() >= -1 and train.images.max() <= 1
    assert train.images.min() == -1 and train.images.max() > 0.9
    assert set(train.labels.tolist()) == set(range(10))
    counts = torch.bincount(test.labels, minlength=10)
    assert counts.min() >= 34, "the split should be stratified"
    x, y = train[0]
    assert x.shape == (1, 16, 16) and y.dtype == torch.long


def test_digit_splits_do_not_overlap():
    tr = data.Digits(size=8, split="train").images.reshape(-1, 64)
    te = data.Digits(size=8, split="test").images.reshape(-1, 64)
    full = data.Digits(size=8, split="all").images.reshape(-1, 64)
    assert len(tr) + len(te) == len(full)
    # each test image is a row of the full set that is not in the training split (by index)
    from gancourse.data.images import _stratified_split
    from sklearn.datasets import load_digits
    a, b = _stratified_split(load_digits().target, 0.2, seed=0)
    assert not set(a) & set(b)


def test_faces_and_textures():
    faces = data.load_dataset("faces")
    assert faces.images.shape == (200, 1, 25, 25) and faces.labels.sum() == 100
    tex = data.load_dataset("textures", size=24, n_per_texture=10, split="test")
    assert tex.images.shape == (30, 1, 24, 24) and tex.classes == ["brick", "grass", "gravel"]
    again = data.load_dataset("textures", size=24, n_per_texture=10, split="test")
    assert torch.equal(tex.images, again.images), "crops must be deterministic"


def test_dataset_bad_input():
    with pytest.raises(ValueError, match="name: unknown dataset 'mnist'"):
        data.load_dataset("mnist")
    with pytest.raises(ValueError, match="split: unknown value 'val'"):
        data.load_dataset("digits", split="val")
    with pytest.raises(ValueError, match="textures: unknown value 'wood'"):
        data.Textures(textures=("wood",))
    with pytest.raises(ValueError, match="size: expected an int >= 4"):
        data.Digits(size=2)


def test_batches_cycle_through_epochs_and_resume_exactly():
    ds = data.Digits(size=8, split="test")
    it = data.batches(ds, 50, generator=torch.Generator().manual_seed(0))
    seen = [next(it)[1] for _ in range(7)]  # 7 * 50 = 350 of 359: one epoch, no repeats
    assert torch.cat(seen).numel() == 350
    first = data.batches(ds, 64, generator=torch.Generator().manual_seed(3))
    for _ in range(8):
        next(first)
    state = first.state_dict()
    expected = [next(first)[0] for _ in range(5)]
    second = data.batches(ds, 64, generator=torch.Generator().manual_seed(99))
    second.load_state_dict(state)
    got = [next(second)[0] for _ in range(5)]
    assert all(torch.equal(a, b) for a, b in zip(expected, got))


def test_batches_of_a_toy_distribution_resume_exactly():
    it = data.batches(data.ring(), 16, generator=torch.Generator().manual_seed(0))
    next(it)
    state = it.state_dict()
    a = next(it)
    it2 = data.batches(data.ring(), 16)
    it2.load_state_dict(state)
    assert torch.equal(a, next(it2))


@settings(max_examples=25, deadline=None)
@given(st.integers(4, 40))
def test_digit_resizing_keeps_the_range(size):
    ds = data.Digits(size=size, split="test")
    assert ds.images.shape[-1] == size
    assert ds.images.min() >= -1 and ds.images.max() <= 1
