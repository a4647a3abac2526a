"""The original GAN (Goodfellow et al., NeurIPS 2014) on 2-D toy mixtures: MLP G and D, Algorithm 1.

    cfg = ToyGANConfig(dataset="ring", k=1, g_loss="nonsaturating")
    gan = ToyGAN(cfg)
    for i in range(cfg.steps):
        gan.optimize_parameters()          # k D steps on fresh real/fake batches, then one G step

The target distributions are PacGAN's (Lin et al. 2018, Table 1): 8 Gaussians on the unit circle
with σ = 0.01 (``ring``) and 25 on {-4, -2, 0, 2, 4}² with σ = 0.05 (``grid``), so that
``metrics.mode_coverage`` on 2,500 samples compares with their table. The networks are the
course's MLPs (``gancourse.nn.mlp``), narrower than the papers' so that a CPU trains them in
seconds; the sizes are configuration fields.

``python -m gancourse.train toy-gan`` (alias ``toy-gan-ring``) trains one on the ring,
``python -m gancourse.train toy-gan-grid`` on the grid; ``--publish`` writes the shipped
checkpoints ``toy-gan-ring`` / ``toy-gan-grid`` into ``data/``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from .. import _validate as V
from .. import losses, recipes
from ..data import GaussianMixture, grid, ring
from ..nn import ToyDiscriminator, ToyGenerator

DATASETS = ("ring", "grid")


def pacgan_mixture(name: str) -> GaussianMixture:
    """PacGAN's toy targets: ``"ring"`` (8 modes, radius 1, σ 0.01) or ``"grid"`` (25 modes, σ 0.05)."""
    V.choice(name, "name", DATASETS)
    return ring(8, radius=1.0, std=0.01) if name == "ring" else grid(5, spacing=2.0, std=0.05)


@dataclass
class ToyGANConfig:
    dataset: str = "ring"
    z_dim: int = 2
    hidden: int = 128
    depth: int = 3
    lr: float = 1e-3          # Adam, both networks
    beta1: float = 0.5
    batch_size: int = 256
    k: int = 1                # D steps per G step (Algorithm 1; k = 1 in the paper)
    g_loss: str = "nonsaturating"   # or "saturating": the minimax loss log(1 - D(G(z)))
    steps: int = 3000         # G steps
    lr_decay: bool = True     # learning rates decay linearly to 0 over ``steps`` (sharpens the modes)
    seed: int = 0
    pack: int = 1             # PacGAN's m: D judges m samples concatenated; a batch is batch_size packs


def default_config(dataset: str = "ring", **changes) -> ToyGANConfig:
    """The course's settings for each target (what the shipped checkpoints used), with ``changes``
    applied: the ring uses the defaults of :class:`ToyGANConfig`; the grid of 25, a harder target,
    wider networks (256 units) and 6,000 steps."""
    V.choice(dataset, "dataset", DATASETS)
    base = {"dataset": dataset} if dataset == "ring" else {"dataset": dataset, "hidden": 256, "steps": 6000}
    return ToyGANConfig(**{**base, **changes})


_G_LOSSES = {"nonsaturating": losses.g_loss_nonsaturating, "saturating": losses.g_loss_saturating}


