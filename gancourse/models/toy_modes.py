r"""Mode coverage on PacGAN's toy mixtures: one objective, one mixture, one seed per run.

The benchmark of notebook 08's table (Lin et al. 2018, "PacGAN", Table 1; the same protocol as
VEEGAN's, Srivastava et al. 2017):

* **ring**: 8 Gaussians on the unit circle, σ = 0.01; **grid**: 25 Gaussians on
  {-4, -2, 0, 2, 4}², σ = 0.05;
* after training, 2,500 samples are drawn; a sample is *high quality* within 3σ of its nearest
  mode, a mode is *captured* when at least one high-quality sample lands on it
  (``gancourse.metrics.mode_coverage``).

The networks are the course's MLPs (``gancourse.nn.ToyGenerator``/``ToyDiscriminator``: ReLU,
no batch norm), narrower than the papers' so that a CPU trains them in a minute or two;
``ToyRunConfig`` records every size. The objectives are the presets of
``gancourse.models.wgan`` (gan, nsgan, wgan, wgan-gp, sngan, hinge), trained with the same loop.

Command line (what the shipped checkpoints' manifest entries record)::

    python -m gancourse.models.toy_modes wgan-gp grid --seeds 0 1 2 --publish
    python -m gancourse.models.toy_modes wgan-gp grid --steps 20000 --lr-decay --ema 0.999 --publish
    python -m gancourse.train toy-modes --publish          # the whole table: 6 objectives x 2 mixtures x 3 seeds
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from .. import _validate as V
from .. import recipes
from ..data import GaussianMixture, ToyDistribution, batches, grid, ring
from ..metrics import mode_coverage
from ..nn import ToyDiscriminator, ToyGenerator
from ..train import Checkpointer, History, fit
from .wgan import PRESETS, WGAN, preset

OBJECTIVES = ("gan", "nsgan", "wgan", "wgan-gp", "sngan", "hinge")
MIXTURES = ("ring", "grid")

# Toy settings, one per objective. WGAN-GP: its reference toy code (gan_toy.py, Gulrajani et al.
# 2017) uses λ = 0.1 ("smaller lambda makes things faster for toy tasks") and Adam β = (0.5, 0.9);
# the paper's λ = 10, β1 = 0 are its image settings. WGAN: the paper's RMSProp 5e-5, c = 0.01
# (the preset). GAN and NS-GAN: Adam 1e-3, β1 = 0.5, notebook 04's toy setting
# (``gancourse.models.vanilla``): at DCGAN's 2e-4 these narrow networks are far from the modes
# after a few thousand steps. SN-GAN and hinge keep Miyato et al.'s Adam 2e-4 (the preset): at
# 1e-3 the spectrally normalised critic, whose slope is small, cannot keep up with G, and G
# collapses off the data (0/8 ring modes, all three seeds, measured).
TOY_SETTINGS = {
    "wgan-gp": {"gp_weight": 0.1, "betas": (0.5, 0.9)},
    "gan": {"lr": 1e-3}, "nsgan": {"lr": 1e-3},
}

# PacGAN Table 1 (10 trials each) and VEEGAN Table 1 (other settings), as (modes, HQ %).
PUBLISHED = {
    "ring": {"GAN (PacGAN Table 1)": (6.3, 98.2), "PacGAN4 (PacGAN Table 1)": (7.8, 95.9)},
    "grid": {"GAN (PacGAN Table 1)": (17.3, 94.8), "ALI (PacGAN Table 1)": (24.1, 95.7),
             "PacGAN3 (PacGAN Table 1)": (24.6, 94.2), "PacGAN4 (PacGAN Table 1)": (24.8, 93.6),
             "VEEGAN (VEEGAN Table 1)": (24.6, 40.0), "Unrolled GAN (VEEGAN Table 1)": (23.6, 16.0)},
}


def make_mixture(name: str) -> GaussianMixture:
    """PacGAN's mixtures: ``"ring"`` (8 modes, radius 1, σ 0.01) or ``"grid"`` (25 modes, σ 0.05)."""
    V.choice(name, "name", MIXTURES)
    return ring(8, radius=1.0, std=0.01) if name == "ring" else grid(5, spacing=2.0, std=0.05)


