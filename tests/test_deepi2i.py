"""DeepI2I (notebook 15): the styled-digit target domain, the feature hierarchy, the adaptor injection,
the two training stages, transfer vs scratch initialisation, the measurements, bad input."""
import copy

import pytest
import torch

from gancourse.data.styled_digits import StyledDigits, background_level, stylize
from gancourse.models import cgan
from gancourse.models import deepi2i as D


def _source(size=16, width=8, seed=0):
    """A small untrained 'pretrained' GAN with the shapes of the real one."""
    torch.manual_seed(seed)
    cfg = cgan.CGANConfig(kind="acgan", code="one_hot", image_size=size, g_width=width, d_width=width, z_dim=8)
    return {"G": cgan.build_generator(cfg).eval(), "D": cgan.build_discriminator(cfg).eval(), "config": cfg}


# ---- target domain ----------------------------------------------------------------------------

def test_styled_digits_splits_sizes_ranges_and_determinism():
    few, rest = StyledDigits(16, "train"), StyledDigits(16, "test")
    assert len(few) == 200 and len(rest) == 159
    assert torch.equal(torch.bincount(few.labels, minlength=10), torch.full((10,), 20))
    assert few.images.shape == (200, 1, 16, 16) and few.images.min() >= -1 and few.images.max() <= 1
    again = StyledDigits(16, "train")
    assert torch.equal(few.images, again.images)
    assert not torch.equal(few.images, StyledDigits(16, "train", seed=1).images)
    assert set(few.params["thickness"].tolist()) <= {0, 1, 2}


def test_background_level_reads_the_drawn_background():
    few = StyledDigits(16, "train")
    err = (background_level(few.images) - few.params["background"]).abs()
    assert float(err.mean()) < 0.05
    assert float(background_level(-torch.ones(2, 1, 16, 16)).max()) == 0.0


def test_stylize_thickness_adds_ink_and_background_is_kept():
    ink = torch.zeros(2, 1, 32, 32)
    ink[:, :, 10:22, 15:17] = 1.0                           # a vertical bar
    out = stylize(ink, torch.tensor([0, 2]), torch.tensor([0.2, 0.2]), torch.zeros(2, 2, dtype=torch.long))
    assert float((out[1] > 0.5).sum()) > float((out[0] > 0.5).sum())      # dilation thickens the stroke
    assert abs(float(out[0, 0, 0, 0]) - 0.2) < 1e-6


@pytest.mark.parametrize("kwargs, error", [({"split": "all"}, ValueError), ({"per_class": 40}, ValueError),
                                           ({"per_class": 0}, ValueError), ({"size": 4}, ValueError),
                                           ({"seed": -1}, ValueError), ({"size": 16.0}, TypeError)])
def test_styled_digits_refuse_bad_arguments(kwargs, error):
    with pytest.raises(error):
        StyledDigits(**{"size": 16, **kwargs})


