"""Conditional GANs: label codes (scatter_ one-hot, embedding), shapes, the two update rules, a
conditioning that actually works on a two-class toy problem, folders, bad input."""
import numpy as np
import pytest
import torch

from gancourse.models import cgan as C
from gancourse.nn.conditioning import LabelCode, one_hot


def test_one_hot_by_scatter_matches_torch_and_an_embedding_of_it_is_a_matrix_product():
    y = torch.tensor([3, 0, 9, 3])
    oh = one_hot(y, 10)
    assert torch.equal(oh, torch.nn.functional.one_hot(y, 10).float())
    code = LabelCode(10, kind="embedding", dim=4)
    assert torch.allclose(code(y), oh @ code.table.weight)     # row y of the table
    assert LabelCode(10, kind="one_hot")(y).shape == (4, 10)
    maps = torch.tensor([[[0, 2], [1, 2]]])
    assert torch.equal(one_hot(maps, 3)[0, 2], torch.tensor([[0.0, 1.0], [0.0, 1.0]]))


def test_label_codes_refuse_bad_labels():
    with pytest.raises(ValueError, match="labels"):
        one_hot(torch.tensor([0, 10]), 10)
    with pytest.raises(TypeError, match="labels"):
        one_hot(torch.tensor([0.0, 1.0]), 10)
    with pytest.raises(ValueError, match="dim"):
        LabelCode(10, kind="one_hot", dim=4)
    with pytest.raises(ValueError, match="kind"):
        LabelCode(10, kind="binary")


@pytest.mark.parametrize("size", [16, 32])
@pytest.mark.parametrize("code", ["embedding", "one_hot"])
def test_shapes_of_the_three_networks(size, code):
    G = C.ConditionalGenerator(10, size, z_dim=8, width=8, code=code)
    y = torch.tensor([1, 7, 7])
    x = G(torch.randn(3, 8), y)
    assert x.shape == (3, 1, size, size) and x.abs().max() <= 1
    D = C.ConditionalDiscriminator(10, size, width=8, code=code)
    assert D(x, y).shape == (3,)
    src, cls = C.ACGANDiscriminator(10, size, width=8)(x)
    assert src.shape == (3,) and cls.shape == (3, 10)
    assert G.sample(torch.arange(10)).shape == (10, 1, size, size)


def test_the_conditional_discriminator_reads_the_label():
    torch.manual_seed(0)
    D = C.ConditionalDiscriminator(10, 16, width=8, code="one_hot").eval()
    x = torch.randn(2, 1, 16, 16)
    assert not torch.allclose(D(x, torch.tensor([0, 0])), D(x, torch.tensor([5, 5])))


@pytest.mark.parametrize("kind", C.KINDS)
def test_one_step_updates_both_players_and_reports_the_losses(kind):
    torch.manual_seed(0)
    model = C.CGAN(C.CGANConfig(kind=kind, image_size=8, z_dim=4, g_width=4, d_width=4, batch_size=8))
    before = {k: [p.detach().clone() for p in m.parameters()] for k, m in model.modules().items()}
    out = model.optimize_parameters(torch.rand(8, 1, 8, 8) * 2 - 1, torch.randint(0, 10, (8,)))
    expected = {"loss_D", "loss_G"} if kind == "cgan" else {"D_source", "D_class", "G_source", "G_class"}
    assert set(out) == expected and all(torch.isfinite(v) and not v.requires_grad for v in out.values())
    for k, m in model.modules().items():
        assert any(not torch.equal(p, q) for p, q in zip(m.parameters(), before[k])), f"{k} did not move"


def _two_class_data(n=256, size=8, seed=0):
    """Class 0: bright top half; class 1: bright bottom half (with noise)."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    x = -torch.ones(n, 1, size, size)
    rows = torch.arange(size).view(1, 1, size, 1)
    top = (rows < size // 2).float()
    bright = torch.where(y.view(n, 1, 1, 1) == 0, top, 1 - top)
    x = x + 1.6 * bright + 0.1 * torch.randn(x.shape, generator=g)
    return x.clamp(-1, 1), y


def _which_half(x):
    h = x.shape[-2] // 2
    return (x[..., h:, :].mean((1, 2, 3)) > x[..., :h, :].mean((1, 2, 3))).long()


@pytest.mark.parametrize("kind, code", [("cgan", "embedding"), ("acgan", "one_hot")])
def test_a_short_run_draws_the_requested_class(kind, code):
    x, y = _two_class_data()
    cfg = C.CGANConfig(kind=kind, code=code, n_classes=2, image_size=8, z_dim=4, g_width=8, d_width=8,
                       batch_size=32, steps=150, lr=1e-3)
    model, history = C.train(cfg, x, y, progress=False)
    requested = C.class_rows(2, 100)
    samples = model.G.sample(requested, generator=torch.Generator().manual_seed(1))
    accuracy = (_which_half(samples) == requested).float().mean()
    assert accuracy > 0.9, f"{kind}: only {accuracy:.2f} of the samples show the requested class"


def test_class_rows_and_config_validation():
    assert C.class_rows(3, 2).tolist() == [0, 0, 1, 1, 2, 2]
    with pytest.raises(ValueError, match="kind"):
        C.CGANConfig(kind="infogan")
    with pytest.raises(ValueError, match="code"):
        C.CGANConfig(code="binary")
    with pytest.raises(ValueError, match="image_size"):
        C.CGANConfig(image_size=24)
    with pytest.raises(ValueError, match="n_classes"):
        C.CGANConfig(n_classes=1)
    with pytest.raises(TypeError, match="cfg"):
        C.CGAN({"kind": "cgan"})
    with pytest.raises(TypeError, match="G"):
        C.class_accuracy(torch.nn.Linear(2, 2))
    model = C.CGAN(C.CGANConfig(image_size=8, g_width=4, d_width=4))
    with pytest.raises(ValueError, match="labels"):
        model.optimize_parameters(torch.zeros(4, 1, 8, 8), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="labels"):
        model.G(torch.randn(2, model.cfg.z_dim), torch.tensor([1]))


def test_the_recipe_trains_on_class_folders(tmp_path):
    from PIL import Image

    from gancourse import recipes

    for name in ("cat", "dog"):
        (tmp_path / "data" / name).mkdir(parents=True)
        for k in range(4):
            value = 200 if name == "dog" else 20
            Image.fromarray(np.full((10, 10), value, dtype=np.uint8)).save(tmp_path / "data" / name / f"{k}.png")
    args = recipes.build_parser().parse_args(["acgan", "--data", str(tmp_path / "data"), "--image-size", "8",
                                              "--steps", "2", "--batch-size", "4", "--device", "cpu",
                                              "--out", str(tmp_path / "out"), "--no-progress"])
    result = C.RECIPE_ACGAN(args)
    assert set(result) == {"D_source", "D_class", "G_source", "G_class"}
    assert list((tmp_path / "out").glob("ckpt_*.pt"))


def test_the_recipes_are_registered():
    from gancourse import recipes

    assert {"cgan", "acgan"} <= set(recipes.RECIPES)
