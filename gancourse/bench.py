"""Training speed of every model of the course: ``python -m gancourse.bench``.

For each model and configuration the benchmark builds the course's model object with its fast
paths (``gancourse.fastpaths``; automatic: on for a GPU, off for a CPU) and a reference. For DCGAN,
Pix2Pix, CycleGAN, StarGAN and SPADE the reference is the paper's training step written plainly in
this file, as the reference implementations write it (no model object, no validation, no course
code in the step), on the same networks and batch; for the other families it is the course's own
model object with every fast path off (on a CPU, the same computation). Both are driven by a bare
``for`` loop. It times full training steps (D and G updates, optimizer steps included) of both,
alternately (A/B, interleaved), in the same process, on the same threads (``--threads`` pins them):

- ``--warmup`` untimed steps first (cuDNN autotuning, allocator, first-call overheads);
- ``--reps`` timed repetitions of ``--steps`` steps each; the table gives the median steps per
  second and images per second, the spread (min–max over repetitions), the peak memory, and the
  ratio of the course's speed to the plain loop's, measured side by side;
- inputs are random tensors of the right shapes already on the device, so the numbers measure
  the model's computation, not image decoding.

Configurations: ``small`` is what the notebooks train on a CPU (16–32 px, a few channels); 
``standard`` is the paper's image size and widths (DCGAN 64x64, Pix2Pix and CycleGAN 256x256 with
9 residual blocks, StarGAN 128x128, SPADE 256x256, ...), batch sizes as in the papers or as noted.

    python -m gancourse.bench                         # every model, both configurations
    python -m gancourse.bench --config small --models dcgan cyclegan --json out.json --markdown out.md
"""
from __future__ import annotations

import argparse
import itertools
import json
import platform
import resource
import statistics
import sys
import time
from dataclasses import dataclass
from typing import Callable

import torch

from .fastpaths import FastPaths, prepare
from .models import cgan, cyclegan, dcgan, deepi2i, defectgan, pix2pix, spade, stargan, wgan


@dataclass
class Case:
    """One benchmark: ``build(device, fast)`` returns a function that runs one training step."""

    model: str
    config: str
    description: str
    batch: int
    build: Callable
    plain: Callable | None = None   # (device) -> step of the same architecture written plainly
    rebatch: Callable | None = None  # (batch) -> the same case at another batch size


def _case(model: str, config: str, description: str, builder: Callable, *args, plain: Callable | None = None) -> Case:
    """A case from its builder and the builder's arguments, the last being the batch size (the plain
    reference step, when there is one, takes the same arguments)."""
    return Case(model, config, description, args[-1], builder(*args), plain(*args) if plain else None,
                rebatch=lambda batch: _case(model, config, description, builder, *args[:-1], batch, plain=plain))


def _images(n, c, s, device):
    return torch.rand(n, c, s, s, device=device) * 2 - 1


# ---- one builder per model family: (device, fast, size, ...) -> step function ----------------------

def _dcgan(size, width, channels, batch):
    def build(device, fast):
        cfg = dcgan.DCGANConfig(image_size=size, channels=channels, g_width=width, d_width=width, batch_size=batch,
                                z_dim=100 if size >= 64 else 32, augment=False, ema=0.0, lr_decay=False)
        model = prepare(dcgan.DCGAN(cfg, device), fast, device)
        x = _images(batch, channels, size, device)
        return lambda: model.optimize_parameters(x)
    return build


