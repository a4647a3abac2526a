"""gancourse: the companion package of a Jupyter course on Generative Adversarial Networks.

Modules, one idea each:

- ``gancourse.data``         toy distributions, embedded image datasets, procedural datasets
- ``gancourse.nn``           building blocks (MLPs, conv blocks, normalisation, SPADE, ...)
- ``gancourse.models``       one file per GAN family: its G, D and training step
- ``gancourse.losses``       adversarial and auxiliary losses, on logits
- ``gancourse.divergences``  KL, JS, TV, Wasserstein (1-D, primal and dual LP), Gaussian closed forms
- ``gancourse.metrics``      mode coverage, classifier-based scores, Fréchet distance, precision/recall
- ``gancourse.train``        the training loop, checkpoints and resume
- ``gancourse.viz``          plotting
- ``gancourse.checks``       exercise checks
- ``gancourse.runtime``      device, seeding, quick mode
"""
from .runtime import describe_environment, pick, pick_device, quick_mode, seed_everything

__version__ = "0.1.0"

__all__ = ["__version__", "describe_environment", "pick", "pick_device", "quick_mode", "seed_everything"]
