"""The GAN zoo of notebook 16: BiGAN, LAPGAN, InfoGAN, DiscoGAN. Shapes, the update rules, the
pyramid's exactness, the mutual-information machinery, code-to-class matching, bad input."""
import itertools
import math

import pytest
import torch

from gancourse.models import bigan, discogan, infogan, lapgan
from gancourse.models.cyclegan import CycleGAN


def _moved(module, before):
    return any(not torch.equal(p, q) for p, q in zip(module.parameters(), before))


def _snapshot(module):
    return [p.detach().clone() for p in module.parameters()]


# ---- BiGAN ---------------------------------------------------------------------------------------

def test_bigan_shapes_and_one_step_moves_all_three_networks():
    torch.manual_seed(0)
    model = bigan.BiGAN(bigan.BiGANConfig(z_dim=4, g_width=4, e_width=4, d_width=4, d_hidden=8))
    x = torch.rand(6, 1, 16, 16) * 2 - 1
    assert model.E(x).shape == (6, 4) and model.G(torch.randn(6, 4)).shape == (6, 1, 16, 16)
    assert model.D(x, torch.randn(6, 4)).shape == (6,)
    before = {k: _snapshot(m) for k, m in model.modules().items()}
    out = model.optimize_parameters(x)
    assert set(out) == {"loss_D", "loss_GE"} and all(torch.isfinite(v) for v in out.values())
    assert all(_moved(m, before[k]) for k, m in model.modules().items())
    assert model.reconstruct(x).shape == x.shape


def test_bigan_discriminator_reads_the_code():
    torch.manual_seed(0)
    D = bigan.JointDiscriminator(16, 4, 4, 8).eval()
    x = torch.zeros(2, 1, 16, 16)
    assert not torch.allclose(D(x, torch.zeros(2, 4)), D(x, torch.ones(2, 4)))


def test_bigan_bad_input():
    with pytest.raises(ValueError, match="z"):
        bigan.JointDiscriminator(16, 4, 4, 8)(torch.zeros(2, 1, 16, 16), torch.zeros(3, 4))
    with pytest.raises(ValueError, match="x"):
        bigan.Encoder(16, 4, 4)(torch.zeros(2, 1, 8, 8))
    with pytest.raises(ValueError, match="image_size"):
        bigan.BiGANConfig(image_size=12)
    with pytest.raises(TypeError, match="G, E"):
        bigan.reconstruct(torch.nn.Identity(), torch.nn.Identity(), torch.zeros(1, 1, 16, 16))


# ---- LAPGAN --------------------------------------------------------------------------------------

def test_laplacian_pyramid_is_exactly_invertible_and_its_residuals_are_band_pass():
    x = torch.rand(3, 1, 16, 16) * 2 - 1
    pyr = lapgan.laplacian_pyramid(x, 2)
    assert [tuple(p.shape[-2:]) for p in pyr] == [(16, 16), (8, 8), (4, 4)]
    assert torch.allclose(lapgan.reconstruct(pyr), x, atol=1e-6)
    flat = torch.full((1, 1, 8, 8), 0.25)
    h, top = lapgan.laplacian_pyramid(flat, 1)
    assert h.abs().max() < 1e-6 and torch.allclose(top, torch.full((1, 1, 4, 4), 0.25))


def test_lapgan_step_trains_both_levels_and_sampling_is_coarse_to_fine():
    torch.manual_seed(0)
    model = lapgan.LAPGAN(lapgan.LAPGANConfig(z_dim=4, width=4))
    before = {k: _snapshot(m) for k, m in model.modules().items()}
    out = model.optimize_parameters(torch.rand(6, 1, 16, 16) * 2 - 1)
    assert set(out) == {"D0", "G0", "D1", "G1"}
    assert all(_moved(m, before[k]) for k, m in model.modules().items())
    coarse, fine = model.sample(5, torch.Generator().manual_seed(0))
    assert coarse.shape == (5, 1, 8, 8) and fine.shape == (5, 1, 16, 16) and fine.abs().max() <= 1
    # the fine image is the upsampled coarse one plus a residual: averaging it back gives roughly the coarse image
    assert (lapgan.downsample(fine) - coarse).abs().mean() < 0.5


def test_lapgan_bad_input():
    with pytest.raises(ValueError, match="divisible"):
        lapgan.laplacian_pyramid(torch.zeros(1, 1, 12, 12), 3)
    with pytest.raises(ValueError, match="even"):
        lapgan.downsample(torch.zeros(1, 1, 5, 5))
    with pytest.raises(ValueError, match="pyramid"):
        lapgan.reconstruct([torch.zeros(1, 1, 4, 4)])
    with pytest.raises(ValueError, match="z"):
        lapgan.ResidualGenerator(4)(torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 16, 16))