def _dcgan_plain(size, width, channels, batch):
    """DCGAN's step written the plain way (no model object, no validation, no course code in the
    step): the same G and D, BCE on logits, Adam(2e-4, β1 = 0.5), D then G."""
    def build(device):
        z_dim = 100 if size >= 64 else 32
        G = dcgan.generator(size, z_dim, width, channels).to(device)
        D = dcgan.discriminator(size, width, channels).to(device)
        opt_G = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
        opt_D = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
        bce = torch.nn.BCEWithLogitsLoss()
        x = _images(batch, channels, size, device)
        ones, zeros = torch.ones(batch, device=device), torch.zeros(batch, device=device)

        def step():
            fake = G(torch.randn(batch, z_dim, device=device))
            loss_D = bce(D(x).view(-1), ones) + bce(D(fake.detach()).view(-1), zeros)
            opt_D.zero_grad()
            loss_D.backward()
            opt_D.step()
            loss_G = bce(D(fake).view(-1), ones)
            opt_G.zero_grad()
            loss_G.backward()
            opt_G.step()
        return step
    return build


# The papers' reference training steps written plainly (no model object, no validation, no course
# code in the step), on the same networks (built by the course's factories) and the same batch:
# what the course's step is compared with.

def _adam(net, lr=2e-4, betas=(0.5, 0.999)):
    return torch.optim.Adam(net.parameters(), lr=lr, betas=betas)


def _pix2pix_plain(size, ngf, ndf, d_layers, batch):
    """pix2pix's reference step (junyanz/pytorch-CycleGAN-and-pix2pix): D on (a, b) and (a, G(a))
    with BCE, halved; then G with BCE + 100·L1."""
    def build(device):
        cfg = pix2pix.Pix2PixConfig(size=size, in_channels=3, ngf=ngf, max_mult=8 if size >= 256 else 4, ndf=ndf,
                                    d_layers=d_layers, batch_size=batch)
        G, D = pix2pix.build_generator(cfg).to(device), pix2pix.build_discriminator(cfg).to(device)
        opt_G, opt_D = _adam(G), _adam(D)
        bce = torch.nn.BCEWithLogitsLoss()
        a, b = _images(batch, 3, size, device), _images(batch, 3, size, device)

        def step():
            fake = G(a)
            real_s, fake_s = D(torch.cat([a, b], 1)), D(torch.cat([a, fake.detach()], 1))
            loss_D = 0.5 * (bce(real_s, torch.ones_like(real_s)) + bce(fake_s, torch.zeros_like(fake_s)))
            opt_D.zero_grad()
            loss_D.backward()
            opt_D.step()
            for p in D.parameters():
                p.requires_grad_(False)
            fake_s = D(torch.cat([a, fake], 1))
            loss_G = bce(fake_s, torch.ones_like(fake_s)) + 100 * (fake - b).abs().mean()
            opt_G.zero_grad()
            loss_G.backward()
            opt_G.step()
            for p in D.parameters():
                p.requires_grad_(True)
        return step
    return build


def _cyclegan_plain(size, ngf, n_blocks, ndf, d_layers, norm, batch):
    """CycleGAN's reference step: G and F with LSGAN + 10·cycle + 5·identity (Ds frozen), then D_X
    and D_Y with LSGAN, halved (no image pool: its cost is a copy)."""
    def build(device):
        cfg = cyclegan.CycleGANConfig(size=size, ngf=ngf, n_blocks=n_blocks, ndf=ndf, d_layers=d_layers, norm=norm,
                                      batch_size=batch)
        G, F = (cyclegan.build_generator(cfg).to(device) for _ in range(2))
        D_X, D_Y = (cyclegan.build_discriminator(cfg).to(device) for _ in range(2))
        opt_G = torch.optim.Adam(list(G.parameters()) + list(F.parameters()), lr=2e-4, betas=(0.5, 0.999))
        opt_D = torch.optim.Adam(list(D_X.parameters()) + list(D_Y.parameters()), lr=2e-4, betas=(0.5, 0.999))
        mse = torch.nn.MSELoss()
        x, y = _images(batch, 3, size, device), _images(batch, 3, size, device)
        lam, lam_id = cfg.lambda_cyc, cfg.lambda_id * cfg.lambda_cyc

        def step():
            fake_y, fake_x = G(x), F(y)
            for p in list(D_X.parameters()) + list(D_Y.parameters()):
                p.requires_grad_(False)
            sy, sx = D_Y(fake_y), D_X(fake_x)
            loss_G = mse(sy, torch.ones_like(sy)) + mse(sx, torch.ones_like(sx)) \
                + lam * ((F(fake_y) - x).abs().mean() + (G(fake_x) - y).abs().mean())
            if lam_id > 0:
                loss_G = loss_G + lam_id * ((G(y) - y).abs().mean() + (F(x) - x).abs().mean())
            opt_G.zero_grad()
            loss_G.backward()
            opt_G.step()
            for p in list(D_X.parameters()) + list(D_Y.parameters()):
                p.requires_grad_(True)
            loss_D = 0
            for D, real, fake in ((D_Y, y, fake_y), (D_X, x, fake_x)):
                rs, fs = D(real), D(fake.detach())
                loss_D = loss_D + 0.5 * (mse(rs, torch.ones_like(rs)) + mse(fs, torch.zeros_like(fs)))
            opt_D.zero_grad()
            loss_D.backward()
            opt_D.step()
        return step
    return build


