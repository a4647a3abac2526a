"""The mode-coverage benchmark of notebook 08: mixtures, scaling, one run, the command line, shipped runs."""
import math

import pytest
import torch
from torch import nn

from gancourse import pretrained
from gancourse.models import toy_modes
from gancourse.models.toy_modes import (Rescaled, Standardized, ToyRunConfig, data_scale, evaluate,
                                        make_mixture, train_toy)


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_pacgan_mixtures_and_their_scale():
    ring, grid = make_mixture("ring"), make_mixture("grid")
    assert len(ring.centers) == 8 and ring.std == pytest.approx(0.01)
    assert torch.allclose(ring.centers.norm(dim=1), torch.ones(8))
    assert len(grid.centers) == 25 and grid.std == pytest.approx(0.05)
    # WGAN-GP's toy code divides the grid by 2.828 and its radius-2 ring by 1.414
    assert data_scale(grid) == pytest.approx(math.sqrt(8 + 0.05**2))
    assert data_scale(ring) == pytest.approx(math.sqrt(0.5 + 0.01**2))
    x = Standardized(grid, data_scale(grid)).sample(20000, generator=torch.Generator().manual_seed(0))
    assert x.std(0).mean().item() == pytest.approx(1.0, abs=0.02)


class CentersG(nn.Module):
    """A perfect 'generator': every z goes exactly to one of the centres."""

    z_dim = 2

    def __init__(self, centers):
        super().__init__()
        self.register_buffer("centers", centers)
        self.dummy = nn.Parameter(torch.zeros(1))

    def forward(self, z):
        idx = (z[:, 0].abs() * 1000).long() % len(self.centers)
        return self.centers[idx] + 0 * self.dummy


def test_evaluate_scores_a_perfect_and_a_collapsed_generator():
    grid = make_mixture("grid")
    assert evaluate(CentersG(grid.centers), grid) == (25, 100.0)
    assert evaluate(CentersG(grid.centers[:3]), grid) == (3, 100.0)
    shifted = Rescaled(CentersG(grid.centers / 2.0), 2.0)  # the rescaling brings the points back
    assert evaluate(shifted, grid) == (25, 100.0)
    assert evaluate(Rescaled(CentersG(grid.centers + 1.0), 1.0), grid)[1] == 0.0  # between the modes


def test_a_short_run_returns_its_metrics_and_the_model():
    cfg = ToyRunConfig(objective="wgan-gp", mixture="ring", steps=30, batch_size=64, hidden=16, depth=2,
                       ema_decay=0.9, n_eval=500)
    result = train_toy(cfg, progress=False)
    m = result.metrics()
    assert set(m) == {"modes", "hq_percent", "seconds", "modes_ema", "hq_percent_ema"}
    assert 0 <= m["modes"] <= 8 and 0 <= m["hq_percent"] <= 100 and m["seconds"] > 0
    assert result.model.g_steps == 30 and result.history["step"][-1] == 30
    assert result.model.config.gp_weight == 0.1  # the authors' toy setting
    assert result.generator(ema=True)(torch.zeros(4, 2)).shape == (4, 2)
    # the same seed gives the same run
    again = train_toy(cfg, progress=False)
    for a, b in zip(result.model.G.parameters(), again.model.G.parameters()):
        assert torch.equal(a, b)


def test_config_bad_input():
    with pytest.raises(ValueError, match="objective: unknown value 'lsgan-gp'"):
        ToyRunConfig(objective="lsgan-gp")
    with pytest.raises(ValueError, match="mixture: unknown value 'spiral'"):
        ToyRunConfig(mixture="spiral")
    with pytest.raises(ValueError, match="steps: expected an int >= 1"):
        ToyRunConfig(steps=0)
    with pytest.raises(ValueError, match="seed: expected an int >= 0"):
        ToyRunConfig(seed=-1)
    with pytest.raises(ValueError, match="lr: expected a finite number > 0"):
        ToyRunConfig(lr=0.0)
    with pytest.raises(TypeError, match="config: expected a ToyRunConfig"):
        train_toy({"objective": "gan"})
    with pytest.raises(TypeError, match="mixture: expected a GaussianMixture"):
        data_scale("grid")
    with pytest.raises(ValueError, match="values: expected at least one number"):
        toy_modes.summarize([])


def test_the_recorded_command_parses_back_to_the_same_run():
    cfg = ToyRunConfig(objective="wgan-gp", mixture="grid", steps=12000, batch_size=1024, lr_decay=True,
                       ema_decay=0.999, r1_weight=0.5, lr=3e-4)
    command = toy_modes._command(cfg, (0, 1, 2), "long")
    argv = command.split()[3:]  # after "python -m gancourse.models.toy_modes"
    args = toy_modes.build_parser().parse_args(argv)
    assert (args.objective, args.mixture, args.steps, args.batch_size) == ("wgan-gp", "grid", 12000, 1024)
    assert args.lr_decay and args.ema == 0.999 and args.r1 == 0.5 and args.lr == 3e-4
    assert args.seeds == [0, 1, 2] and args.variant == "long" and args.publish


def test_summarize():
    assert toy_modes.summarize([24, 25, 25]) == pytest.approx((24.6667, 0.57735), rel=1e-4)
    assert toy_modes.summarize([3.0]) == (3.0, 0.0)


def _shipped():
    try:
        entries = pretrained.manifest()
    except FileNotFoundError:
        return []
    return sorted(n for n, e in entries.items() if e["description"].startswith("toy benchmark"))


@pytest.mark.parametrize("name", _shipped())
def test_shipped_benchmark_runs_reproduce_their_recorded_metrics(name):
    """Each shipped generator, sampled with the evaluation seed, scores what the manifest says."""
    generators, state = toy_modes.load_generators(name)
    mixture = make_mixture(state["config"]["mixture"])
    per_seed = state["metrics"]["per_seed"]
    assert len(generators) == len(per_seed) == len(state["config"]["seeds"])
    for G, recorded in zip(generators, per_seed):
        modes, hq = evaluate(G, mixture)
        assert abs(modes - recorded["modes"]) <= 1 and abs(hq - recorded["hq_percent"]) <= 0.5
    for G, recorded in zip(state["ema_generators"], per_seed):
        modes, hq = evaluate(G, mixture)
        assert abs(modes - recorded["modes_ema"]) <= 1 and abs(hq - recorded["hq_percent_ema"]) <= 0.5


def test_each_objective_keeps_its_toy_optimiser_settings():
    """GAN/NS-GAN use notebook 04's Adam 1e-3; SN-GAN and hinge keep Miyato et al.'s 2e-4 (at 1e-3
    their G collapsed off the ring); WGAN-GP uses its toy code's λ = 0.1, β = (0.5, 0.9)."""
    lr = {o: ToyRunConfig(objective=o).wgan_config().lr for o in toy_modes.OBJECTIVES}
    assert lr["gan"] == lr["nsgan"] == 1e-3
    assert lr["sngan"] == lr["hinge"] == 2e-4
    assert lr["wgan"] == 5e-5 and lr["wgan-gp"] == 1e-4
    gp = ToyRunConfig(objective="wgan-gp").wgan_config()
    assert gp.gp_weight == 0.1 and gp.betas == (0.5, 0.9)
    assert ToyRunConfig(objective="sngan", lr=1e-3).wgan_config().lr == 1e-3  # an explicit lr wins
