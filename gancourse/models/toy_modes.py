r"""The course's toy benchmark: mode coverage on PacGAN's ring and grid, one protocol for every row.

The benchmark of notebooks 04, 07 and 08 (Lin et al. 2018, "PacGAN", Table 1; the protocol of
VEEGAN, Srivastava et al. 2017):

* **ring**: 8 Gaussians on the unit circle, σ = 0.01; **grid**: 25 Gaussians on
  {-4, -2, 0, 2, 4}², σ = 0.05 (``vanilla.pacgan_mixture``);
* after training, 2,500 samples are drawn; a sample is *high quality* within 3σ of its nearest
  mode, a mode is *captured* when at least one high-quality sample lands on it
  (``gancourse.metrics.mode_coverage``; ``min_share`` gives the stricter rule).

**The protocol**, the same for every row (``ToyRunConfig``'s defaults): G and D are the course's
MLPs with 3 hidden ReLU layers of 256 units, z ∈ ℝ², no batch norm, the data in their own
coordinates; batch 256; 24,000 generator steps; both learning rates decay linearly to 0; seeds
0, 1, 2. Only the objective and its optimiser change from row to row:

==========  =========================================================================
row         objective, optimiser
==========  =========================================================================
gan         minimax loss, Adam 1e-3, β1 = 0.5, k = 1 (``vanilla.ToyGAN``, notebook 04)
nsgan       the same with the non-saturating loss (notebook 04's GAN)
pacgan2/4   nsgan with PacGAN's packing: D judges m = 2 or 4 samples concatenated, a batch
            being 256 packs (``pack``)
sngan-pack4 sngan with the same packing, m = 4 (packing is a change of D's input, so it
            combines with any objective; Lin et al. 2018 pair it with several)
gan-pack2   gan (the minimax loss) with the same packing, m = 2
wgan        weight clipping c = 0.01, RMSProp 5e-5, n_critic = 5 (the paper)
wgan-gp     gradient penalty λ = 0.1, Adam 1e-4, β = (0.5, 0.9), n_critic = 5 (the
            authors' toy code; λ = 10 is their image setting)
sngan       spectral norm in D, non-saturating loss, Adam 2e-4, β1 = 0.5 (Miyato et al.)
hinge       the same with the hinge loss
==========  =========================================================================

Command line (what the shipped checkpoints' manifest entries record)::

    python -m gancourse.models.toy_modes nsgan grid --pack 2 --seeds 0 1 2 --publish
    python -m gancourse.train toy-modes --publish      # the whole table: every row x 2 mixtures x 3 seeds
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from .. import _validate as V
from .. import pretrained
from ..data import GaussianMixture, batches
from ..metrics import mode_coverage
from ..nn import ToyDiscriminator, ToyGenerator
from ..train import Checkpointer, History, fit
from .vanilla import ToyGAN, ToyGANConfig, pacgan_mixture
from .wgan import WGAN, preset

OBJECTIVES = ("gan", "nsgan", "wgan", "wgan-gp", "sngan", "hinge")
GAN_OBJECTIVES = ("gan", "nsgan")         # trained by notebook 04's ToyGAN
MIXTURES = ("ring", "grid")
# The rows of the table: name -> (objective, pack).
ROWS = {"gan": ("gan", 1), "nsgan": ("nsgan", 1), "pacgan2": ("nsgan", 2), "pacgan4": ("nsgan", 4),
        "wgan": ("wgan", 1), "wgan-gp": ("wgan-gp", 1), "sngan": ("sngan", 1), "hinge": ("hinge", 1),
        "sngan-pack4": ("sngan", 4), "gan-pack2": ("gan", 2)}
LABELS = {"gan": "GAN (minimax)", "nsgan": "GAN (non-saturating)", "pacgan2": "PacGAN2", "pacgan4": "PacGAN4",
          "wgan": "WGAN (clipping)", "wgan-gp": "WGAN-GP", "sngan": "SN-GAN", "hinge": "SN + hinge",
          "sngan-pack4": "SN-GAN, packed (m = 4)", "gan-pack2": "GAN (minimax), packed (m = 2)"}

# The Wasserstein-family settings (``gancourse.models.wgan.preset``) changed for the toy problem.
# WGAN-GP: its reference toy code (gan_toy.py, Gulrajani et al. 2017) uses λ = 0.1 ("smaller lambda
# makes things faster for toy tasks") and Adam β = (0.5, 0.9); λ = 10, β1 = 0 are its image settings.
# WGAN keeps the paper's RMSProp 5e-5, c = 0.01; SN-GAN and hinge Miyato et al.'s Adam 2e-4.
TOY_SETTINGS = {"wgan-gp": {"gp_weight": 0.1, "betas": (0.5, 0.9)}}

# PacGAN Table 1 (mean ± standard error over 10 trials) and VEEGAN Table 1 (other settings),
# as (modes, HQ %).
PUBLISHED = {
    "ring": {"GAN (PacGAN Table 1)": (6.3, 98.2), "ALI (PacGAN Table 1)": (6.6, 97.6),
             "PacGAN2 (PacGAN Table 1)": (7.9, 95.6), "PacGAN3 (PacGAN Table 1)": (7.8, 97.7),
             "PacGAN4 (PacGAN Table 1)": (7.8, 95.9)},
    "grid": {"GAN (PacGAN Table 1)": (17.3, 94.8), "ALI (PacGAN Table 1)": (24.1, 95.7),
             "PacGAN2 (PacGAN Table 1)": (23.8, 91.3), "PacGAN3 (PacGAN Table 1)": (24.6, 94.2),
             "PacGAN4 (PacGAN Table 1)": (24.8, 93.6),
             "VEEGAN (VEEGAN Table 1)": (24.6, 40.0), "Unrolled GAN (VEEGAN Table 1)": (23.6, 16.0)},
}


def label(row: str) -> str:
    """The table's name of a row: ``LABELS``, or for another packed objective "OBJECTIVE, packed (m = M)"."""
    if row in LABELS:
        return LABELS[row]
    objective, _, pack = row.rpartition("-pack")
    return f"{LABELS[objective]}, packed (m = {pack})"