def _stargan_plain(size, ngf, n_blocks, ndf, d_layers, norm, batch):
    """StarGAN's reference iteration (yunjey/stargan): D with WGAN-GP + classification on real images;
    every 5th iteration G with adversarial + classification + 10·reconstruction."""
    def build(device):
        cfg = stargan.StarGANConfig(size=size, ngf=ngf, n_blocks=n_blocks, ndf=ndf, d_layers=d_layers, norm=norm,
                                    batch_size=batch, n_critic=5)
        G, D = stargan.build_generator(cfg).to(device), stargan.build_discriminator(cfg).to(device)
        opt_G, opt_D = _adam(G, 1e-4), _adam(D, 1e-4)
        x = _images(batch, 3, size, device)
        groups = cfg.datasets[0]
        labels = torch.stack([torch.randint(0, n, (batch,)) for n in groups], 1).to(device)
        onehot = lambda lab: torch.cat([torch.nn.functional.one_hot(lab[:, k], n).float()  # noqa: E731
                                        for k, n in enumerate(groups)], 1)
        ce = torch.nn.functional.cross_entropy

        def cls_loss(logits, lab):             # one cross-entropy per attribute, summed
            out, start = 0, 0
            for k, n in enumerate(groups):
                out, start = out + ce(logits[:, start:start + n], lab[:, k]), start + n
            return out
        counter = iter(range(10**9))

        def step():
            trg = labels[torch.randperm(batch, device=device)]
            c_org, c_trg = onehot(labels), onehot(trg)
            src_r, cls_r = D(x)
            fake = G(x, c_trg).detach()
            src_f, _ = D(fake)
            alpha = torch.rand(batch, 1, 1, 1, device=device)
            x_hat = (alpha * x + (1 - alpha) * fake).requires_grad_(True)
            (grad,) = torch.autograd.grad(D(x_hat)[0].sum(), x_hat, create_graph=True)
            gp = ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()
            loss_D = -src_r.mean() + src_f.mean() + 10 * gp + cls_loss(cls_r, labels)
            opt_D.zero_grad()
            loss_D.backward()
            opt_D.step()
            if (next(counter) + 1) % 5 == 0:
                fake = G(x, c_trg)
                src, cls = D(fake)
                loss_G = -src.mean() + cls_loss(cls, trg) + 10 * (G(fake, c_org) - x).abs().mean()
                opt_G.zero_grad()
                loss_G.backward()
                opt_G.step()
        return step
    return build


