"""Defect-GAN: composition, control maps, the generator's outputs, noise, the update schedule, the
losses and their paper weights, the measures, bad input."""
import pytest
import torch

from gancourse import judges
from gancourse.data.defects import Defects
from gancourse.models import defectgan as DG


def tiny_cfg(**kw):
    base = dict(size=16, ngf=4, n_down=2, n_res=1, spade_hidden=4, ndf=4, d_layers=2, steps=10, batch_size=4,
                n_critic=2)
    return DG.DefectGANConfig(**(base | kw))


def images(n=4, size=16, seed=0):
    return torch.rand(n, 1, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_paper_weights_and_optimiser_are_the_defaults():
    cfg = DG.DefectGANConfig()
    assert (cfg.lambda_cls_real, cfg.lambda_cls_fake, cfg.lambda_rec, cfg.lambda_sd_cyc, cfg.lambda_sd_con) \
        == (2.0, 5.0, 5.0, 5.0, 1.0)
    assert (cfg.lambda_gp, cfg.n_critic, cfg.lr, cfg.lr_end, cfg.beta1, cfg.beta2) == (10.0, 5, 2e-4, 1e-6, 0.5, 0.999)


def test_compose_is_the_layer_wise_composition():
    n, f = images(2), images(2, seed=1)
    m = torch.rand(2, 1, 16, 16)
    assert torch.allclose(DG.compose(n, f, m), n * (1 - m) + f * m)
    assert torch.equal(DG.compose(n, f, torch.zeros(2, 1, 16, 16)), n)
    assert torch.equal(DG.compose(n, f, torch.ones(2, 1, 16, 16)), f)
    with pytest.raises(ValueError, match="mask"):
        DG.compose(n, f, torch.rand(2, 2, 16, 16))


def test_control_map_constant_in_training_spatial_at_inference():
    A = DG.control_map(torch.tensor([0, 3]), 4, 8)
    assert A.shape == (2, 4, 8, 8) and torch.equal(A[1, :, 5, 2], torch.tensor([0.0, 0, 0, 1]))
    assert torch.equal(A.sum(1), torch.ones(2, 8, 8))
    layout = torch.zeros(1, 8, 8, dtype=torch.long)
    layout[0, 2:4, 5:7] = 2
    S = DG.control_map(layout, 4)
    assert S[0, 2, 3, 6] == 1 and S[0, 0, 3, 6] == 0 and S[0, 0, 0, 0] == 1
    with pytest.raises(ValueError, match="size"):
        DG.control_map(torch.tensor([1]), 4)
    with pytest.raises(ValueError, match="domain map"):
        DG.control_map(layout, 4, size=16)
    with pytest.raises(TypeError):
        DG.control_map([1, 2], 4, 8)


def test_generator_returns_the_composition_of_its_foreground_and_mask():
    torch.manual_seed(0)
    G = DG.build_generator(tiny_cfg())
    x = images(3)
    out, f, m = G(x, DG.control_map(torch.tensor([1, 2, 3]), 4, 16))
    assert out.shape == f.shape == x.shape and m.shape == (3, 1, 16, 16)
    assert m.min() >= 0 and m.max() <= 1 and f.abs().max() <= 1
    assert torch.allclose(out, x * (1 - m) + f * m, atol=1e-6)
    assert 0.05 < float(m.detach().mean()) < 0.25, "the mask starts small (bias -2: sigmoid ~ 0.12)"


def test_the_control_map_changes_the_output_and_noise_gives_variation():
    torch.manual_seed(0)
    G = DG.build_generator(tiny_cfg())
    for inj in [*G.noises, G.final_noise]:
        torch.nn.init.constant_(inj.weight, 0.5)          # untrained noise weights are zero
    x = images(2)
    A1, A3 = DG.control_map(torch.tensor([1, 1]), 4, 16), DG.control_map(torch.tensor([3, 3]), 4, 16)
    fixed = [torch.randn(s, generator=torch.Generator().manual_seed(1)) for s in G.noise_shapes(2, 16)]
    assert (G(x, A1, fixed)[0] - G(x, A3, fixed)[0]).abs().mean() > 1e-4
    assert torch.equal(G(x, A1, fixed)[0], G(x, A1, fixed)[0])
    other = [torch.randn(s, generator=torch.Generator().manual_seed(2)) for s in G.noise_shapes(2, 16)]
    assert (G(x, A1, fixed)[0] - G(x, A1, other)[0]).abs().mean() > 1e-4
    with pytest.raises(ValueError, match="noise"):
        G(x, A1, fixed[:1])


def test_apply_with_a_seed_is_reproducible_and_accepts_spatial_maps():
    torch.manual_seed(0)
    G = DG.build_generator(tiny_cfg()).eval()
    x = images(3)
    a = DG.apply(G, x, torch.tensor([1, 2, 3]), seed=5, batch_size=2)
    b = DG.apply(G, x, torch.tensor([1, 2, 3]), seed=5)
    assert all(torch.allclose(p, q, atol=1e-6) for p, q in zip(a, b))
    layout = torch.zeros(3, 16, 16, dtype=torch.long)
    layout[:, 4:8, 4:8] = 3
    assert DG.apply(G, x, layout, seed=0)[0].shape == x.shape
    with pytest.raises(ValueError, match="domains"):
        DG.apply(G, x, torch.tensor([1, 2]))


def test_targets_deface_normal_images_and_restore_defect_images():
    labels = torch.tensor([0, 0, 0, 1, 2, 3] * 20)
    t = DG.targets_for(labels, 4, torch.Generator().manual_seed(0))
    assert (t[labels != 0] == 0).all()
    assert (t[labels == 0] >= 1).all() and set(t[labels == 0].tolist()) == {1, 2, 3}
    with pytest.raises(ValueError, match="labels"):
        DG.targets_for(torch.tensor([0, 4]), 4)


def test_D_updates_every_iteration_and_G_every_n_critic():
    torch.manual_seed(0)
    model = DG.DefectGAN(tiny_cfg(n_critic=3))
    x, labels = images(4), torch.tensor([0, 1, 0, 3])
    seen = []
    for step in range(6):
        g0 = [p.detach().clone() for p in model.G.parameters()]
        model.set_input(x, labels)
        out = model.optimize_parameters(step)
        g_moved = any(not torch.equal(p, q) for p, q in zip(model.G.parameters(), g0))
        seen.append(("G_adv" in out, g_moved))
        assert {"D_adv", "D_gp", "D_cls"} <= set(out)
    assert seen == [(False, False), (False, False), (True, True)] * 2
    assert set(out) >= {"G_adv", "G_cls", "G_rec", "G_sd_cyc", "G_sd_con"}
    assert all(p.requires_grad for p in model.D.parameters())


def test_generator_loss_is_the_weighted_sum_of_its_terms():
    torch.manual_seed(0)
    cfg = tiny_cfg()
    model = DG.DefectGAN(cfg)
    model.set_input(images(4), torch.tensor([0, 1, 2, 3]))
    captured = {}
    original = torch.Tensor.backward

    def spy(self, *a, **k):
        captured["total"] = float(self.detach())
        return original(self, *a, **k)

    torch.Tensor.backward = spy
    try:
        out = model.backward_G()
    finally:
        torch.Tensor.backward = original
    expected = (out["G_adv"] + cfg.lambda_cls_fake * out["G_cls"] + cfg.lambda_rec * out["G_rec"]
                + cfg.lambda_sd_cyc * out["G_sd_cyc"] + cfg.lambda_sd_con * out["G_sd_con"]
                + cfg.lambda_place * out["G_place"] + cfg.lambda_div * out["G_div"])
    assert captured["total"] == pytest.approx(float(expected.detach()), rel=1e-5)
    assert float(out["G_sd_con"].detach()) > 0 and float(out["G_div"].detach()) > 0


def test_random_regions_cover_a_share_of_the_image_and_vary():
    r = DG.random_regions(200, 32, torch.Generator().manual_seed(0))
    assert r.shape == (200, 32, 32) and r.dtype == torch.bool
    area = r.float().mean((1, 2))
    assert 0.1 < float(area.min()) and float(area.max()) < 0.45      # sides 0.4-0.65 of the image
    cover = r.float().mean(0)
    assert min(float(cover[:16, :16].mean()), float(cover[16:, 16:].mean()), float(cover[:16, 16:].mean())) > 0.1
    with pytest.raises(ValueError, match="side"):
        DG.random_regions(2, 32, side=(0.7, 0.4))


def test_spatial_targets_ask_for_a_defect_only_inside_the_region():
    model = DG.DefectGAN(tiny_cfg(spatial_share=1.0))
    labels = torch.tensor([0, 0, 1, 2])
    model.set_input(images(4), labels)
    A = model.A_trg
    assert torch.equal(A.sum(1), torch.ones(4, 16, 16))                          # one-hot per pixel
    for i in (0, 1):                                                             # defacements: a region
        asked = A[i, 1:].sum(0)
        assert 0 < float(asked.mean()) < 1
        assert torch.equal(A[i, model.label_trg[i]], asked)                      # of the target class
    assert torch.equal(A[2:, 0], torch.ones(2, 16, 16))                          # restorations: normal


def test_control_losses_place_and_diversity():
    torch.manual_seed(0)
    G = DG.build_generator(tiny_cfg())
    x = images(3)
    region = torch.zeros(3, 16, 16, dtype=torch.long)
    region[:, :8] = 1
    A = DG.control_map(region * 2, 4)
    place, div = DG.control_losses(G, x, A, torch.tensor([2, 2, 2]))
    assert 0 < float(place.detach()) < 1 and float(div.detach()) > 0
    place.backward()                                  # the placement term reaches G
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in G.parameters())
    zero_place, zero_div = DG.control_losses(G, x, A, torch.zeros(3, dtype=torch.long))
    assert float(zero_place.detach()) == 0 and float(zero_div.detach()) == 0         # restorations only: no term
    no_noise = DG.build_generator(tiny_cfg(noise=False))
    _, div_fixed = DG.control_losses(no_noise, x, A, torch.tensor([2, 2, 2]), diversity_target=0.05)
    assert float(div_fixed.detach()) == pytest.approx(0.05)                     # identical draws: the whole hinge
    _, div_met = DG.control_losses(G, x, A, torch.tensor([2, 2, 2]), diversity_target=0.0)
    assert float(div_met.detach()) == 0                                         # target reached: no push