def data_scale(mixture: GaussianMixture) -> float:
    """The standard deviation of one coordinate of the mixture (equal weights): 2.83 for the
    grid, 0.71 for the ring. The networks work in coordinates divided by it, as in WGAN-GP's
    toy code (which divides the 25 Gaussians by 2.828 and the 8 by 1.414)."""
    if not isinstance(mixture, GaussianMixture):
        raise TypeError(f"mixture: expected a GaussianMixture, got {type(mixture).__name__}")
    c = mixture.centers.double()
    var = (mixture.weights.double()[:, None] * (c - (mixture.weights.double() @ c)) ** 2).sum(0).mean()
    return float((var + mixture.std ** 2).sqrt())


class Standardized(ToyDistribution):
    """Samples of ``base`` divided by ``scale``: the training data as the networks see them."""

    dim = 2
    has_density = False

    def __init__(self, base: GaussianMixture, scale: float):
        self.base, self.scale = base, V.positive_float(scale, "scale")

    def sample(self, n, generator=None):
        return self.base.sample(n, generator=generator) / self.scale


class Rescaled(nn.Module):
    """G in the data's units: ``scale * net(z)`` for a generator trained on standardised data."""

    def __init__(self, net: nn.Module, scale: float):
        super().__init__()
        self.net = net
        self.z_dim = net.z_dim
        self.register_buffer("scale", torch.tensor(V.positive_float(scale, "scale")))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.scale * self.net(z)


@dataclass
class ToyRunConfig:
    """One run of the benchmark. ``steps`` counts generator steps (a WGAN step holds n_critic
    critic steps). ``lr_decay``: linear decay of both learning rates to 0 over ``steps``;
    ``ema_decay``: also keep an average of G's weights and measure it; ``r1_weight``: add R1."""

    objective: str = "wgan-gp"
    mixture: str = "grid"
    seed: int = 0
    steps: int = 3000
    batch_size: int = 256
    hidden: int = 128
    depth: int = 3
    z_dim: int = 2
    lr_decay: bool = False
    ema_decay: float | None = None
    r1_weight: float = 0.0
    lr: float | None = None       # None: the objective's own (PRESETS, TOY_SETTINGS)
    n_eval: int = 2500

    def __post_init__(self):
        V.choice(self.objective, "objective", PRESETS)
        V.choice(self.mixture, "mixture", MIXTURES)
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed: expected an int >= 0, got {self.seed!r}")
        for name in ("steps", "batch_size", "hidden", "depth", "z_dim", "n_eval"):
            setattr(self, name, V.positive_int(getattr(self, name), name))
        if not isinstance(self.lr_decay, bool):
            raise TypeError(f"lr_decay: expected a bool, got {type(self.lr_decay).__name__}")
        self.r1_weight = V.positive_float(self.r1_weight, "r1_weight", allow_zero=True)
        if self.lr is not None:
            self.lr = V.positive_float(self.lr, "lr")

    def wgan_config(self):
        """The objective's configuration (``gancourse.models.wgan.preset``) with this run's options."""
        overrides = {**TOY_SETTINGS.get(self.objective, {}), "lr_decay_steps": self.steps if self.lr_decay else None,
                     "ema_decay": self.ema_decay, "r1_weight": self.r1_weight}
        if self.lr is not None:
            overrides["lr"] = self.lr
        return preset(self.objective, **overrides)


@dataclass
class ToyResult:
    """Modes captured, high-quality percentage and training seconds of one run (and of G's weight
    average when there is one); the trained model and its loss history."""

    config: ToyRunConfig
    modes: int
    hq: float          # percent
    seconds: float
    modes_ema: int | None
    hq_ema: float | None
    scale: float       # the networks work in data / scale
    model: WGAN
    history: History

    def generator(self, ema: bool = False) -> nn.Module:
        """The trained G (or its weight average) in the data's units."""
        if ema and self.model.ema is None:
            raise ValueError("ema: this run kept no weight average (set ema_decay)")
        return Rescaled(self.model.ema.module if ema else self.model.G, self.scale).eval()

    def metrics(self) -> dict:
        out = {"modes": self.modes, "hq_percent": round(self.hq, 2), "seconds": round(self.seconds, 1)}
        if self.modes_ema is not None:
            out.update(modes_ema=self.modes_ema, hq_percent_ema=round(self.hq_ema, 2))
        return out


