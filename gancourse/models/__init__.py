"""One file per GAN family: its G, its D, its training step (a model object), its recipes.

Importing this package registers every family's recipes with ``gancourse.recipes``.
"""
from . import toy_modes, wgan  # noqa: F401  (registers the recipes: toy-modes, wgan, wgan-gp)
from . import dcgan, vanilla  # noqa: F401  (registers the recipes: toy-gan, toy-gan-grid, dcgan, dcgan-digits)
from . import cgan, pix2pix  # noqa: F401  (registers the recipes: cgan, acgan, pix2pix, pix2pix-l1, pix2pix-gan)
from . import cyclegan, stargan  # noqa: F401  (registers the recipes: cyclegan, cyclegan-noid, stargan, stargan-mask)
from . import defectgan, spade  # noqa: F401  (registers the recipes: defectgan, spade, spade-bn)
from . import bigan, deepi2i, discogan, infogan, lapgan  # noqa: F401  (registers: bigan, deepi2i-source, deepi2i, discogan, infogan, lapgan)
from . import stackgan  # noqa: F401  (registers: stackgan)
