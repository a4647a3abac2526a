r"""An exponential moving average (EMA) of a network's weights, for sampling from a generator.

.. math:: \bar\theta_t = \beta\,\bar\theta_{t-1} + (1 - \beta)\,\theta_t

Adversarial training makes G's weights oscillate around a good point rather than settle on it;
averaging the iterates cancels much of the oscillation (Yazıcı et al. 2019, "The Unusual
Effectiveness of Averaging in GAN Training"; Karras et al. 2018 sample from such an average).
Only the averaged copy is used for sampling; training continues on the raw weights.

    ema = EMA(G, decay=0.999)
    ...  # after every generator step:
    ema.update(G)
    samples = ema.module(z)

Buffers (batch-norm statistics, spectral-norm vectors) are copied, not averaged.
"""
from __future__ import annotations

import copy

import torch
from torch import nn

from .. import _validate as V
from ..distributed import unwrap


class EMA:
    """Keeps ``module``, an averaged copy of a network; ``update(net)`` moves it towards ``net``.

    ``decay`` β in [0, 1): 0.999 averages over roughly the last 1/(1 - β) = 1,000 updates.
    ``warmup``: when True, the effective decay is min(β, (1 + t)/(10 + t)) at update t, so
    that the average is not dominated by the random initial weights early on.
    """

    def __init__(self, net: nn.Module, decay: float = 0.999, warmup: bool = True):
        if not isinstance(net, nn.Module):
            raise TypeError(f"net: expected an nn.Module, got {type(net).__name__}")
        V.unit_interval(decay, "decay")
        self.decay = float(decay)
        self.warmup = bool(warmup)
        self.updates = 0
        self.module = copy.deepcopy(net).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)

    def current_decay(self) -> float:
        if not self.warmup:
            return self.decay
        return min(self.decay, (1 + self.updates) / (10 + self.updates))

    @torch.no_grad()
    def update(self, net: nn.Module) -> None:
        """θ̄ ← β θ̄ + (1 − β) θ for every parameter; buffers are copied from ``net``."""
        if not isinstance(net, nn.Module):
            raise TypeError(f"net: expected an nn.Module, got {type(net).__name__}")
        net = unwrap(net)  # under torchrun G is wrapped in DistributedDataParallel
        ema_params = dict(self.module.named_parameters())
        params = dict(net.named_parameters())
        if params.keys() != ema_params.keys() or any(p.shape != ema_params[k].shape for k, p in params.items()):
            raise ValueError("net: its parameters differ from the averaged copy's; "
                             "update() must get the network the EMA was built from")
        beta = self.current_decay()
        for name, p in params.items():
            ema_params[name].lerp_(p.detach(), 1.0 - beta)
        ema_buffers = dict(self.module.named_buffers())
        for name, b in net.named_buffers():
            if name in ema_buffers:
                ema_buffers[name].copy_(b)
        self.updates += 1

    def state_dict(self) -> dict:
        return {"module": self.module.state_dict(), "updates": self.updates, "decay": self.decay}

    def load_state_dict(self, state: dict) -> None:
        self.module.load_state_dict(state["module"])
        self.updates = int(state["updates"])
        self.decay = float(state["decay"])
