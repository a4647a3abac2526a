"""The Wasserstein family's model object: clipping, configs, update order, schedules, EMA, images."""
import math

import pytest
import torch
from scipy.optimize import linear_sum_assignment
from torch import nn

from gancourse import data, losses
from gancourse.models.wgan import PRESETS, WGAN, WGANConfig, clip_weights, preset
from gancourse.nn import EMA, ToyDiscriminator, ToyGenerator
from gancourse.nn.spectral import has_spectral_norm
from gancourse.train import Checkpointer, fit


@pytest.fixture(autouse=True)
def _one_thread():
    """Small networks: one thread is faster, and much faster on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


class CountingStream:
    """An iterator of real batches that counts how many were drawn."""

    def __init__(self, dist, batch=32):
        self.dist, self.batch, self.drawn = dist, batch, 0

    def __iter__(self):
        return self

    def __next__(self):
        self.drawn += 1
        return self.dist.sample(self.batch)


def toy_pair(hidden=16):
    return ToyGenerator(2, 2, hidden, 2), ToyDiscriminator(2, hidden, 2)


def test_clip_weights_clips_everything_and_reports_the_share_at_the_bounds():
    net = nn.Linear(3, 2)
    with torch.no_grad():
        net.weight.copy_(torch.tensor([[0.5, -0.5, 0.001], [0.002, -0.003, 0.0]]))
        net.bias.copy_(torch.tensor([0.02, -0.0001]))
    share = clip_weights(net, 0.01)
    assert net.weight.abs().max().item() <= 0.01 and net.bias.abs().max().item() <= 0.01
    assert share == pytest.approx(3 / 8)  # 0.5, -0.5 and the bias 0.02 hit the bounds
    assert net.weight[0, 2].item() == pytest.approx(0.001)  # inside values are untouched
    with pytest.raises(ValueError, match="c: expected a finite number > 0"):
        clip_weights(net, 0.0)
    with pytest.raises(TypeError, match="module: expected an nn.Module"):
        clip_weights(torch.ones(2), 0.01)


def test_presets_hold_the_papers_defaults():
    w = PRESETS["wgan"]
    assert (w.optimizer, w.lr, w.clip, w.n_critic, w.constraint, w.loss) == ("rmsprop", 5e-5, 0.01, 5, "clip", "wgan")
    gp = PRESETS["wgan-gp"]
    assert (gp.optimizer, gp.lr, gp.betas, gp.gp_weight, gp.n_critic, gp.constraint) == ("adam", 1e-4, (0.0, 0.9), 10.0, 5, "gp")
    assert PRESETS["sngan"].constraint == "sn" and PRESETS["hinge"].loss == "hinge"
    assert PRESETS["gan"].n_critic == 1 and PRESETS["gan"].loss == "gan"
    c = preset("wgan-gp", lr_decay_steps=100, ema_decay=0.99)
    assert c.lr_decay_steps == 100 and c.ema_decay == 0.99 and PRESETS["wgan-gp"].ema_decay is None


def test_config_bad_input():
    with pytest.raises(ValueError, match="loss: unknown value 'wasserstein'"):
        WGANConfig(loss="wasserstein")
    with pytest.raises(ValueError, match="constraint: unknown value"):
        WGANConfig(constraint="lipschitz")
    with pytest.raises(ValueError, match="lr: expected a finite number > 0"):
        WGANConfig(lr=-1.0)
    with pytest.raises(ValueError, match="betas: expected two numbers in"):
        WGANConfig(betas=(0.5, 1.5))
    with pytest.raises(ValueError, match="n_critic: expected an int >= 1"):
        WGANConfig(n_critic=0)
    with pytest.raises(ValueError, match="ema_decay: expected None or a number"):
        WGANConfig(ema_decay=1.0)
    with pytest.raises(ValueError, match="overrides: unknown field"):
        preset("wgan", n_dis=3)
    with pytest.raises(ValueError, match="name: unknown value 'lsgan-gp'"):
        preset("lsgan-gp")


def test_model_bad_input():
    G, D = toy_pair()
    with pytest.raises(TypeError, match="G: expected an nn.Module"):
        WGAN("G", D)
    with pytest.raises(TypeError, match="config: expected a WGANConfig"):
        WGAN(G, D, config={"lr": 1e-4})
    with pytest.raises(TypeError, match="sample_z: G has no z_dim"):
        WGAN(nn.Linear(2, 2), D)
    model = WGAN(G, D)
    with pytest.raises(ValueError, match="ema: this model keeps no weight average"):
        model.sample(4, ema=True)


def test_wgan_step_order_clipping_and_critic_count():
    torch.manual_seed(0)
    G, D = toy_pair()
    model = WGAN(G, D, "wgan")
    stream = CountingStream(data.ring())
    g_before = [p.clone() for p in G.parameters()]
    logs = model.optimize_parameters(stream)
    assert stream.drawn == 5  # n_critic real batches for one generator step
    assert all(p.abs().max().item() <= 0.01 for p in D.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(g_before, G.parameters()))
    assert set(logs) >= {"loss_D", "loss_G", "w1_estimate"} and model.g_steps == 1
    assert logs["w1_estimate"].item() == pytest.approx(-logs["loss_D"].item())
    assert isinstance(model.opt_D, torch.optim.RMSprop)


def test_reference_schedule_runs_100_critic_steps_early_and_every_500th():
    G, D = toy_pair()
    model = WGAN(G, D, preset("wgan", reference_schedule=True))
    counts = {}
    for g in (0, 24, 25, 26, 499, 500, 501, 1000):
        model.g_steps = g
        counts[g] = model.critic_iterations()
    assert counts == {0: 100, 24: 100, 25: 5, 26: 5, 499: 5, 500: 100, 501: 5, 1000: 100}
    model = WGAN(G, D, "wgan")
    model.g_steps = 0
    assert model.critic_iterations() == 5


def test_wgan_gp_critic_loss_is_the_wasserstein_loss_plus_the_penalty():
    torch.manual_seed(0)
    G, D = toy_pair()
    model = WGAN(G, D, "wgan-gp")
    real, fake = torch.randn(32, 2), torch.randn(32, 2) + 1
    torch.manual_seed(5)
    logs = model.backward_D(real, fake)
    grads = [p.grad.clone() for p in D.parameters()]
    D.zero_grad()
    torch.manual_seed(5)  # the same interpolation coefficients
    expected = losses.d_loss_wasserstein(D(real), D(fake)) + losses.gradient_penalty(D, real, fake, weight=10.0)
    expected.backward()
    assert logs["loss_D"].item() + logs["gp"].item() == pytest.approx(expected.item(), rel=1e-6)
    for a, p in zip(grads, D.parameters()):
        assert torch.allclose(a, p.grad, atol=1e-6)
    assert isinstance(model.opt_D, torch.optim.Adam) and model.opt_D.defaults["betas"] == (0.0, 0.9)


class AffineG(nn.Linear):
    """G(z) = Wz + b: the generator moves the whole distribution with its bias."""

    z_dim = 2

    def __init__(self):
        super().__init__(2, 2)


@pytest.mark.parametrize("name", ["wgan", "wgan-gp", "nsgan", "hinge"])
def test_every_objective_moves_the_generator_towards_the_data(name):
    torch.manual_seed(0)
    target = data.GaussianMixture([[2.0, -1.0]], std=0.2)
    model = WGAN(AffineG(), ToyDiscriminator(2, 32, 2), preset(name, lr=2e-3))
    stream = data.batches(target, 64, generator=torch.Generator().manual_seed(0))
    goal = torch.tensor([2.0, -1.0])
    start = (model.sample(2000).mean(0) - goal).norm().item()
    fit(lambda i: model.optimize_parameters(stream), 200, progress=False)
    end = (model.sample(2000).mean(0) - goal).norm().item()
    assert end < start - 0.25, (start, end)  # a sign error in a loss would move G away


def test_a_gradient_penalty_critic_estimates_w1_up_to_the_penalty_s_slack():
    """With the soft penalty the critic's slope along the transport lines settles near
    k = 1 + W1 / (2 lambda) (maximise k W1 - lambda (k - 1)^2), so its estimate is about k W1."""
    torch.manual_seed(0)
    real = torch.randn(128, 2) * 0.1
    fake = torch.randn(128, 2) * 0.1 + torch.tensor([1.5, 0.5])
    # equal-size uniform samples: the optimal plan is a permutation (Birkhoff), an assignment problem
    cost = torch.cdist(real.double(), fake.double()).numpy()
    rows, cols = linear_sum_assignment(cost)
    w1 = cost[rows, cols].mean()
    model = WGAN(AffineG(), ToyDiscriminator(2, 64, 3), preset("wgan-gp", lr=1e-3, betas=(0.5, 0.9)))
    for _ in range(300):
        model.opt_D.zero_grad()
        logs = model.backward_D(real, fake)
        model.opt_D.step()
    estimate = logs["w1_estimate"].item()
    assert estimate == pytest.approx(w1 * (1 + w1 / 20), rel=0.05), (estimate, w1)


def test_sn_presets_put_the_critic_under_spectral_norm_and_r1_is_added():
    G, D = toy_pair()
    assert not has_spectral_norm(D)
    model = WGAN(G, D, preset("hinge", r1_weight=1.0))
    assert has_spectral_norm(D)
    logs = model.optimize_parameters(CountingStream(data.grid()))
    assert "r1" in logs and logs["r1"].item() >= 0 and "w1_estimate" not in logs


def test_learning_rate_decays_linearly_to_zero_and_ema_tracks_g():
    G, D = toy_pair()
    model = WGAN(G, D, preset("nsgan", lr_decay_steps=4, ema_decay=0.9))
    stream = CountingStream(data.ring())
    lrs = []
    for _ in range(4):
        model.optimize_parameters(stream)
        lrs.append(model.opt_G.param_groups[0]["lr"])
    assert lrs == pytest.approx([2e-4 * 0.75, 2e-4 * 0.5, 2e-4 * 0.25, 0.0])
    assert model.opt_D.param_groups[0]["lr"] == 0.0
    assert model.ema.updates == 4
    assert model.sample(5, ema=True).shape == (5, 2)
    assert set(model.modules()) == {"G", "D", "G_ema"}


def test_resume_restores_the_generator_step_counter(tmp_path):
    G, D = toy_pair()
    model = WGAN(G, D, preset("wgan", reference_schedule=True, ema_decay=0.9))
    stream = CountingStream(data.ring(), batch=8)
    ck = Checkpointer(tmp_path, modules=model.modules(), optimizers=model.optimizers(), extras=model.extras(), every=2)
    fit(lambda i: model.optimize_parameters(stream), 3, checkpoint=ck, progress=False)
    G2, D2 = toy_pair()
    model2 = WGAN(G2, D2, preset("wgan", reference_schedule=True, ema_decay=0.9))
    ck2 = Checkpointer(tmp_path, modules=model2.modules(), optimizers=model2.optimizers(), extras=model2.extras())
    step, _ = ck2.restore_latest()
    assert step == 3 and model2.g_steps == 3 and model2.ema.updates == 3
    for a, b in zip(G.parameters(), G2.parameters()):
        assert torch.equal(a, b)


class TinyImageG(nn.Module):
    z_dim = 8

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(8, 16 * 4 * 4), nn.ReLU(), nn.Unflatten(1, (16, 4, 4)),
                                 nn.ConvTranspose2d(16, 1, 4, 2, 1), nn.Tanh())

    def forward(self, z):
        return self.net(z)


@pytest.mark.parametrize("name", ["wgan", "wgan-gp", "sngan"])
def test_the_model_trains_image_networks(name):
    torch.manual_seed(0)
    G = TinyImageG()
    D = nn.Sequential(nn.Conv2d(1, 8, 4, 2, 1), nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(8 * 4 * 4, 1))
    images = torch.rand(40, 1, 8, 8) * 2 - 1
    ds = data.TensorImageDataset(images, torch.zeros(40, dtype=torch.long), ["noise"])
    model = WGAN(G, D, name)
    logs = model.optimize_parameters(data.batches(ds, 8))
    assert torch.isfinite(logs["loss_D"]) and torch.isfinite(logs["loss_G"])
    assert model.sample(3).shape == (3, 1, 8, 8)


def test_ema_is_the_exponential_average():
    net = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        net.weight.fill_(0.0)
    ema = EMA(net, decay=0.5, warmup=False)
    for value in (1.0, 1.0, 3.0):
        with torch.no_grad():
            net.weight.fill_(value)
        ema.update(net)
    # 0 -> 0.5 -> 0.75 -> 1.875
    assert ema.module.weight.item() == pytest.approx(1.875)
    assert not ema.module.weight.requires_grad
    warm = EMA(net, decay=0.999)
    assert warm.current_decay() == pytest.approx(0.1)  # (1 + 0) / (10 + 0) early on
    warm.updates = 100_000
    assert warm.current_decay() == pytest.approx(0.999)
    with pytest.raises(ValueError, match="decay: expected a number in \\[0, 1\\)"):
        EMA(net, decay=1.5)
    with pytest.raises(TypeError, match="net: expected an nn.Module"):
        EMA("G")
    with pytest.raises(ValueError, match="net: its parameters differ"):
        ema.update(nn.Linear(1, 1))
    state = ema.state_dict()
    other = EMA(net, decay=0.1)
    other.load_state_dict(state)
    assert other.updates == 3 and other.decay == 0.5 and other.module.weight.item() == pytest.approx(1.875)
    assert math.isclose(EMA(net, decay=0.0, warmup=False).current_decay(), 0.0)


def test_without_batch_norm_makes_a_dcgan_critic_per_sample():
    from gancourse.models import dcgan
    from gancourse.models.wgan import without_batch_norm

    torch.manual_seed(0)
    D = without_batch_norm(dcgan.discriminator(16, 8))
    assert not any(isinstance(m, nn.BatchNorm2d) for m in D.modules())
    assert any(isinstance(m, nn.GroupNorm) for m in D.modules())
    x = torch.randn(6, 1, 16, 16)
    alone = torch.stack([D(x[i:i + 1])[0] for i in range(6)])
    assert torch.allclose(D(x), alone, atol=1e-5)  # a sample's score does not depend on its batch
    plain = without_batch_norm(dcgan.discriminator(16, 8), norm="none")
    assert not any(isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)) for m in plain.modules())
    with pytest.raises(ValueError, match="norm: unknown value 'instance'"):
        without_batch_norm(D, norm="instance")
    with pytest.raises(TypeError, match="D: expected an nn.Module"):
        without_batch_norm("D")


def test_digits_model_runs_one_wgan_gp_step():
    from gancourse.data import Digits, batches
    from gancourse.models.wgan import DigitsConfig, digits_model

    torch.manual_seed(0)
    model = digits_model(DigitsConfig(g_width=8, d_width=8, batch_size=8))
    assert model.config.constraint == "gp" and model.config.gp_weight == 10.0 and model.config.betas == (0.0, 0.9)
    logs = model.optimize_parameters(batches(Digits(16, "train"), 8))
    assert torch.isfinite(logs["gp"]) and model.sample(2, ema=True).shape == (2, 1, 16, 16)
    with pytest.raises(ValueError, match="objective: unknown value 'sngan'"):
        digits_model(DigitsConfig(objective="sngan"))