def test_learning_rate_decays_linearly_to_lr_end():
    cfg = tiny_cfg(steps=10, n_critic=2, lr=1e-3, lr_end=1e-5)
    model = DG.DefectGAN(cfg)
    x, labels = images(4), torch.tensor([0, 1, 0, 2])
    for step in range(cfg.steps):
        model.set_input(x, labels)
        model.optimize_parameters(step)
    assert model.opt_D.param_groups[0]["lr"] == pytest.approx(1e-5, rel=1e-6)
    assert model.opt_G.param_groups[0]["lr"] == pytest.approx(1e-5, rel=1e-6)


def test_training_runs_and_rejects_missing_domains():
    x = images(8)
    labels = torch.tensor([0, 1, 2, 3] * 2)
    model, history = DG.train(tiny_cfg(steps=4), x, labels, progress=False)
    assert len(history["D_adv"]) >= 1
    with pytest.raises(ValueError, match="every domain"):
        DG.train(tiny_cfg(steps=1), x, torch.zeros(8, dtype=torch.long), progress=False)


def test_change_outside_measures_only_outside_the_region():
    before = torch.zeros(2, 1, 4, 4)
    after = before.clone()
    region = torch.zeros(2, 1, 4, 4, dtype=torch.bool)
    region[:, :, :2] = True
    after[region] = 1.0
    assert judges.defects.change_outside(before, after, region) == 0.0
    after[0, 0, 3, 3] = 0.5
    assert judges.defects.change_outside(before, after, region) == pytest.approx(0.5 / 16)
    with pytest.raises(TypeError, match="region"):
        judges.defects.change_outside(before, after, region.float())
    with pytest.raises(ValueError, match="every pixel"):
        judges.defects.change_outside(before, after, torch.ones_like(region))


