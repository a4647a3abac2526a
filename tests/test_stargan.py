"""StarGAN: label codes and the mask vector, label concatenation and padding, D's class head and the
active-slice loss, the paper's settings, the update schedule, two datasets, shipped models, bad input."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gancourse import recipes
from gancourse.data import shapes as S
from gancourse.models import stargan as SG
from gancourse.nn.resnet import ResnetGenerator



def tiny_cfg(**kw):
    base = dict(size=16, ngf=4, n_blocks=1, ndf=4, d_layers=2, steps=10, batch_size=4)
    return SG.StarGANConfig(**(base | kw))


def batch(n=4, size=16, groups=(4, 3), seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 3, size, size, generator=g) * 2 - 1
    labels = torch.stack([torch.randint(0, k, (n,), generator=g) for k in groups], 1)
    return x, labels


# ---- label codes and the mask vector ------------------------------------------------------------

def test_label_code_concatenates_one_hots():
    code = SG.label_code(torch.tensor([[2, 0], [0, 2]]), (4, 3))
    assert code.tolist() == [[0, 0, 1, 0, 1, 0, 0], [1, 0, 0, 0, 0, 0, 1]]
    assert SG.label_code(torch.tensor([1, 0]), (2,)).tolist() == [[0, 1], [1, 0]]


def test_mask_vector_is_the_papers_layout():
    a = SG.mask_vector(torch.tensor([2]), 0, (4, 3))
    b = SG.mask_vector(torch.tensor([1]), 1, (4, 3))
    assert a.tolist() == [[0, 0, 1, 0, 0, 0, 0, 1, 0]]
    assert b.tolist() == [[0, 0, 0, 0, 0, 1, 0, 0, 1]]
    # a ready code (several attributes, or CelebA-style multi-hot) goes into its block unchanged
    code = torch.tensor([[1.0, 0.0, 1.0]])
    c = SG.mask_vector(code, 1, (2, 3, 5))
    assert c.tolist() == [[0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0]]
    # every row: exactly one mask bit, and zeros in the blocks of the other datasets
    labels = torch.randint(0, 3, (50,))
    m = SG.mask_vector(labels, 1, (4, 3))
    assert torch.equal(m[:, -2:], torch.tensor([[0.0, 1.0]]).expand(50, 2))
    assert m[:, :4].abs().sum() == 0 and torch.equal(m[:, 4:7].argmax(1), labels)


@pytest.mark.parametrize("args, err, match", [
    ((torch.tensor([4]), 0, (4, 3)), ValueError, r"classes in \[0, 3\]"),
    ((torch.tensor([0]), 2, (4, 3)), ValueError, "dataset"),
    ((torch.tensor([0]), True, (4, 3)), ValueError, "dataset"),
    ((torch.tensor([0]), 0, (4,)), ValueError, "at least two"),
    ((torch.zeros(1, 3), 0, (4, 3)), ValueError, r"\(N, 4\)"),
    ((torch.zeros(2, 2, dtype=torch.long), 0, (4, 3)), ValueError, "class indices"),
    (([0], 0, (4, 3)), TypeError, "torch.Tensor"),
])
def test_mask_vector_bad_input(args, err, match):
    with pytest.raises(err, match=match):
        SG.mask_vector(*args)


def test_label_code_bad_input():
    with pytest.raises(ValueError, match=r"shape \(N, 2\)"):
        SG.label_code(torch.zeros(3, 3, dtype=torch.long), (4, 3))
    with pytest.raises(TypeError, match="integer"):
        SG.label_code(torch.zeros(3, 2), (4, 3))
    with pytest.raises(ValueError, match="expected an int >= 2"):
        SG.label_code(torch.zeros(3, 1, dtype=torch.long), (1,))


# ---- G: the label as image channels, and why zero padding --------------------------------------

def test_generator_reads_the_label_only_with_zero_padding():
    """Reflection padding + instance norm erase a constant input channel exactly (the reference's note)."""
    torch.manual_seed(0)
    x = torch.randn(2, 3, 16, 16)
    c1, c2 = torch.tensor([[1.0, 0.0]] * 2), torch.tensor([[0.0, 1.0]] * 2)
    replicate = lambda c: c.view(2, 2, 1, 1).expand(-1, -1, 16, 16)
    for padding, differs in (("reflect", False), ("zero", True)):
        net = ResnetGenerator(5, 3, base=8, n_blocks=1, padding=padding)
        gap = (net(torch.cat([x, replicate(c1)], 1)) - net(torch.cat([x, replicate(c2)], 1))).abs().max()
        assert (gap > 1e-3) == differs, f"{padding}: max difference {gap:.2e}"
    G = SG.StarGenerator(2, base=8, n_blocks=1)
    assert G.net.padding == "zero"
    assert (G(x, c1) - G(x, c2)).abs().max() > 1e-3
    assert torch.allclose(G(x, c1), G.net(torch.cat([x, replicate(c1)], 1)))


def test_discriminator_has_a_class_head_of_all_datasets_and_no_normalisation():
    cfg = tiny_cfg(datasets=((4,), (3,)), names=(("color",), ("shape",)))
    assert (cfg.c_dim, cfg.code_dim) == (7, 9)
    D = SG.build_discriminator(cfg)
    scores, logits = D(torch.randn(2, 3, 16, 16))
    assert scores.shape[:2] == (2, 1) and logits.shape == (2, 7)
    assert not any("Norm" in type(m).__name__ for m in D.modules())
    assert SG.build_generator(cfg).code_dim == 9
    single = tiny_cfg()
    assert (single.c_dim, single.code_dim) == (7, 7)        # one dataset: no mask vector


def test_paper_settings_are_the_defaults():
    cfg = SG.StarGANConfig()
    assert (cfg.lambda_cls, cfg.lambda_rec, cfg.lambda_gp, cfg.n_critic) == (1.0, 10.0, 10.0, 5)
    assert (cfg.g_lr, cfg.d_lr, cfg.beta1, cfg.beta2) == (1e-4, 1e-4, 0.5, 0.999)
    model = SG.StarGAN(tiny_cfg())
    for opt in (model.opt_G, model.opt_D):
        assert opt.defaults["lr"] == 1e-4 and opt.defaults["betas"] == (0.5, 0.999)


def test_classification_loss_reads_only_the_active_datasets_block():
    model = SG.StarGAN(tiny_cfg(datasets=((4,), (2, 3)), names=(("color",), ("fill", "shape"))))
    logits = torch.randn(5, 9, requires_grad=True)
    labels = torch.stack([torch.randint(0, 2, (5,)), torch.randint(0, 3, (5,))], 1)
    loss = model.classification_loss(logits, labels, dataset=1)
    expected = F.cross_entropy(logits[:, 4:6], labels[:, 0]) + F.cross_entropy(logits[:, 6:9], labels[:, 1])
    assert torch.allclose(loss, expected)
    loss.backward()
    assert logits.grad[:, :4].abs().sum() == 0 and logits.grad[:, 4:].abs().sum() > 0
    # the code of dataset 1 has zeros for dataset 0 and the mask bit of dataset 1
    code = model.code(labels, 1)
    assert code.shape == (5, 11) and code[:, :4].abs().sum() == 0 and code[:, -2:].tolist() == [[0, 1]] * 5


def test_losses_of_D_and_G_are_the_papers():
    torch.manual_seed(0)
    model = SG.StarGAN(tiny_cfg())
    x, labels = batch()
    model.set_input(x, labels)
    assert sorted(map(tuple, model.label_trg.tolist())) == sorted(map(tuple, labels.tolist()))   # shuffled labels
    out = model.backward_D()
    with torch.no_grad():
        src_real, cls_real = model.D(x)
        src_fake, _ = model.D(model.G(x, model.c_trg))
        cls = F.cross_entropy(cls_real[:, :4], labels[:, 0]) + F.cross_entropy(cls_real[:, 4:], labels[:, 1])
    assert torch.allclose(out["D_adv"], src_fake.mean() - src_real.mean(), atol=1e-5)
    assert torch.allclose(out["D_cls"], cls, atol=1e-5) and out["D_gp"] >= 0
    out = model.backward_G()
    with torch.no_grad():
        fake = model.G(x, model.c_trg)
        rec = (model.G(fake, model.c_org) - x).abs().mean()
    assert torch.allclose(out["G_rec"], rec, atol=1e-5)


def test_identity_term_is_off_by_default_and_adds_the_copy_error():
    torch.manual_seed(0)
    x, labels = batch()
    model = SG.StarGAN(tiny_cfg())
    model.set_input(x, labels)
    assert "G_id" not in model.backward_G()            # StarGAN has no identity term
    model = SG.StarGAN(tiny_cfg(lambda_id=2.0))
    model.set_input(x, labels)
    out = model.backward_G()
    with torch.no_grad():
        idt = (model.G(x, model.c_org) - x).abs().mean()
    assert torch.allclose(out["G_id"], idt, atol=1e-5)
    # and the term is in what G is trained on: G's gradients are those of the sum with λ_id = 2
    grads = [p.grad.clone() for p in model.G.parameters()]
    model.G.zero_grad(set_to_none=True)
    fake = model.G(x, model.c_trg)
    src, cls_logits = model.D(fake)
    total = (-src.mean() + model.classification_loss(cls_logits, model.label_trg)
             + 10 * (model.G(fake, model.c_org) - x).abs().mean() + 2.0 * (model.G(x, model.c_org) - x).abs().mean())
    total.backward()
    assert all(torch.allclose(a, p.grad, atol=1e-6) for a, p in zip(grads, model.G.parameters()))
    with pytest.raises(ValueError, match="lambda_id"):
        SG.StarGANConfig(lambda_id=-1)


def test_instance_noise_reaches_every_image_D_sees_and_nothing_else():
    x, labels = batch(n=4, size=16)
    model = SG.StarGAN(tiny_cfg())
    assert model.seen_by_D(x) is x                     # off by default: the paper's D sees clean images
    model = SG.StarGAN(tiny_cfg(d_noise=0.5))
    big = torch.zeros(8, 3, 32, 32)
    noise = model.seen_by_D(big)
    assert abs(float(noise.std()) - 0.5) < 0.02 and abs(float(noise.mean())) < 0.02
    assert not torch.equal(noise, model.seen_by_D(big))  # fresh noise on every call
    seen = []
    model.D.register_forward_pre_hook(lambda module, args: seen.append(args[0].detach().clone()))
    model.set_input(x, labels)
    model.backward_D()
    with torch.no_grad():
        fake = model.G(x, model.c_trg)
    real_in, fake_in = seen[0], seen[1]
    for shown, clean in ((real_in, x), (fake_in, fake)):
        assert 0.3 < float((shown - clean).std()) < 0.7
    # the gradient penalty's points lie on the segments between the *noisy* real and fake D was shown
    mixed = seen[2]
    alpha = ((mixed - fake_in).flatten(1) * (real_in - fake_in).flatten(1)).sum(1) / \
        (real_in - fake_in).flatten(1).pow(2).sum(1)
    assert torch.allclose(mixed, fake_in + alpha.view(-1, 1, 1, 1) * (real_in - fake_in), atol=1e-5)
    seen.clear()
    g_inputs = []
    model.G.register_forward_pre_hook(lambda module, args: g_inputs.append(args[0].detach().clone()))
    model.backward_G()
    assert 0.3 < float((seen[0] - fake).std()) < 0.7    # G is judged through the same noise
    assert len(seen) == 1                               # one D call in G's step: the fake, noisy
    # G's own inputs stay clean: the reconstruction G(G(x, c), c') reads the noiseless fake
    assert torch.equal(g_inputs[0], x) and torch.allclose(g_inputs[1], fake, atol=1e-6)
    with pytest.raises(ValueError, match="d_noise"):
        SG.StarGANConfig(d_noise=-0.1)


def test_D_every_step_G_every_n_critic_steps():
    torch.manual_seed(0)
    model = SG.StarGAN(tiny_cfg())
    x, labels = batch()
    g0 = [p.detach().clone() for p in model.G.parameters()]
    for step in range(5):
        d_before = [p.detach().clone() for p in model.D.parameters()]
        model.set_input(x, labels)
        out = model.optimize_parameters(step)
        assert any(not torch.equal(p, q) for p, q in zip(model.D.parameters(), d_before))
        g_moved = any(not torch.equal(p, q) for p, q in zip(model.G.parameters(), g0))
        assert g_moved == (step == 4) and ("G_rec" in out) == (step == 4)


def test_schedules_decay_in_the_second_half():
    model = SG.StarGAN(tiny_cfg(steps=10, n_critic=2))
    x, labels = batch()
    lr_d, lr_g = [], []
    for step in range(10):
        lr_d.append(model.opt_D.param_groups[0]["lr"])
        lr_g.append(model.opt_G.param_groups[0]["lr"])
        model.set_input(x, labels)
        model.optimize_parameters(step)          # the schedules step with their optimizers
    assert lr_d[:5] == [1e-4] * 5 and lr_d[5:] == pytest.approx([1e-4 * k / 6 for k in (5, 4, 3, 2, 1)])
    # G is updated at steps 1, 3, 5, 7, 9 and uses D's factor at those steps
    updates = [1, 3, 5, 7, 9]
    assert [lr_g[s] for s in updates] == pytest.approx([lr_d[s] for s in updates])
    # two datasets: two updates per iteration, both at the iteration's rate
    two = SG.StarGAN(tiny_cfg(steps=10, n_critic=2, datasets=((4,), (3,)), names=(("color",), ("shape",))))
    seen_d, seen_g = [], []
    for step in range(10):
        for k, (xb, lb) in enumerate((batch(groups=(4,), seed=1), batch(groups=(3,), seed=2))):
            seen_d.append(two.opt_D.param_groups[0]["lr"])
            if (step + 1) % 2 == 0:
                seen_g.append(two.opt_G.param_groups[0]["lr"])
            two.set_input(xb, lb, dataset=k)
            two.optimize_parameters(step)
    assert seen_d == pytest.approx([lr for lr in lr_d for _ in range(2)])
    assert seen_g == pytest.approx([lr_g[s] for s in updates for _ in range(2)])


def test_two_datasets_train_in_one_model():
    cfg = tiny_cfg(steps=5, datasets=((4,), (3,)), names=(("color",), ("shape",)))
    data = [batch(8, groups=(4,), seed=1), batch(8, groups=(3,), seed=2)]
    model, history = SG.train(cfg, data, progress=False, log_every=5)
    assert {"D_cls_0", "D_cls_1", "G_rec_0", "G_rec_1"} <= set(history)
    with pytest.raises(ValueError, match="data"):
        SG.train(cfg, data[:1], progress=False)


def test_stargan_datasets_are_labelled_with_the_named_attributes():
    (data,), (ds,) = S.stargan_datasets("single", 20, split="test")
    assert torch.equal(data[1], torch.stack([ds.attribute("color"), ds.attribute("background")], 1))
    assert (ds.attribute("fill") == 0).all()
    pairs, (a, b) = S.stargan_datasets("mask", 20, split="test")
    assert torch.equal(pairs[0][1][:, 0], a.attribute("color")) and torch.equal(pairs[1][1][:, 0], b.attribute("background"))
    assert (a.attribute("fill") == 0).all() and (b.attribute("fill") == 1).all()
    (data,), (ds,) = S.stargan_datasets("shape", 20, split="test")
    assert torch.equal(data[1], torch.stack([ds.attribute("shape"), ds.attribute("color")], 1))


def test_the_shape_recipe_builds_shape_by_colour_with_its_faster_noisy_D_and_ships_D(tmp_path, monkeypatch):
    import shutil
    from gancourse import pretrained
    data = tmp_path / "data"          # a copy of data/ with the classifier the recipe scores with
    data.mkdir()
    for name in ("MANIFEST.json", pretrained.manifest()["shapes-classifier"]["file"]):
        shutil.copy(pretrained.data_dir() / name, data / name)
    monkeypatch.setenv("GANCOURSE_QUICK", "1")
    monkeypatch.setenv(pretrained.DATA_ENV, str(data))
    assert recipes.main(["stargan-shape", "--steps", "2", "--no-progress", "--out", str(tmp_path / "run"),
                         "--publish"]) == 0
    state = torch.load(next((tmp_path / "run").glob("ckpt_*.pt")), weights_only=True)
    cfg = SG.StarGANConfig(**state["config"])
    assert cfg.datasets == ((3, 4),) and cfg.names == (("shape", "color"),)
    assert (cfg.d_lr, cfg.g_lr, cfg.d_noise, cfg.batch_size, cfg.steps) == (3e-4, 3e-4, 0.5, 16, 2)
    # the published file keeps the training D beside G: the same weights as the last checkpoint's D
    D, published_cfg = SG.load_pretrained_discriminator("shape")
    assert published_cfg == cfg and not D.training
    assert all(torch.equal(v, state["modules"]["D"][k]) for k, v in D.state_dict().items())
    assert pretrained.manifest()["stargan-shapes-shape"]["command"] == \
        "python -m gancourse.train stargan-shape --steps 2 --publish"


def test_the_models_without_a_shipped_D_say_so():
    with pytest.raises(ValueError, match="variant: 'single' ships its G only"):
        SG.load_pretrained_discriminator("single")
    with pytest.raises(ValueError, match="variant"):
        SG.load_pretrained_discriminator("double")


def test_translate_with_batch_stats_keeps_the_order_and_leaves_G_alone():
    torch.manual_seed(0)
    cfg = tiny_cfg(norm="batch")
    G = SG.build_generator(cfg).eval()
    x, labels = batch(n=10)
    c = SG.code_for(cfg, labels)
    before = {k: v.clone() for k, v in G.state_dict().items()}
    out = SG.translate(G, x, c, batch_size=10, batch_stats=True)
    assert all(torch.equal(before[k], v) for k, v in G.state_dict().items()) and not G.training
    with torch.no_grad():
        direct = G.train()(x, c)             # one batch of all 10: the same statistics, the input's order
    assert torch.allclose(out, direct, atol=1e-5)
    with pytest.raises(ValueError, match="batch_size"):
        SG.translate(G, x, c, batch_size=1, batch_stats=True)
    with pytest.raises(TypeError, match="batch_stats"):
        SG.translate(G, x, c, batch_stats="yes")


def test_evaluate_shapes_translates_to_every_target():
    from gancourse.judges.shapes import AttributeClassifier
    torch.manual_seed(0)
    cfg = tiny_cfg(size=32)
    G = SG.build_generator(cfg)
    test = S.Shapes(6, split="test", fixed={"fill": "solid"})
    out = SG.evaluate_shapes(G, cfg, test, classifier=AttributeClassifier())
    assert len(out["acc_color"]) == 4 and len(out["acc_background"]) == 3 and out["rec_l1"] > 0
    assert 0 <= out["kept_shape"] <= 1 and 0 <= out["iou"] <= 1
    assert out["acc_color_min"] == min(out["acc_color"])
    # kept_* only for the attributes no target names: colour and background are targets here
    assert "kept_color" not in out and "kept_background" not in out


def test_kept_color_is_measured_where_colour_is_not_a_target():
    """The two-dataset model's background translations (dataset B's labels) must keep the colour:
    a G that copies its input keeps exactly what the classifier reads right on the real images."""
    from gancourse.judges.shapes import attribute_classifier

    class Copy(SG.StarGenerator):
        def forward(self, x, c):
            return x

    cfg = SG.shapes_config(datasets=((4,), (3,)), names=S.STARGAN_LABELS["mask"], ngf=4, n_blocks=1)
    _, (_, test) = S.stargan_datasets("mask", 30, split="test")
    clf = attribute_classifier()
    out = SG.evaluate_shapes(Copy(cfg.code_dim, base=4, n_blocks=1), cfg, test, dataset=1, classifier=clf)
    real = clf.predict(test.images)[:, S.ATTRIBUTES.index("color")] == test.attribute("color")
    assert out["kept_color"] == round(float(real.float().mean()), 4) > 0.9
    assert "kept_background" not in out


def test_kept_background_is_the_share_read_as_the_inputs_background():
    """A G that copies its input keeps everything: its kept_background is exactly the classifier's
    background accuracy on the real images; a G that swaps two tints loses those images."""
    from gancourse.judges.shapes import attribute_classifier

    class Copy(SG.StarGenerator):
        def forward(self, x, c):
            return x

    class SwapCreamSky(SG.StarGenerator):          # cream <-> sky, as five runs of notebook 12's table did
        def forward(self, x, c):
            tints = S.BACKGROUNDS * 2 - 1                                # in [-1, 1], like the images
            corner = x[:, :, :4, :4].mean((2, 3))                        # (N, 3): the tint, roughly
            tint = torch.cdist(corner, tints).argmin(1)                  # nearest of grey, cream, sky
            swap = torch.tensor([0, 2, 1])[tint]
            return x + (tints[swap] - tints[tint]).view(-1, 3, 1, 1)

    cfg = SG.shapes_config(datasets=((3, 4),), names=(("shape", "color"),), ngf=4, n_blocks=1)
    _, (test,) = S.stargan_datasets("shape", 30, split="test")
    clf = attribute_classifier()
    real = clf.predict(test.images)[:, S.ATTRIBUTES.index("background")] == test.attribute("background")
    kept = SG.evaluate_shapes(Copy(cfg.code_dim, base=4, n_blocks=1), cfg, test, classifier=clf)["kept_background"]
    assert kept == round(float(real.float().mean()), 4) and kept > 0.9
    swapped = SG.evaluate_shapes(SwapCreamSky(cfg.code_dim, base=4, n_blocks=1), cfg, test, classifier=clf)
    grey = float((test.attribute("background") == 0).float().mean())
    assert swapped["kept_background"] <= grey + 0.05, (swapped, grey)


def test_recipes_are_registered():
    assert {"stargan", "stargan-mask", "stargan-shape"} <= set(recipes.RECIPES)


def test_config_and_model_bad_input():
    with pytest.raises(TypeError, match="datasets"):
        SG.StarGANConfig(datasets=(4, 3))
    with pytest.raises(ValueError, match="names"):
        SG.StarGANConfig(datasets=((4, 3),), names=(("color",),))
    with pytest.raises(ValueError, match="lambda_gp"):
        SG.StarGANConfig(lambda_gp=-1)
    with pytest.raises(ValueError, match="d_layers"):
        SG.StarGANConfig(size=16, d_layers=4)
    with pytest.raises(ValueError, match="d_layers"):   # 2x2 features: too small for D's 4x4 stride-1 layers
        SG.StarGANConfig(size=16, d_layers=3)
    model = SG.StarGAN(tiny_cfg())
    x, labels = batch()
    with pytest.raises(ValueError, match="labels: expected shape"):
        model.set_input(x, labels[:, :1])
    with pytest.raises(ValueError, match="dataset"):
        model.code(labels, 1)
    with pytest.raises(ValueError, match="last dimension"):
        model.G(x, torch.zeros(4, 5))
    with pytest.raises(ValueError, match="one code per image"):
        model.G(x, torch.zeros(3, 7))
    with pytest.raises(TypeError, match="StarGenerator"):
        SG.translate(torch.nn.Identity(), x, torch.zeros(4, 7))
    with pytest.raises(ValueError, match="variant"):
        SG.load_pretrained("double")


def test_shipped_model_changes_what_it_is_asked_and_keeps_the_shape():
    """Issues 7 and 21: every colour and every background reached by >= 90% of the translations, and
    what no target names kept: shape read as the input's >= 90%, outline IoU >= 0.8, on the 300 test
    images of the manifest's numbers; the manifest records the same for the two reruns of the command.
    Sharpness: at least 70% of the real images' high-frequency energy on every seed, above every seed
    of the default-width G. The manifest also records the runs notebook 12 compares: the paper's
    reconstruction weight (10), the previous recipe, under 70% on one seed; the paper's 6 residual
    blocks, under 70% on one seed again; half the weight (5), sharper on every seed but keeping the
    shape in less than 90% on one."""
    from gancourse import pretrained
    G, cfg = SG.load_pretrained("single")
    assert cfg.names == (("color", "background"),) and cfg.steps == 20000 and cfg.lambda_rec == 7.5
    _, (test,) = S.stargan_datasets("single", 300, split="test")
    out = SG.evaluate_shapes(G, cfg, test)
    meta = pretrained.manifest()["stargan-shapes"]["metrics"]
    assert {k: out[k] for k in ("acc_color_min", "kept_shape", "iou")} == \
        {k: meta[k] for k in ("acc_color_min", "kept_shape", "iou")}
    for r in (out, *meta["reruns"].values()):
        assert r["acc_color_min"] >= 0.9 and r["acc_background_min"] >= 0.9, r
        assert r["kept_shape"] >= 0.9 and r["iou"] >= 0.8, r
        assert r["hf_energy"] >= 0.7 * r["real_hf_energy"], r
    assert sorted(meta["reruns"]) == ["1", "2"]
    for key in ("rec10", "blocks6"):
        runs = meta[key]
        assert sorted(runs) == ["0", "1", "2"] and min(r["hf_energy"] / r["real_hf_energy"] for r in runs.values()) < 0.7
        assert min(r["kept_shape"] for r in runs.values()) >= 0.9
    rec5 = meta["rec5"]
    assert sorted(rec5) == ["0", "1", "2"] and min(r["hf_energy"] / r["real_hf_energy"] for r in rec5.values()) >= 0.8
    assert min(r["kept_shape"] for r in rec5.values()) < 0.9 < max(r["kept_shape"] for r in rec5.values())
    shipped = (out, *meta["reruns"].values())
    assert min(r["kept_shape"] for r in rec5.values()) < min(r["kept_shape"] for r in shipped)    # the trade
    assert max(r["hf_energy"] for r in meta["rec10"].values()) < max(r["hf_energy"] for r in shipped)
    narrow = max(r["hf_energy"] for r in meta["ngf16"].values())
    assert min(r["hf_energy"] for r in (out, *meta["reruns"].values())) > narrow


def test_shipped_mask_vector_model_translates_both_datasets_and_keeps_the_rest():
    """Within and across the two datasets every target value >= 90%; shape kept >= 90%, IoU >= 0.8;
    on colour translations the background (no label of A names it) kept >= 90%, on background
    translations the colour. Without the identity term the model exchanged cream and sky (31% kept,
    recorded in the manifest)."""
    from gancourse import pretrained
    G, cfg = SG.load_pretrained("mask")
    assert cfg.datasets == ((4,), (3,)) and cfg.code_dim == 9 and cfg.lambda_id == 5.0
    _, tests = S.stargan_datasets("mask", 300, split="test")
    for k, d in ((0, 0), (1, 1), (0, 1), (1, 0)):
        out = SG.evaluate_shapes(G, cfg, tests[k], dataset=d, batch_stats=True)
        assert out[f"acc_{cfg.names[d][0]}_min"] >= 0.9, (k, d, out)
        assert out["kept_shape"] >= 0.9 and out["iou"] >= 0.8, (k, d, out)
        kept = "kept_background" if d == 0 else "kept_color"      # what the other dataset labels
        assert out[kept] >= 0.9, (k, d, out)
    meta = pretrained.manifest()["stargan-shapes-mask"]["metrics"]
    assert meta["without_identity"]["kept_background_0"] < 0.5
    for r in (meta, *meta["reruns"].values()):
        assert r["kept_background_0"] >= 0.9 and r["kept_shape_0"] >= 0.9 and r["kept_shape_1"] >= 0.9, r
        assert r["kept_color_1"] >= 0.9 and r["cross_kept_color_0to1"] >= 0.9, r


def test_shipped_shape_model_meets_the_issue_targets_on_the_manifests_test_set():
    """Done-when of issue 7 for colour x shape: every shape and every colour >= 90% of the
    translations, on the 300 test images the manifest's numbers come from (on 60 the squares read
    89%, and the recipe with seed 1 stopped at 77% on squares: notebook 12 says so); the background,
    which no label names, kept."""
    G, cfg = SG.load_pretrained("shape")
    assert cfg.names == (("shape", "color"),)
    _, (test,) = S.stargan_datasets("shape", 300, split="test")
    out = SG.evaluate_shapes(G, cfg, test)
    assert out["acc_color_min"] >= 0.9 and out["acc_shape_min"] >= 0.9 and out["kept_background"] >= 0.9, out


def test_shipped_shape_models_D_reads_real_shapes():
    """The D shipped beside G (notebook 12 asks its classifier about G's translations) is the trained
    one: its class head reads the shape and colour of real test images."""
    D, cfg = SG.load_pretrained_discriminator("shape")
    _, (test,) = S.stargan_datasets("shape", 120, split="test")
    with torch.no_grad():
        _, logits = D(test.images)
    assert logits.shape == (120, cfg.c_dim) == (120, 7)
    assert (logits[:, :3].argmax(1) == test.attribute("shape")).float().mean() >= 0.9
    assert (logits[:, 3:].argmax(1) == test.attribute("color")).float().mean() >= 0.9


def test_the_recipe_trains_on_a_folder_per_domain_and_never_publishes_it(tmp_path):
    from PIL import Image

    for k, name in enumerate(("day", "dusk", "night")):
        (tmp_path / "data" / name).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(np.full((12, 12, 3), 60 * k + 10 * i, dtype=np.uint8)).save(tmp_path / "data" / name / f"{i}.png")
    common = ["--data", str(tmp_path / "data"), "--image-size", "24", "--steps", "2", "--batch-size", "2",
              "--no-progress", "--device", "cpu"]
    assert recipes.main(["stargan", *common, "--out", str(tmp_path / "out"), "--checkpoint-every", "2"]) == 0
    state = torch.load(sorted((tmp_path / "out").glob("ckpt_*.pt"))[-1], weights_only=True)
    assert [list(g) for g in state["config"]["datasets"]] == [[3]]   # one group: the three folders
    with pytest.raises(SystemExit, match="drop --data"):
        recipes.main(["stargan", *common, "--out", str(tmp_path / "b"), "--publish"])
    with pytest.raises(SystemExit, match="shapes only"):
        recipes.main(["stargan-mask", *common, "--out", str(tmp_path / "c")])
