"""SPADE: the layer's formula, the wash-out it fixes, the ResBlock, the multi-scale D, the generator,
the training step, mIoU and the scene segmenter, bad input."""
import pytest
import torch
import torch.nn.functional as F

from gancourse import losses
from gancourse.data.scenes import one_hot
from gancourse.metrics import mean_iou
from gancourse.models import spade as S
from gancourse.nn.multiscale import MultiscaleDiscriminator, downsample
from gancourse.nn.spade import SPADE, PlainNorm, ResBlock


def maps(n=4, size=16, seed=0, classes=5):
    return torch.randint(0, classes, (n, size, size), generator=torch.Generator().manual_seed(seed))


def tiny_cfg(**kw):
    base = dict(size=16, ngf=4, n_up=2, spade_hidden=8, ndf=4, d_layers=1, steps=3, batch_size=4)
    return S.SPADEConfig(**(base | kw))


# ---- the layer -------------------------------------------------------------------------------

def test_spade_computes_norm_times_one_plus_gamma_plus_beta_with_a_nearest_resized_map():
    torch.manual_seed(0)
    layer = SPADE(3, 5, hidden=8, norm="instance")
    h, m = torch.randn(2, 3, 8, 8), one_hot(maps(2, 16))
    gamma, beta = layer.modulation(m, (8, 8))
    m8 = F.interpolate(m, size=(8, 8), mode="nearest")
    assert torch.allclose(gamma, layer.gamma(layer.shared(m8)))
    assert torch.all((m8 == 0) | (m8 == 1)), "nearest resizing keeps labels one-hot"
    expected = F.instance_norm(h) * (1 + gamma) + beta
    assert torch.allclose(layer(h, m), expected, atol=1e-5)


def test_spade_is_parameter_free_normalisation_when_its_convolutions_are_zero():
    layer = SPADE(4, 5, hidden=8, norm="batch")
    for conv in (layer.gamma, layer.beta):
        torch.nn.init.zeros_(conv.weight)
        torch.nn.init.zeros_(conv.bias)
    h = torch.randn(6, 4, 5, 5) * 3 + 2
    out = layer.train()(h, one_hot(maps(6, 5)))
    assert not any(p.requires_grad for p in layer.norm.parameters()), "the norm itself has no affine parameters"
    assert torch.allclose(out.mean((0, 2, 3)), torch.zeros(4), atol=1e-5)
    assert torch.allclose(out.var((0, 2, 3), unbiased=False), torch.ones(4), atol=1e-3)


def test_uniform_maps_are_washed_out_by_instance_norm_but_not_by_spade():
    """The wash-out: conv of a constant one-hot map is constant away from the border, and instance
    norm sends a constant channel to 0, so 'all sky' and 'all water' look the same after it."""
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(5, 8, 3, padding=0)        # no padding: no border effect
    sky = one_hot(torch.zeros(1, 12, 12, dtype=torch.long))
    water = one_hot(torch.full((1, 12, 12), 2, dtype=torch.long))
    plain = [F.instance_norm(conv(m)) for m in (sky, water)]
    assert plain[0].abs().max() < 1e-4 and plain[1].abs().max() < 1e-4
    layer = SPADE(8, 5, hidden=8, norm="instance")
    h = torch.randn(1, 8, 10, 10)
    assert (layer(h, sky) - layer(h, water)).abs().mean() > 1e-2


def test_spade_rejects_bad_input():
    with pytest.raises(ValueError, match="norm"):
        SPADE(3, 5, norm="layer")
    with pytest.raises(ValueError, match="kernel"):
        SPADE(3, 5, kernel=4)
    layer = SPADE(3, 5, hidden=4)
    with pytest.raises(ValueError, match="segmap"):
        layer(torch.randn(2, 3, 4, 4), one_hot(maps(3, 4)))
    with pytest.raises(ValueError):
        layer(torch.randn(2, 3, 4, 4), torch.randn(2, 4, 4, 4))


# ---- the ResBlock ----------------------------------------------------------------------------

