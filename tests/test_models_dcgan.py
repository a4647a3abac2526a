"""DCGAN networks, initialisation, training step, recipe and the shipped checkpoint."""
import pytest
import torch
from torch import nn

from gancourse import metrics, pretrained, recipes
from gancourse.models import dcgan


@pytest.mark.parametrize("size,blocks", [(8, 1), (16, 2), (32, 3)])
def test_shapes_range_and_depth_follow_the_image_size(size, blocks):
    G = dcgan.generator(size, z_dim=10, width=8, channels=3)
    D = dcgan.discriminator(size, width=8, channels=3)
    x = G(torch.randn(4, 10))
    assert x.shape == (4, 3, size, size) and x.abs().max() <= 1
    assert D(x).shape == (4,)
    assert sum(isinstance(m, nn.ConvTranspose2d) for m in G.modules()) == blocks + 1
    assert sum(isinstance(m, nn.Conv2d) for m in D.modules()) == blocks + 1


def test_the_five_guidelines_hold_in_the_networks():
    G, D = dcgan.generator(32), dcgan.discriminator(32)
    kinds = lambda net: {type(m) for m in net.modules()}
    for net in (G, D):  # 1. no pooling, 3. no fully connected layers
        assert not any(issubclass(k, (nn.MaxPool2d, nn.AvgPool2d, nn.Linear)) for k in kinds(net))
    assert nn.BatchNorm2d in kinds(G) and nn.BatchNorm2d in kinds(D)          # 2. batch norm
    assert nn.ReLU in kinds(G) and isinstance(G.net[-1], nn.Tanh)            # 4. ReLU, tanh output
    assert nn.LeakyReLU in kinds(D) and nn.ReLU not in kinds(D)              # 5. LeakyReLU in D
    assert all(m.negative_slope == 0.2 for m in D.modules() if isinstance(m, nn.LeakyReLU))
    assert not isinstance(D.net[1], nn.BatchNorm2d)                          # no BN on D's input layer


def test_dcgan_init_draws_weights_from_n_0_002():
    G = dcgan.generator(32, width=64)
    w = torch.cat([m.weight.flatten() for m in G.modules() if isinstance(m, nn.ConvTranspose2d)])
    assert abs(w.mean().item()) < 1e-3 and w.std().item() == pytest.approx(0.02, rel=0.03)
    bn = torch.cat([m.weight for m in G.modules() if isinstance(m, nn.BatchNorm2d)])
    assert bn.mean().item() == pytest.approx(1.0, abs=0.01)


def test_one_step_updates_both_networks_and_reports_finite_losses():
    model = dcgan.DCGAN(dcgan.DCGANConfig(image_size=8, g_width=4, d_width=4, z_dim=3))
    g0 = [p.clone() for p in model.G.parameters()]
    d0 = [p.clone() for p in model.D.parameters()]
    out = model.optimize_parameters(torch.rand(6, 1, 8, 8) * 2 - 1)
    assert set(out) == {"loss_D", "loss_G", "D(x)", "D(G(z))"} and all(torch.isfinite(v) for v in out.values())
    assert all(not torch.equal(a, b) for a, b in zip(g0, model.G.parameters()))
    assert all(not torch.equal(a, b) for a, b in zip(d0, model.D.parameters()))


def test_sample_uses_eval_mode_and_restores_training_mode():
    G = dcgan.generator(16, width=8)
    G.train()
    a = G.sample(3, generator=torch.Generator().manual_seed(0))
    b = G.sample(3, generator=torch.Generator().manual_seed(0))
    assert torch.equal(a, b) and G.training


def test_bad_input():
    with pytest.raises(ValueError, match="image_size: expected a power of two"):
        dcgan.generator(24)
    with pytest.raises(ValueError, match="image_size: expected an int >= 8"):
        dcgan.discriminator(4)
    with pytest.raises(TypeError, match="image_size: expected an int"):
        dcgan.generator("16")
    with pytest.raises(ValueError, match="x: expected 16x16 images"):
        dcgan.discriminator(16)(torch.zeros(2, 1, 32, 32))
    with pytest.raises(ValueError, match="z: expected last dimension 32"):
        dcgan.generator(16)(torch.zeros(2, 8))
    with pytest.raises(ValueError, match="config.g_loss"):
        dcgan.DCGAN(dcgan.DCGANConfig(g_loss="wasserstein"))
    with pytest.raises(TypeError, match="config: expected a DCGANConfig"):
        dcgan.DCGAN({"image_size": 16})


def test_recipes_are_registered_under_both_names():
    assert recipes.RECIPES["dcgan"][:2] == recipes.RECIPES["dcgan-digits"][:2] == ("gancourse.models.dcgan", "RECIPE")


def test_shipped_checkpoint_meets_the_done_when_numbers():
    """>= 80% of samples classified with confidence > 0.9, every class between 5% and 15%."""
    entry = pretrained.manifest()["dcgan-digits"]
    assert entry["bytes"] < 3_000_000 and "dcgan-digits --publish" in entry["command"]
    G = dcgan.load_pretrained()
    samples = G.sample(2000, generator=torch.Generator().manual_seed(1))
    s = metrics.class_scores(samples)
    assert s.confident_fraction >= 0.8
    assert 0.05 <= float(s.class_fractions.min()) and float(s.class_fractions.max()) <= 0.15


def test_diff_augment_is_differentiable_and_keeps_shape():
    x = (torch.rand(6, 1, 16, 16) * 2 - 1).requires_grad_(True)
    y = dcgan.diff_augment(x)
    y.sum().backward()
    assert y.shape == x.shape and x.grad is not None and x.grad.abs().sum() > 0
    assert ((y == 0).flatten(1).float().mean(1) >= 0.25 - 1e-6).all()  # a cutout of half the side: 1/4 of the pixels
    with pytest.raises(ValueError, match="x: expected a tensor with 4 dimensions"):
        dcgan.diff_augment(torch.zeros(3, 16))


def test_options_pack_extra_layers_and_ema():
    cfg = dcgan.DCGANConfig(image_size=8, g_width=4, d_width=4, z_dim=3, pack=2, extra_layers=1, ema=0.9)
    model = dcgan.DCGAN(cfg)
    assert model.D.net[0].in_channels == 2  # D sees pairs of images stacked along the channels
    assert sum(isinstance(m, nn.Conv2d) and m.stride == (1, 1) and m.kernel_size == (3, 3) for m in model.G.modules()) == 1
    model.optimize_parameters(torch.rand(6, 1, 8, 8) * 2 - 1)
    assert model.G_sample is model.ema.module and model.G_sample is not model.G
    with pytest.raises(ValueError, match="cannot be split into packs of 2"):
        model.optimize_parameters(torch.rand(5, 1, 8, 8))
    plain = dcgan.DCGAN(dcgan.DCGANConfig(image_size=8, g_width=4, d_width=4, ema=0.0, augment=False, lr_decay=False))
    assert plain.G_sample is plain.G and plain.ema is None
