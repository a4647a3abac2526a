"""ResNet generator and CycleGAN: layout, the paper's settings, the loss, the update order, the
learning-rate schedule, exact resume (pools included), the shipped checkpoints, bad input."""
import pytest
import torch
from torch import nn

from gancourse import recipes
from gancourse.data import shapes as S
from gancourse.models import cyclegan as C
from gancourse.nn.image_pool import ImagePool
from gancourse.nn.resnet import ResidualBlock, ResnetGenerator, count_parameters
from gancourse.train import linear_decay

F_in = nn.functional.instance_norm



def tiny_cfg(**kw):
    base = dict(size=16, ngf=4, n_blocks=1, ndf=4, d_layers=1, steps=6, batch_size=2, pool_size=3)
    return C.CycleGANConfig(**(base | kw))


def domains(n=6, size=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, size, size, generator=g) * 2 - 1, torch.rand(n, 3, size, size, generator=g) * 2 - 1


# ---- the ResNet generator --------------------------------------------------------------------

def test_resnet_generator_keeps_the_size_and_counts_its_blocks():
    for n_blocks in (0, 2, 5):
        G = ResnetGenerator(3, 2, base=8, n_blocks=n_blocks)
        assert sum(isinstance(m, ResidualBlock) for m in G.modules()) == n_blocks
        y = G(torch.randn(2, 3, 16, 12))
        assert y.shape == (2, 2, 16, 12) and y.abs().max() <= 1
    G = ResnetGenerator(3, 3, base=8, n_blocks=2)
    kinds = {type(m).__name__ for m in G.modules()}
    assert {"ReflectionPad2d", "InstanceNorm2d", "Tanh"} <= kinds
    Z = ResnetGenerator(3, 3, base=8, n_blocks=2, padding="zero")
    assert "ReflectionPad2d" not in {type(m).__name__ for m in Z.modules()}
    assert count_parameters(G) == count_parameters(Z)      # padding changes no weights


def test_residual_block_adds_its_input():
    torch.manual_seed(0)
    block = ResidualBlock(4)
    x = torch.randn(2, 4, 6, 6)
    assert torch.allclose(block(x), x + block.body(x))


def test_resnet_bad_input():
    with pytest.raises(ValueError, match="padding"):
        ResnetGenerator(padding="circular")
    with pytest.raises(ValueError, match="norm"):
        ResnetGenerator(norm="layer")
    with pytest.raises(ValueError, match="n_blocks"):
        ResnetGenerator(n_blocks=-1)
    with pytest.raises(ValueError, match="divisible"):
        ResnetGenerator(base=4, n_blocks=1)(torch.randn(1, 3, 10, 10))
    with pytest.raises(ValueError, match="channel"):
        ResnetGenerator(base=4, n_blocks=1)(torch.randn(1, 1, 8, 8))
    with pytest.raises(TypeError, match="module"):
        count_parameters("G")


# ---- CycleGAN ----------------------------------------------------------------------------------

def test_paper_settings_are_the_defaults():
    cfg = C.CycleGANConfig()
    assert (cfg.lambda_cyc, cfg.lambda_id, cfg.pool_size, cfg.lr, cfg.beta1, cfg.norm) == (10.0, 0.5, 50, 2e-4, 0.5, "instance")
    assert cfg.decay_steps == cfg.steps // 2
    model = C.CycleGAN(tiny_cfg())
    for opt in (model.opt_G, model.opt_D):
        assert opt.defaults["lr"] == 2e-4 and opt.defaults["betas"] == (0.5, 0.999)
    # one optimizer for G and F, one for D_X and D_Y (the reference's layout)
    assert {id(p) for g in model.opt_G.param_groups for p in g["params"]} == \
        {id(p) for p in list(model.G.parameters()) + list(model.F.parameters())}
    assert {id(p) for g in model.opt_D.param_groups for p in g["params"]} == \
        {id(p) for p in list(model.D_X.parameters()) + list(model.D_Y.parameters())}
    assert isinstance(model.pool_X, ImagePool) and model.pool_X.size == 3
    assert "ReflectionPad2d" in {type(m).__name__ for m in model.G.modules()}