def test_resblock_shapes_and_learned_shortcut_only_when_widths_differ():
    m = one_hot(maps(2, 8))
    same = ResBlock(6, 6, 5, hidden=4)
    wider = ResBlock(6, 3, 5, hidden=4)
    assert not same.learned_shortcut and wider.learned_shortcut
    assert same(torch.randn(2, 6, 8, 8), m).shape == (2, 6, 8, 8)
    assert wider(torch.randn(2, 6, 8, 8), m).shape == (2, 3, 8, 8)
    assert wider.conv_0.out_channels == 3, "the middle width is min(c_in, c_out)"


def test_batch_norm_block_ignores_the_map_and_spade_block_needs_it():
    torch.manual_seed(0)
    block = ResBlock(4, 4, norm="batch", spectral_norm=False).eval()
    assert isinstance(block.norm_0, PlainNorm)
    x = torch.randn(2, 4, 8, 8)
    assert torch.equal(block(x, one_hot(maps(2, 8, 0))), block(x, one_hot(maps(2, 8, 1))))
    with pytest.raises(ValueError, match="segmap"):
        ResBlock(4, 4, 5, hidden=4)(x)
    with pytest.raises(ValueError, match="label_channels"):
        ResBlock(4, 4, norm="spade")


# ---- the multi-scale discriminator and feature matching ---------------------------------------

def test_multiscale_discriminator_downsamples_and_returns_features_per_scale():
    D = MultiscaleDiscriminator(8, num_D=2, base=4, n_layers=2)
    out = D(torch.randn(3, 8, 32, 32))
    assert len(out) == 2
    (s1, f1), (s2, f2) = out
    assert s1.shape[-1] > s2.shape[-1] and len(f1) == len(f2) == 3
    assert downsample(torch.randn(1, 1, 15, 15)).shape[-1] == 8, "ceil(S / 2)"
    assert D.receptive_fields()[1] == 2 * D.receptive_fields()[0]
    # the pooling averages 3x3 windows without counting the padding: a constant stays constant
    assert torch.allclose(downsample(torch.full((1, 1, 9, 9), 0.7)), torch.full((1, 1, 5, 5), 0.7))


def test_feature_matching_is_zero_for_identical_features_and_pushes_only_the_fake():
    real = [[torch.randn(2, 3, 4, 4)], [torch.randn(2, 3, 2, 2)]]
    fake = [[t.clone().requires_grad_(True) for t in scale] for scale in real]
    assert float(losses.feature_matching(real, fake).detach()) == 0.0
    real[0][0].requires_grad_(True)
    shifted = [[fake[0][0] + 1.0], fake[1]]
    loss = losses.feature_matching(real, shifted)
    assert float(loss.detach()) == pytest.approx(0.5, rel=1e-5), "mean |1| on one of two scales, averaged over scales"
    loss.backward()
    assert real[0][0].grad is None and fake[0][0].grad is not None


# ---- the generators ------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["spade", "bn-input"])
def test_generator_maps_labels_to_images_in_range(mode):
    G = S.SPADEGenerator(5, 3, size=16, ngf=4, n_up=2, spade_hidden=8, mode=mode)
    out = G(one_hot(maps(2, 16)))
    assert out.shape == (2, 3, 16, 16) and out.abs().max() <= 1
    assert G.widths == [16, 8, 4]


def test_only_the_spade_generator_reads_the_map_after_its_input():
    torch.manual_seed(0)
    spade_G = S.SPADEGenerator(5, 3, size=16, ngf=4, n_up=2, spade_hidden=8, mode="spade")
    bn_G = S.SPADEGenerator(5, 3, size=16, ngf=4, n_up=2, spade_hidden=8, mode="bn-input")
    assert any(isinstance(m, SPADE) for m in spade_G.modules())
    assert not any(isinstance(m, SPADE) for m in bn_G.modules())


def test_config_follows_the_paper_where_a_cpu_allows_and_validates():
    cfg = S.SPADEConfig()
    assert (cfg.lambda_fm, cfg.g_lr, cfg.d_lr, cfg.beta1, cfg.beta2, cfg.num_D) == (10.0, 1e-4, 4e-4, 0.0, 0.9, 2)
    assert cfg.widths == [128, 64, 32, 16]
    with pytest.raises(ValueError, match="size"):
        S.SPADEConfig(size=20)
    with pytest.raises(ValueError, match="vgg_weights"):
        S.SPADEConfig(lambda_vgg=10.0)
    with pytest.raises(ValueError, match="generator"):
        S.SPADEConfig(generator="instance")


