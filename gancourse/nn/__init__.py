"""Building blocks shared by the models: MLPs, convolutional blocks, normalisation layers."""
from .mlp import ToyDiscriminator, ToyGenerator, mlp

__all__ = ["mlp", "ToyGenerator", "ToyDiscriminator"]
