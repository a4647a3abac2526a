"""GPU fast paths for the course's models, each on where it helps and each switchable off.

The notebooks train tiny models on a CPU, where none of these matter. Taken to a GPU and the
papers' image sizes, the same model objects train several times faster with:

=====================  ======================================================================
``bf16``               the step runs under ``torch.autocast(dtype=torch.bfloat16)``: matrix
                       products and convolutions in bfloat16 on tensor cores, reductions and
                       losses in float32; bf16 has float32's exponent range, so no loss scaling
``channels_last``      the networks' weights (and so their activations) in NHWC layout, the
                       layout tensor-core convolutions read without transposes
``cudnn_benchmark``    cuDNN times its convolution algorithms once per input shape, keeps the fastest
``fused_optimizers``   Adam/AdamW update all parameters in one fused kernel (``fused=True``)
``pin_memory``         batches are copied from page-locked memory with ``non_blocking=True``
``workers``            DataLoader worker processes decode a user's image folder in parallel
``compile``            ``torch.compile`` on each network (off by default: minutes of compilation
                       pay off only on long runs)
=====================  ======================================================================

``None`` means automatic: on for a CUDA device, off elsewhere (on a CPU, bf16 autocast and
channels_last usually slow small convolutions down). ``FastPaths.off()`` turns everything off,
the reference the benchmark compares against. :func:`prepare` applies the settings to a model
object and then, under ``torchrun``, wraps its networks for data-parallel training.

The course's steps never synchronise host and device (no ``.item()`` per step; ``fit`` reads the
losses every ``log_every`` steps), so the GPU is never left waiting for Python.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, fields

import torch

from . import distributed


@dataclass
class FastPaths:
    bf16: bool | None = None
    channels_last: bool | None = None
    cudnn_benchmark: bool | None = None
    fused_optimizers: bool | None = None
    pin_memory: bool | None = None
    workers: int = 0
    compile: bool = False

    @classmethod
    def off(cls) -> "FastPaths":
        """Every fast path off: the plain model, for comparisons."""
        return cls(bf16=False, channels_last=False, cudnn_benchmark=False, fused_optimizers=False,
                   pin_memory=False, workers=0, compile=False)

    def resolve(self, device) -> "FastPaths":
        """The settings with ``None`` replaced by the automatic choice for ``device``."""
        cuda = torch.device(device).type == "cuda"
        values = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                value = cuda and (f.name != "bf16" or torch.cuda.is_bf16_supported())
            values[f.name] = value
        return FastPaths(**values)

    @classmethod
    def from_args(cls, args) -> "FastPaths":
        """From the ``python -m gancourse.train`` flags (``--no-fast``, ``--no-bf16``, ...)."""
        if getattr(args, "no_fast", False):
            return cls.off()
        fast = cls(workers=getattr(args, "workers", 0) or 0, compile=bool(getattr(args, "compile", False)))
        for name in ("bf16", "channels_last", "cudnn_benchmark", "fused_optimizers", "pin_memory"):
            if getattr(args, f"no_{name}", False):
                setattr(fast, name, False)
        return fast


def prepare(model, fast: FastPaths | None = None, device=None):
    """Apply the fast paths ``fast`` (default: automatic for ``device``, else for the model's
    device) to ``model`` — an object with ``modules()`` and ``optimizers()`` such as
    ``dcgan.DCGAN`` — in place, then wrap its networks for torchrun (``distributed.prepare``).
    Returns ``model``; ``model.fast`` records the resolved settings."""
    if fast is not None and not isinstance(fast, FastPaths):
        raise TypeError(f"fast: expected a FastPaths, got {type(fast).__name__}")
    if isinstance(model, torch.nn.Module) or not callable(getattr(model, "modules", None)):
        raise TypeError(f"model: expected a model object with modules() (e.g. dcgan.DCGAN), got {type(model).__name__}")
    nets = {k: m for k, m in model.modules().items() if isinstance(m, torch.nn.Module)}
    if device is None:
        device = next((distributed.net_device(m) for m in nets.values()), torch.device("cpu"))
    fast = (fast or FastPaths()).resolve(device)
    model.fast = fast
    if fast.cudnn_benchmark:
        torch.backends.cudnn.benchmark = True
    if fast.channels_last:
        for net in nets.values():
            net.to(memory_format=torch.channels_last)
    if fast.fused_optimizers and hasattr(model, "optimizers"):
        for opt in model.optimizers().values():
            _use_fused(opt)
    if fast.compile:
        for name, net in nets.items():
            if getattr(model, name, None) is net:
                setattr(model, name, torch.compile(net))
    if fast.bf16 and not getattr(model, "_autocast_wrapped", False):
        step = model.optimize_parameters
        kind = torch.device(device).type

        @functools.wraps(step)
        def step_in_bf16(*args, **kwargs):
            with torch.autocast(kind, dtype=torch.bfloat16):
                return step(*args, **kwargs)

        model.optimize_parameters = step_in_bf16
        model._autocast_wrapped = True
    return distributed.prepare(model)


def _use_fused(opt: torch.optim.Optimizer) -> None:
    """Switch an Adam/AdamW optimizer to its fused CUDA kernel (all its parameters on CUDA)."""
    if not isinstance(opt, (torch.optim.Adam, torch.optim.AdamW)):
        return
    params = [p for g in opt.param_groups for p in g["params"]]
    if not params or not all(p.is_cuda and p.is_floating_point() for p in params):
        return
    opt.defaults.update(fused=True, foreach=False)
    for group in opt.param_groups:
        group["fused"], group["foreach"] = True, False