# ---- the training step -------------------------------------------------------------------------

def test_optimize_parameters_updates_G_then_D_with_hinge_and_feature_matching():
    torch.manual_seed(0)
    model = S.SPADEModel(tiny_cfg())
    m, x = one_hot(maps(4, 16)), torch.rand(4, 3, 16, 16) * 2 - 1
    g0 = [p.detach().clone() for p in model.G.parameters()]
    d0 = [p.detach().clone() for p in model.D.parameters()]
    model.set_input(m, x)
    out = model.optimize_parameters()
    assert set(out) == {"G_hinge", "G_fm", "D_hinge"}
    assert any(not torch.equal(p, q) for p, q in zip(model.G.parameters(), g0))
    assert any(not torch.equal(p, q) for p, q in zip(model.D.parameters(), d0))
    assert float(out["G_fm"]) > 0 and float(out["D_hinge"]) >= 0
    for opt, lr in ((model.opt_G, 1e-4), (model.opt_D, 4e-4)):
        assert opt.defaults["lr"] == lr and opt.defaults["betas"] == (0.0, 0.9)


def test_set_input_and_train_reject_mismatched_pairs():
    model = S.SPADEModel(tiny_cfg())
    with pytest.raises(ValueError, match="maps"):
        model.set_input(one_hot(maps(4, 16)), torch.rand(3, 3, 16, 16))
    with pytest.raises(ValueError):
        S.train(tiny_cfg(), maps(4, 16), torch.rand(5, 3, 16, 16), progress=False)
    with pytest.raises(TypeError, match="cfg"):
        S.train(dict(), maps(4, 16), torch.rand(4, 3, 16, 16), progress=False)


def test_training_runs_and_synthesize_returns_one_image_per_map():
    model, history = S.train(tiny_cfg(steps=2), maps(8, 16), torch.rand(8, 3, 16, 16) * 2 - 1, progress=False)
    assert len(history["D_hinge"]) >= 1
    images = S.synthesize(model.G.eval(), maps(5, 16, seed=3), batch_size=2)
    assert images.shape == (5, 3, 16, 16)


# ---- mIoU and the segmenter ---------------------------------------------------------------------

def test_mean_iou_against_a_hand_computation():
    target = torch.tensor([[[0, 0, 1, 1]]])
    pred = torch.tensor([[[0, 1, 1, 1]]])
    miou, iou = mean_iou(pred, target, 3)
    # class 0: TP 1, FP 0, FN 1 -> 1/2; class 1: TP 2, FP 1, FN 0 -> 2/3; class 2 absent -> NaN
    assert iou[0].item() == pytest.approx(0.5) and iou[1].item() == pytest.approx(2 / 3)
    assert torch.isnan(iou[2]) and miou == pytest.approx((0.5 + 2 / 3) / 2)
    assert mean_iou(target, target, 3)[0] == 1.0
    with pytest.raises(TypeError, match="pred"):
        mean_iou(pred.float(), target, 3)
    with pytest.raises(ValueError, match="classes"):
        mean_iou(pred + 5, target, 3)
    with pytest.raises(ValueError, match="same shape"):
        mean_iou(pred[..., :2], target, 3)


def test_segmenter_shapes_scores_and_bad_input():
    from gancourse.judges.scenes import SceneSegmenter, augment, segmentation_scores

    net = SceneSegmenter(width=4)
    x = torch.rand(3, 3, 16, 16) * 2 - 1
    assert net(x).shape == (3, 5, 16, 16)
    assert net.predict(x).dtype == torch.long and net.predict(x).shape == (3, 16, 16)
    scores = segmentation_scores(net, x, net.predict(x))
    assert scores["miou"] == 1.0 and scores["pixel_accuracy"] == 1.0
    a = augment(x, torch.Generator().manual_seed(0))
    assert a.shape == x.shape and a.abs().max() <= 1
    with pytest.raises(ValueError, match="divisible by 4"):
        net(torch.rand(1, 3, 10, 10))
    with pytest.raises(TypeError, match="segmenter"):
        segmentation_scores(torch.nn.Identity(), x, maps(3, 16))
    with pytest.raises(ValueError, match="maps"):
        segmentation_scores(net, x, maps(2, 16))