# ---- InfoGAN -------------------------------------------------------------------------------------

def test_infogan_latent_layout_and_info_loss():
    cfg = infogan.InfoGANConfig(noise_dim=3, n_categories=4, n_continuous=2)
    v = infogan.latent(cfg, torch.zeros(2, 3), torch.tensor([1, 3]), torch.tensor([[0.5, -0.5], [0.0, 1.0]]))
    assert v.shape == (2, cfg.latent_dim) == (2, 9)
    assert v[0, 3:7].tolist() == [0, 1, 0, 0] and v[1, 7:].tolist() == [0.0, 1.0]
    q = torch.tensor([[0.0, 9.0, 0.0, 0.0, 0.5, -0.5], [0.0, 0.0, 0.0, 9.0, 0.0, 0.0]])
    cat, cont = infogan.info_loss(cfg, q, torch.tensor([1, 3]), torch.tensor([[0.5, -0.5], [0.0, 1.0]]))
    assert cat < 1e-3 and math.isclose(float(cont), 0.5 * 1.0 / 2, rel_tol=1e-6)   # one error of 1 over two images
    assert math.isclose(infogan.mutual_information_bound(cfg, 0.0), math.log(4))


def test_infogan_step_updates_G_and_Q_and_Q_can_learn_the_code():
    torch.manual_seed(0)
    cfg = infogan.InfoGANConfig(noise_dim=4, g_width=4, d_width=8, batch_size=32)
    model = infogan.InfoGAN(cfg)
    before = {k: _snapshot(m) for k, m in model.modules().items()}
    out = model.optimize_parameters(torch.rand(32, 1, 16, 16) * 2 - 1)
    assert set(out) == {"loss_D", "loss_G", "info_cat", "info_cont"}
    assert all(_moved(m, before[k]) for k, m in model.modules().items())
    first = float(out["info_cat"])
    for _ in range(60):
        out = model.optimize_parameters(torch.rand(32, 1, 16, 16) * 2 - 1)
    assert float(out["info_cat"]) < 0.5 * first        # the code becomes readable: L_I rises towards log 10


def test_code_sweep_keeps_z_along_a_row():
    cfg = infogan.InfoGANConfig(noise_dim=4, g_width=4, d_width=4)
    G = infogan.build_generator(cfg)
    images, codes = infogan.code_sweep(G, cfg, 3, torch.Generator().manual_seed(0))
    assert images.shape == (30, 1, 16, 16) and codes.tolist() == list(range(10)) * 3


def test_code_class_agreement_matches_a_brute_force_search():
    g = torch.Generator().manual_seed(0)
    for _ in range(5):
        codes, pred = torch.randint(0, 4, (40,), generator=g), torch.randint(0, 4, (40,), generator=g)
        best = max(int((torch.tensor(p)[codes] == pred).sum()) for p in itertools.permutations(range(4))) / 40
        agreement, mapping, m = infogan.code_class_agreement(codes, pred, 4)
        assert math.isclose(agreement, best) and m.sum() == 40 and sorted(mapping.tolist()) == [0, 1, 2, 3]
    perm = torch.tensor([2, 0, 3, 1])
    codes = torch.arange(4).repeat(5)
    agreement, mapping, _ = infogan.code_class_agreement(codes, perm[codes], 4)
    assert agreement == 1.0 and mapping.tolist() == perm.tolist()


def test_infogan_bad_input():
    cfg = infogan.InfoGANConfig()
    with pytest.raises(ValueError, match="c_cat"):
        infogan.latent(cfg, torch.zeros(2, cfg.noise_dim), torch.tensor([0, 10]), torch.zeros(2, 2))
    with pytest.raises(ValueError, match="c_cont"):
        infogan.latent(cfg, torch.zeros(2, cfg.noise_dim), torch.tensor([0, 1]), torch.zeros(2, 3))
    with pytest.raises(TypeError, match="codes"):
        infogan.code_class_agreement(torch.tensor([0.0]), torch.tensor([0]))
    with pytest.raises(ValueError, match="length"):
        infogan.code_class_agreement(torch.tensor([0, 1]), torch.tensor([0]))
    with pytest.raises(ValueError, match="n_categories"):
        infogan.InfoGANConfig(n_categories=1)


# ---- DiscoGAN ------------------------------------------------------------------------------------

