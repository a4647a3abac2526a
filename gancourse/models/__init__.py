"""One file per GAN family: its G, its D, its training step (a model object), its recipe functions.

Import the family you use (``from gancourse.models import dcgan``); importing this package loads
none of them. ``gancourse.recipes.RECIPES`` says which function of which file each recipe runs.
"""
