"""The vanilla toy GAN: targets, Algorithm 1's update order, the shipped checkpoints."""
import pytest
import torch

from gancourse import pretrained, recipes
from gancourse.models import toy_modes, vanilla


def test_pacgan_targets():
    ring, grid = vanilla.pacgan_mixture("ring"), vanilla.pacgan_mixture("grid")
    assert ring.centers.shape == (8, 2) and ring.std == pytest.approx(0.01)
    assert torch.allclose(ring.centers.norm(dim=1), torch.ones(8))
    assert grid.centers.shape == (25, 2) and grid.std == pytest.approx(0.05) and grid.centers.abs().max() == 4
    with pytest.raises(ValueError, match="name: unknown value 'swissroll'"):
        vanilla.pacgan_mixture("swissroll")


@pytest.mark.parametrize("k", [1, 3])
def test_k_discriminator_steps_per_generator_step(k):
    gan = vanilla.ToyGAN(vanilla.ToyGANConfig(k=k, hidden=8, depth=1, batch_size=16, steps=10))
    for _ in range(2):
        out = gan.optimize_parameters()
    assert gan.opt_D.state[next(gan.D.parameters())]["step"] == 2 * k
    assert gan.opt_G.state[next(gan.G.parameters())]["step"] == 2
    assert torch.isfinite(out["loss_D"]) and torch.isfinite(out["loss_G"])
    # the learning rate decays linearly to 0 over config.steps
    assert gan.opt_G.param_groups[0]["lr"] == pytest.approx(gan.config.lr * 0.8)


def test_coverage_is_repeatable_and_counts_modes():
    gan = vanilla.ToyGAN(vanilla.ToyGANConfig(hidden=8, depth=1))
    a, b = gan.coverage(), gan.coverage()
    assert a.modes == b.modes and a.hq_fraction == b.hq_fraction and a.n_modes == 8


def test_bad_config():
    with pytest.raises(ValueError, match="config.g_loss"):
        vanilla.ToyGAN(vanilla.ToyGANConfig(g_loss="hinge"))
    with pytest.raises(ValueError, match="config.k"):
        vanilla.ToyGAN(vanilla.ToyGANConfig(k=0))
    with pytest.raises(ValueError, match="name: unknown value"):
        vanilla.ToyGAN(vanilla.ToyGANConfig(dataset="moons"))


def test_recipes_and_shipped_checkpoints():
    """The shipped toy GANs are the benchmark's GAN row (toy_modes): load_pretrained gives seed s of
    it, and its coverage is what the manifest recorded for that seed."""
    assert {"toy-gan", "toy-gan-grid"} <= set(recipes.RECIPES)
    for mixture in ("ring", "grid"):
        entry = pretrained.manifest()[f"modes-nsgan-{mixture}"]
        assert entry["bytes"] < 2_000_000  # "a few MB at most"
        for seed in (0, 2):
            gan = vanilla.load_pretrained(mixture, seed)
            recorded = entry["metrics"]["per_seed"][seed]
            modes, hq = toy_modes.evaluate(gan.G, gan.target)
            assert (modes, round(hq, 2)) == (recorded["modes"], recorded["hq_percent"])
    with pytest.raises(ValueError, match=r"seed: the shipped nsgan runs on the ring have seeds \[0, 1, 2\], got 7"):
        vanilla.load_pretrained("ring", 7)


def test_toy_gan_publish_points_to_the_benchmark(tmp_path):
    with pytest.raises(SystemExit, match="the shipped toy GANs are the benchmark's"):
        recipes.main(["toy-gan", "--steps", "2", "--no-progress", "--out", str(tmp_path), "--publish"])


def test_packing_feeds_m_samples_to_the_discriminator():
    cfg = vanilla.ToyGANConfig(hidden=8, depth=1, batch_size=16, steps=4, pack=4)
    gan = vanilla.ToyGAN(cfg)
    assert gan.D.net[0].in_features == 8                      # 4 samples of 2 coordinates
    seen = []
    gan.D.register_forward_pre_hook(lambda m, args: seen.append(tuple(args[0].shape)))
    gan.optimize_parameters()
    assert seen == [(64, 2)] * 3, "each D call reads 16 packs of 4 samples"
    assert gan.D(torch.zeros(64, 2)).shape == (16,)