class ToyGAN:
    """G, D, their optimisers, the target mixture, and Algorithm 1's update."""

    def __init__(self, config: ToyGANConfig | None = None, device="cpu", generator: torch.Generator | None = None):
        cfg = config or ToyGANConfig()
        if not isinstance(cfg, ToyGANConfig):
            raise TypeError(f"config: expected a ToyGANConfig, got {type(cfg).__name__}")
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
        for _ in range(self.config.k):
            # D ascends log D(x) + log(1 - D(G(z))), i.e. descends the binary cross-entropy
            loss_D = losses.d_loss_bce(self.D(self.real(n)), self.D(self.G(self.noise(n)).detach()))
            self.opt_D.zero_grad(set_to_none=True)
            loss_D.backward()
            self.opt_D.step()
        # G descends log(1 - D(G(z))) (minimax) or -log D(G(z)) (non-saturating) on fresh noise
        loss_G = self.g_loss(self.D(self.G(self.noise(n))))
        self.opt_G.zero_grad(set_to_none=True)
        loss_G.backward()
        self.opt_G.step()
        for scheduler in self.schedulers:
            scheduler.step()
        return {"loss_D": loss_D.detach(), "loss_G": loss_G.detach()}

    def sample(self, n: int = 2500, seed: int = 1) -> torch.Tensor:
        """n samples G(z) (n, 2) on the CPU, from a fixed noise seed (so evaluations repeat exactly)."""
        return self.G.sample(V.positive_int(n, "n"), generator=torch.Generator().manual_seed(seed)).cpu()

    def coverage(self, n: int = 2500, seed: int = 1):
        """PacGAN's mode coverage of n = 2,500 samples (``metrics.mode_coverage``)."""
        from ..metrics import mode_coverage

        return mode_coverage(self.sample(n, seed), self.target.centers, self.target.std)

    def modules(self) -> dict:
        return {"G": self.G, "D": self.D}

    def optimizers(self) -> dict:
        return {"opt_G": self.opt_G, "opt_D": self.opt_D}

    def extras(self) -> dict:
        # the generator that draws noise and real samples: without it a resumed run draws other batches
        return {"sched_G": self.schedulers[0], "sched_D": self.schedulers[1], "rng": self.rng}


def load_pretrained(name: str = "toy-gan-ring") -> ToyGAN:
    """A :class:`ToyGAN` holding the shipped weights ``name`` (checksum verified, ``weights_only=True``)."""
    from .. import pretrained

    state = pretrained.load(name)
    gan = ToyGAN(ToyGANConfig(**state["config"]))
    for key, module in gan.modules().items():
        module.load_state_dict(state["modules"][key])
    gan.G.eval()
    gan.D.eval()
    return gan


def run(args) -> dict:
    """Recipe ``toy-gan`` / ``toy-gan-grid``: Algorithm 1 on PacGAN's ring or grid with
    :func:`default_config`; ``--seed`` picks the run, ``--steps`` / ``--batch-size`` override the
    config (``--image-size`` and ``--data`` do not apply); ``--publish`` ships the weights."""
    from .. import pretrained
    from ..runtime import pick_device, seed_everything
    from ..train import Checkpointer, fit

    if args.data is not None:
        raise SystemExit("toy-gan: trains on generated toy mixtures; --data is not supported")
    dataset = getattr(args, "dataset", None) or "ring"
    cfg = default_config(dataset, seed=args.seed)
    if args.steps is not None:
        cfg.steps = args.steps
    if args.batch_size is not None:
        cfg.batch_size = args.batch_size
    seed_everything(cfg.seed)
    gan = ToyGAN(cfg, pick_device(args.device) if args.device else "cpu")
    ckpt = Checkpointer(args.out, modules=gan.modules(), optimizers=gan.optimizers(), extras=gan.extras(),
                        every=args.checkpoint_every or 1000, config=asdict(cfg))
    fit(lambda i: gan.optimize_parameters(), cfg.steps, log_every=50, desc=f"toy GAN ({cfg.dataset})",
        progress=not args.no_progress, checkpoint=ckpt, resume=args.resume)
    gan.G.cpu()
    gan.D.cpu()
    cov = gan.coverage()
    result = {"modes": cov.modes, "n_modes": cov.n_modes, "hq_percent": round(100 * cov.hq_fraction, 1)}
    if args.publish:
        options = "".join(f" --{k.replace('_', '-')} {getattr(args, k)}" for k in ("steps", "batch_size", "seed")
                          if getattr(args, k))
        name = f"toy-gan-{cfg.dataset}"
        path = pretrained.save(name, gan.modules(), config=asdict(cfg), metrics=result,
                               command=f"python -m gancourse.train {name} --publish{options}",
                               description=f"vanilla GAN (non-saturating, k=1) on PacGAN's {cfg.dataset} (notebooks 04, 06)")
        result["published"] = path.name
    return result


def run_ring(args) -> dict:
    args.dataset = "ring"
    return run(args)


def run_grid(args) -> dict:
    args.dataset = "grid"
    return run(args)


recipes.register("toy-gan", __name__, "run_ring", "vanilla GAN on PacGAN's ring of 8 (notebook 04)")
recipes.register("toy-gan-ring", __name__, "run_ring", "same as toy-gan")
recipes.register("toy-gan-grid", __name__, "run_grid", "vanilla GAN on PacGAN's grid of 25 (notebook 04)")