def test_the_shapes_configuration_swaps_instance_for_batch_norm_only():
    cfg = C.shapes_config(steps=10)
    assert cfg.norm == "batch" and cfg.steps == 10
    assert {k: v for k, v in vars(cfg).items() if k not in ("norm", "steps", "decay_steps")} == \
        {k: v for k, v in vars(C.CycleGANConfig()).items() if k not in ("norm", "steps", "decay_steps")}
    # why: instance norm maps a flat image of any colour to the same (zero) features
    flat = torch.stack([c.view(3, 1, 1).expand(3, 8, 8) for c in S.BACKGROUNDS]) * 2 - 1
    h = nn.Conv2d(3, 4, 3, padding=1, padding_mode="reflect")(flat)
    assert F_in(h).abs().max() < 1e-5 and nn.functional.batch_norm(h, None, None, training=True).std() > 0.1


def test_losses_are_the_reference_lsgan_ones():
    real, fake = torch.randn(2, 1, 3, 3), torch.randn(2, 1, 3, 3)
    assert torch.allclose(C.CycleGAN.loss_D(real, fake), 0.5 * (((real - 1) ** 2).mean() + (fake ** 2).mean()))
    assert torch.allclose(C.CycleGAN.loss_G_adv(fake), ((fake - 1) ** 2).mean())


@pytest.mark.parametrize("lambda_id", [0.5, 0.0])
def test_generator_loss_is_adversarial_plus_cycle_plus_identity(lambda_id):
    torch.manual_seed(0)
    model = C.CycleGAN(tiny_cfg(lambda_id=lambda_id))
    x, y = domains(2)
    model.set_input(x, y)
    model.forward()
    out = model.backward_G()
    with torch.no_grad():
        G, F, DX, DY = model.G, model.F, model.D_X, model.D_Y
        adv = ((DY(G(x)) - 1) ** 2).mean() + ((DX(F(y)) - 1) ** 2).mean()
        cyc = (F(G(x)) - x).abs().mean() + (G(F(y)) - y).abs().mean()
        idt = (G(y) - y).abs().mean() + (F(x) - x).abs().mean()
    assert torch.allclose(out["G_adv"], adv, atol=1e-5) and torch.allclose(out["cycle"], cyc, atol=1e-5)
    if lambda_id:
        assert torch.allclose(out["identity"], idt, atol=1e-5)
    else:
        assert "identity" not in out


@pytest.mark.filterwarnings("ignore:Seems like `optimizer.step\\(\\)` has been overridden")
def test_optimize_parameters_updates_G_and_F_first_with_frozen_Ds_then_both_Ds():
    torch.manual_seed(0)
    model = C.CycleGAN(tiny_cfg())
    x, y = domains(2)
    model.set_input(x, y)
    events = []
    d_before = [p.detach().clone() for p in list(model.D_X.parameters()) + list(model.D_Y.parameters())]
    g_before = [p.detach().clone() for p in list(model.G.parameters()) + list(model.F.parameters())]
    step_G, step_D = model.opt_G.step, model.opt_D.step

    def record_G(*a, **k):
        ds = list(model.D_X.parameters()) + list(model.D_Y.parameters())
        events.append(("G", all(p.grad is None for p in ds), all(torch.equal(p, q) for p, q in zip(ds, d_before))))
        return step_G(*a, **k)

    def record_D(*a, **k):
        gs = list(model.G.parameters()) + list(model.F.parameters())
        events.append(("D", any(not torch.equal(p, q) for p, q in zip(gs, g_before)), None))
        return step_D(*a, **k)

    model.opt_G.step, model.opt_D.step = record_G, record_D
    out = model.optimize_parameters()
    assert [e[0] for e in events] == ["G", "D"]
    assert events[0][1] and events[0][2], "G's step must leave the discriminators untouched (no gradients, no change)"
    assert events[1][1], "D's step comes after G and F have moved"
    assert set(out) == {"G_adv", "cycle", "identity", "D_X", "D_Y"}
    assert len(model.pool_X) == 2 and len(model.pool_Y) == 2       # D saw the fakes through the pools


