"""Data-parallel training on several GPUs or machines with ``torchrun`` and DistributedDataParallel.

The same command trains on one device or on many::

    python -m gancourse.train dcgan                            # one process
    torchrun --nproc_per_node 4 -m gancourse.train dcgan       # 4 processes, one GPU each
    torchrun --nnodes 2 --nproc_per_node 8 --rdzv-endpoint HOST:29500 -m gancourse.train dcgan

``torchrun`` starts one process per device and sets ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``.
:func:`init` joins the process group (NCCL on GPUs, gloo on CPUs). :func:`prepare` wraps every
trainable network of a model object (``model.modules()``: G, D, F, D_X, ...) in PyTorch's
``DistributedDataParallel``, which averages the gradients of all ranks inside ``backward()``, so
the model's ``optimize_parameters`` runs unchanged: each rank computes its step on its own batch
and every optimizer then applies the same averaged gradient to the same weights. Nothing here
re-implements the communication; the course only decides what each rank reads and writes:

- data: :class:`gancourse.data.Batches` gives rank r the r-th of ``world_size`` disjoint shares of
  each epoch's shuffle (as ``torch.utils.data.DistributedSampler`` does); noise is drawn from a
  per-rank seed, so the ranks' fakes differ too;
- files: only rank 0 writes checkpoints, sample grids and shipped weights; a checkpoint stores
  every rank's random-number and iterator states so that resume continues each rank's stream;
- batch norm statistics stay per rank (``forward_sync_buffers=False``): a GAN's D runs forward on
  real and fake batches before one backward, and re-broadcasting its buffers between those calls
  would modify tensors the backward still needs. Parameters are identical on all ranks (a test
  checks it); rank 0's running statistics are the ones saved.

With one process every function here is a no-op, so notebooks never see any of it.
"""
from __future__ import annotations

import os
from datetime import timedelta

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel


class DDP(DistributedDataParallel):
    """``DistributedDataParallel`` that also answers the wrapped network's own attributes
    (``G.z_dim``, ``G.sample(...)``), so model code written for a plain network keeps working.
    Calls of ``forward`` go through DDP (and synchronise gradients); other methods reach the
    plain network."""

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self.module, name)


def is_initialized() -> bool:
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    """This process's rank (0 when not distributed)."""
    return dist.get_rank() if is_initialized() else 0


def world_size() -> int:
    """Number of processes training together (1 when not distributed)."""
    return dist.get_world_size() if is_initialized() else 1


def is_main() -> bool:
    """True on the process that writes files and prints (rank 0, or the only process)."""
    return rank() == 0


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init(device: str | torch.device | None = None, timeout_s: int = 600) -> torch.device:
    """Join the process group when started by ``torchrun`` (``WORLD_SIZE`` > 1) and return the
    device this rank trains on: ``cuda:LOCAL_RANK`` with NCCL on GPUs, the CPU with gloo otherwise.
    Without torchrun, returns ``device`` (or the CPU) and does nothing else."""
    if not launched_by_torchrun():
        return torch.device(device) if device is not None else torch.device("cpu")
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    wants_cuda = device is None or str(device).startswith("cuda")
    if wants_cuda and torch.cuda.is_available():
        torch.cuda.set_device(local_rank)
        target, backend = torch.device("cuda", local_rank), "nccl"
    else:
        target, backend = torch.device("cpu"), "gloo"
    if not is_initialized():
        dist.init_process_group(backend, timeout=timedelta(seconds=timeout_s))
    return target


def shutdown() -> None:
    """Leave the process group (after training; a no-op without one)."""
    if is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def unwrap(net):
    """The plain network inside a DDP wrapper and/or a ``torch.compile`` wrapper (or ``net`` itself)."""
    while True:
        if isinstance(net, DistributedDataParallel):
            net = net.module
        elif isinstance(getattr(net, "_orig_mod", None), nn.Module):  # torch.compile's OptimizedModule
            net = net._orig_mod
        else:
            return net


def prepare(model):
    """Wrap each trainable network of ``model`` (an object with ``modules()`` returning
    ``{attribute name: nn.Module}``) in :class:`DDP`, in place, and give this rank its own noise
    seed. Returns ``model``. Without a process group it returns ``model`` untouched."""
    if isinstance(model, torch.nn.Module) or not callable(getattr(model, "modules", None)):
        raise TypeError(f"model: expected a model object with modules() (e.g. dcgan.DCGAN), got {type(model).__name__}")
    if not is_initialized() or world_size() == 1:
        return model
    for name, net in model.modules().items():
        if not isinstance(net, nn.Module) or getattr(model, name, None) is not net:
            continue  # not an attribute of the model under that name: leave it alone
        if isinstance(net, DistributedDataParallel) or not any(p.requires_grad for p in net.parameters()):
            continue
        device_ids = [net_device(net).index] if net_device(net).type == "cuda" else None
        # Each of G's and D's forward passes is matched by a backward (or runs under no_grad);
        # parameters of a frozen D are simply not reduced in G's step.
        setattr(model, name, DDP(net, device_ids=device_ids, forward_sync_buffers=False))
    # The weights were just broadcast from rank 0; from here on each rank draws its own noise.
    torch.manual_seed(torch.initial_seed() + 1_000_003 * rank())
    return model


def net_device(net: nn.Module) -> torch.device:
    for p in net.parameters():
        return p.device
    return torch.device("cpu")


def shard(indices: torch.Tensor) -> torch.Tensor:
    """This rank's share of an epoch's shuffled ``indices`` (every ``world_size``-th, from ``rank``).
    All ranks shuffle with the same generator, so the shares are disjoint and cover the epoch."""
    return indices[rank()::world_size()] if world_size() > 1 else indices


def gather_to_main(obj):
    """Collect a picklable ``obj`` from every rank: the list ``[obj of rank 0, obj of rank 1, ...]``
    on rank 0, None elsewhere; ``[obj]`` without a process group."""
    if world_size() == 1:
        return [obj]
    out = [None] * world_size() if is_main() else None
    dist.gather_object(obj, out, dst=0)
    return out


def barrier() -> None:
    if world_size() > 1:
        dist.barrier()


def weights_digest(model) -> torch.Tensor:
    """All trainable parameters of ``model.modules()`` flattened into one float64 vector, to
    compare ranks (the torchrun test checks that every rank holds the same weights)."""
    parts = [p.detach().double().flatten().cpu() for net in model.modules().values()
             for p in unwrap(net).parameters()]
    return torch.cat(parts) if parts else torch.zeros(0, dtype=torch.float64)