def test_discogan_is_cyclegan_with_discogans_settings_and_losses():
    cfg = discogan.discogan_config(ngf=4, ndf=4, steps=10)
    assert cfg.n_blocks == 0 and cfg.lambda_id == 0 and cfg.pool_size == 0 and cfg.decay_steps == 0
    torch.manual_seed(0)
    model = discogan.DiscoGAN(cfg)
    assert isinstance(model, CycleGAN)
    real, fake = torch.tensor([3.0, -1.0]), torch.tensor([0.5, -2.0])
    assert torch.isclose(model.loss_D(real, fake),
                         torch.nn.functional.softplus(-real).mean() + torch.nn.functional.softplus(fake).mean())
    x, y = torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(2, 3, 32, 32) * 2 - 1
    before = {k: _snapshot(m) for k, m in model.modules().items()}
    model.set_input(x, y)
    out = model.optimize_parameters()
    assert {"G_adv", "reconstruction", "D_X", "D_Y"} <= set(out) and "identity" not in out
    assert all(_moved(m, before[k]) for k, m in model.modules().items())
    rec = torch.nn.functional.mse_loss(model.rec_X, x) + torch.nn.functional.mse_loss(model.rec_Y, y)
    assert torch.isclose(out["reconstruction"], rec.detach(), rtol=1e-4)


def test_discogan_train_refuses_a_wrong_config():
    with pytest.raises(TypeError, match="cfg"):
        discogan.train({"steps": 1}, torch.zeros(2, 3, 32, 32), torch.zeros(2, 3, 32, 32))


def test_shipped_infogan_code_picks_the_digit():
    """Notebook 16's claim: swept with z fixed, c_cat changes the digit class as the course classifier reads it."""
    G, cfg, metrics = infogan.load_pretrained()
    assert metrics["code_class_agreement"] >= 0.8 and sorted(metrics["code_to_digit"]) == list(range(10))
    out = infogan.evaluate(G, cfg, n_noise=30)
    assert out["code_class_agreement"] >= 0.75


def test_shipped_bigan_loads_and_its_encoder_separates_the_digits():
    G, E, cfg, metrics = bigan.load_pretrained()
    x = torch.rand(4, 1, cfg.image_size, cfg.image_size) * 2 - 1
    assert E(x).shape == (4, cfg.z_dim) and bigan.reconstruct(G, E, x).shape == x.shape
    assert metrics["encoder_1nn"] >= 0.8 and metrics["reconstruction_class"] > 0.1    # better than chance


def test_shipped_lapgan_samples_and_its_residual_level_helps():
    G0, G1, cfg, metrics = lapgan.load_pretrained()
    coarse, fine = lapgan.sample(G0, G1, 4, torch.Generator().manual_seed(0))
    assert coarse.shape == (4, 1, cfg.image_size // 2, cfg.image_size // 2) and fine.shape == (4, 1, cfg.image_size, cfg.image_size)
    assert metrics["frechet_lapgan"] < metrics["frechet_level0_upsampled"]


def test_shipped_discogan_translates_between_the_domains():
    G_ab, G_ba, cfg, metrics = discogan.load_pretrained()
    assert cfg.n_blocks == 0 and cfg.lambda_id == 0
    x = torch.rand(2, cfg.channels, cfg.size, cfg.size) * 2 - 1
    with torch.no_grad():
        assert G_ab(x).shape == x.shape and G_ba(x).shape == x.shape
    assert metrics["domain_acc_XtoY"] >= 0.9 and metrics["domain_acc_YtoX"] >= 0.9


def test_shipped_bigan_encoder_beats_untrained_encoders_on_a_linear_probe():
    """Notebook 16's claim: the trained E's codes are more linearly separable than those of three
    untrained encoders of the same architecture (issue 22)."""
    G, E, cfg, _ = bigan.load_pretrained()
    s = bigan.evaluate(G, E)
    assert all(s["encoder_probe"] > s[f"random{k}_probe"] for k in range(3))


def test_linear_probe_separates_separable_features_and_not_noise():
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(200) % 4
    good = torch.nn.functional.one_hot(labels, 4).float() * 3 + 0.1 * torch.randn(200, 4, generator=g)
    noise = torch.randn(200, 4, generator=g)
    assert bigan.linear_probe(good[:100], labels[:100], good[100:], labels[100:]) == 1.0
    assert bigan.linear_probe(noise[:100], labels[:100], noise[100:], labels[100:]) < 0.5


def test_linear_probe_bad_labels_are_named():
    feats = torch.randn(10, 3)
    with pytest.raises(ValueError, match="train_labels"):
        bigan.linear_probe(feats, torch.zeros(9, dtype=torch.long), feats, torch.zeros(10, dtype=torch.long))
    with pytest.raises(ValueError, match="test_labels"):
        bigan.linear_probe(feats, torch.zeros(10, dtype=torch.long), feats, torch.zeros(10))
