r"""The image pool of past fakes (Shrivastava et al., CVPR 2017, Section 2.3; used by CycleGAN).

A discriminator trained only on the generator's *latest* fakes forgets what earlier generators
did, and the generator can then return to an old mistake that D no longer punishes: the two
oscillate. The pool keeps a history of up to ``size`` fakes and shows D a mix of new and old ones.
CycleGAN (Zhu et al. 2017, Section 4, "Training details") keeps 50 and follows this rule, image
by image, as in its reference implementation:

* while fewer than ``size`` images are stored: store the new fake and return it;
* once the pool is full: with probability ½ return a stored fake chosen uniformly at random and
  put the new one in its place; otherwise return the new one (and store nothing).

So about half of what D sees as "fake" was produced by earlier versions of G, and a stored image
survives a query with probability 1 - 1/(2·size) per image, i.e. stays on average 2·size queries.
``size = 0`` turns the pool off (every fake passes straight through), which is the ablation of
notebook 11.

The pool owns its random generator, and ``state_dict()`` holds the stored images and the
generator's state, so a resumed training run continues exactly (give the pool to a
``Checkpointer`` as an extra).
"""
from __future__ import annotations

import torch

from .. import _validate as V


class ImagePool:
    """A buffer of up to ``size`` past fakes; ``query(fakes)`` returns a batch for D.

    ``query(images)``: images (N, C, H, W) -> (N, C, H, W), a mix of the new images and stored
    ones by the rule above; the result is detached (D's update must not reach G). ``generator``:
    a ``torch.Generator`` for the coin flips and choices (default: seeded from torch's global
    generator, so ``seed_everything`` still makes runs repeatable).
    """

    def __init__(self, size: int = 50, generator: torch.Generator | None = None):
        self.size = V.positive_int(size, "size", minimum=0)
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(f"generator: expected a torch.Generator, got {type(generator).__name__}")
        if generator is None:
            generator = torch.Generator().manual_seed(int(torch.randint(0, 2**62, (1,))))
        self.generator = generator
        self.images: list[torch.Tensor] = []     # each (C, H, W), on the device of the fakes

    def __len__(self) -> int:
        return len(self.images)

    def query(self, images: torch.Tensor) -> torch.Tensor:
        """The batch D sees as fake: for each new image, itself or (once full, with probability ½)
        a stored image that it replaces."""
        V.images(images, "images")
        images = images.detach()
        if self.size == 0:
            return images
        if self.images and images.shape[1:] != self.images[0].shape:
            raise ValueError(f"images: expected images of shape {tuple(self.images[0].shape)} like those "
                             f"in the pool, got {tuple(images.shape[1:])}")
        if self.images and self.images[0].device != images.device:     # e.g. restored on the CPU
            self.images = [img.to(images.device) for img in self.images]
        out = []
        for image in images:
            if len(self.images) < self.size:            # filling up: keep it and pass it on
                self.images.append(image.clone())
                out.append(image)
                continue
            if torch.rand(1, generator=self.generator).item() < 0.5:
                k = int(torch.randint(0, self.size, (1,), generator=self.generator))
                out.append(self.images[k])              # an old fake goes to D ...
                self.images[k] = image.clone()          # ... and the new one takes its place
            else:
                out.append(image)
        return torch.stack(out)

    def state_dict(self) -> dict:
        """Stored images (one tensor (M, C, H, W), M <= size) and the generator's state."""
        stored = torch.stack(self.images).cpu() if self.images else torch.zeros(0)
        return {"size": self.size, "images": stored, "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        if not isinstance(state, dict) or not {"size", "images", "generator"} <= set(state):
            raise ValueError("state: expected the dict of ImagePool.state_dict() (size, images, generator)")
        if int(state["size"]) != self.size:
            raise ValueError(f"state: the saved pool holds up to {int(state['size'])} images, this one {self.size}")
        stored = state["images"]
        self.images = [img.clone() for img in stored] if stored.ndim == 4 else []
        self.generator.set_state(state["generator"])

    def __repr__(self):
        return f"ImagePool(size={self.size}, stored={len(self.images)})"
