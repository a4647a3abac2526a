"""Build exercises (issue 20): in notebooks 01 and 04-16 the student writes the code the notebook is
about, before the training run that then uses it. For every build exercise: placed before its
notebook's main training run (the cell tagged ``main-training``) and used by it; a solution of at
least 8 lines of code; its check gives the solution full points, the stub zero with its hint, and
plausible wrong versions less than full points, each with a hint that names the symptom."""
import re

import pytest
import torch
import torch.nn.functional as F

from exercise_runner import NAMES, executed, instructor
from gancourse import assign, checks
from gancourse.checks import ExerciseIncomplete

BUILD_NOTEBOOKS = ["01"] + [f"{k:02d}" for k in range(4, 17)]


def _name(number):
    return next(n for n in NAMES if n.startswith(number + "_"))


def build_exercises(number):
    return [ex for ex in checks.exercises_of(number) if ex.kind == "build"]


@pytest.mark.parametrize("number", BUILD_NOTEBOOKS)
def test_one_build_exercise_placed_before_the_training_that_uses_it(number):
    nb = instructor(_name(number))
    builds = build_exercises(number)
    assert len(builds) == 1, f"notebook {number}: expected one build exercise, found {[b.id for b in builds]}"
    groups = {g.id: g for g in assign.find_exercises(nb)}
    group = groups[builds[0].id]
    training = [i for i, c in enumerate(nb.cells) if "main-training" in c.metadata.get("tags", [])]
    assert len(training) == 1, f"notebook {number}: tag exactly one cell 'main-training'"
    assert max(group.exercise_cells + [group.check_cell]) < training[0], "the build exercise must come first"
    defined = set()
    for i in group.exercise_cells:
        defined |= set(re.findall(r"^(?:def|class)\s+(\w+)", nb.cells[i].source, re.M))
    used = [name for name in defined if re.search(rf"\b{name}\b", nb.cells[training[0]].source)]
    assert used, f"notebook {number}: the main training cell uses none of {sorted(defined)}"
    code_lines = 0
    for i in group.exercise_cells:
        src = nb.cells[i].source.split("\n")
        for begin, end in assign.regions(nb.cells[i].source, assign.BEGIN_SOLUTION, assign.END_SOLUTION):
            code_lines += sum(1 for line in src[begin + 1:end] if line.strip() and not line.strip().startswith("#"))
    assert code_lines >= 8, f"notebook {number}: the build exercise's solution has {code_lines} lines of code"


@pytest.mark.parametrize("number", BUILD_NOTEBOOKS)
def test_the_solution_scores_full_points_and_the_stub_stops_with_its_hint(number):
    name = _name(number)
    builds = build_exercises(number)
    groups, runs, failure = executed(name, "solution")
    assert failure is None
    group = next(g for g in groups if g.id == builds[0].id)
    assert runs[group.check_cell].status == "ok" and "correct" in runs[group.check_cell].stdout
    s_groups, s_runs, _ = executed(name, "student")
    s_group = next(g for g in s_groups if g.id == builds[0].id)
    r = s_runs[s_group.check_cell]
    if r.status == "skipped":   # a class whose body is the stub stops in the exercise cell itself
        r = s_runs[s_group.exercise_cells[-1]]
        assert r.status == "error" and r.ename == "NotImplementedError" and group.hints[0][:30] in r.evalue
    else:
        assert r.status == "error" and r.ename == "ExerciseIncomplete" and group.hints[0][:30] in r.evalue


# ---- plausible wrong versions, each caught with a hint that names the symptom ------------------------

sp = F.softplus
WRONG = {
    "01": [
        ("log of a sigmoid: inf at extreme logits",
         (lambda r, f: -torch.log(torch.sigmoid(r)).mean() - torch.log(1 - torch.sigmoid(f)).mean(),
          lambda f: torch.log(1 - torch.sigmoid(f)).mean(), lambda f: -torch.log(torch.sigmoid(f)).mean()),
         "inf or nan"),
        ("the minimax generator loss with the wrong sign",
         (lambda r, f: sp(-r).mean() + sp(f).mean(), lambda f: sp(f).mean(), lambda f: sp(-f).mean()),
         "its value is negative"),
        ("real and fake swapped in D's loss",
         (lambda r, f: sp(r).mean() + sp(-f).mean(), lambda f: -sp(f).mean(), lambda f: sp(-f).mean()),
         "the negative of V"),
    ],
}
from torch import nn  # noqa: E402


