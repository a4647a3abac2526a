"""The original GAN (Goodfellow et al., NeurIPS 2014) on 2-D toy mixtures: MLP G and D, Algorithm 1.

    cfg = ToyGANConfig(dataset="ring", k=1, g_loss="nonsaturating")
    gan = ToyGAN(cfg)
    for i in range(cfg.steps):
        gan.optimize_parameters()          # k D steps on fresh real/fake batches, then one G step

The target distributions are PacGAN's (Lin et al. 2018, Table 1): 8 Gaussians on the unit circle
with σ = 0.01 (``ring``) and 25 on {-4, -2, 0, 2, 4}² with σ = 0.05 (``grid``), so that
``metrics.mode_coverage`` on 2,500 samples compares with their table. The networks are the
course's MLPs (``gancourse.nn.mlp``); ``pack = m`` is PacGAN's packing (D judges m samples at once).
:func:`default_config` is the course's toy protocol, the one of the benchmark of notebooks 04, 07
and 08 (``gancourse.models.toy_modes``), whose GAN rows this model trains.

``python -m gancourse.train toy-gan`` (alias ``toy-gan-ring``) trains one on the ring,
``python -m gancourse.train toy-gan-grid`` on the grid. The shipped toy GANs are the benchmark's
(:func:`load_pretrained`).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .. import _validate as V
from .. import losses, recipes
from ..data import GaussianMixture, grid, ring
from ..metrics import mode_coverage
from ..nn import ToyDiscriminator, ToyGenerator
from ..runtime import seed_everything
from ..train import fit

DATASETS = ("ring", "grid")


def pacgan_mixture(name: str) -> GaussianMixture:
    """PacGAN's toy targets: ``"ring"`` (8 modes, radius 1, σ 0.01) or ``"grid"`` (25 modes, σ 0.05)."""
    V.choice(name, "name", DATASETS)
    return ring(8, radius=1.0, std=0.01) if name == "ring" else grid(5, spacing=2.0, std=0.05)


@dataclass
class ToyGANConfig:
    dataset: str = "ring"
    z_dim: int = 2
    hidden: int = 256
    depth: int = 3
    lr: float = 1e-3          # Adam, both networks
    beta1: float = 0.5
    batch_size: int = 256
    k: int = 1                # D steps per G step (Algorithm 1; k = 1 in the paper)
    g_loss: str = "nonsaturating"   # or "saturating": the minimax loss log(1 - D(G(z)))
    steps: int = 24000        # G steps
    lr_decay: bool = True     # learning rates decay linearly to 0 over ``steps`` (sharpens the modes)
    seed: int = 0
    pack: int = 1             # PacGAN's m: D judges m samples concatenated; a batch is batch_size packs


def default_config(dataset: str = "ring", **changes) -> ToyGANConfig:
    """The course's toy protocol (the benchmark's, ``gancourse.models.toy_modes``) for ``dataset``,
    with ``changes`` applied: MLPs of 3 hidden layers of 256, Adam 1e-3 (β1 = 0.5) decaying
    linearly to 0, batch 256, 24,000 generator steps, k = 1, the non-saturating loss."""
    V.choice(dataset, "dataset", DATASETS)
    return ToyGANConfig(**{"dataset": dataset, **changes})


_G_LOSSES = {"nonsaturating": losses.g_loss_nonsaturating, "saturating": losses.g_loss_saturating}


def algorithm1_step(G, D, opt_G, opt_D, real_batch, noise, k: int, g_loss):
    """One iteration of Algorithm 1 of Goodfellow et al. (2014): ``k`` steps on D, each on a fresh
    real batch ``real_batch()`` and fresh fakes G(``noise()``) detached (D's step must not move G),
    then one step on G through the just-updated D, on fresh noise. ``g_loss(logits)`` is G's loss
    on D's logits (minimax or non-saturating). Returns ``(loss_D, loss_G)``: D's last loss and G's."""
    for _ in range(k):
        # D ascends log D(x) + log(1 - D(G(z))), i.e. descends the binary cross-entropy
        loss_D = losses.d_loss_bce(D(real_batch()), D(G(noise()).detach()))
        opt_D.zero_grad(set_to_none=True)
        loss_D.backward()
        opt_D.step()
    # G descends log(1 - D(G(z))) (minimax) or -log D(G(z)) (non-saturating) on fresh noise
    loss_G = g_loss(D(G(noise())))
    opt_G.zero_grad(set_to_none=True)
    loss_G.backward()
    opt_G.step()
    return loss_D, loss_G