def test_stylize_and_background_level_refuse_bad_input():
    with pytest.raises(ValueError, match="ink"):
        stylize(torch.zeros(1, 1, 16, 16), torch.tensor([0]), torch.tensor([0.1]), torch.zeros(1, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="thickness"):
        stylize(torch.zeros(1, 1, 32, 32), torch.tensor([5]), torch.tensor([0.1]), torch.zeros(1, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="images"):
        background_level(torch.zeros(1, 3, 16, 16))


# ---- networks ----------------------------------------------------------------------------------

def test_trunk_features_and_generator_widths_line_up():
    src = _source()
    feats = D.trunk_features(src["D"].body, torch.zeros(2, 1, 16, 16))
    assert {s: tuple(f.shape) for s, f in feats.items()} == {8: (2, 8, 8, 8), 4: (2, 16, 4, 4)}
    assert D.generator_widths(src["G"]) == {4: 16, 8: 8}


def test_generate_without_injection_is_the_pretrained_generator_and_injection_changes_it():
    src = _source()
    z, y = torch.randn(3, 8), torch.tensor([0, 4, 9])
    with torch.no_grad():
        plain = src["G"](z, y)
        assert torch.equal(D.generate(src["G"], z, y), plain)
        zeros = {4: torch.zeros(3, 16, 4, 4), 8: torch.zeros(3, 8, 8, 8)}
        assert torch.equal(D.generate(src["G"], z, y, zeros, 0.1), plain)
        bumped = D.generate(src["G"], z, y, {8: torch.ones(3, 8, 8, 8)}, 0.5)
    assert not torch.allclose(bumped, plain)


def test_transfer_copies_the_source_and_scratch_does_not():
    src = _source(seed=123)
    t = D.DeepI2I(D.arm_config(True), src)
    s = D.DeepI2I(D.arm_config(False), src)
    for a, b in zip(t.G.state_dict().values(), src["G"].state_dict().values()):
        assert torch.equal(a, b)
    for a, b in zip(t.E.state_dict().values(), src["D"].body.state_dict().values()):
        assert torch.equal(a, b)
    assert not torch.equal(s.G.net[0].weight, src["G"].net[0].weight)
    assert t.G is not src["G"] and t.E is not src["D"].body           # copies: the source stays intact
    assert (t.cfg.feature_weight, s.cfg.feature_weight) == (1.0, 0.1)   # scratch keeps the reference's ω
    frozen = D.DeepI2I(D.DeepI2IConfig(transfer=True, lr_E=0.0), src)   # the reference code's frozen encoder
    assert not any(p.requires_grad for p in frozen.E.parameters()) and not frozen.E.training
    assert all(p.requires_grad for p in s.E.parameters())
    # the recipe's transfer arm: the encoder fine-tuned at its own, lower rate (G's optimiser, group 2)
    assert all(p.requires_grad for p in t.E.parameters())
    assert [g["lr"] for g in t.opt_G.param_groups] == [1e-4, 1e-5]
    assert [g["lr"] for g in s.opt_G.param_groups] == [1e-4, 1e-4]


def test_stage_one_moves_adaptor_and_D_only_then_stage_two_moves_G():
    src = _source()
    model = D.DeepI2I(D.arm_config(True, warmup_steps=1, batch_size=4), src)
    before = {k: copy.deepcopy(m.state_dict()) for k, m in model.modules().items()}
    x, y = torch.rand(4, 1, 16, 16) * 2 - 1, torch.randint(0, 10, (4,))
    assert model.stage == 1
    out = model.optimize_parameters(x, x, y, y)
    assert set(out) == {"D_adv", "D_cls", "G_adv", "G_cls", "structure", "rec"} and all(torch.isfinite(v) for v in out.values())

    def moved(key):
        return any(not torch.equal(a, b) for n, (a, b) in enumerate(zip(model.modules()[key].state_dict().values(),
                                                                       before[key].values()))
                   if a.is_floating_point() and "running" not in list(before[key])[n])

    assert moved("A") and moved("D") and not moved("G") and not moved("E")
    assert model.stage == 2
    model.optimize_parameters(x, x, y, y)
    assert moved("G") and moved("E")            # stage 2 fine-tunes the encoder too (lr_E > 0)
    frozen = D.DeepI2I(D.DeepI2IConfig(transfer=True, warmup_steps=0, batch_size=4, lr_E=0.0), src)
    e_before = copy.deepcopy(frozen.E.state_dict())
    frozen.optimize_parameters(x, x, y)
    assert all(torch.equal(a, b) for a, b in zip(frozen.E.state_dict().values(), e_before.values()))


def test_reconstruction_term_asks_for_the_input_back_when_sent_to_its_own_class():
    """lambda_rec > 0 adds |Φ(z, c_x, Λ(Υ(x))) - x|₁ to the translator's loss: with the learning
    rates at 0 the term is reported and equals the L1 distance of the own-class translation."""
    src = _source()
    cfg = D.DeepI2IConfig(transfer=True, warmup_steps=0, batch_size=4, lambda_rec=1.0)
    model = D.DeepI2I(cfg, src)
    x, y = torch.rand(4, 1, 16, 16) * 2 - 1, torch.randint(0, 10, (4,))
    for opt in (model.opt_A, model.opt_G, model.opt_D):
        for group in opt.param_groups:
            group["lr"] = 0.0
    torch.manual_seed(3)
    out = model.optimize_parameters(x, x, y, y)
    torch.manual_seed(3)
    torch.randint(0, 10, (4,)), torch.randn(4, model.G.z_dim)          # the step's targets and z
    with torch.no_grad():
        own = model._translate(x, y, torch.randn(4, model.G.z_dim))      # then the reconstruction's z
    assert abs(float(out["rec"]) - float((own - x).abs().mean())) < 1e-5
    assert "rec" not in D.DeepI2I(D.DeepI2IConfig(warmup_steps=0, batch_size=4), src).optimize_parameters(x, x, y)


def test_from_scratch_trains_the_encoder_from_the_first_step():
    model = D.DeepI2I(D.DeepI2IConfig(transfer=False, batch_size=4), _source())
    w = model.E[0].weight.detach().clone()
    assert model.stage == 2
    x, y = torch.rand(4, 1, 16, 16) * 2 - 1, torch.randint(0, 10, (4,))
    model.optimize_parameters(x, x, y)
    assert not torch.equal(w, model.E[0].weight)


def test_translate_keeps_modes_and_is_reproducible():
    model = D.DeepI2I(D.arm_config(True), _source())
    x = torch.rand(5, 1, 16, 16) * 2 - 1
    a = model.translate(x, torch.arange(5), torch.Generator().manual_seed(1))
    b = model.translate(x, torch.arange(5), torch.Generator().manual_seed(1))
    assert a.shape == (5, 1, 16, 16) and torch.equal(a, b)
    assert model.G.training and model.E.training                   # modes restored: a fine-tuned encoder trains
    frozen = D.DeepI2I(D.DeepI2IConfig(lr_E=0.0), _source())
    frozen.translate(x, torch.arange(5), torch.Generator().manual_seed(1))
    assert frozen.G.training and not frozen.E.training             # the frozen encoder stays in eval mode


def test_translation_grid_sends_every_input_to_every_class():
    x = torch.arange(2).float().view(2, 1, 1, 1).expand(2, 1, 4, 4)
    xs, targets = D.translation_grid(x, 3)
    assert xs.shape == (6, 1, 4, 4) and targets.tolist() == [0, 1, 2, 0, 1, 2]
    assert xs[:3].eq(0).all() and xs[3:].eq(1).all()


def test_evaluate_scores_a_perfect_and_a_useless_translator():
    few = StyledDigits(16, "train")

    class Oracle(torch.nn.Module):          # 'reads' the class from a planted pixel
        n_classes = 10

        def forward(self, x):
            return 20.0 * torch.nn.functional.one_hot(((x[:, 0, 0, 0] + 1) * 4.5).round().long().clamp(0, 9), 10).float()

        def features(self, x):
            return x.flatten(1)[:, :8]

    def perfect(x, target, generator):
        out = x.clone()
        out[:, 0, 0, 0] = target.float() / 4.5 - 1
        return out

    def useless(x, target, generator):
        return x.clone()

    good = D.evaluate(perfect, few.images[:20], few.images, Oracle())
    bad = D.evaluate(useless, few.images[:20], few.images, Oracle())
    assert good["accuracy"] == 1.0 and bad["accuracy"] < 0.5
    assert good["background_error"] < 0.05


def test_mean_std_and_bad_inputs():
    assert D.mean_std([1.0, 2.0, 3.0]) == (2.0, 1.0) and D.mean_std([4]) == (4.0, 0.0)
    with pytest.raises(ValueError):
        D.mean_std([])
    with pytest.raises(ValueError, match="feature_weight"):
        D.DeepI2IConfig(feature_weight=-1)
    with pytest.raises(TypeError, match="transfer"):
        D.DeepI2IConfig(transfer="yes")
    with pytest.raises(TypeError, match="source"):
        D.DeepI2I(D.DeepI2IConfig(), {"G": None})
    model = D.DeepI2I(D.DeepI2IConfig(), _source())
    with pytest.raises(ValueError, match="target"):
        model.translate(torch.zeros(2, 1, 16, 16), torch.tensor([0, 10]))
    with pytest.raises(ValueError, match="real_labels"):
        model.optimize_parameters(torch.zeros(2, 1, 16, 16), torch.zeros(2, 1, 16, 16), torch.tensor([1]))
    with pytest.raises(ValueError, match="lambda_rec"):
        D.DeepI2IConfig(lambda_rec=-1.0)
    rec = D.DeepI2I(D.DeepI2IConfig(lambda_rec=1.0), _source())
    for bad, error in ((None, ValueError), (torch.tensor([1]), ValueError), (torch.tensor([1, 10]), ValueError),
                       (torch.tensor([1.0, 2.0]), TypeError)):   # one class index in [0, 10) per input
        with pytest.raises(error, match="x_labels"):
            rec.optimize_parameters(torch.zeros(2, 1, 16, 16), torch.zeros(2, 1, 16, 16), torch.tensor([1, 2]), bad)
    with pytest.raises(ValueError, match="real_labels"):
        rec.optimize_parameters(torch.zeros(2, 1, 16, 16), torch.zeros(2, 1, 16, 16), torch.tensor([1, 12]), torch.tensor([1, 2]))
    with pytest.raises(ValueError, match="injected"):
        D.generate(model.G, torch.randn(2, 8), torch.tensor([0, 1]), {8: torch.zeros(2, 3, 8, 8)})
    with pytest.raises(ValueError, match="sides"):
        D.Adaptor({8: 4}, {4: 4})
    with pytest.raises(TypeError, match="trunk"):
        D.trunk_features(torch.nn.Conv2d(1, 1, 3), torch.zeros(1, 1, 8, 8))


def test_transfer_learns_the_target_classes_faster_than_scratch_on_a_tiny_budget():
    """The effect notebook 15 measures, in miniature: a source G that already draws classes makes
    class-correct translations from the first steps; the same networks from scratch do not."""
    torch.manual_seed(0)
    cfg = cgan.CGANConfig(kind="acgan", code="one_hot", image_size=16, g_width=8, d_width=8, z_dim=8, steps=150,
                          batch_size=32)
    from gancourse.data import Digits
    digits = Digits(16, "train")
    pre, _ = cgan.train(cfg, digits.images, digits.labels, progress=False)
    source = {"G": pre.G.eval(), "D": pre.D.eval(), "config": cfg}
    few = StyledDigits(16, "train")
    scores = {}
    for transfer in (True, False):
        model, _ = D.train(D.DeepI2IConfig(transfer=transfer, steps=20, warmup_steps=5, batch_size=16), source,
                           few.images, few.labels, progress=False)
        out = model.translate(few.images[:50], torch.arange(50) % 10, torch.Generator().manual_seed(0))
        _, cls = pre.D.eval()(out)                               # the source's class head as a rough judge
        scores[transfer] = float((cls.argmax(1) == torch.arange(50) % 10).float().mean())
    assert scores[True] > scores[False]


def test_shipped_styled_digit_classifier_reads_the_target_domain():
    from gancourse import judges, pretrained, recipes

    assert "styled-digit-classifier" in recipes.RECIPES
    clf = judges.styled.styled_digit_classifier()
    assert not any(p.requires_grad for p in clf.parameters()) and not clf.training
    acc = judges.styled.held_out_accuracy(clf)
    assert acc >= 0.95
    assert abs(acc - pretrained.manifest()["styled-digit-classifier"]["metrics"]["held_out_accuracy"]) < 0.01


def test_shipped_source_gan_has_both_players_and_draws_the_requested_classes():
    source = D.load_source()
    assert isinstance(source["G"], cgan.ConditionalGenerator) and isinstance(source["D"], cgan.ACGANDiscriminator)
    assert source["config"].kind == "acgan" and source["config"].image_size == 16
    assert source["metrics"]["min_class_accuracy"] >= 0.85
    with torch.no_grad():
        _, cls = source["D"](source["G"].sample(torch.arange(10).repeat(10), torch.Generator().manual_seed(0)))
    assert float((cls.argmax(1) == torch.arange(10).repeat(10)).float().mean()) >= 0.8   # D's class head agrees with G


def test_measuring_along_the_way_records_the_curve_and_leaves_training_unchanged():
    src, few = _source(), StyledDigits(16, "train")
    cfg = D.DeepI2IConfig(transfer=True, steps=6, warmup_steps=2, batch_size=8)
    calls = []

    def measure(model):
        calls.append(model.step)
        model.translate(few.images[:4], torch.arange(4), torch.Generator().manual_seed(0))
        return {"step_seen": model.step}

    measured, _ = D.train(cfg, src, few.images, few.labels, progress=False, measure=measure, measure_at=(2, 4, 6))
    plain, _ = D.train(cfg, src, few.images, few.labels, progress=False)
    assert [s for s, _ in measured.measurements] == [2, 4, 6] and calls == [2, 4, 6]
    assert [r["step_seen"] for _, r in measured.measurements] == [2, 4, 6]
    for a, b in zip(measured.G.state_dict().values(), plain.G.state_dict().values()):
        assert torch.equal(a, b)
    with pytest.raises(TypeError, match="measure"):
        D.train(cfg, src, few.images, few.labels, progress=False, measure="accuracy", measure_at=(2,))


def test_shipped_translators_reload_and_reproduce_their_numbers():
    from gancourse.judges.styled import styled_digit_classifier

    source = D.load_source()
    test, pool = StyledDigits(16, "test"), StyledDigits(16, "pool")
    clf = styled_digit_classifier()
    for transfer in (True, False):
        models, metrics = D.load_published(transfer, source)
        assert len(models) == len(metrics["per_seed"]) == 3 and all(m.cfg.transfer == transfer for m in models)
        curve = metrics["per_seed"][0]["curve"]
        assert curve["steps"][-1] == models[0].cfg.steps and len(curve["accuracy"]) == len(curve["steps"])
        got = D.evaluate(models[0].translate, test.images, pool.images, clf)
        assert abs(got["accuracy"] - metrics["per_seed"][0]["accuracy"]) < 0.01
        assert abs(got["frechet"] - metrics["per_seed"][0]["frechet"]) < 0.05 * metrics["per_seed"][0]["frechet"]


def test_target_sets_are_nested_and_share_the_held_out_digits():
    small, labels_small = D.target_set(2)
    big, labels_big = D.target_set(5)
    assert small.shape == (20, 1, 16, 16) and torch.equal(torch.bincount(labels_small, minlength=10), torch.full((10,), 2))
    assert all(any(torch.equal(img, other) for other in big) for img in small)   # 2 per class are among the 5
    full, _ = D.target_set(20)
    assert torch.equal(full, StyledDigits(16, "train").images)
    for bad in (0, 21):
        with pytest.raises(ValueError, match="per_class"):
            D.target_set(bad)


def test_shipped_size_study_transfer_wins_where_the_target_set_is_smallest():
    """The recipe's metrics: every size of PER_CLASS, three seeds per arm; at the smallest size the
    transferred translators beat scratch on target-class accuracy by at least 5 points (mean over
    seeds) and keep the background at least as well, the claims notebook 15 makes."""
    from gancourse import pretrained

    m = pretrained.manifest()
    by = {t: m[D.PUBLISHED[t]]["metrics"]["by_size"] for t in (True, False)}
    assert all(set(b) == {str(k) for k in D.PER_CLASS} for b in by.values())
    assert all(len(b[k]["per_seed"]) == 3 for b in by.values() for k in b)
    smallest = str(min(D.PER_CLASS))
    assert by[True][smallest]["accuracy"][0] >= by[False][smallest]["accuracy"][0] + 0.05
    # ... with the input's background kept at least as well as scratch keeps it (what must stay), at every size
    assert all(by[True][k]["background_error"][0] <= by[False][k]["background_error"][0] for k in by[True])
    # scratch is level or ahead on accuracy from 10 per class: the source GAN stops mattering
    assert all(by[False][k]["accuracy"][0] >= by[True][k]["accuracy"][0] for k in ("10", "20"))
    # the reconstruction term's ablation: without it the transfer loses the background; with it
    # scratch keeps the background by copying its input (accuracy near a copier's 10%)
    ablations = m[D.PUBLISHED[True]]["metrics"]["ablations"]
    assert ablations["transfer_no_rec"]["background_error"][0] > by[True][smallest]["background_error"][0] + 0.01
    assert ablations["scratch_rec"]["accuracy"][0] < 0.2 < by[False][smallest]["accuracy"][0]
    assert all(len(a["per_seed"]) == 3 for a in ablations.values())
