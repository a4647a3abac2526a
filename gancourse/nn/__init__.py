"""Building blocks shared by the models: MLPs, convolutional blocks, normalisation layers."""
from .mlp import ToyDiscriminator, ToyGenerator, mlp
from .ema import EMA
from .spectral import apply_spectral_norm, lipschitz_upper_bound, power_iteration, spectral_norms

__all__ = ["mlp", "ToyGenerator", "ToyDiscriminator", "EMA", "power_iteration", "spectral_norms", "lipschitz_upper_bound", "apply_spectral_norm"]