def make_mixture(name: str) -> GaussianMixture:
    """PacGAN's mixtures: ``"ring"`` (8 modes, radius 1, σ 0.01) or ``"grid"`` (25 modes, σ 0.05)."""
    V.choice(name, "name", MIXTURES)
    return pacgan_mixture(name)


@dataclass
class ToyRunConfig:
    """One run of the benchmark; the defaults are the shared protocol. ``steps`` counts generator
    steps (a WGAN step holds n_critic critic steps). ``lr_decay``: linear decay of both learning
    rates to 0 over ``steps``. ``pack``: PacGAN's m (a batch is ``batch_size`` packs;
    every objective but WGAN-GP, whose penalty is per sample, not per pack). ``ema_decay``, ``r1_weight``: options of the Wasserstein-family model."""

    objective: str = "nsgan"
    mixture: str = "grid"
    seed: int = 0
    steps: int = 24000
    batch_size: int = 256
    hidden: int = 256
    depth: int = 3
    z_dim: int = 2
    lr_decay: bool = True
    pack: int = 1
    ema_decay: float | None = None
    r1_weight: float = 0.0
    lr: float | None = None       # None: the objective's own (see the module's table)
    n_eval: int = 2500

    def __post_init__(self):
        V.choice(self.objective, "objective", OBJECTIVES)
        V.choice(self.mixture, "mixture", MIXTURES)
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed: expected an int >= 0, got {self.seed!r}")
        V.fields(self, counts=("steps", "batch_size", "hidden", "depth", "z_dim", "n_eval", "pack"))
        if not isinstance(self.lr_decay, bool):
            raise TypeError(f"lr_decay: expected a bool, got {type(self.lr_decay).__name__}")
        self.r1_weight = V.positive_float(self.r1_weight, "r1_weight", allow_zero=True)
        if self.lr is not None:
            self.lr = V.positive_float(self.lr, "lr")
        if self.objective in GAN_OBJECTIVES and (self.ema_decay is not None or self.r1_weight):
            raise ValueError(f"ema_decay, r1_weight: options of the Wasserstein-family rows, not of {self.objective!r}")
        if self.pack > 1 and self.objective == "wgan-gp":
            raise ValueError(f"pack: WGAN-GP's penalty takes the gradient per sample, not per pack of "
                             f"{self.pack}; train it with pack=1")

    @property
    def row(self) -> str:
        """The table's row: the objective, ``pacganM`` for the packed non-saturating GAN (PacGAN's
        own), ``OBJECTIVE-packM`` for another packed objective."""
        if self.pack == 1:
            return self.objective
        return f"pacgan{self.pack}" if self.objective == "nsgan" else f"{self.objective}-pack{self.pack}"

    def gan_config(self) -> ToyGANConfig:
        """Notebook 04's configuration for a GAN row."""
        return ToyGANConfig(dataset=self.mixture, z_dim=self.z_dim, hidden=self.hidden, depth=self.depth,
                            lr=self.lr or 1e-3, beta1=0.5, batch_size=self.batch_size, k=1,
                            g_loss="saturating" if self.objective == "gan" else "nonsaturating",
                            steps=self.steps, lr_decay=self.lr_decay, seed=self.seed, pack=self.pack)

    def wgan_config(self):
        """The objective's configuration (``gancourse.models.wgan.preset``) with this run's options."""
        overrides = {**TOY_SETTINGS.get(self.objective, {}), "lr_decay_steps": self.steps if self.lr_decay else None,
                     "ema_decay": self.ema_decay, "r1_weight": self.r1_weight}
        if self.lr is not None:
            overrides["lr"] = self.lr
        return preset(self.objective, **overrides)