def _spade_plain(size, ngf, n_up, ndf, num_d, d_layers, batch):
    """SPADE's reference iteration (NVlabs/SPADE): G with hinge + 10·feature matching over the scales
    (D on fake and real in one pass), then D with hinge on the same fakes, detached; TTUR rates."""
    def build(device):
        cfg = spade.SPADEConfig(size=size, ngf=ngf, n_up=n_up, ndf=ndf, num_D=num_d, d_layers=d_layers,
                                batch_size=batch)
        G, D = spade.build_generator(cfg).to(device), spade.build_discriminator(cfg).to(device)
        opt_G = torch.optim.Adam(G.parameters(), lr=cfg.g_lr, betas=(cfg.beta1, cfg.beta2))
        opt_D = torch.optim.Adam(D.parameters(), lr=cfg.d_lr, betas=(cfg.beta1, cfg.beta2))
        labels = torch.randint(0, cfg.n_labels, (batch, size, size), device=device)
        maps = torch.nn.functional.one_hot(labels, cfg.n_labels).permute(0, 3, 1, 2).float()
        x = _images(batch, 3, size, device)
        relu = torch.nn.functional.relu

        def both(fake):
            out = D(torch.cat([torch.cat([maps, fake], 1), torch.cat([maps, x], 1)]))
            return [((s[:batch], [f[:batch] for f in fs]), (s[batch:], [f[batch:] for f in fs])) for s, fs in out]

        def step():
            for p in D.parameters():
                p.requires_grad_(False)
            fake = G(maps)
            scales = both(fake)
            adv = sum(-sf.mean() for (sf, _), _ in scales) / len(scales)
            fm = sum(sum((a - b.detach()).abs().mean() for a, b in zip(ff, fr)) for (_, ff), (_, fr) in scales) \
                / len(scales)
            loss_G = adv + 10 * fm
            opt_G.zero_grad()
            loss_G.backward()
            opt_G.step()
            for p in D.parameters():
                p.requires_grad_(True)
            scales = both(fake.detach())
            loss_D = sum(relu(1 - sr).mean() + relu(1 + sf).mean() for (sf, _), (sr, _) in scales) / len(scales)
            opt_D.zero_grad()
            loss_D.backward()
            opt_D.step()
        return step
    return build


def _wgan_gp(size, width, channels, batch):
    def build(device, fast):

        cfg = wgan.DigitsConfig(image_size=size, g_width=width, d_width=width, channels=channels, batch_size=batch)
        model = prepare(wgan.digits_model(cfg, device), fast, device)
        stream = itertools.repeat(_images(batch, channels, size, device))
        return lambda: model.optimize_parameters(stream)
    return build


def _cgan(kind, size, width, channels, batch):
    def build(device, fast):
        cfg = cgan.CGANConfig(kind=kind, code="embedding" if kind == "cgan" else "one_hot", image_size=size,
                              channels=channels, g_width=width, d_width=width, batch_size=batch)
        model = prepare(cgan.CGAN(cfg, device), fast, device)
        x, y = _images(batch, channels, size, device), torch.randint(0, 10, (batch,), device=device)
        return lambda: model.optimize_parameters(x, y)
    return build


def _pix2pix(size, ngf, ndf, d_layers, batch):
    def build(device, fast):
        cfg = pix2pix.Pix2PixConfig(size=size, in_channels=3, ngf=ngf, max_mult=8 if size >= 256 else 4, ndf=ndf,
                                    d_layers=d_layers, batch_size=batch)
        model = prepare(pix2pix.Pix2Pix(cfg, device), fast, device)
        a, b = _images(batch, 3, size, device), _images(batch, 3, size, device)

        def step():
            model.set_input(a, b)
            return model.optimize_parameters()
        return step
    return build


def _cyclegan(size, ngf, n_blocks, ndf, d_layers, norm, batch):
    def build(device, fast):
        cfg = cyclegan.CycleGANConfig(size=size, ngf=ngf, n_blocks=n_blocks, ndf=ndf, d_layers=d_layers, norm=norm,
                                      batch_size=batch)
        model = prepare(cyclegan.CycleGAN(cfg, device), fast, device)
        x, y = _images(batch, 3, size, device), _images(batch, 3, size, device)

        def step():
            model.set_input(x, y)
            return model.optimize_parameters()
        return step
    return build