def test_linear_decay_is_constant_then_linear_as_in_the_reference():
    assert [linear_decay(s, 10, 5) for s in range(10)] == pytest.approx([1, 1, 1, 1, 1, 5 / 6, 4 / 6, 3 / 6, 2 / 6, 1 / 6])
    assert linear_decay(3, 4, 0) == 1.0
    model = C.CycleGAN(tiny_cfg(steps=8, decay_steps=4))
    x, y = domains(2)
    lrs = []
    for _ in range(8):
        lrs.append(model.lr)
        model.set_input(x, y)
        model.optimize_parameters()
    assert lrs == pytest.approx([2e-4] * 4 + [2e-4 * k / 5 for k in (4, 3, 2, 1)])
    with pytest.raises(ValueError, match="decay_steps"):
        linear_decay(0, 4, 5)


def test_resume_continues_exactly_with_pools_and_schedules(tmp_path):
    from gancourse.train import Checkpointer
    x, y = domains(6)
    cfg = tiny_cfg(steps=6)
    full, _ = C.train(cfg, x, y, progress=False)
    ck = Checkpointer(tmp_path, modules={}, every=3)
    partial_cfg = tiny_cfg(steps=6)
    # stop after 3 steps by training a model whose fit ends there, then resume to 6
    import gancourse.models.cyclegan as mod
    first, _ = mod.train(tiny_cfg(steps=6), x, y, progress=False, checkpoint=ck)
    ck2 = Checkpointer(tmp_path, modules={}, every=3)
    ck2.manager.list()[-1].unlink()                       # forget the final checkpoint: resume from step 3
    resumed, _ = mod.train(partial_cfg, x, y, progress=False, checkpoint=ck2, resume=True)
    for a, b in zip(full.G.state_dict().values(), resumed.G.state_dict().values()):
        assert torch.equal(a, b)
    for a, b in zip(full.D_Y.state_dict().values(), resumed.D_Y.state_dict().values()):
        assert torch.equal(a, b)
    assert torch.equal(torch.stack(full.pool_Y.images), torch.stack(resumed.pool_Y.images))
    assert full.lr == resumed.lr


def test_evaluate_shapes_reports_every_number():
    from gancourse.judges.shapes import AttributeClassifier
    X, Y = S.cyclegan_domains(20, split="test")
    torch.manual_seed(0)
    cfg = C.CycleGANConfig(ngf=4, n_blocks=1)
    ident = nn.Conv2d(3, 3, 1)
    with torch.no_grad():
        ident.weight.copy_(torch.eye(3).view(3, 3, 1, 1))
        ident.bias.zero_()
    out = C.evaluate_shapes(ident, ident, X, Y, classifier=AttributeClassifier())
    assert set(out) == {f"{m}_{d}" for m in ("domain_acc", "iou", "color_kept", "bg_shift") for d in ("XtoY", "YtoX")} \
        | {"cycle_l1_X", "cycle_l1_Y"}
    # the identity translation keeps outline and colours perfectly and reconstructs exactly
    assert out["iou_XtoY"] > 0.97 and out["cycle_l1_X"] == 0 and out["bg_shift_YtoX"] == 0
    with pytest.raises(TypeError, match="X: expected a Shapes"):
        C.evaluate_shapes(ident, ident, X.images, Y, classifier=AttributeClassifier())
    assert cfg.ngf == 4


def test_recipes_are_registered():
    assert {"cyclegan", "cyclegan-noid"} <= set(recipes.RECIPES)


