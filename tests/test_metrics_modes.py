"""mode_coverage on constructed cases whose answer is known (PacGAN's definition)."""
import math

import pytest
import torch

from gancourse import data, metrics


def test_real_samples_cover_every_mode_with_almost_all_high_quality():
    for dist in (data.ring(8, 1.0, 0.01), data.grid()):
        r = metrics.mode_coverage(dist.sample(2500, generator=torch.Generator().manual_seed(0)), dist.centers, dist.std)
        assert r.modes == r.n_modes
        # a 2-D Gaussian puts 1 - exp(-9/2) = 98.9% of its mass within 3 std: the best possible score
        assert r.hq_fraction == pytest.approx(1 - math.exp(-4.5), abs=0.006)
        assert int(r.counts.sum()) == round(r.hq_fraction * 2500)


def test_a_generator_stuck_on_one_mode_covers_one_of_eight():
    ring = data.ring()
    one_mode = ring.centers[3] + ring.std * torch.randn(2500, 2)
    r = metrics.mode_coverage(one_mode, ring.centers, ring.std)
    assert r.modes == 1 and r.counts[3] > 2400 and str(r).startswith("1/8 modes")


def test_samples_between_modes_are_low_quality_and_capture_nothing():
    ring = data.ring()
    r = metrics.mode_coverage(torch.zeros(100, 2), ring.centers, ring.std)
    assert r.modes == 0 and r.hq_fraction == 0.0


def test_one_good_sample_is_enough_to_capture_a_mode():
    grid = data.grid()
    pts = torch.cat([grid.centers[:5], torch.full((95, 2), 10.0)])
    r = metrics.mode_coverage(pts, grid.centers, grid.std)
    assert r.modes == 5 and r.hq_fraction == pytest.approx(0.05)


def test_bad_input():
    with pytest.raises(ValueError, match="same dimension"):
        metrics.mode_coverage(torch.zeros(5, 3), torch.zeros(2, 2), 0.1)
    with pytest.raises(ValueError, match="std: expected a finite number > 0"):
        metrics.mode_coverage(torch.zeros(5, 2), torch.zeros(2, 2), 0.0)
    with pytest.raises(TypeError, match="samples: expected a torch.Tensor"):
        metrics.mode_coverage([[0, 0]], torch.zeros(2, 2), 0.1)
