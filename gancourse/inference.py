"""Running a trained network over a whole set: in batches, on the network's device, results on the CPU.

Every family needs it (a translator over the test images, a judge over generated ones), and every
copy used to repeat the same three details: move each batch to the network's device, bring the
output back to the CPU, and (for the judges) run in eval mode and put the network back as it was.
"""
from __future__ import annotations

import copy
from typing import Callable

import torch
from torch import nn

from . import _validate as V


@torch.no_grad()
def in_batches(net: nn.Module, *inputs: torch.Tensor, batch_size: int = 256, eval_mode: bool = False,
               read: Callable[[torch.Tensor], torch.Tensor] | None = None) -> torch.Tensor:
    """``net(*batch)`` for consecutive batches of ``inputs`` (tensors of N rows each, split along
    dim 0 and moved to net's device), ``read`` applied to each output (e.g. ``argmax``), the
    results concatenated on the CPU: shape (N, ...). ``eval_mode=True`` runs net in eval mode and
    puts it back as it was; otherwise net runs in the mode it is in (a translator in training mode
    normalises by each batch's statistics). Gradients are off."""
    if not isinstance(net, nn.Module):
        raise TypeError(f"net: expected a torch.nn.Module, got {type(net).__name__}")
    if not inputs or not all(isinstance(x, torch.Tensor) for x in inputs):
        raise TypeError("inputs: expected one or more tensors")
    n = inputs[0].shape[0]
    if any(x.shape[0] != n for x in inputs):
        raise ValueError(f"inputs: expected the same number of rows in each, got {[x.shape[0] for x in inputs]}")
    if n == 0:
        raise ValueError("inputs: expected at least one row, got none")
    batch_size = V.positive_int(batch_size, "batch_size")
    device = next(net.parameters()).device
    was_training = net.training
    if eval_mode:
        net.eval()
    try:
        out = []
        for i in range(0, n, batch_size):
            y = net(*(x[i:i + batch_size].to(device) for x in inputs))
            out.append((read(y) if read is not None else y).cpu())
    finally:
        net.train(was_training)
    return torch.cat(out)


@torch.no_grad()
def in_batches_with_batch_stats(net: nn.Module, *inputs: torch.Tensor, batch_size: int = 64, seed: int = 0) -> torch.Tensor:
    """:func:`in_batches` with batch norm normalising by the statistics of each test batch, as in
    training (Isola et al. 2017 run Pix2Pix's generator this way at test time). The rows are
    shuffled (a fixed ``seed``) before batching, so that each batch mixes its inputs as the training
    batches did: a batch whose rows all share one condition would have that condition subtracted by
    the normalisation. ``net`` is left untouched (a copy runs in training mode). Results in the
    inputs' order, on the CPU."""
    if not isinstance(net, nn.Module):
        raise TypeError(f"net: expected a torch.nn.Module, got {type(net).__name__}")
    if not inputs or not all(isinstance(x, torch.Tensor) for x in inputs):
        raise TypeError("inputs: expected one or more tensors")
    batch_size = V.positive_int(batch_size, "batch_size", minimum=2)
    perm = torch.randperm(inputs[0].shape[0], generator=torch.Generator().manual_seed(seed))
    out = in_batches(copy.deepcopy(net).train(), *(x[perm] for x in inputs), batch_size=batch_size)
    return out[torch.argsort(perm)]
