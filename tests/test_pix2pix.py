"""Pix2Pix: the update order and loss scales, the three variants, aligned folders, metrics, bad input."""
import numpy as np
import pytest
import torch

from gancourse import metrics
from gancourse.models import pix2pix as P


def tiny_cfg(**kw):
    base = dict(in_channels=5, out_channels=3, size=16, ngf=4, ndf=4, d_layers=1, steps=3, batch_size=4)
    return P.Pix2PixConfig(**(base | kw))


def pair(n=4, size=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    maps = torch.randint(0, 5, (n, size, size), generator=g)
    from gancourse.data.scenes import one_hot
    return one_hot(maps), torch.rand(n, 3, size, size, generator=g) * 2 - 1


def test_variants_follow_from_the_weights_and_l1_only_has_no_discriminator():
    assert tiny_cfg().variant == "GAN + L1"
    assert tiny_cfg(lambda_gan=0.0).variant == "L1 only" and P.Pix2Pix(tiny_cfg(lambda_gan=0.0)).D is None
    assert tiny_cfg(lambda_l1=0.0).variant == "GAN only"
    with pytest.raises(ValueError, match="at least one"):
        tiny_cfg(lambda_gan=0.0, lambda_l1=0.0)


def test_paper_settings_are_the_defaults():
    cfg = P.Pix2PixConfig()
    assert (cfg.lambda_l1, cfg.lr, cfg.beta1) == (100.0, 2e-4, 0.5)
    model = P.Pix2Pix(tiny_cfg())
    for opt in (model.opt_G, model.opt_D):
        assert opt.defaults["lr"] == 2e-4 and opt.defaults["betas"] == (0.5, 0.999)


@pytest.mark.parametrize("mode", ["vanilla", "lsgan"])
def test_discriminator_loss_is_halved_and_generator_loss_has_the_reference_scale(mode):
    model = P.Pix2Pix(tiny_cfg(gan_mode=mode))
    real, fake = torch.randn(2, 1, 3, 3), torch.randn(2, 1, 3, 3)
    if mode == "lsgan":
        expected_d = 0.5 * (((real - 1) ** 2).mean() + (fake ** 2).mean())
        expected_g = ((fake - 1) ** 2).mean()
    else:
        bce = torch.nn.functional.binary_cross_entropy_with_logits
        expected_d = 0.5 * (bce(real, torch.ones_like(real)) + bce(fake, torch.zeros_like(fake)))
        expected_g = bce(fake, torch.ones_like(fake))
    assert torch.allclose(model.loss_D_gan(real, fake), expected_d, atol=1e-6)
    assert torch.allclose(model.loss_G_gan(fake), expected_g, atol=1e-6)


def test_optimize_parameters_updates_D_on_detached_fakes_then_G():
    torch.manual_seed(0)
    model = P.Pix2Pix(tiny_cfg())
    a, b = pair()
    d_before = [p.detach().clone() for p in model.D.parameters()]
    g_before = [p.detach().clone() for p in model.G.parameters()]
    model.set_input(a, b)
    out = model.optimize_parameters()
    assert set(out) == {"D", "G_gan", "G_L1"}
    assert any(not torch.equal(p, q) for p, q in zip(model.D.parameters(), d_before))
    assert any(not torch.equal(p, q) for p, q in zip(model.G.parameters(), g_before))
    # after the step D is frozen (its gradients are not needed for G's update)
    assert not any(p.requires_grad for p in model.D.parameters())
    # the reported L1 is the mean absolute error of this step's translation
    assert float(out["G_L1"]) == pytest.approx(float((model.fake_B.detach() - b).abs().mean()), rel=1e-5)


def test_l1_only_training_reduces_the_l1_error():
    a, b = pair(n=8, seed=1)
    b = a[:, :3] * 1.6 - 0.8                 # a learnable target: colours from the one-hot map
    cfg = tiny_cfg(lambda_gan=0.0, steps=75, batch_size=8, dropout=0.0, ngf=8, lr=2e-3)
    model, history = P.train(cfg, a, b, progress=False)
    assert history["G_L1"][-1] < 0.8 * history["G_L1"][0]


def test_a_gan_step_pushes_D_scores_of_real_pairs_up():
    torch.manual_seed(0)
    model = P.Pix2Pix(tiny_cfg(lambda_l1=0.0, gan_mode="lsgan"))
    a, b = pair(n=8)
    first = None
    for _ in range(15):
        model.set_input(a, b)
        out = model.optimize_parameters()
        first = float(out["D"]) if first is None else first
    assert float(out["D"]) < first


def _side_by_side(folder, n=3):
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for k in range(n):
        arr = np.zeros((20, 40, 3), dtype=np.uint8)
        arr[:, :20] = (255, 0, 0)               # A: red
        arr[:, 20:] = (0, 0, 255)               # B: blue
        Image.fromarray(arr).save(folder / f"{k}.png")
    (folder / "notes.txt").write_text("ignored")
    return folder


def test_paired_tensors_read_side_by_side_and_a_b_folders(tmp_path):
    from PIL import Image

    a, b = P.paired_tensors(_side_by_side(tmp_path / "sbs"), size=16)
    assert a.shape == b.shape == (3, 3, 16, 16)
    assert torch.allclose(a[:, 0], torch.ones(3, 16, 16)) and torch.allclose(b[:, 2], torch.ones(3, 16, 16))
    for side, colour in (("A", (0, 255, 0)), ("B", (255, 255, 255))):
        (tmp_path / "ab" / side).mkdir(parents=True)
        for k in range(2):
            Image.fromarray(np.full((12, 12, 3), colour, dtype=np.uint8)).save(tmp_path / "ab" / side / f"{k}.png")
    a, b = P.paired_tensors(tmp_path / "ab", size=8)
    assert a.shape == (2, 3, 8, 8) and torch.allclose(a[:, 1], torch.ones(2, 8, 8)) and torch.allclose(b, torch.ones_like(b))
    with pytest.raises(ValueError, match="folder"):
        P.paired_tensors(tmp_path / "missing", 16)


def test_the_recipe_trains_on_a_folder_of_pairs(tmp_path):
    from gancourse import recipes

    _side_by_side(tmp_path / "data" / "train", n=4)
    args = recipes.build_parser().parse_args(["pix2pix", "--data", str(tmp_path / "data"), "--image-size", "16",
                                              "--steps", "2", "--batch-size", "2", "--device", "cpu",
                                              "--out", str(tmp_path / "out"), "--no-progress"])
    result = P.RECIPE(args)
    assert result["variant"] == "GAN + L1" and np.isfinite(result["test_l1"])
    assert list((tmp_path / "out").glob("ckpt_*.pt")), "the recipe should leave a checkpoint"


def test_high_frequency_energy_ranks_blur_below_the_original():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(4, 3, 32, 32, generator=g) * 2 - 1
    blurred = torch.nn.functional.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)
    assert metrics.high_frequency_energy(blurred) < 0.2 * metrics.high_frequency_energy(x)
    ramp = torch.linspace(-1, 1, 16).view(1, 1, 1, 16).expand(2, 3, 16, 16)
    assert metrics.high_frequency_energy(ramp) == pytest.approx(0.0, abs=1e-10)    # linear: no curvature
    # a checkerboard of +-1: the Laplacian is +-8 everywhere
    board = ((torch.arange(8).view(-1, 1) + torch.arange(8)) % 2 * 2 - 1).float().view(1, 1, 8, 8)
    assert metrics.high_frequency_energy(board) == pytest.approx(64.0)
    with pytest.raises(ValueError, match="3x3"):
        metrics.high_frequency_energy(torch.zeros(1, 1, 2, 8))


