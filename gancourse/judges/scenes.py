r"""The judge of semantic image synthesis: a small segmenter trained on real scenes.

SPADE (Park et al. 2019, Section 4) and pix2pixHD measure a label-map-to-image generator by running
a semantic segmentation network, trained on **real** photographs, on the generated images and
comparing its prediction with the input map: mean intersection over union (mIoU) and pixel
accuracy. A generator that draws water where the map says water gets its water recognised.
Notebook 13 does the same on the course's scenes with :class:`SceneSegmenter`, a tiny U-Net trained
on the rendered scenes by the recipe ``python -m gancourse.train scene-segmenter --publish``
(shipped: ``data/scene_segmenter.pt``; its mIoU on the real test scenes is in
``data/MANIFEST.json``: it is the ceiling a generator can reach by this measure).

    seg = scene_segmenter()                           # shipped weights, checksum verified, eval mode
    maps = seg.predict(images)                        # (N, H, W) int64 class indices
    scores = segmentation_scores(seg, images, true_maps)   # {"miou", "iou", "pixel_accuracy"}

The segmenter is trained with nuisances a generator's output may have and a rendered image has not
(blur, noise, contrast and brightness changes), so that it reads *what* is drawn rather than the
renderer's exact pixel statistics.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .. import _validate as V
from .. import recipes
from ..data import index_batches
from ..data.scenes import CLASSES, N_CLASSES, Scenes
from ..metrics import mean_iou
from ..runtime import seed_everything
from .fitting import blur_and_noise, fit_judge, load_judge, predict_in_batches

PRETRAINED_NAME = "scene-segmenter"
PRETRAINED_NAMES = {32: PRETRAINED_NAME, 64: "scene-segmenter-64"}   # one judge per image size


@dataclass
class SegmenterConfig:
    width: int = 16          # channels at full resolution (then 2x and 4x)
    steps: int = 1500
    batch_size: int = 32
    lr: float = 2e-3
    n_train: int = 3000
    size: int = 32
    seed: int = 0


def _double_conv(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU(),
                         nn.Conv2d(c_out, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU())


class SceneSegmenter(nn.Module):
    """A tiny U-Net: images (N, 3, H, W) in [-1, 1] -> class logits (N, 5, H, W), H and W multiples of 4.

    Three levels (``width``, 2·width, 4·width channels at H, H/2, H/4), max pooling down, nearest
    upsampling and concatenation with the same level's features on the way up, a 1x1 convolution
    to the classes of ``gancourse.data.scenes.CLASSES``.
    """

    def __init__(self, width: int = 16, n_classes: int = N_CLASSES):
        super().__init__()
        w = V.positive_int(width, "width")
        self.n_classes = V.positive_int(n_classes, "n_classes", minimum=2)
        self.enc1, self.enc2, self.enc3 = _double_conv(3, w), _double_conv(w, 2 * w), _double_conv(2 * w, 4 * w)
        self.dec2, self.dec1 = _double_conv(6 * w, 2 * w), _double_conv(3 * w, w)
        self.out = nn.Conv2d(w, self.n_classes, 1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        V.images(images, "images", channels=3)
        if images.shape[-1] % 4 or images.shape[-2] % 4:
            raise ValueError(f"images: expected height and width divisible by 4, got shape {tuple(images.shape)}")
        e1 = self.enc1(images)
        e2 = self.enc2(F.max_pool2d(e1, 2))
        e3 = self.enc3(F.max_pool2d(e2, 2))
        d2 = self.dec2(torch.cat([F.interpolate(e3, scale_factor=2, mode="nearest"), e2], 1))
        d1 = self.dec1(torch.cat([F.interpolate(d2, scale_factor=2, mode="nearest"), e1], 1))
        return self.out(d1)

    def predict(self, images: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
        """Predicted label maps (N, H, W) int64, in eval mode, in batches, on the CPU."""
        V.images(images, "images", channels=3)
        return predict_in_batches(self, images, lambda logits: logits.argmax(1), batch_size,
                          torch.zeros(0, *images.shape[-2:], dtype=torch.long))


def augment(images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Nuisances that change no label: a random blur (3x3 box filter mixed in with weight 0..0.7),
    pixel noise (std 0..0.1), contrast x0.8..1.2 and brightness ±0.1 per image. (N, 3, H, W) in
    [-1, 1] -> the same shape, clipped to [-1, 1]."""
    V.images(images, "images", channels=3)
    n = images.shape[0]
    u = torch.rand(n, 4, generator=generator).to(images.device)
    x = blur_and_noise(images, 0.7 * u[:, 0], 0.1 * u[:, 1], generator)
    x = x * (0.8 + 0.4 * u[:, 2]).view(n, 1, 1, 1) + (0.2 * u[:, 3] - 0.1).view(n, 1, 1, 1)
    return x.clamp(-1, 1)