def build_networks(config: ToyRunConfig) -> tuple[ToyGenerator, ToyDiscriminator]:
    """G and D of a run (the critic gets spectral norm from the model object when the objective asks)."""
    G = ToyGenerator(z_dim=config.z_dim, data_dim=2, hidden=config.hidden, depth=config.depth)
    D = ToyDiscriminator(data_dim=2, hidden=config.hidden, depth=config.depth)
    return G, D


def evaluate(G: torch.nn.Module, mixture: GaussianMixture, n: int = 2500, seed: int = 1234) -> tuple[int, float]:
    """(modes captured, HQ %) of ``n`` samples of G, with noise from a fixed seed."""
    n = V.positive_int(n, "n")
    z = torch.randn(n, G.z_dim, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        samples = G(z.to(next(G.parameters()).device)).cpu()
    cov = mode_coverage(samples, mixture.centers, mixture.std)
    return cov.modes, 100.0 * cov.hq_fraction


def train_toy(config: ToyRunConfig, progress: bool = True, device="cpu", log_every: int = 100,
              checkpoint=None, resume: bool | str = False) -> ToyResult:
    """Train one objective on one mixture with one seed; return modes, HQ % and seconds.

    Seeding: the networks' initial weights and the data stream both follow ``config.seed``.
    Seconds are the wall time of training alone (no evaluation), on the current machine. With
    ``checkpoint`` (a ``gancourse.train.Checkpointer``), saves and resumes as ``fit`` does.
    """
    if not isinstance(config, ToyRunConfig):
        raise TypeError(f"config: expected a ToyRunConfig, got {type(config).__name__}")
    torch.manual_seed(config.seed)
    mixture = make_mixture(config.mixture)
    scale = data_scale(mixture)
    G, D = build_networks(config)
    G, D = G.to(device), D.to(device)
    model = WGAN(G, D, config.wgan_config())
    stream = batches(Standardized(mixture, scale), config.batch_size,
                     generator=torch.Generator().manual_seed(10_000 + config.seed), device=device)
    if checkpoint is not None:
        checkpoint.modules.update(model.modules())
        checkpoint.optimizers.update(model.optimizers())
        checkpoint.extras.update({**model.extras(), "batches": stream})
    t0 = time.perf_counter()
    history = fit(lambda i: model.optimize_parameters(stream), config.steps, log_every=log_every,
                  desc=f"{config.objective} on the {config.mixture}, seed {config.seed}", progress=progress,
                  checkpoint=checkpoint, resume=resume)
    seconds = time.perf_counter() - t0
    modes, hq = evaluate(Rescaled(G, scale), mixture, config.n_eval)
    modes_ema = hq_ema = None
    if model.ema is not None:
        modes_ema, hq_ema = evaluate(Rescaled(model.ema.module, scale), mixture, config.n_eval)
    return ToyResult(config, modes, hq, seconds, modes_ema, hq_ema, scale, model, history)


def summarize(values) -> tuple[float, float]:
    """Mean and (sample) standard deviation of a list of numbers (std 0 for one value)."""
    values = [float(v) for v in values]
    if not values:
        raise ValueError("values: expected at least one number")
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


# --------------------------------------------------------------------------------------------
# Shipped checkpoints: one file per (objective, mixture, variant), holding every seed's G
# --------------------------------------------------------------------------------------------

def checkpoint_name(objective: str, mixture: str, variant: str = "") -> str:
    V.choice(objective, "objective", PRESETS)
    V.choice(mixture, "mixture", MIXTURES)
    return f"modes-{objective}-{mixture}" + (f"-{variant}" if variant else "")


def load_generators(name: str) -> tuple[list[ToyGenerator], dict]:
    """The generators (one per seed; their weight averages under the key ``"ema"`` when shipped)
    of a shipped benchmark checkpoint, and its state (``config``, ``metrics``)."""
    from .. import pretrained

    state = pretrained.load(name)
    cfg = state["config"]
    out = {"raw": [], "ema": []}
    for seed in cfg["seeds"]:
        for kind, key in (("raw", f"G_seed{seed}"), ("ema", f"G_ema_seed{seed}")):
            if key in state["modules"]:
                G = ToyGenerator(z_dim=cfg["z_dim"], data_dim=2, hidden=cfg["hidden"], depth=cfg["depth"])
                G.load_state_dict(state["modules"][key])
                out[kind].append(Rescaled(G, cfg["scale"]).eval())
    return out["raw"], {**state, "ema_generators": out["ema"]}


def train_cell(config: ToyRunConfig, seeds=(0, 1, 2), progress: bool = True, out=None, resume: bool | str = False,
               checkpoint_every: int = 1000) -> tuple[list[ToyResult], dict]:
    """Train ``config`` once per seed; return the results and a summary: per-seed metrics and
    their mean and standard deviation (``summary["modes"] = [mean, std]``, ...). With ``out`` (a
    folder), each run checkpoints into ``out/OBJECTIVE_MIXTURE_seedS/`` and ``resume`` continues it."""
    if not isinstance(config, ToyRunConfig):
        raise TypeError(f"config: expected a ToyRunConfig, got {type(config).__name__}")
    seeds = tuple(seeds)
    if not seeds:
        raise ValueError("seeds: expected at least one seed")
    results = []
    for s in seeds:
        cfg = ToyRunConfig(**{**asdict(config), "seed": s})
        ckpt = None
        if out is not None:
            ckpt = Checkpointer(Path(out) / f"{cfg.objective}_{cfg.mixture}_seed{s}", modules={},
                                every=checkpoint_every, config=asdict(cfg))
        results.append(train_toy(cfg, progress=progress, checkpoint=ckpt, resume=resume))
    summary = {"seeds": list(seeds), "per_seed": [r.metrics() for r in results]}
    keys = ["modes", "hq_percent", "seconds"] + (["modes_ema", "hq_percent_ema"] if config.ema_decay else [])
    for key in keys:
        mean, std = summarize([r.metrics()[key] for r in results])
        summary[key] = [round(mean, 2), round(std, 2)]
    return results, summary


def publish_cell(config: ToyRunConfig, results: list[ToyResult], summary: dict, variant: str = "",
                 command: str | None = None):
    """Write every seed's G (and its weight average, when kept) into one shipped checkpoint in
    ``data/``, named by :func:`checkpoint_name`, with the summary as its metrics."""
    from .. import pretrained

    seeds = summary["seeds"]
    modules = {}
    for s, r in zip(seeds, results):
        modules[f"G_seed{s}"] = r.model.G
        if r.model.ema is not None:
            modules[f"G_ema_seed{s}"] = r.model.ema.module
    cfg = {**asdict(config), "seeds": list(seeds), "steps": config.steps, "scale": results[0].scale}
    cfg.pop("seed")
    name = checkpoint_name(config.objective, config.mixture, variant)
    return pretrained.save(name, modules, config=cfg, metrics=summary,
                           command=command or _command(config, seeds, variant),
                           description=f"toy benchmark: {config.objective} on PacGAN's {config.mixture}, "
                                       f"{len(seeds)} seeds{', ' + variant if variant else ''} (notebook 08)")


def run_cell(config: ToyRunConfig, seeds=(0, 1, 2), variant: str = "", publish: bool = False,
             progress: bool = True, **checkpointing) -> dict:
    """:func:`train_cell` (``checkpointing``: its ``out``, ``resume``, ``checkpoint_every``), then
    (with ``publish``) :func:`publish_cell`; returns the summary."""
    results, summary = train_cell(config, seeds, progress, **checkpointing)
    if publish:
        publish_cell(config, results, summary, variant)
        summary["published"] = checkpoint_name(config.objective, config.mixture, variant)
    return summary


def _command(config: ToyRunConfig, seeds, variant: str) -> str:
    base = ToyRunConfig(objective=config.objective, mixture=config.mixture)
    parts = ["python -m gancourse.models.toy_modes", config.objective, config.mixture,
             "--seeds " + " ".join(map(str, seeds))]
    for field, flag in (("steps", "--steps"), ("batch_size", "--batch-size"), ("hidden", "--hidden"),
                        ("depth", "--depth"), ("z_dim", "--z-dim")):
        if getattr(config, field) != getattr(base, field):
            parts.append(f"{flag} {getattr(config, field)}")
    if config.lr_decay:
        parts.append("--lr-decay")
    if config.ema_decay is not None:
        parts.append(f"--ema {config.ema_decay}")
    if config.r1_weight:
        parts.append(f"--r1 {config.r1_weight}")
    if config.lr is not None:
        parts.append(f"--lr {config.lr}")
    if variant:
        parts.append(f"--variant {variant}")
    parts.append("--publish")
    return " ".join(parts)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m gancourse.models.toy_modes",
                                description="Train one objective on one of PacGAN's mixtures (notebook 08's table).")
    p.add_argument("objective", choices=OBJECTIVES)
    p.add_argument("mixture", choices=MIXTURES)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    defaults = ToyRunConfig()
    p.add_argument("--steps", type=int, default=defaults.steps, help="generator steps")
    p.add_argument("--batch-size", type=int, default=defaults.batch_size)
    p.add_argument("--hidden", type=int, default=defaults.hidden)
    p.add_argument("--depth", type=int, default=defaults.depth)
    p.add_argument("--z-dim", type=int, default=defaults.z_dim)
    p.add_argument("--lr-decay", action="store_true", help="decay the learning rates linearly to 0")
    p.add_argument("--ema", type=float, default=None, help="decay of an average of G's weights, e.g. 0.999")
    p.add_argument("--r1", type=float, default=0.0, help="weight of the R1 penalty on real data")
    p.add_argument("--lr", type=float, default=None, help="learning rate (default: the objective's own)")
    p.add_argument("--variant", default="", help="suffix of the checkpoint name (e.g. long, ema, r1, batch1024)")
    p.add_argument("--publish", action="store_true", help="write the generators into data/ (maintainers)")
    p.add_argument("--no-progress", action="store_true")
    return p


