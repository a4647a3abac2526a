"""What the judges share: training a small network by cross-entropy, running it in batches, and
loading the shipped one.

Every judge is a small network trained on real images of its dataset with Adam and a cosine decay
of the learning rate to 0 (Loshchilov & Hutter 2017), one augmented batch per step; what differs
from judge to judge is the network, the batches and the augmentation, so those are the arguments.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .. import _validate as V
from .. import pretrained
from ..inference import in_batches
from ..train import fit


def fit_judge(net: nn.Module, batch_loss: Callable[[int], torch.Tensor], steps: int, lr: float, desc: str, *,
              streams: dict, progress: bool = True, checkpoint=None, resume: bool | str = False,
              module: str = "classifier", log_every: int = 50):
    """Train ``net`` for ``steps`` steps of Adam at ``lr`` with a cosine decay to 0; return the
    history (``cross_entropy`` per step). ``batch_loss(i)`` draws batch i, augments it and returns
    the loss (a scalar tensor) of ``net`` on it. ``streams``: the random sources the batches come
    from (batch iterators, generators), saved with a ``checkpoint`` (a
    :class:`gancourse.train.Checkpointer`, the network under the name ``module``) so that a resumed
    run draws the same batches. ``net`` is left in eval mode."""
    steps = V.positive_int(steps, "steps")
    opt = torch.optim.Adam(net.parameters(), lr=V.positive_float(lr, "lr"))
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)

    def step(i):
        loss = batch_loss(i)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        return {"cross_entropy": loss}

    if checkpoint is not None:
        checkpoint.modules.setdefault(module, net)
        checkpoint.optimizers.setdefault("opt", opt)
        checkpoint.extras.update({"sched": sched, **streams})
    net.train()
    history = fit(step, steps, log_every=log_every, desc=desc, progress=progress, checkpoint=checkpoint,
                  resume=resume)
    net.eval()
    return history


def predict_in_batches(net: nn.Module, images: torch.Tensor, read: Callable[[torch.Tensor], torch.Tensor],
                       batch_size: int, empty: torch.Tensor) -> torch.Tensor:
    """``read(net(batch))`` over ``images`` as float32, in eval mode, on the CPU
    (:func:`gancourse.inference.in_batches`); ``empty`` for no images."""
    if images.shape[0] == 0:
        return empty
    return in_batches(net, images.float(), batch_size=batch_size, eval_mode=True, read=read)


def to_working_size(net: nn.Module, images: torch.Tensor, size: int) -> torch.Tensor:
    """A batch (N, C, H, W) as float32 on ``net``'s device, resized to ``size`` x ``size`` (bilinear,
    antialiased when shrinking): a judge reads images of any size at the one it was trained on."""
    x = images.to(next(net.parameters()).device, torch.float32)
    if x.shape[-2:] != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=x.shape[-1] > size)
    return x


def blur_and_noise(images: torch.Tensor, mix: torch.Tensor, noise_std: torch.Tensor,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """Two nuisances a generator's output has and a rendered image has not, per image: a blur (the
    3x3 box filter mixed in with weight ``mix`` (N,)) and Gaussian pixel noise of std ``noise_std``
    (N,). Images (N, C, H, W) -> the same shape (not clipped)."""
    n = images.shape[0]
    blurred = F.avg_pool2d(F.pad(images, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
    x = (1 - mix.view(n, 1, 1, 1)) * images + mix.view(n, 1, 1, 1) * blurred
    return x + noise_std.view(n, 1, 1, 1) * torch.randn(x.shape, generator=generator).to(x.device)


def load_judge(name: str, build: Callable[[dict], nn.Module], module: str = "classifier", device="cpu") -> nn.Module:
    """The shipped judge ``name`` (``data/MANIFEST.json``): checksum verified, weights loaded with
    ``weights_only=True`` into ``build(config)``, in eval mode, gradients switched off."""
    state = pretrained.load(name)
    net = build(state["config"])
    net.load_state_dict(state["modules"][module])
    return net.eval().requires_grad_(False).to(device)