class MeanClassifier(torch.nn.Module):
    """A stand-in classifier: class k when the image's mean intensity is closest to k / 4 - 1."""

    def forward(self, x):
        m = x.mean((1, 2, 3)).view(-1, 1)
        return -((m - (torch.arange(9.0) / 4 - 1)) ** 2) * 100


def test_per_class_accuracy_counts_hits_per_requested_class():
    levels = torch.tensor([0, 0, 1, 1, 1, 8])
    images = (levels.float() / 4 - 1).view(-1, 1, 1, 1).expand(-1, 1, 4, 4).clone()
    requested = torch.tensor([0, 1, 1, 1, 2, 8])
    acc = metrics.per_class_accuracy(images, requested, MeanClassifier())
    assert acc.shape == (9,)
    assert acc[0] == 1.0                               # the one class-0 request is drawn as 0
    assert acc[1] == pytest.approx(2 / 3)              # requests for 1: drawn as 0, 1, 1
    assert acc[2] == 0.0 and acc[8] == 1.0
    assert torch.isnan(acc[3])                         # never requested
    with pytest.raises(ValueError, match="requested"):
        metrics.per_class_accuracy(images, torch.tensor([0, 1]), MeanClassifier())
    with pytest.raises(ValueError, match="requested"):
        metrics.per_class_accuracy(images, torch.full((6,), 9), MeanClassifier())
    with pytest.raises(TypeError, match="requested"):
        metrics.per_class_accuracy(images, requested.float(), MeanClassifier())


def test_l1_error_and_bad_inputs():
    x = torch.zeros(2, 3, 4, 4)
    assert metrics.l1_error(x + 0.5, x) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="same shape"):
        metrics.l1_error(x, torch.zeros(2, 3, 4, 5))
    model = P.Pix2Pix(tiny_cfg())
    with pytest.raises(ValueError, match="5 channel"):
        model.set_input(torch.zeros(2, 3, 16, 16), torch.zeros(2, 3, 16, 16))
    with pytest.raises(ValueError, match="same batch size"):
        model.set_input(torch.zeros(2, 5, 16, 16), torch.zeros(3, 3, 16, 16))
    with pytest.raises(TypeError, match="cfg"):
        P.Pix2Pix({"size": 16})
    with pytest.raises(ValueError, match="gan_mode"):
        tiny_cfg(gan_mode="wgan")
    with pytest.raises(ValueError, match="lambda_l1"):
        tiny_cfg(lambda_l1=-1.0)