def _stargan(size, ngf, n_blocks, ndf, d_layers, norm, batch):
    def build(device, fast):
        cfg = stargan.StarGANConfig(size=size, ngf=ngf, n_blocks=n_blocks, ndf=ndf, d_layers=d_layers, norm=norm,
                                    batch_size=batch, n_critic=5)
        model = prepare(stargan.StarGAN(cfg, device), fast, device)
        x = _images(batch, 3, size, device)
        labels = torch.stack([torch.randint(0, n, (batch,)) for n in cfg.datasets[0]], 1)
        counter = iter(range(10**9))

        def step():  # one iteration: a D update, and a G update every n_critic-th (as in training)
            model.set_input(x, labels, 0)
            return model.optimize_parameters(next(counter))
        return step
    return build


def _spade(size, ngf, n_up, ndf, num_d, d_layers, batch):
    def build(device, fast):
        cfg = spade.SPADEConfig(size=size, ngf=ngf, n_up=n_up, ndf=ndf, num_D=num_d, d_layers=d_layers, batch_size=batch)
        model = prepare(spade.SPADEModel(cfg, device), fast, device)
        labels = torch.randint(0, cfg.n_labels, (batch, size, size), device=device)
        maps = torch.nn.functional.one_hot(labels, cfg.n_labels).permute(0, 3, 1, 2).float()
        x = _images(batch, 3, size, device)

        def step():
            model.set_input(maps, x)
            return model.optimize_parameters()
        return step
    return build


def _defectgan(size, channels, ngf, n_down, n_res, ndf, d_layers, batch):
    def build(device, fast):
        cfg = defectgan.DefectGANConfig(size=size, channels=channels, ngf=ngf, n_down=n_down, n_res=n_res, ndf=ndf,
                                        d_layers=d_layers, batch_size=batch)
        model = prepare(defectgan.DefectGAN(cfg, device), fast, device)
        x = _images(batch, channels, size, device)
        labels = torch.randint(0, cfg.n_domains, (batch,))
        counter = iter(range(10**9))

        def step():
            model.set_input(x, labels)
            return model.optimize_parameters(next(counter))
        return step
    return build


def _deepi2i(size, width, batch):
    def build(device, fast):
        scfg = cgan.CGANConfig(kind="acgan", code="one_hot", image_size=size, channels=3, g_width=width, d_width=width)
        source = {"G": cgan.build_generator(scfg), "D": cgan.build_discriminator(scfg), "config": scfg}
        model = prepare(deepi2i.DeepI2I(deepi2i.DeepI2IConfig(batch_size=batch, warmup_steps=0), source, device),
                        fast, device)
        x, real = _images(batch, 3, size, device), _images(batch, 3, size, device)
        labels = torch.randint(0, scfg.n_classes, (batch,), device=device)
        return lambda: model.optimize_parameters(x, real, labels)
    return build