def test_recipes_are_registered():
    from gancourse import recipes

    assert {"spade", "spade-bn", "scene-segmenter"} <= set(recipes.RECIPES)


def test_the_64px_segmenter_reads_real_64px_scenes():
    """The judge of notebook 10's patch-size study: shipped for 64x64 scenes, near the 32x32 one's
    ceiling on real scenes; an unshipped size is refused by name."""
    from gancourse.data.scenes import Scenes
    from gancourse.judges.scenes import scene_segmenter, segmentation_scores

    seg = scene_segmenter(size=64)
    test = Scenes(64, 64, "test")
    assert segmentation_scores(seg, test.images, test.maps)["miou"] >= 0.95
    with pytest.raises(ValueError, match="size"):
        scene_segmenter(size=48)


def test_style_code_changes_the_image_and_trains_with_a_kl_term():
    cfg = S.SPADEConfig(z_dim=8, steps=2, batch_size=4)
    model = S.SPADEModel(cfg)
    maps = torch.nn.functional.one_hot(torch.randint(0, 5, (4, 32, 32), generator=torch.Generator().manual_seed(0)),
                                       5).permute(0, 3, 1, 2).float()
    model.set_input(maps, torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(1)) * 2 - 1)
    out = model.optimize_parameters()
    assert set(out) == {"G_kl", "G_hinge", "G_fm", "D_hinge"} and out["G_kl"] >= 0 and "E" in model.modules()
    G = model.G.eval()
    z1, z2 = torch.randn(4, 8), torch.randn(4, 8)
    with torch.no_grad():
        assert (G(maps, z1) - G(maps, z2)).abs().mean() > 1e-3            # another code, another image
        assert torch.equal(G(maps), G(maps, torch.zeros(4, 8)))          # no code: the prior's mean
    mu, logvar = model.E(torch.rand(3, 3, 32, 32) * 2 - 1)
    assert mu.shape == logvar.shape == (3, 8)


def test_style_code_bad_input():
    with pytest.raises(ValueError, match="z_dim: a style code needs generator='spade'"):
        S.SPADEConfig(z_dim=4, generator="bn-input")
    with pytest.raises(ValueError, match="z: this generator has no style code"):
        S.SPADEGenerator()(torch.zeros(1, 5, 32, 32), torch.zeros(1, 4))


def test_style_encoder_and_kl_bad_input():
    with pytest.raises(ValueError, match="images: expected 3 channel"):
        S.StyleEncoder(32, 3, 8, 4)(torch.zeros(2, 1, 32, 32))
    with pytest.raises(ValueError, match="mu and logvar: expected the same shape"):
        losses.kl_to_standard_normal(torch.zeros(2, 3), torch.zeros(2, 4))


def test_the_recipe_trains_on_a_folder_of_images_and_label_maps(tmp_path):
    import numpy as np
    from PIL import Image

    from gancourse import recipes
    from gancourse.models import spade

    for sub in ("images", "labels"):
        (tmp_path / "data" / sub).mkdir(parents=True)
    for i in range(3):
        label = np.zeros((32, 32), dtype=np.uint8)
        label[16:] = 1 + i % 2                                   # three classes across the files
        Image.fromarray(label).save(tmp_path / "data" / "labels" / f"{i}.png")
        Image.fromarray(np.full((32, 32, 3), 40 * i, dtype=np.uint8)).save(tmp_path / "data" / "images" / f"{i}.png")
    args = recipes.build_parser().parse_args(["spade", "--data", str(tmp_path / "data"), "--image-size", "32",
                                              "--steps", "2", "--batch-size", "2", "--device", "cpu",
                                              "--out", str(tmp_path / "out"), "--checkpoint-every", "2", "--no-progress"])
    assert spade.RECIPE(args) == {"generator": "spade"}           # the course's segmenter reads scenes only
    state = torch.load(sorted((tmp_path / "out").glob("ckpt_*.pt"))[-1], weights_only=True)
    assert state["config"]["n_labels"] == 3