def train_segmenter(config: SegmenterConfig | None = None, device="cpu", progress: bool = True,
                    checkpoint=None, resume: bool = False):
    """Train a :class:`SceneSegmenter` on ``config.n_train`` real training scenes (pixel-wise
    cross-entropy, :func:`augment`, random left-right flips of image and map together, Adam with a
    cosine decay). Returns ``(segmenter, history)``."""
    cfg = config or SegmenterConfig()
    V.instance(cfg, "config", SegmenterConfig)
    seed_everything(cfg.seed)
    data = Scenes(cfg.n_train, cfg.size, "train", seed=cfg.seed)
    stream = index_batches(len(data), cfg.batch_size, generator=torch.Generator().manual_seed(cfg.seed + 1))
    gen = torch.Generator().manual_seed(cfg.seed)
    net = SceneSegmenter(cfg.width).to(device)

    def batch_loss(i):
        _, idx = next(stream)
        x, y = data.images[idx], data.maps[idx]
        flip = torch.rand(len(idx), generator=gen) < 0.5
        x = torch.where(flip.view(-1, 1, 1, 1), x.flip(-1), x)
        y = torch.where(flip.view(-1, 1, 1), y.flip(-1), y)
        return F.cross_entropy(net(augment(x, gen).to(device)), y.to(device))

    history = fit_judge(net, batch_loss, cfg.steps, cfg.lr, "scene segmenter", progress=progress,
                        checkpoint=checkpoint, resume=resume, streams={"batches": stream, "augment": gen},
                        module="segmenter")
    return net, history


@torch.no_grad()
def segmentation_scores(segmenter: SceneSegmenter, images: torch.Tensor, maps: torch.Tensor) -> dict:
    """How well ``segmenter`` recovers ``maps`` (N, H, W) from ``images`` (N, 3, H, W):
    ``{"miou": float, "iou": [per class, CLASSES order], "pixel_accuracy": float}``."""
    V.instance(segmenter, "segmenter", SceneSegmenter)
    V.images(images, "images", channels=3)
    V.tensor(maps, "maps", ndim=3, floating=False)
    if maps.shape[0] != images.shape[0] or maps.shape[-2:] != images.shape[-2:]:
        raise ValueError(f"maps: expected one (H, W) map per image, got {tuple(maps.shape)} for images "
                         f"{tuple(images.shape)}")
    pred = segmenter.predict(images)
    miou, iou = mean_iou(pred, maps.cpu(), segmenter.n_classes)
    return {"miou": miou, "iou": [float(v) for v in iou],
            "pixel_accuracy": float((pred == maps.cpu()).float().mean())}


def scene_segmenter(device="cpu", size: int = 32) -> SceneSegmenter:
    """The course's shipped scene segmenter for ``size`` x ``size`` scenes (32: notebook 13; 64:
    notebook 10's patch-size study): checksum verified, weights loaded with ``weights_only=True``,
    in eval mode, gradients switched off."""
    if size not in PRETRAINED_NAMES:
        raise ValueError(f"size: expected one of {sorted(PRETRAINED_NAMES)} (the shipped segmenters), got {size!r}")
    return load_judge(PRETRAINED_NAMES[size], lambda c: SceneSegmenter(c["width"]), module="segmenter", device=device)


def _test_scores(net: SceneSegmenter, cfg: SegmenterConfig, history) -> dict:
    test = Scenes(500, cfg.size, "test")
    scores = segmentation_scores(net.cpu(), test.images, test.maps)
    return {"test_miou": round(scores["miou"], 4), "test_pixel_accuracy": round(scores["pixel_accuracy"], 4),
            "test_iou": {c: round(v, 4) for c, v in zip(CLASSES, scores["iou"])},
            "train_cross_entropy": round(history.mean("cross_entropy"), 4)}


def _published(net: SceneSegmenter, cfg: SegmenterConfig):
    if cfg.size not in PRETRAINED_NAMES:
        raise SystemExit(f"scene-segmenter --publish: the course ships segmenters for sizes {sorted(PRETRAINED_NAMES)}")
    use = "notebook 13" if cfg.size == 32 else "notebook 10's patch-size study"
    return (PRETRAINED_NAMES[cfg.size], {"segmenter": net},
            f"tiny U-Net segmenting {cfg.size}x{cfg.size} scenes into sky/ground/water/trees/buildings ({use})")


RECIPE = recipes.Recipe(name=PRETRAINED_NAME, config=SegmenterConfig, train=train_segmenter,
                        trains_on="the procedural scenes", evaluate=_test_scores, publish=_published,
                        checkpoint_every=500, image_size_field="size")