def test_config_validation():
    with pytest.raises(ValueError, match="size"):
        DG.DefectGANConfig(size=18)
    with pytest.raises(ValueError, match="lr_end"):
        DG.DefectGANConfig(lr=1e-4, lr_end=1e-3)
    with pytest.raises(ValueError, match="d_layers"):
        DG.DefectGANConfig(size=8, n_down=1, d_layers=3)
    with pytest.raises(TypeError, match="noise"):
        DG.DefectGANConfig(noise=1)


def test_evaluate_reports_every_measure_in_range():
    from gancourse.data.defects import Defects
    from gancourse.judges.defects import DefectClassifier

    torch.manual_seed(0)
    G = DG.build_generator(tiny_cfg())
    scores = DG.evaluate(G, Defects(3, 16, "test"), classifier=DefectClassifier(width=4))
    assert set(scores) >= {"class_accuracy", "class_accuracy_per_class", "change_outside_mask", "change_all",
                           "mask_area", "restored_normal", "restore_l1_outside", "restore_l1_inside", "diversity",
                           "real_variation", "placement_inside", "placement_inside_uniform",
                           "placement_class_accuracy", "placement_region_area"}
    assert 0 <= scores["placement_inside"] <= 1 and 0 < scores["placement_region_area"] < 1
    assert scores["real_variation"] > 0.2             # two real defects on one crop differ where they lie
    assert 0 <= scores["class_accuracy"] <= 1 and len(scores["class_accuracy_per_class"]) == 3
    assert scores["change_all"] >= 0 and G.training, "G goes back to the mode it was in"
    with pytest.raises(TypeError, match="test"):
        DG.evaluate(G, images(2), classifier=DefectClassifier(width=4))