@dataclass
class ToyResult:
    """Modes captured (PacGAN's rule and the strict one), high-quality percentage and training
    seconds of one run (and of G's weight average when there is one); the model and its history."""

    config: ToyRunConfig
    modes: int
    modes_strict: int
    hq: float          # percent
    seconds: float
    modes_ema: int | None
    hq_ema: float | None
    model: object      # a vanilla.ToyGAN (GAN rows) or a wgan.WGAN
    history: History

    def generator(self, ema: bool = False) -> nn.Module:
        """The trained G (or its weight average), in eval mode."""
        if ema:
            if getattr(self.model, "ema", None) is None:
                raise ValueError("ema: this run kept no weight average (set ema_decay)")
            return self.model.ema.module.eval()
        return self.model.G.eval()

    def metrics(self) -> dict:
        out = {"modes": self.modes, "modes_strict": self.modes_strict, "hq_percent": round(self.hq, 2),
               "seconds": round(self.seconds, 1)}
        if self.modes_ema is not None:
            out.update(modes_ema=self.modes_ema, hq_percent_ema=round(self.hq_ema, 2))
        return out


# The stricter rule reported beside PacGAN's: a mode counts with at least a quarter of its fair share.
STRICT_SHARE = 0.25


def evaluate(G: torch.nn.Module, mixture: GaussianMixture, n: int = 2500, seed: int = 1234,
             min_share: float | None = None) -> tuple[int, float]:
    """(modes captured, HQ %) of ``n`` samples of G, with noise from a fixed seed; ``min_share``
    as in ``metrics.mode_coverage`` (None: PacGAN's rule)."""
    n = V.positive_int(n, "n")
    z = torch.randn(n, G.z_dim, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        samples = G(z.to(next(G.parameters()).device)).cpu()
    cov = mode_coverage(samples, mixture.centers, mixture.std, min_share=min_share)
    return cov.modes, 100.0 * cov.hq_fraction


def train_toy(config: ToyRunConfig, progress: bool = True, device="cpu", log_every: int = 100,
              checkpoint=None, resume: bool | str = False) -> ToyResult:
    """Train one row on one mixture with one seed; return modes, HQ % and seconds.

    Seeding: the networks' initial weights and the data both follow ``config.seed``. Seconds are
    the wall time of training alone (no evaluation), on the current machine. With ``checkpoint``
    (a ``gancourse.train.Checkpointer``), saves and resumes as ``fit`` does.
    """
    V.instance(config, "config", ToyRunConfig)
    torch.manual_seed(config.seed)
    mixture = make_mixture(config.mixture)
    if config.objective in GAN_OBJECTIVES:
        model = ToyGAN(config.gan_config(), device)
        step = lambda i: model.optimize_parameters()   # noqa: E731
        extras = model.extras()
    else:
        G = ToyGenerator(z_dim=config.z_dim, data_dim=2, hidden=config.hidden, depth=config.depth).to(device)
        D = ToyDiscriminator(data_dim=2, hidden=config.hidden, depth=config.depth, pack=config.pack).to(device)
        model = WGAN(G, D, config.wgan_config())
        stream = batches(mixture, config.batch_size * config.pack, generator=torch.Generator().manual_seed(10_000 + config.seed),
                         device=device)
        step = lambda i: model.optimize_parameters(stream)   # noqa: E731
        extras = {**model.extras(), "batches": stream}
    if checkpoint is not None:
        checkpoint.modules.update(model.modules())
        checkpoint.optimizers.update(model.optimizers())
        checkpoint.extras.update(extras)
    t0 = time.perf_counter()
    history = fit(step, config.steps, log_every=log_every, progress=progress, checkpoint=checkpoint, resume=resume,
                  desc=f"{label(config.row)} on the {config.mixture}, seed {config.seed}")
    seconds = time.perf_counter() - t0
    G = model.G.eval()
    modes, hq = evaluate(G, mixture, config.n_eval)
    strict, _ = evaluate(G, mixture, config.n_eval, min_share=STRICT_SHARE)
    modes_ema = hq_ema = None
    if getattr(model, "ema", None) is not None:
        modes_ema, hq_ema = evaluate(model.ema.module, mixture, config.n_eval)
    return ToyResult(config, modes, strict, hq, seconds, modes_ema, hq_ema, model, history)


def summarize(values) -> tuple[float, float]:
    """Mean and (sample) standard deviation of a list of numbers (std 0 for one value)."""
    values = [float(v) for v in values]
    if not values:
        raise ValueError("values: expected at least one number")
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


# --------------------------------------------------------------------------------------------
# Shipped checkpoints: one file per (row, mixture, variant), holding every seed's G
# --------------------------------------------------------------------------------------------

def checkpoint_name(row: str, mixture: str, variant: str = "") -> str:
    """``modes-ROW-MIXTURE[-VARIANT]``: the shipped file of one cell of the table."""
    V.choice(row, "row", ROWS)
    V.choice(mixture, "mixture", MIXTURES)
    return f"modes-{row}-{mixture}" + (f"-{variant}" if variant else "")


def load_generators(name: str) -> tuple[list[ToyGenerator], dict]:
    """The generators (one per seed, eval mode; their weight averages under the key
    ``"ema_generators"`` when shipped) of a shipped benchmark checkpoint, and its state
    (``config``, ``metrics``)."""
    state = pretrained.load(name)
    cfg = state["config"]
    out = {"raw": [], "ema": []}
    for seed in cfg["seeds"]:
        for kind, key in (("raw", f"G_seed{seed}"), ("ema", f"G_ema_seed{seed}")):
            if key in state["modules"]:
                G = ToyGenerator(z_dim=cfg["z_dim"], data_dim=2, hidden=cfg["hidden"], depth=cfg["depth"])
                G.load_state_dict(state["modules"][key])
                out[kind].append(G.eval())
    return out["raw"], {**state, "ema_generators": out["ema"]}


def train_cell(config: ToyRunConfig, seeds=(0, 1, 2), progress: bool = True, out=None, resume: bool | str = False,
               checkpoint_every: int = 1000) -> tuple[list[ToyResult], dict]:
    """Train ``config`` once per seed; return the results and a summary: per-seed metrics and
    their mean and standard deviation (``summary["modes"] = [mean, std]``, ...). With ``out`` (a
    folder), each run checkpoints into ``out/ROW_MIXTURE_seedS/`` and ``resume`` continues it."""
    V.instance(config, "config", ToyRunConfig)
    seeds = tuple(seeds)
    if not seeds:
        raise ValueError("seeds: expected at least one seed")
    results = []
    for s in seeds:
        cfg = ToyRunConfig(**{**asdict(config), "seed": s})
        ckpt = None
        if out is not None:
            ckpt = Checkpointer(Path(out) / f"{cfg.row}_{cfg.mixture}_seed{s}", modules={},
                                every=checkpoint_every, config=asdict(cfg))
        results.append(train_toy(cfg, progress=progress, checkpoint=ckpt, resume=resume))
    summary = {"seeds": list(seeds), "per_seed": [r.metrics() for r in results]}
    keys = ["modes", "modes_strict", "hq_percent", "seconds"] + (["modes_ema", "hq_percent_ema"] if config.ema_decay else [])
    for key in keys:
        mean, std = summarize([r.metrics()[key] for r in results])
        summary[key] = [round(mean, 2), round(std, 2)]
    return results, summary


def publish_cell(config: ToyRunConfig, results: list[ToyResult], summary: dict, variant: str = "",
                 command: str | None = None):
    """Write every seed's G (and its weight average, when kept) into one shipped checkpoint in
    ``data/``, named by :func:`checkpoint_name`, with the summary as its metrics."""
    seeds = summary["seeds"]
    modules = {}
    for s, r in zip(seeds, results):
        modules[f"G_seed{s}"] = r.model.G
        if getattr(r.model, "ema", None) is not None:
            modules[f"G_ema_seed{s}"] = r.model.ema.module
    cfg = {**asdict(config), "seeds": list(seeds)}
    cfg.pop("seed")
    name = checkpoint_name(config.row, config.mixture, variant)
    return pretrained.save(name, modules, config=cfg, metrics=summary,
                           command=command or _command(config, seeds, variant),
                           description=f"toy benchmark: {label(config.row)} on PacGAN's {config.mixture}, "
                                       f"{len(seeds)} seeds{', ' + variant if variant else ''} (notebooks 04, 07, 08)")


def run_cell(config: ToyRunConfig, seeds=(0, 1, 2), variant: str = "", publish: bool = False,
             progress: bool = True, **checkpointing) -> dict:
    """:func:`train_cell` (``checkpointing``: its ``out``, ``resume``, ``checkpoint_every``), then
    (with ``publish``) :func:`publish_cell`; returns the summary."""
    results, summary = train_cell(config, seeds, progress, **checkpointing)
    if publish:
        publish_cell(config, results, summary, variant)
        summary["published"] = checkpoint_name(config.row, config.mixture, variant)
    return summary


def _command(config: ToyRunConfig, seeds, variant: str) -> str:
    base = ToyRunConfig(objective=config.objective, mixture=config.mixture)
    parts = ["python -m gancourse.models.toy_modes", config.objective, config.mixture,
             "--seeds " + " ".join(map(str, seeds))]
    for field, flag in (("pack", "--pack"), ("steps", "--steps"), ("batch_size", "--batch-size"),
                        ("hidden", "--hidden"), ("depth", "--depth"), ("z_dim", "--z-dim")):
        if getattr(config, field) != getattr(base, field):
            parts.append(f"{flag} {getattr(config, field)}")
    if not config.lr_decay:
        parts.append("--no-lr-decay")
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
                                description="Train one row of the toy benchmark on one of PacGAN's mixtures.")
    p.add_argument("objective", choices=OBJECTIVES)
    p.add_argument("mixture", choices=MIXTURES)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    defaults = ToyRunConfig()
    p.add_argument("--pack", type=int, default=defaults.pack, help="PacGAN's packing m (every objective but wgan-gp)")
    p.add_argument("--steps", type=int, default=defaults.steps, help="generator steps")
    p.add_argument("--batch-size", type=int, default=defaults.batch_size)
    p.add_argument("--hidden", type=int, default=defaults.hidden)
    p.add_argument("--depth", type=int, default=defaults.depth)
    p.add_argument("--z-dim", type=int, default=defaults.z_dim)
    p.add_argument("--no-lr-decay", action="store_true", help="keep the learning rates constant")
    p.add_argument("--ema", type=float, default=None, help="decay of an average of G's weights, e.g. 0.999")
    p.add_argument("--r1", type=float, default=0.0, help="weight of the R1 penalty on real data")
    p.add_argument("--lr", type=float, default=None, help="learning rate (default: the objective's own)")
    p.add_argument("--variant", default="", help="suffix of the checkpoint name (e.g. 48k)")
    p.add_argument("--publish", action="store_true", help="write the generators into data/ (maintainers)")
    p.add_argument("--no-progress", action="store_true")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    torch.set_num_threads(1)  # small MLPs: one thread is as fast, and runs can go side by side
    config = ToyRunConfig(objective=args.objective, mixture=args.mixture, steps=args.steps, pack=args.pack,
                          batch_size=args.batch_size, hidden=args.hidden, depth=args.depth, z_dim=args.z_dim,
                          lr_decay=not args.no_lr_decay, ema_decay=args.ema, r1_weight=args.r1, lr=args.lr)
    summary = run_cell(config, seeds=tuple(args.seeds), variant=args.variant, publish=args.publish,
                       progress=not args.no_progress)
    print(json.dumps(summary, indent=1))
    return 0


def run(args) -> dict:
    """Recipe ``toy-modes``: the whole table (every row on both mixtures, seeds 0, 1, 2); each
    run checkpoints into its own folder of ``--out``."""
    if args.data is not None or args.image_size is not None:
        raise SystemExit("toy-modes: trains on PacGAN's toy mixtures; --data and --image-size do not apply")
    if args.device not in (None, "cpu"):
        raise SystemExit("toy-modes: the table times each run on one CPU thread; --device does not apply")
    torch.set_num_threads(1)
    out = {}
    for mixture in MIXTURES:
        for row, (objective, pack) in ROWS.items():
            config = ToyRunConfig(objective=objective, mixture=mixture, pack=pack,
                                  steps=args.steps or ToyRunConfig.steps,
                                  batch_size=args.batch_size or ToyRunConfig.batch_size)
            s = run_cell(config, seeds=(args.seed, args.seed + 1, args.seed + 2), publish=args.publish,
                         progress=not args.no_progress, out=args.out, resume=args.resume,
                         checkpoint_every=args.checkpoint_every or 1000)
            out[f"{row}/{mixture}"] = {k: s[k] for k in ("modes", "modes_strict", "hq_percent", "seconds")}
    return out


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