def test_config_bad_input():
    with pytest.raises(ValueError, match="size"):
        C.CycleGANConfig(size=30)
    with pytest.raises(ValueError, match="lambda_cyc"):
        C.CycleGANConfig(lambda_cyc=-1)
    with pytest.raises(ValueError, match="pool_size"):
        C.CycleGANConfig(pool_size=-1)
    with pytest.raises(ValueError, match="decay_steps"):
        C.CycleGANConfig(steps=10, decay_steps=11)
    with pytest.raises(ValueError, match="beta1"):
        C.CycleGANConfig(beta1=1.0)
    with pytest.raises(ValueError, match="norm"):
        C.CycleGANConfig(norm="group")
    with pytest.raises(TypeError, match="cfg"):
        C.CycleGAN({"steps": 3})
    model = C.CycleGAN(tiny_cfg())
    with pytest.raises(ValueError, match="channel"):
        model.set_input(torch.zeros(2, 1, 16, 16), torch.zeros(2, 3, 16, 16))
    with pytest.raises(ValueError, match="variant"):
        C.load_pretrained("sometimes")


@pytest.mark.parametrize("variant", ["identity", "no identity"])
def test_shipped_checkpoints_load_and_translate(variant):
    G, F, cfg = C.load_pretrained(variant)
    X, Y = S.cyclegan_domains(8, split="test")
    assert G(X.images).shape == X.images.shape and F(Y.images).shape == Y.images.shape
    assert cfg.lambda_id == (0.5 if variant == "identity" else 0.0)


def test_shipped_model_meets_the_issue_targets():
    """Done-when of issue 7: >= 90% of translations in the target domain, outline IoU >= 0.8."""
    G, F, _ = C.load_pretrained("identity")
    X, Y = S.cyclegan_domains(200, split="test")
    out = C.evaluate_shapes(G, F, X, Y)
    assert out["domain_acc_XtoY"] >= 0.9 and out["domain_acc_YtoX"] >= 0.9, out
    assert out["iou_XtoY"] >= 0.8 and out["iou_YtoX"] >= 0.8, out


def test_ablation_removes_one_thing_from_the_recipe(monkeypatch):
    """The ablations behind notebook 11's three-seed tables: the recipe with one setting changed,
    scored like the recipe; a name it does not know is refused by name."""
    from dataclasses import replace
    monkeypatch.setenv("GANCOURSE_QUICK", "1")
    trained = []
    real_train = C.train
    monkeypatch.setattr(C, "train", lambda cfg, *a, **k: (trained.append(cfg), real_train(cfg, *a, **k))[1])
    recipe = C.shapes_config(seed=1, size=32, lambda_id=0.5, steps=2)       # what the recipe trains
    for name, changed in (("recipe", {}), ("no pool", {"pool_size": 0}), ("no cycle", {"lambda_cyc": 0.0})):
        out = C.ablation(name, seed=1, steps=2)
        assert trained[-1] == replace(recipe, **changed), name
        assert {"domain_acc_XtoY", "iou_XtoY", "color_kept_XtoY", "cycle_l1_X"} <= set(out)
    # the recipe's own data: the same images the recipe's run() draws
    (X, _), (X_test, _) = C.shapes_domains(32)
    assert len(X) == 256 and len(X_test) == 64
    with pytest.raises(ValueError, match="name: unknown value 'no identity'"):
        C.ablation("no identity")
    with pytest.raises(TypeError, match="seed"):
        C.ablation("recipe", seed="0")


def test_the_recipe_trains_on_unpaired_folders_and_scores_the_cycle(tmp_path):
    import numpy as np
    from PIL import Image

    from gancourse import recipes

    for k, side in enumerate(("trainA", "trainB")):
        (tmp_path / "data" / side).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(np.full((20, 20, 3), 90 * k + 30 * i, dtype=np.uint8)).save(tmp_path / "data" / side / f"{i}.png")
    args = recipes.build_parser().parse_args(["cyclegan", "--data", str(tmp_path / "data"), "--image-size", "32",
                                              "--steps", "2", "--batch-size", "2", "--device", "cpu",
                                              "--out", str(tmp_path / "out"), "--no-progress"])
    result = C.RECIPE(args)
    assert set(result) == {"cycle_l1_X", "cycle_l1_Y", "variant"} and result["variant"] == "identity"
