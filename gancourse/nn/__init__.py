"""Building blocks shared by the models: MLPs, convolutional blocks, normalisation layers."""
from .mlp import ToyDiscriminator, ToyGenerator, mlp, pack
from .ema import EMA
from .spectral import apply_spectral_norm, lipschitz_upper_bound, power_iteration, spectral_norms
from .conditioning import LabelCode, one_hot
from .patchgan import PatchDiscriminator, PixelDiscriminator, receptive_field
from .norm import norm_layer
from .unet import UNet

__all__ = ["mlp", "pack", "ToyGenerator", "ToyDiscriminator", "EMA", "power_iteration", "spectral_norms", "lipschitz_upper_bound", "apply_spectral_norm"]
__all__ += ["LabelCode", "one_hot", "PatchDiscriminator", "PixelDiscriminator", "receptive_field", "UNet", "norm_layer"]
from .image_pool import ImagePool
from .resnet import ResidualBlock, ResnetGenerator
from .noise import NoiseInjection

__all__ += ["ImagePool", "ResidualBlock", "ResnetGenerator", "NoiseInjection"]