def _g(z, w, tanh=True):
    layers = [nn.ConvTranspose2d(z, 2 * w, 4, 1, 0, bias=False), nn.BatchNorm2d(2 * w), nn.ReLU(),
              nn.ConvTranspose2d(2 * w, w, 4, 2, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU(),
              nn.ConvTranspose2d(w, 1, 4, 2, 1)]
    return nn.Sequential(*layers, *([nn.Tanh()] if tanh else []))


def _d(w, bn_first=False):
    first = [nn.Conv2d(1, w, 4, 2, 1)] + ([nn.BatchNorm2d(w)] if bn_first else []) + [nn.LeakyReLU(0.2)]
    return nn.Sequential(*first, nn.Conv2d(w, 2 * w, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * w), nn.LeakyReLU(0.2),
                         nn.Conv2d(2 * w, 1, 4, 1, 0))


def _init(m, std=0.02):
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(m.weight, 0.0, std)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.BatchNorm2d):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


WRONG["05"] = [
    ("batch norm on D's input layer", (_g, lambda w: _d(w, bn_first=True), _init), "never on the input layer"),
    ("G without tanh", (lambda z, w: _g(z, w, tanh=False), _d, _init), "end with tanh"),
    ("initialisation ten times too wide", (_g, _d, lambda m: _init(m, 0.2)), "std 0.02"),
]
import numpy as np  # noqa: E402
from scipy import linalg  # noqa: E402