class ToyGAN:
    """G, D, their optimisers, the target mixture, and Algorithm 1's update. ``step`` replaces the
    update (notebook 04's exercise), with :func:`algorithm1_step`'s arguments; by default that
    function."""

    def __init__(self, config: ToyGANConfig | None = None, device="cpu", generator: torch.Generator | None = None,
                 step=None):
        cfg = config or ToyGANConfig()
        V.instance(cfg, "config", ToyGANConfig)
        self.step = V.optional_function(step, "step", "(G, D, opt_G, opt_D, real_batch, noise, k, g_loss)") \
            or algorithm1_step
        V.choice(cfg.g_loss, "config.g_loss", _G_LOSSES)
        V.positive_int(cfg.k, "config.k")
        V.positive_int(cfg.batch_size, "config.batch_size")
        V.positive_int(cfg.pack, "config.pack")
        self.config, self.device = cfg, torch.device(device)
        self.target = pacgan_mixture(cfg.dataset)
        self.rng = generator if generator is not None else torch.Generator().manual_seed(cfg.seed)
        self.G = ToyGenerator(cfg.z_dim, 2, cfg.hidden, cfg.depth).to(self.device)
        self.D = ToyDiscriminator(2, cfg.hidden, cfg.depth, pack=cfg.pack).to(self.device)
        betas = (cfg.beta1, 0.999)
        self.opt_G = torch.optim.Adam(self.G.parameters(), lr=cfg.lr, betas=betas)
        self.opt_D = torch.optim.Adam(self.D.parameters(), lr=cfg.lr, betas=betas)
        self.g_loss = _G_LOSSES[cfg.g_loss]
        decay = (lambda i: max(0.0, 1.0 - i / cfg.steps)) if cfg.lr_decay else (lambda i: 1.0)
        self.schedulers = [torch.optim.lr_scheduler.LambdaLR(opt, decay) for opt in (self.opt_G, self.opt_D)]

    def noise(self, n: int) -> torch.Tensor:
        return torch.randn(n, self.config.z_dim, generator=self.rng).to(self.device)

    def real(self, n: int) -> torch.Tensor:
        return self.target.sample(n, generator=self.rng).to(self.device)

    def optimize_parameters(self) -> dict:
        """Algorithm 1 of Goodfellow et al. (2014): k steps on D, then one on G; returns the losses."""
        n = self.config.batch_size * self.config.pack   # samples: batch_size packs of `pack` each (PacGAN)
        loss_D, loss_G = self.step(self.G, self.D, self.opt_G, self.opt_D, lambda: self.real(n), lambda: self.noise(n),
                                   self.config.k, self.g_loss)
        for scheduler in self.schedulers:
            scheduler.step()
        return {"loss_D": loss_D.detach(), "loss_G": loss_G.detach()}

    def sample(self, n: int = 2500, seed: int = 1) -> torch.Tensor:
        """n samples G(z) (n, 2) on the CPU, from a fixed noise seed (so evaluations repeat exactly)."""
        return self.G.sample(V.positive_int(n, "n"), generator=torch.Generator().manual_seed(seed)).cpu()

    def coverage(self, n: int = 2500, seed: int = 1):
        """PacGAN's mode coverage of n = 2,500 samples (``metrics.mode_coverage``)."""
        return mode_coverage(self.sample(n, seed), self.target.centers, self.target.std)

    def modules(self) -> dict:
        return {"G": self.G, "D": self.D}

    def optimizers(self) -> dict:
        return {"opt_G": self.opt_G, "opt_D": self.opt_D}

    def extras(self) -> dict:
        # the generator that draws noise and real samples: without it a resumed run draws other batches
        return {"sched_G": self.schedulers[0], "sched_D": self.schedulers[1], "rng": self.rng}


def load_pretrained(mixture: str = "ring", seed: int = 0, row: str = "nsgan") -> ToyGAN:
    """A :class:`ToyGAN` holding the generator of the shipped benchmark run ``row`` on ``mixture``
    for ``seed`` (``toy_modes.checkpoint_name``; checksum verified, ``weights_only=True``), in eval
    mode. D is not shipped: it is freshly initialised."""
    from .toy_modes import ROWS, checkpoint_name, load_generators   # toy_modes builds on this module

    generators, state = load_generators(checkpoint_name(row, mixture))
    seeds = state["config"]["seeds"]
    if seed not in seeds:
        raise ValueError(f"seed: the shipped {row} runs on the {mixture} have seeds {seeds}, got {seed}")
    cfg = state["config"]
    gan = ToyGAN(ToyGANConfig(dataset=mixture, z_dim=cfg["z_dim"], hidden=cfg["hidden"], depth=cfg["depth"],
                              batch_size=cfg["batch_size"], steps=cfg["steps"], seed=seed, pack=ROWS[row][1],
                              g_loss="saturating" if ROWS[row][0] == "gan" else "nonsaturating"))
    gan.G.load_state_dict(generators[seeds.index(seed)].state_dict())
    gan.G.eval()
    gan.D.eval()
    return gan


def train(cfg: ToyGANConfig, device="cpu", progress: bool = True, checkpoint=None, resume: bool = False,
          log_every: int = 50) -> tuple[ToyGAN, object]:
    """Train a :class:`ToyGAN` for ``cfg.steps`` steps of Algorithm 1; return ``(gan, history)``."""
    seed_everything(cfg.seed)
    gan = ToyGAN(cfg, device)
    if checkpoint is not None:
        checkpoint.track(gan)
    history = fit(lambda i: gan.optimize_parameters(), cfg.steps, log_every=log_every, desc=f"toy GAN ({cfg.dataset})",
                  progress=progress, checkpoint=checkpoint, resume=resume)
    return gan, history


def _coverage(gan: ToyGAN, cfg: ToyGANConfig, history) -> dict:
    gan.G.cpu()
    gan.D.cpu()
    cov = gan.coverage()
    return {"modes": cov.modes, "n_modes": cov.n_modes, "hq_percent": round(100 * cov.hq_fraction, 1)}


def _recipe(mixture: str) -> recipes.Recipe:
    """Recipe ``toy-gan`` (``toy-gan-ring``) / ``toy-gan-grid``: Algorithm 1 on PacGAN's ring or grid with
    :func:`default_config`; ``--seed`` picks the run."""
    return recipes.Recipe(
        name="toy-gan-grid" if mixture == "grid" else "toy-gan", config=lambda seed: default_config(mixture, seed=seed),
        train=train, evaluate=_coverage, trains_on="generated toy mixtures",
        publish="the shipped toy GANs are the benchmark's three seeds: python -m gancourse.models.toy_modes nsgan "
                f"{mixture} --publish")


RECIPE_RING, RECIPE_GRID = _recipe("ring"), _recipe("grid")
