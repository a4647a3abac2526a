r"""DiscoGAN (Kim, Cha, Kim, Lee & Kim, ICML 2017): discovering cross-domain relations, CycleGAN's twin.

Published within weeks of CycleGAN (Zhu et al. 2017), DiscoGAN solves the same unpaired problem
with the same idea: two generators G_AB: A -> B and G_BA: B -> A, two discriminators, and a
reconstruction loss that asks each generator to undo the other (the paper's Eq. 1–5):

.. math:: L_{G} = L_{GAN_B} + L_{CONST_A} + L_{GAN_A} + L_{CONST_B},\qquad
          L_{CONST_A} = d\big(G_{BA}(G_{AB}(x_A)),\, x_A\big)

with d a distance (the paper lists MSE, cosine and hinge; MSE here). What differs from CycleGAN,
setting by setting (each one a field of :class:`gancourse.models.cyclegan.CycleGANConfig` or a
method overridden below, so that the *same model object* trains both):

=======================  ================================  ==========================================
                         CycleGAN (notebook 11)            DiscoGAN
=======================  ================================  ==========================================
adversarial loss         least squares (LSGAN)             binary cross-entropy (the original GAN)
reconstruction           L1, weight λ_cyc = 10             MSE, weight 1
identity loss            0.5·λ_cyc                         none
generator                ResNet: down, residual blocks,    encoder-decoder: strided convolutions down,
                         up                                transposed ones up, no residual blocks
image pool               50 past fakes                     none
learning rate            constant, then linear decay       constant
=======================  ================================  ==========================================

The course keeps its PatchGAN discriminators for both (DiscoGAN's D ends in one number per
image) and batch norm (which the shapes need, see ``cyclegan.shapes_config``).

    model = DiscoGAN(discogan_config(steps=500))
    model.set_input(solid, striped); losses = model.optimize_parameters()

Recipe: ``python -m gancourse.train discogan --publish`` (shipped: ``discogan-shapes``).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .. import losses, pretrained, recipes
from ..data.shapes import cyclegan_domains
from . import cyclegan
from .cyclegan import CycleGAN, CycleGANConfig, build_generator, evaluate_shapes, shapes_config

PRETRAINED_NAME = "discogan-shapes"


def discogan_config(**overrides) -> CycleGANConfig:
    """CycleGAN's configuration with DiscoGAN's settings: no residual blocks (an encoder-decoder G),
    reconstruction weight 1, no identity loss, no image pool, no learning-rate decay; batch norm
    (as the course's shapes models, and DiscoGAN's own networks)."""
    settings = {"n_blocks": 0, "lambda_cyc": 1.0, "lambda_id": 0.0, "pool_size": 0, "decay_steps": 0}
    return shapes_config(**(settings | overrides))


class DiscoGAN(CycleGAN):
    """CycleGAN's model object (G = G_AB, F = G_BA, D_X = D_A, D_Y = D_B, the same update order) with
    DiscoGAN's losses: BCE for the adversarial terms and MSE for the reconstructions."""

    @staticmethod
    def loss_D(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
        """-E log D(real) - E log(1 - D(fake)), on D's logits (every patch counts)."""
        return losses.d_loss_bce(real_scores, fake_scores)

    @staticmethod
    def loss_G_adv(fake_scores: torch.Tensor) -> torch.Tensor:
        """-E log D(fake): the non-saturating generator loss."""
        return losses.g_loss_nonsaturating(fake_scores)

    def forward(self) -> None:
        """Both translations and both round trips: x -> G(x) -> F(G(x)) and y -> F(y) -> G(F(y))."""
        super().forward()
        self.rec_X = self.F(self.fake_Y)
        self.rec_Y = self.G(self.fake_X)

    def backward_G(self) -> dict:
        """L_GAN_B + L_GAN_A + λ (L_CONST_A + L_CONST_B), the constancy terms with d = MSE."""
        adv = self.loss_G_adv(self.D_Y(self.fake_Y)) + self.loss_G_adv(self.D_X(self.fake_X))
        rec = F.mse_loss(self.rec_X, self.real_X) + F.mse_loss(self.rec_Y, self.real_Y)
        (adv + self.cfg.lambda_cyc * rec).backward()
        return {"G_adv": adv, "reconstruction": rec}


def train(cfg: CycleGANConfig, X: torch.Tensor, Y: torch.Tensor, device="cpu", progress: bool = True,
          desc: str = "DiscoGAN", log_every: int = 25, checkpoint=None, resume: bool | str = False, fast=None):
    """Train DiscoGAN on unpaired image sets X (N, C, S, S) and Y (M, C, S, S) (a ``cfg`` from
    :func:`discogan_config`): CycleGAN's training loop (:func:`gancourse.models.cyclegan.train`) with
    :class:`DiscoGAN` as the model object; returns ``(model, history)``."""
    return cyclegan.train(cfg, X, Y, device=device, progress=progress, checkpoint=checkpoint, resume=resume,
                          desc=desc, log_every=log_every, fast=fast, model_class=DiscoGAN)


def load_pretrained():
    """The shipped DiscoGAN on shapes: ``(G_AB, G_BA, cfg, metrics)``, checksum verified, eval mode."""
    state = pretrained.load(PRETRAINED_NAME)
    cfg = CycleGANConfig(**state["config"])
    G, F_ = build_generator(cfg), build_generator(cfg)
    G.load_state_dict(state["modules"]["G"])
    F_.load_state_dict(state["modules"]["F"])
    return G.eval(), F_.eval(), cfg, state.get("metrics", {})


def _config(args):
    if args.image_size is not None:
        raise SystemExit("discogan: its image size is fixed; --image-size is not supported")
    settings = {"seed": args.seed, "steps": args.steps or 2000}
    if args.batch_size is not None:
        settings["batch_size"] = args.batch_size
    return discogan_config(**settings)


def _train(cfg, **kw):
    X, Y = cyclegan_domains(4000, cfg.size, "train")
    return train(cfg, X.images, Y.images, **kw)


def _scores(model, cfg, history) -> dict:
    X_test, Y_test = cyclegan_domains(500, cfg.size, "test")
    return evaluate_shapes(model.G.cpu().eval(), model.F.cpu().eval(), X_test, Y_test)


RECIPE = recipes.Recipe(
    name="discogan", config=discogan_config, configure=_config, train=_train, evaluate=_scores,
    trains_on="the embedded shapes (use cyclegan for your own images)",
    publish=lambda model, cfg: (PRETRAINED_NAME, {"G": model.G, "F": model.F},
                                "DiscoGAN on 32x32 shapes, G_AB: solid -> striped, G_BA: striped -> solid (notebook 16)"))