def test_evaluate_rejects_a_threshold_outside_0_1():
    from gancourse.data.defects import Defects
    from gancourse.judges.defects import DefectClassifier

    G = DG.build_generator(tiny_cfg())
    for bad in (0, 1.0, -0.2, True):
        with pytest.raises(ValueError, match="threshold"):
            DG.evaluate(G, Defects(1, 16, "test"), classifier=DefectClassifier(width=4), threshold=bad)


def test_shipped_model_meets_the_issue_targets():
    """Done-when of issue 8 on the shipped generator: >= 85% of synthesised defects read as the
    requested class by the judge, mean |change| outside the mask < 0.02 (also when the soft rim
    0.1 < m <= 0.5 counts as outside), measured on the held-out split as the manifest records."""
    from gancourse.data.defects import Defects

    G, cfg = DG.load_pretrained()
    assert cfg == DG.DefectGANConfig(steps=cfg.steps)       # the recipe's defaults rebuild it
    scores = DG.evaluate(G, Defects(100, cfg.size, "test"))
    assert scores["class_accuracy"] >= 0.85, scores
    assert scores["change_outside_mask"] < 0.02 and scores["change_outside_mask_50"] < 0.02, scores
    # issue 22: defects where the map asks (>= 80% of the mask's mass, read as asked >= 85%, over 300
    # held-out placements), and two noise draws at least half as different as two real defects
    assert scores["placement_inside"] >= 0.8 and scores["placement_class_accuracy"] >= 0.85, scores
    assert scores["placement_inside"] > scores["placement_inside_uniform"] + 0.2, scores
    assert scores["diversity"] >= 0.5 * scores["real_variation"], scores


def test_placement_scores_a_generator_that_paints_only_where_asked():
    """A stand-in G whose mask is exactly the requested region: all of its mass is inside."""
    from gancourse.judges.defects import DefectClassifier

    class Obedient(DG.DefectGenerator):
        def forward(self, x, A, noise=None):
            mask = 1 - A[:, :1]
            return DG.compose(x, torch.ones_like(x), mask), torch.ones_like(x), mask

    G = Obedient(DG.DefectGANConfig(channels=1, n_domains=4, ngf=4, n_res=0, spade_hidden=4))
    test = Defects(3, 16, "test")
    out = judges.defects.evaluate_synthesizer(lambda x, d, seed: DG.apply(G, x, d, seed=seed), test, 4,
                                              DefectClassifier(width=4), n_placements=40)
    assert out["placement_inside"] == pytest.approx(1.0)
    assert out["placement_inside_uniform"] == pytest.approx(out["placement_region_area"], rel=1e-5)


def test_noise_levels_limit_noise_to_the_coarsest_maps():
    torch.manual_seed(0)
    G = DG.build_generator(tiny_cfg(noise_levels=1)).eval()
    x, A = images(2), DG.control_map(torch.tensor([1, 2]), 4, 16)
    base = [torch.randn(s, generator=torch.Generator().manual_seed(1)) for s in G.noise_shapes(2, 16)]
    fine = base[:1] + [torch.randn_like(z) for z in base[1:]]
    coarse = [torch.randn_like(base[0])] + base[1:]
    with torch.no_grad():
        assert torch.equal(G(x, A, base)[0], G(x, A, fine)[0])            # finer levels: ignored
        assert not torch.equal(G(x, A, base)[0], G(x, A, coarse)[0])      # the coarsest: used
    with pytest.raises(ValueError, match="noise_levels"):
        DG.DefectGANConfig(noise_levels=4)
    with pytest.raises(TypeError, match="classifier"):
        judges.defects.evaluate_synthesizer(lambda x, d, seed: DG.apply(G, x, d, seed=seed), Defects(2, 16, "test"),
                                            4, classifier=object(), n_placements=4)


def test_the_recipe_trains_on_a_folder_with_good_and_defect_classes(tmp_path):
    import numpy as np
    from PIL import Image

    from gancourse import recipes

    for k, name in enumerate(("good", "scratch")):
        (tmp_path / "data" / name).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(np.full((20, 20, 3), 80 * k + 20 * i, dtype=np.uint8)).save(tmp_path / "data" / name / f"{i}.png")
    common = ["--data", str(tmp_path / "data"), "--image-size", "32", "--steps", "2", "--batch-size", "2",
              "--no-progress", "--device", "cpu", "--checkpoint-every", "2"]
    assert recipes.main(["defectgan", *common, "--out", str(tmp_path / "out")]) == 0
    state = torch.load(sorted((tmp_path / "out").glob("ckpt_*.pt"))[-1], weights_only=True)
    assert (state["config"]["channels"], state["config"]["n_domains"]) == (3, 2)
    with pytest.raises(SystemExit, match="drop --data"):
        recipes.main(["defectgan", *common, "--out", str(tmp_path / "b"), "--publish"])
