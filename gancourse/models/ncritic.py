"""The update order StarGAN and Defect-GAN share: D every iteration, G every ``n_critic``-th.

WGAN-GP (Gulrajani et al. 2017, Algorithm 1) trains the critic n_critic = 5 times per generator
step; StarGAN (Choi et al. 2018) and Defect-GAN (Zhang et al. 2021) keep that schedule with one
batch per D update. A family's model object subclasses :class:`NCriticGAN` and writes what is its
own: its networks, ``set_input``, ``backward_D`` and ``backward_G`` (each returns its loss terms
after calling ``backward``). The learning rates follow ``factor(iteration)`` of the family (a
linear decay), each schedule stepped with its optimizer.
"""
from __future__ import annotations

from typing import Callable

import torch

from .. import _validate as V


class NCriticGAN:
    """D on every batch, G on every ``n_critic``-th iteration; G's step freezes D's weights."""

    cfg: object          # the family's config: its n_critic is read here
    G: torch.nn.Module
    D: torch.nn.Module

    def make_optimizers(self, g_lr: float, d_lr: float, betas: tuple[float, float],
                        factor: Callable[[int], float], updates_per_iteration: int = 1) -> None:
        """Adam for G and D, and learning-rate schedules that give iteration i the rate ``lr ·
        factor(i)``. D's schedule steps ``updates_per_iteration`` times per iteration (once per
        dataset, StarGAN's several datasets), G's as often on its iterations, the last of each group
        of n_critic (G's rate is that iteration's)."""
        n, k = self.cfg.n_critic, updates_per_iteration
        self.opt_G = torch.optim.Adam(self.G.parameters(), lr=g_lr, betas=betas)
        self.opt_D = torch.optim.Adam(self.D.parameters(), lr=d_lr, betas=betas)
        self.schedulers = {"G": torch.optim.lr_scheduler.LambdaLR(self.opt_G, lambda s: factor((s // k) * n + n - 1)),
                           "D": torch.optim.lr_scheduler.LambdaLR(self.opt_D, lambda s: factor(s // k))}

    def backward_D(self) -> dict:
        raise NotImplementedError

    def backward_G(self) -> dict:
        raise NotImplementedError

    def optimize_parameters(self, step: int) -> dict:
        """Iteration ``step`` (0-based): D on this batch; G too when (step + 1) % n_critic == 0. Each
        learning-rate schedule steps with its optimizer. Returns the loss terms, detached."""
        step = V.positive_int(step, "step", minimum=0)
        self.opt_D.zero_grad(set_to_none=True)
        out = self.backward_D()
        self.opt_D.step()
        self.schedulers["D"].step()
        if (step + 1) % self.cfg.n_critic == 0:
            self.D.requires_grad_(False)           # G's step needs gradients through D, not for it
            self.opt_G.zero_grad(set_to_none=True)
            out.update(self.backward_G())
            self.opt_G.step()
            self.schedulers["G"].step()
            self.D.requires_grad_(True)
        return {k: v.detach() for k, v in out.items()}

    # ---- what checkpoints, fast paths and the bench read ----------------------------------------
    def modules(self) -> dict:
        return {"G": self.G, "D": self.D}

    def optimizers(self) -> dict:
        return {"G": self.opt_G, "D": self.opt_D}

    def extras(self) -> dict:
        return {"sched_G": self.schedulers["G"], "sched_D": self.schedulers["D"]}