def main(argv=None) -> int:
    import json

    args = build_parser().parse_args(argv)
    torch.set_num_threads(1)  # small MLPs: one thread is as fast, and runs can go side by side
    config = ToyRunConfig(objective=args.objective, mixture=args.mixture, steps=args.steps,
                          batch_size=args.batch_size, hidden=args.hidden, depth=args.depth, z_dim=args.z_dim,
                          lr_decay=args.lr_decay, ema_decay=args.ema, r1_weight=args.r1, lr=args.lr)
    summary = run_cell(config, seeds=tuple(args.seeds), variant=args.variant, publish=args.publish,
                       progress=not args.no_progress)
    print(json.dumps(summary, indent=1))
    return 0


def run(args) -> dict:
    """Recipe ``toy-modes``: the whole table (every objective on both mixtures, seeds 0, 1, 2); each
    of the 36 runs checkpoints into its own folder of ``--out``."""
    if args.data is not None or args.image_size is not None:
        raise SystemExit("toy-modes: trains on PacGAN's toy mixtures; --data and --image-size do not apply")
    torch.set_num_threads(1)
    out = {}
    for mixture in MIXTURES:
        for objective in OBJECTIVES:
            config = ToyRunConfig(objective=objective, mixture=mixture,
                                  steps=args.steps or ToyRunConfig.steps,
                                  batch_size=args.batch_size or ToyRunConfig.batch_size)
            s = run_cell(config, seeds=(args.seed, args.seed + 1, args.seed + 2), publish=args.publish,
                         progress=not args.no_progress, out=args.out, resume=args.resume,
                         checkpoint_every=args.checkpoint_every or 1000)
            out[f"{objective}/{mixture}"] = {k: s[k] for k in ("modes", "hq_percent", "seconds")}
    return out


recipes.register("toy-modes", __name__, "run",
                 "notebook 08's table: 6 objectives x 2 mixtures x 3 seeds (modes, HQ %, seconds)")

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