CASES = [
    _case("dcgan", "small", "16x16 digits, widths 64, batch 64", _dcgan, 16, 64, 1, 64, plain=_dcgan_plain),
    _case("dcgan", "standard", "64x64 RGB, widths 128 (G: 1024-512-256-128), batch 128",
          _dcgan, 64, 128, 3, 128, plain=_dcgan_plain),
    _case("wgan-gp", "small", "16x16 digits, widths 32, batch 64, n_critic 5", _wgan_gp, 16, 32, 1, 64),
    _case("wgan-gp", "standard", "64x64 RGB DCGAN nets, widths 64, batch 64, n_critic 5",
          _wgan_gp, 64, 64, 3, 64),
    _case("cgan", "small", "16x16 digits, widths 32, batch 64", _cgan, "cgan", 16, 32, 1, 64),
    _case("cgan", "standard", "32x32 RGB, widths 64, batch 64", _cgan, "cgan", 32, 64, 3, 64),
    _case("acgan", "small", "16x16 digits, widths 32, batch 64", _cgan, "acgan", 16, 32, 1, 64),
    _case("acgan", "standard", "32x32 RGB, widths 64, batch 64", _cgan, "acgan", 32, 64, 3, 64),
    _case("pix2pix", "small", "32x32 scenes, ngf 16, batch 16",
          _pix2pix, 32, 16, 32, 2, 16, plain=_pix2pix_plain),
    _case("pix2pix", "standard", "256x256, U-Net ngf 64, 70x70 PatchGAN, batch 1",
          _pix2pix, 256, 64, 64, 3, 1, plain=_pix2pix_plain),
    _case("cyclegan", "small", "32x32 shapes, ngf 16, 4 blocks, batch 4",
          _cyclegan, 32, 16, 4, 32, 2, "batch", 4, plain=_cyclegan_plain),
    _case("cyclegan", "standard", "256x256, ngf 64, 9 blocks, 70x70 PatchGAN, batch 1",
          _cyclegan, 256, 64, 9, 64, 3, "instance", 1, plain=_cyclegan_plain),
    _case("stargan", "small", "32x32 shapes, ngf 16, 4 blocks, batch 8",
          _stargan, 32, 16, 4, 32, 3, "batch", 8, plain=_stargan_plain),
    _case("stargan", "standard", "128x128, ngf 64, 6 blocks, D 5 stride-2 layers (paper: 6, then a 2x2 head), batch 16",
          _stargan, 128, 64, 6, 64, 5, "instance", 16, plain=_stargan_plain),
    _case("spade", "small", "32x32 scenes, ngf 16, 2 D scales, batch 16",
          _spade, 32, 16, 3, 32, 2, 2, 16, plain=_spade_plain),
    _case("spade", "standard", "256x256, ngf 64, 2 D scales of 4 layers, batch 4 (paper: 32 over 8 GPUs)",
          _spade, 256, 64, 5, 64, 2, 3, 4, plain=_spade_plain),
    _case("defectgan", "small", "32x32 texture crops, ngf 16, batch 16",
          _defectgan, 32, 1, 16, 2, 2, 16, 3, 16),
    _case("defectgan", "standard", "128x128 RGB, ngf 64, 6 residual blocks, batch 16",
          _defectgan, 128, 3, 64, 2, 6, 64, 5, 16),
    _case("deepi2i", "small", "16x16 digits source GAN, widths 32, batch 32", _deepi2i, 16, 32, 32),
    _case("deepi2i", "standard", "128x128 RGB source GAN, widths 64, batch 16", _deepi2i, 128, 64, 16),
]
MODELS = list(dict.fromkeys(c.model for c in CASES))