def test_the_recipes_are_registered():
    from gancourse import recipes

    assert {"pix2pix", "pix2pix-l1", "pix2pix-gan"} <= set(recipes.RECIPES)


def test_pixelgan_judges_each_pixel_alone_and_an_unconditional_D_ignores_the_input():
    """d_layers=0 is the PixelGAN (receptive field 1, measured by autograd); conditional_d=False gives D the
    same pair but only the image channels reach it (the paper's Sections 4.2 and 4.4)."""
    torch.manual_seed(0)
    D = P.build_discriminator(tiny_cfg(d_layers=0, norm="none"))
    assert isinstance(D, P.PixelDiscriminator) and D.receptive_field == 1
    x = torch.randn(1, 8, 16, 16, requires_grad=True)
    D(x)[0, 0, 7, 9].backward()
    touched = (x.grad.abs().sum(1)[0] > 0).nonzero().tolist()
    assert touched == [[7, 9]] and D(x).shape == (1, 1, 16, 16)

    Du = P.build_discriminator(tiny_cfg(conditional_d=False, norm="none"))
    assert isinstance(Du, P.ImageOnly) and Du.receptive_field == 16
    a, b = pair()
    a2, _ = pair(seed=1)
    assert torch.equal(Du(torch.cat([a, b], 1)), Du(torch.cat([a2, b], 1)))   # the input map never matters
    Dc = P.build_discriminator(tiny_cfg(norm="none"))
    assert not torch.equal(Dc(torch.cat([a, b], 1)), Dc(torch.cat([a2, b], 1)))
    model = P.Pix2Pix(tiny_cfg(conditional_d=False))
    model.set_input(a, b)
    assert set(model.optimize_parameters()) == {"D", "G_gan", "G_L1"}
    with pytest.raises(TypeError, match="conditional_d"):
        tiny_cfg(conditional_d=1)
    with pytest.raises(ValueError, match="d_layers"):
        tiny_cfg(d_layers=-1)


def test_the_patch_size_study_arms_and_a_quick_run_is_scored_by_the_64px_segmenter(monkeypatch):
    """The study's arms are the paper's: receptive fields 1, 16, 34 and > 64 at 64x64, the conditional
    and the unconditional D at 34, and L1 only; one arm runs end to end (quick mode) and returns the
    segmenter's scores, the L1 error and the sharpness ratio."""
    from gancourse.nn.patchgan import receptive_field

    fields = {name: 1 if s.get("d_layers") == 0 else receptive_field(s.get("d_layers", 2))
              for name, s in P.STUDIES.items() if s.get("lambda_gan", 1.0) > 0}
    assert sorted(fields.values()) == [1, 16, 34, 34, 142] and P.STUDY_SIZE == 64
    assert P.STUDIES["unconditional D (34x34)"]["conditional_d"] is False
    monkeypatch.setenv("GANCOURSE_QUICK", "1")
    r = P.study("PixelGAN (1x1)", seed=0, steps=2)
    assert set(r) == {"miou", "pixel_accuracy", "l1", "hf_ratio"} and 0 <= r["miou"] <= 1 and r["l1"] > 0
    with pytest.raises(ValueError, match="name"):
        P.study("70x70", seed=0, steps=2)


def test_the_shipped_studies_hold_what_notebook_10_says():
    """The manifest keeps three seeds of every arm (pix2pix.study at 2,000 steps); the claims notebook 10
    makes from them hold: the segmenter's mIoU falls and the L1 error rises as D judges more of the
    image (L1 only, then fields 1, 16, 34, 142); sharpness rises from L1 only to the 34x34 PatchGAN;
    at the same field a conditional D scores a higher mIoU than an unconditional one in every seed,
    and the unconditional one's translations are sharper."""
    from gancourse import pretrained

    studies = pretrained.manifest()["pix2pix-scenes"]["metrics"]["studies_64"]
    assert set(studies) == set(P.STUDIES) and all(len(runs) == 3 for runs in studies.values())
    mean = {name: {k: np.mean([run[k] for run in runs.values()]) for k in ("miou", "l1", "hf_ratio")}
            for name, runs in studies.items()}
    ladder = ["L1 only", "PixelGAN (1x1)", "PatchGAN 16x16", "PatchGAN 34x34", "ImageGAN (142x142)"]
    mious = [mean[n]["miou"] for n in ladder]
    l1s = [mean[n]["l1"] for n in ladder]
    assert mious == sorted(mious, reverse=True) and l1s == sorted(l1s)
    assert mean["L1 only"]["hf_ratio"] < mean["PatchGAN 16x16"]["hf_ratio"] < mean["PatchGAN 34x34"]["hf_ratio"]
    cond, uncond = studies["PatchGAN 34x34"], studies["unconditional D (34x34)"]
    assert all(cond[s]["miou"] > uncond[s]["miou"] for s in cond)
    assert mean["unconditional D (34x34)"]["hf_ratio"] > mean["PatchGAN 34x34"]["hf_ratio"]
