"""DCGAN's weight initialisation (Radford et al. 2016, Section 4), the one the conditional, image-to-image
and zoo models reuse (the pix2pix/CycleGAN reference code's ``init_weights(net, "normal", 0.02)``).

    dcgan_init(module)   one module: conv / linear weights ~ N(0, 0.02), biases 0;
                         batch-norm scales ~ N(1, 0.02), shifts 0 (``net.apply(dcgan_init)``)
    init_dcgan(net)      every submodule of ``net``, returning ``net`` (for ``init_dcgan(G).to(device)``)

Other layers (embeddings, instance norms without parameters) keep PyTorch's defaults.
"""
from __future__ import annotations

from torch import nn


def dcgan_init(module: nn.Module) -> None:
    """Initialise one module in place, as DCGAN does; other module types are left alone."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def init_dcgan(net: nn.Module) -> nn.Module:
    """:func:`dcgan_init` applied to every submodule of ``net``; returns ``net``."""
    if not isinstance(net, nn.Module):
        raise TypeError(f"net: expected a torch.nn.Module, got {type(net).__name__}")
    net.apply(dcgan_init)
    return net


__all__ = ["dcgan_init", "init_dcgan"]