def _fd(a, b, bias=False, root=lambda m: np.real(linalg.sqrtm(m)), factor=2):
    ca, cb = np.cov(a, rowvar=False, bias=bias), np.cov(b, rowvar=False, bias=bias)
    return float(((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(ca + cb - factor * root(ca @ cb)))


WRONG["06"] = [
    ("biased covariances", (lambda a, b: _fd(a, b, bias=True),), "divide by n"),
    ("an elementwise square root", (lambda a, b: _fd(a, b, root=lambda m: np.sqrt(np.abs(m))),), "MATRIX square root"),
    ("the factor 2 forgotten", (lambda a, b: _fd(a, b, factor=1),), "term by term"),
]
bce = F.binary_cross_entropy_with_logits


def _ac_d(sr, cr, sf, cf, yr, yf, fake_classes=True):
    source = bce(sr, torch.ones_like(sr)) + bce(sf, torch.zeros_like(sf))
    return source, F.cross_entropy(cr, yr) + (F.cross_entropy(cf, yf) if fake_classes else 0)


def _ac_g(sf, cf, yf, target=1.0):
    return bce(sf, torch.full_like(sf, target)), F.cross_entropy(cf, yf)


WRONG["09"] = [
    ("D classifies only the real images", (lambda *a: _ac_d(*a, fake_classes=False), _ac_g), "a term on the fakes too"),
    ("G's source loss aims at 'fake'", (_ac_d, lambda *a: _ac_g(*a, target=0.0)), "G wants D to call its images real"),
    ("G's losses detached with .item()", (_ac_d, lambda *a: tuple(torch.tensor(v.item()) for v in _ac_g(*a))),
     "must be differentiable"),
]


def _p2p_d(D, x, real, fake, detach=True, half=0.5):
    r, f = D(torch.cat([x, real], 1)), D(torch.cat([x, fake.detach() if detach else fake], 1))
    return half * (bce(r, torch.ones_like(r)) + bce(f, torch.zeros_like(f)))


def _p2p_g(D, x, real, fake, l1_detached=False):
    l1 = ((fake.detach() if l1_detached else fake) - real).abs().mean()
    if D is None:
        return torch.zeros(()), l1
    s = D(torch.cat([x, fake], 1))
    return bce(s, torch.ones_like(s)), l1


WRONG["10"] = [
    ("the fake not detached in D's loss", (lambda *a: _p2p_d(*a, detach=False), _p2p_g), "detach the fake images"),
    ("D's loss not halved", (lambda *a: _p2p_d(*a, half=1.0), _p2p_g), "halve D's loss"),
    ("the L1 term on a detached translation", (_p2p_d, lambda *a: _p2p_g(*a, l1_detached=True)), "does not reach G"),
]


def _cyc(G, F, D_X, D_Y, x, y, fake_y, fake_x, lambda_cyc, lambda_id, id_weight=None, swap_d=False, detach=False):
    if swap_d:
        D_X, D_Y = D_Y, D_X
    if detach:
        fake_y, fake_x = fake_y.detach(), fake_x.detach()
    adv = ((D_Y(fake_y) - 1) ** 2).mean() + ((D_X(fake_x) - 1) ** 2).mean()
    cycle = (F(fake_y) - x).abs().mean() + (G(fake_x) - y).abs().mean()
    identity = (G(y) - y).abs().mean() + (F(x) - x).abs().mean()
    weight = lambda_id * lambda_cyc if id_weight is None else id_weight(lambda_cyc, lambda_id)
    return adv + lambda_cyc * cycle + weight * identity, {"G_adv": adv, "cycle": cycle, "identity": identity}


WRONG["11"] = [
    ("the identity weighted by lambda_id alone", (lambda *a: _cyc(*a, id_weight=lambda c, i: i),),
     "the identity weight is lambda_id * lambda_cyc"),
    ("the discriminators swapped", (lambda *a: _cyc(*a, swap_d=True),), "the discriminators are swapped"),
    ("the translations detached", (lambda *a: _cyc(*a, detach=True),), "do not detach the translations"),
]


def _star(G, D, x, c_org, c_trg, label_trg, class_loss, lambda_cls, lambda_rec, back=None, sign=-1.0, detach=False):
    fake = G(x, c_trg)
    scores, logits = D(fake)
    adv = sign * scores.mean()
    cls = class_loss(logits, label_trg)
    rec = (G(fake.detach() if detach else fake, c_org if back is None else back) - x).abs().mean()
    return adv + lambda_cls * cls + lambda_rec * rec, {"G_adv": adv, "G_cls": cls, "G_rec": rec}


WRONG["12"] = [
    ("translated back with the target code", (lambda G, D, x, co, ct, *a: _star(G, D, x, co, ct, *a, back=ct),),
     "with the *original* code"),
    ("the adversarial term with the wrong sign", (lambda *a: _star(*a, sign=1.0),), "wrong sign"),
    ("the way back detached", (lambda *a: _star(*a, detach=True),), "do not detach the translation"),
]


class _Spade(nn.Module):
    def __init__(self, channels, label_channels, hidden, affine=False, instance=False, plain_scale=False):
        super().__init__()
        self.norm = (nn.InstanceNorm2d(channels, affine=affine) if instance
                     else nn.BatchNorm2d(channels, affine=affine))
        self.shared = nn.Sequential(nn.Conv2d(label_channels, hidden, 3, padding=1), nn.ReLU())
        self.gamma = nn.Conv2d(hidden, channels, 3, padding=1)
        self.beta = nn.Conv2d(hidden, channels, 3, padding=1)
        self.plain_scale = plain_scale

    def forward(self, h, segmap):
        hidden = self.shared(F.interpolate(segmap, size=h.shape[-2:], mode="nearest"))
        scale = self.gamma(hidden) if self.plain_scale else 1 + self.gamma(hidden)
        return self.norm(h) * scale + self.beta(hidden)


WRONG["13"] = [
    ("an affine normalisation", (lambda c, l, h: _Spade(c, l, h, affine=True),), "affine=False"),
    ("instance statistics", (lambda c, l, h: _Spade(c, l, h, instance=True),), "batch statistics"),
    ("the scale written as gamma", (lambda c, l, h: _Spade(c, l, h, plain_scale=True),), "(1 + γ)"),
]


def _defect(G, D, x, A_org, A_trg, label_trg, cfg, back_map=None, weights=True):
    fake, _, m1 = G(x, A_trg)
    scores, logits = D(fake)
    back, _, m2 = G(fake, A_org if back_map is None else back_map)
    parts = {"G_adv": -scores.mean(), "G_cls": F.cross_entropy(logits, label_trg), "G_rec": (back - x).abs().mean(),
             "G_sd_cyc": (m1 - m2).abs().mean(), "G_sd_con": m1.abs().mean() + m2.abs().mean()}
    w = (cfg.lambda_cls_fake, cfg.lambda_rec, cfg.lambda_sd_cyc, cfg.lambda_sd_con) if weights else (1, 1, 1, 1)
    total = (parts["G_adv"] + w[0] * parts["G_cls"] + w[1] * parts["G_rec"] + w[2] * parts["G_sd_cyc"]
             + w[3] * parts["G_sd_con"])
    return total, parts


WRONG["14"] = [
    ("the way back with the target's map", (lambda G, D, x, Ao, At, *a: _defect(G, D, x, Ao, At, *a, back_map=At),),
     "uses the input's own control map"),
    ("the weights left out", (lambda *a: _defect(*a, weights=False),), "the weights read from cfg"),
]


class _PairD(nn.Module):
    def __init__(self, image_size, z_dim, width, hidden, additive=False, no_z=False):
        super().__init__()
        from gancourse.models import bigan

        self.trunk, c = bigan.image_trunk(image_size, width)
        self.z_branch = nn.Sequential(nn.Linear(z_dim, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, hidden), nn.LeakyReLU(0.2))
        self.joint = nn.Sequential(nn.Linear(c * 16 + hidden, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, 1))
        self.additive, self.no_z = additive, no_z

    def forward(self, x, z):
        hz = self.z_branch(z)
        if self.no_z:
            hz = torch.zeros_like(hz)
        if self.additive:   # an x-score plus a z-score: the same weights, no interaction
            w = self.joint[0].weight
            hx = self.trunk(x).flatten(1)
            return (self.joint[2](F.leaky_relu(hx @ w[:, :hx.shape[1]].T, 0.2))
                    + self.joint[2](F.leaky_relu(hz @ w[:, hx.shape[1]:].T + self.joint[0].bias, 0.2))).reshape(-1)
        return self.joint(torch.cat([self.trunk(x).flatten(1), hz], 1)).reshape(-1)


WRONG["16"] = [
    ("an x-score plus a z-score", (lambda *a: _PairD(*a, additive=True),), "judge the pair jointly"),
    ("z ignored", (lambda *a: _PairD(*a, no_z=True),), "depend on the code z"),
]


class _Adaptor(nn.Module):
    def __init__(self, encoder_widths, generator_widths, linear=False, registered=True):
        super().__init__()
        self.sides = sorted(encoder_widths, reverse=True)
        nets = {str(s): nn.Sequential(nn.Conv2d(encoder_widths[s], generator_widths[s], 3, padding=1),
                                      nn.Identity() if linear else nn.LeakyReLU(0.2),
                                      nn.Conv2d(generator_widths[s], generator_widths[s], 3, padding=1))
                for s in self.sides}
        self.scales = nn.ModuleDict(nets) if registered else nets

    def forward(self, features):
        return {s: self.scales[str(s)](features[s]) for s in self.sides}


WRONG["15"] = [
    ("no nonlinearity", (lambda e, g: _Adaptor(e, g, linear=True),), "nonlinearity"),
    ("the networks kept in a plain dict", (lambda e, g: _Adaptor(e, g, registered=False),), "must be registered"),
]


def _step(G, D, opt_G, opt_D, real_batch, noise, k, g_loss, detach=True, zero=True):
    from gancourse import losses

    for _ in range(k):
        fake = G(noise())
        loss_D = losses.d_loss_bce(D(real_batch()), D(fake.detach() if detach else fake))
        if zero:
            opt_D.zero_grad()
        loss_D.backward()
        opt_D.step()
    loss_G = g_loss(D(G(noise())))
    opt_G.zero_grad()
    loss_G.backward()
    opt_G.step()
    return loss_D, loss_G


WRONG["04"] = [
    ("the fakes not detached in D's step", (lambda *a: _step(*a, detach=False),), "must be detached"),
    ("D's gradients never cleared", (lambda *a: _step(*a, zero=False),), "zero each optimiser's gradients"),
]


def _critic(D, opt_D, real, fake, clip, sign=-1.0, do_clip=True):
    estimate = D(real).mean() - D(fake).mean()
    opt_D.zero_grad()
    (sign * estimate).backward()
    opt_D.step()
    if do_clip:
        with torch.no_grad():
            for p in D.parameters():
                p.clamp_(-clip, clip)
    return estimate.detach()


WRONG["07"] = [
    ("the critic descending its estimate", (lambda *a: _critic(*a, sign=1.0),), "moved the wrong way"),
    ("no clipping", (lambda *a: _critic(*a, do_clip=False),), "lie in [-c, c]"),
]


def _gp(D, real, fake, gp_weight, graph=True, per_element=False, sign=1.0):
    eps = torch.rand(real.shape) if per_element else torch.rand(real.shape[0], *([1] * (real.ndim - 1)))
    x = (eps * real + (1 - eps) * fake).detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(D(x).sum(), x, create_graph=graph)
    penalty = ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()
    return sign * (D(fake).mean() - D(real).mean()) + gp_weight * penalty, penalty


WRONG["08"] = [
    ("the gradient's graph not kept", (lambda *a: _gp(*a, graph=False),), "create_graph=True"),
    ("one epsilon per coordinate", (lambda *a: _gp(*a, per_element=True),), "one ε per sample"),
    ("the Wasserstein term's sign", (lambda *a: _gp(*a, sign=-1.0),), "wrong sign"),
]
SOLUTIONS = {
    "08": (_gp,),
    "07": (_critic,),
    "04": (_step,),
    "15": (_Adaptor,),
    "16": (_PairD,),
    "14": (_defect,),
    "13": (_Spade,),
    "12": (_star,),
    "11": (_cyc,),
    "10": (_p2p_d, _p2p_g),
    "09": (_ac_d, _ac_g),
    "06": (_fd,),
    "05": (_g, _d, _init),
    "01": (lambda r, f: sp(-r).mean() + sp(f).mean(), lambda f: -sp(f).mean(), lambda f: sp(-f).mean()),
}


@pytest.mark.parametrize("number", BUILD_NOTEBOOKS)
def test_wrong_versions_are_caught_with_a_hint(number, capsys):
    ex = build_exercises(number)[0]
    assert ex.check(*SOLUTIONS[number]).passed
    for what, answer, symptom in WRONG[number]:
        result = ex.check(*answer)
        out = capsys.readouterr().out
        assert float(result) < ex.points, f"{number}: not caught: {what}"
        assert symptom in out, f"{number}: {what}: the hint should mention {symptom!r}, got {out!r}"


def test_every_build_notebook_is_covered_and_stubs_stop_with_the_hint():
    assert set(SOLUTIONS) == set(WRONG) == set(BUILD_NOTEBOOKS)
    with pytest.raises(ExerciseIncomplete):
        def stub(*a):
            raise NotImplementedError("Exercise 01.1: write it")
        checks.ex01_gan_losses(stub, stub, stub)


VARIANT_NOTEBOOKS = [f"{k:02d}" for k in range(4, 17)]


@pytest.mark.parametrize("number", VARIANT_NOTEBOOKS)
def test_every_notebook_from_04_has_a_variant_exercise_after_its_build(number):
    """One variant exercise per notebook 04-16: its cell runs something (a training; in notebook 06 a
    measurement at another sample size) and fills in
    `answer`, and its check receives that answer together with what it needs to measure again."""
    nb = instructor(_name(number))
    variants = [ex for ex in checks.exercises_of(number) if ex.kind == "variant"]
    assert len(variants) == 1, f"notebook {number}: expected one variant exercise, found {[v.id for v in variants]}"
    groups = {g.id: g for g in assign.find_exercises(nb)}
    group = groups[variants[0].id]
    build = groups[build_exercises(number)[0].id]
    source = "\n".join(nb.cells[i].source for i in group.exercise_cells)
    # it runs something: a training (notebooks 04-16), or for notebook 06, on measuring, a measurement
    assert re.search(r"\b(train|fit|train_toy|sample)\(", source), f"notebook {number}: the variant cell runs nothing"
    assert "answer" in source
    assert "answer" in nb.cells[group.check_cell].source
    assert min(group.exercise_cells) > build.check_cell, "the variant comes after the build exercise it may use"


# ---- variant exercises: the check reads the student's measured result ---------------------------------

def test_the_diffaugment_variant_check_reads_the_measured_distances(capsys):
    from gancourse import judges, metrics
    from gancourse.data import Digits
    from gancourse.models import dcgan

    G = dcgan.load_pretrained("dcgan-digits")
    noise_G = dcgan.Generator(16, 32, 8, 1).eval()            # an untrained generator: a worse Fréchet distance
    clf = judges.digit_classifier()
    held_out = metrics.classifier_features(Digits(16, "test").images, clf)

    def fd(gen):
        x = gen.sample(200, generator=torch.Generator().manual_seed(1))
        return metrics.frechet_distance(metrics.classifier_features(x, clf), held_out)

    right = {"frechet_with": fd(G), "frechet_without": fd(noise_G), "lower": "with"}
    assert checks.ex05_diffaugment(right, G, noise_G, n=200).passed
    made_up = dict(right, frechet_with=right["frechet_with"] * 0.8)
    r = checks.ex05_diffaugment(made_up, G, noise_G, n=200)
    assert float(r) < r.max_points and "is not the Fréchet distance" in capsys.readouterr().out
    wrong_side = dict(right, lower="without")
    r = checks.ex05_diffaugment(wrong_side, G, noise_G, n=200)
    assert float(r) < r.max_points and '"lower" should say which run' in capsys.readouterr().out


def test_the_sample_size_variant_check_reads_the_measured_distances(capsys):
    from gancourse import judges, metrics
    from gancourse.data import Digits
    from gancourse.models import dcgan

    G, clf = dcgan.load_pretrained("dcgan-digits"), judges.digit_classifier()
    ref = metrics.classifier_features(Digits(16, "train").images, clf)
    fd = {n: metrics.frechet_distance(metrics.classifier_features(
        G.sample(n, generator=torch.Generator().manual_seed(7)), clf), ref) for n in (40, 600)}
    right = {"n_small": 40, "fd_small": fd[40], "n_large": 600, "fd_large": fd[600], "larger": "small"}
    assert checks.ex06_sample_size(right).passed
    r = checks.ex06_sample_size(dict(right, fd_large=fd[600] + 5))
    assert float(r) < r.max_points and "is not the Fréchet distance of 600 samples" in capsys.readouterr().out


def test_the_class_term_variant_check_reads_the_measured_accuracies(capsys):
    from gancourse.models import cgan

    G, _, _ = cgan.pretrained_generator("acgan")
    untrained = cgan.build_generator(cgan.CGANConfig(kind="acgan", code="one_hot")).eval()
    acc = {name: float(cgan.class_accuracy(g, per_class=30, seed=1).mean()) for name, g in (("with", G), ("without", untrained))}
    right = {"mean_with": acc["with"], "mean_without": acc["without"], "lower": min(acc, key=acc.get)}
    assert checks.ex09_class_term(right, G, untrained, per_class=30).passed
    r = checks.ex09_class_term(dict(right, mean_with=100 * acc["with"]), G, untrained, per_class=30)
    assert float(r) < r.max_points and "a fraction between 0 and 1" in capsys.readouterr().out
    r = checks.ex09_class_term(dict(right, lower="with" if right["lower"] == "without" else "without"), G, untrained,
                               per_class=30)
    assert float(r) < r.max_points and '"lower" should say which run' in capsys.readouterr().out


def test_the_skips_variant_check_reads_the_measured_errors(capsys):
    from gancourse import metrics
    from gancourse.data import scenes
    from gancourse.models import pix2pix

    G, _ = pix2pix.pretrained_generator("GAN + L1")
    L1_only, _ = pix2pix.pretrained_generator("L1 only")
    test = scenes.Scenes(64, 32, "test", seed=0)
    maps, images = scenes.one_hot(test.maps), test.images
    l1 = {}
    for name, g in (("with", G), ("without", L1_only)):
        torch.manual_seed(0)
        l1[name] = metrics.l1_error(pix2pix.translate(g.train(), maps), images)
    right = {"l1_with": l1["with"], "l1_without": l1["without"], "lower": min(l1, key=l1.get)}
    assert checks.ex10_skips(right, G, L1_only, maps, images).passed
    r = checks.ex10_skips(dict(right, l1_with=l1["with"] * 1.2), G, L1_only, maps, images)
    assert float(r) < r.max_points and "is not that generator's L1 error" in capsys.readouterr().out
    r = checks.ex10_skips(dict(right, lower="with" if right["lower"] == "without" else "without"), G, L1_only, maps,
                          images)
    assert float(r) < r.max_points and '"lower" should say which run' in capsys.readouterr().out


def test_the_cycle_variant_check_reads_the_measured_iou(capsys):
    from gancourse.data import shapes
    from gancourse.models import cyclegan

    G, F, _ = cyclegan.load_pretrained("identity")
    G2, F2, _ = cyclegan.load_pretrained("no identity")
    X, Y = shapes.cyclegan_domains(40, 32, "test", seed=0)
    iou = {name: cyclegan.evaluate_shapes(g, f, X, Y)["iou_XtoY"] for name, (g, f) in (("with", (G, F)), ("without", (G2, F2)))}
    right = {"iou_with": iou["with"], "iou_without": iou["without"], "lower": min(iou, key=iou.get)}
    assert checks.ex11_cycle_off(right, (G, F), (G2, F2), X, Y).passed
    r = checks.ex11_cycle_off(dict(right, iou_without=iou["without"] - 0.1), (G, F), (G2, F2), X, Y)
    assert float(r) < r.max_points and "is not that model's outline IoU" in capsys.readouterr().out


def test_the_reconstruction_variant_check_reads_the_measured_iou(capsys):
    from gancourse.data import shapes
    from gancourse.models import stargan

    G, cfg = stargan.load_pretrained("single")
    untrained = stargan.build_generator(cfg).eval()
    _, (test,) = shapes.stargan_datasets("single", 12, 32, "test", seed=0)
    iou = {name: stargan.evaluate_shapes(g, cfg, test)["iou"] for name, g in (("with", G), ("without", untrained))}
    right = {"iou_with": iou["with"], "iou_without": iou["without"], "lower": min(iou, key=iou.get)}
    assert checks.ex12_reconstruction_off(right, G, untrained, cfg, test).passed
    r = checks.ex12_reconstruction_off(dict(right, iou_with=iou["with"] - 0.1), G, untrained, cfg, test)
    assert float(r) < r.max_points and "is not that generator's outline IoU" in capsys.readouterr().out


def test_the_feature_matching_variant_check_reads_the_measured_miou(capsys):
    from gancourse.data import scenes
    from gancourse.models import spade

    G, _ = spade.load_pretrained("spade")
    G_bn, _ = spade.load_pretrained("bn-input")
    maps = scenes.Scenes(24, 32, "test", seed=0).maps
    miou = {name: spade.evaluate(g, maps)["miou"] for name, g in (("with", G), ("without", G_bn))}
    right = {"miou_with": miou["with"], "miou_without": miou["without"], "lower": min(miou, key=miou.get)}
    assert checks.ex13_feature_matching_off(right, G, G_bn, maps).passed
    r = checks.ex13_feature_matching_off(dict(right, miou_with=miou["with"] + 0.05), G, G_bn, maps)
    assert float(r) < r.max_points and "is not that generator's mIoU" in capsys.readouterr().out


def test_the_composition_variant_check_reads_the_measured_change(capsys):
    from gancourse.data import defects
    from gancourse.models import defectgan

    G, cfg = defectgan.load_pretrained()
    torch.manual_seed(0)
    no_layer = defectgan.build_generator(defectgan.DefectGANConfig(composition=False)).eval()
    test = defects.Defects(8, 32, "test", seed=0)
    change = {name: defectgan.evaluate(g, test, seed=0)["change_all"] for name, g in (("with", G), ("without", no_layer))}
    right = {"change_with": change["with"], "change_without": change["without"], "lower": min(change, key=change.get)}
    assert checks.ex14_composition_off(right, G, no_layer, test).passed
    r = checks.ex14_composition_off(dict(right, change_with=change["with"] * 2), G, no_layer, test)
    assert float(r) < r.max_points and "is not that generator's change" in capsys.readouterr().out


def test_the_information_variant_check_reads_the_measured_agreement(capsys):
    from gancourse.models import infogan

    G, cfg, _ = infogan.load_pretrained()
    torch.manual_seed(0)
    untrained = infogan.build_generator(cfg).eval()
    agree = {name: infogan.evaluate(g, cfg, n_noise=10)["code_class_agreement"] for name, g in (("with", G), ("without", untrained))}
    right = {"agreement_with": agree["with"], "agreement_without": agree["without"], "lower": min(agree, key=agree.get)}
    assert checks.ex16_information_off(right, G, cfg, untrained, cfg, n_noise=10).passed
    r = checks.ex16_information_off(dict(right, agreement_with=100 * agree["with"]), G, cfg, untrained, cfg, n_noise=10)
    assert float(r) < r.max_points and "a fraction between 0 and 1" in capsys.readouterr().out


def test_the_feature_weight_variant_check_reads_the_measured_frechet_distance(capsys):
    from gancourse import judges
    from gancourse.data.styled_digits import StyledDigits
    from gancourse.models import deepi2i as di

    source = di.load_source()
    transfer, _ = di.load_published(True, source)
    scratch, _ = di.load_published(False, source)
    inputs, reference = StyledDigits(16, "test").images[:12], StyledDigits(16, "pool").images[:200]
    judge = judges.styled.styled_digit_classifier()
    fd = {name: di.evaluate(m.translate, inputs, reference, judge)["frechet"]
          for name, m in (("small", transfer[0]), ("large", scratch[0]))}
    right = {"frechet_small": fd["small"], "frechet_large": fd["large"], "lower": min(fd, key=fd.get)}
    assert checks.ex15_feature_weight(right, transfer[0], scratch[0], inputs, reference).passed
    r = checks.ex15_feature_weight(dict(right, frechet_small=fd["small"] + 5.0), transfer[0], scratch[0], inputs, reference)
    assert float(r) < r.max_points and "is not that translator's Fréchet distance" in capsys.readouterr().out
    r = checks.ex15_feature_weight(dict(right, lower="large" if right["lower"] == "small" else "small"), transfer[0],
                                   scratch[0], inputs, reference)
    assert float(r) < r.max_points and '"lower" should say which run' in capsys.readouterr().out


def test_the_k_variant_check_reads_the_measured_coverage(capsys):
    from gancourse.models import vanilla

    runs = {}
    for k in (1, 5):
        gan = vanilla.ToyGAN(vanilla.default_config("ring", steps=3, hidden=16, k=k, seed=0))
        for _ in range(3):
            gan.optimize_parameters()
        runs[k] = [gan]
    covs = {k: runs[k][0].coverage(500) for k in (1, 5)}
    right = {f"modes_k{k}": float(covs[k].modes) for k in (1, 5)}
    right.update({f"hq_k{k}": 100 * covs[k].hq_fraction for k in (1, 5)})
    assert checks.ex04_k(right, runs, n=500).passed
    r = checks.ex04_k(dict(right, modes_k5=right["modes_k5"] + 1), runs, n=500)
    assert float(r) < r.max_points and "is not the mean modes captured" in capsys.readouterr().out


def test_the_clip_variant_check_reads_the_measured_share(capsys):
    small, large = nn.Linear(4, 3), nn.Linear(4, 3)
    with torch.no_grad():
        small.weight.fill_(0.01)
        large.weight.uniform_(-0.05, 0.05)
    share = {"small": 12 / 15, "large": 0.0}
    right = {"share_small": share["small"], "share_large": share["large"], "lower": "large"}
    with torch.no_grad():
        small.bias.fill_(0.0)
        large.bias.fill_(0.0)
    assert checks.ex07_clip_constant(right, small, large).passed
    r = checks.ex07_clip_constant(dict(right, share_small=0.5), small, large)
    assert float(r) < r.max_points and "is not the share" in capsys.readouterr().out


def test_the_penalty_variant_check_reads_the_measured_slopes(capsys):
    flat, steep = nn.Linear(2, 1), nn.Linear(2, 1)
    with torch.no_grad():
        flat.weight.copy_(torch.tensor([[0.6, 0.8]]))
        steep.weight.copy_(torch.tensor([[6.0, 8.0]]))
    probe = torch.randn(50, 2)
    right = {"slope_with": 1.0, "slope_without": 10.0, "lower": "with"}
    assert checks.ex08_penalty_off(right, flat, steep, probe).passed
    r = checks.ex08_penalty_off(dict(right, slope_without=5.0), flat, steep, probe)
    assert float(r) < r.max_points and "is not that critic's mean gradient norm" in capsys.readouterr().out