def _sync(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def _time(step, steps, device) -> float:
    """Steps per second over ``steps`` steps (the device synchronised at both ends only)."""
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    _sync(device)
    return steps / (time.perf_counter() - t0)


def _peak_memory_mb(device) -> float:
    if torch.device(device).type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # process peak (Linux: KiB)


def run_case(case: Case, device, steps: int, reps: int, warmup: int) -> dict:
    """Time ``case`` with the fast paths and with all of them off, alternating repetitions."""
    torch.manual_seed(0)
    if torch.device(device).type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    fast_step = case.build(device, FastPaths())
    # The reference: the paper's step written plainly on the same networks where the case has it,
    # else the same model object with every fast path off; either way driven by a bare loop.
    plain_step = case.plain(device) if case.plain is not None else case.build(device, FastPaths.off())
    for _ in range(warmup):
        fast_step()
        plain_step()
    fast, plain = [], []
    for _ in range(reps):
        plain.append(_time(plain_step, steps, device))
        fast.append(_time(fast_step, steps, device))
    fast_m, plain_m = statistics.median(fast), statistics.median(plain)
    sig = lambda x: float(f"{x:.4g}")    # noqa: E731  (4 significant digits: slow rows keep their precision)
    return {"model": case.model, "config": case.config, "description": case.description, "batch": case.batch,
            "steps_per_s": sig(fast_m), "images_per_s": sig(fast_m * case.batch),
            "spread_steps_per_s": [sig(min(fast)), sig(max(fast))],
            "plain_steps_per_s": sig(plain_m),
            "plain_spread_steps_per_s": [sig(min(plain)), sig(max(plain))],
            "speedup": round(fast_m / plain_m, 3), "peak_memory_mb": round(_peak_memory_mb(device), 1),
            "plain": "hand-written step" if case.plain is not None else "model with fast paths off",
            "fast_paths": {k: v for k, v in vars(FastPaths().resolve(device)).items() if v}}


def environment(device) -> dict:
    dev = torch.device(device)
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else (platform.processor() or platform.machine())
    return {"device": str(dev), "device_name": name, "torch": torch.__version__, "threads": torch.get_num_threads(),
            "python": platform.python_version()}


def markdown(results: list[dict], env: dict) -> str:
    memory = "peak GPU memory (MB)" if env["device"].startswith("cuda") else "process peak RSS (MB)"
    lines = [f"Device: {env['device_name']} ({env['device']}), torch {env['torch']}, {env['threads']} threads.", "",
             f"| model | config | batch | steps/s (min–max) | images/s | reference steps/s (min–max) | course / "
             f"reference | {memory} |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        (lo, hi), (plo, phi) = r["spread_steps_per_s"], r["plain_spread_steps_per_s"]
        kind = "plain step" if r["plain"] == "hand-written step" else "fast paths off"
        lines.append(f"| {r['model']} | {r['config']}: {r['description']} | {r['batch']} | "
                     f"{r['steps_per_s']:.3g} ({lo:.3g}–{hi:.3g}) | {r['images_per_s']:.4g} | "
                     f"{r['plain_steps_per_s']:.3g} ({plo:.3g}–{phi:.3g}), {kind} | {r['speedup']:.2f} | "
                     f"{r['peak_memory_mb']:.0f} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gancourse.bench", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=MODELS, help=f"which models (default all: {' '.join(MODELS)})")
    parser.add_argument("--config", choices=["small", "standard", "both"], default="both")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: cuda when available)")
    parser.add_argument("--steps", type=int, default=None, help="steps per timed repetition (default 10 small, 3 standard)")
    parser.add_argument("--reps", type=int, default=5, help="timed repetitions (default 5)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first (default 3)")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads for both sides (default: torch's current setting, recorded in the table)")
    parser.add_argument("--json", default=None, help="write the results as JSON here")
    parser.add_argument("--markdown", default=None, help="write the table as markdown here")
    args = parser.parse_args(argv)
    unknown = [m for m in args.models if m not in MODELS]
    if unknown:
        parser.error(f"--models: unknown {unknown}; expected some of {MODELS}")
    for name in ("reps", "warmup", "steps"):
        value = getattr(args, name)
        if value is not None and value < (0 if name == "warmup" else 1):
            parser.error(f"--{name}: expected a positive integer, got {value}")
    if args.threads is not None:
        if args.threads < 1:
            parser.error(f"--threads: expected a positive integer, got {args.threads}")
        torch.set_num_threads(args.threads)      # pinned: both sides of every row run on the same threads
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    cases = [c for c in CASES if c.model in args.models and args.config in (c.config, "both")]
    env, results = environment(device), []
    print(f"benchmarking {len(cases)} cases on {env['device_name']} ({device})", file=sys.stderr, flush=True)
    for case in cases:
        steps = args.steps or (10 if case.config == "small" else 3)
        t0 = time.perf_counter()
        results.append(run_case(case, device, steps, args.reps, args.warmup))
        r = results[-1]
        print(f"  {case.model:10s} {case.config:9s} {r['steps_per_s']:8.3g} steps/s  course/plain {r['speedup']:.2f}"
              f"  ({time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True)
    table = markdown(results, env)
    print(table)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"environment": env, "results": results}, f, indent=2)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(table)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
