"""Training recipes outside notebooks: ``python -m gancourse.train RECIPE [options]``.

A recipe is a :class:`Recipe` (what differs from model to model: config, data, train, evaluate,
publish) at the end of the file of the model it trains (one file per GAN family), run by
:func:`run_recipe` (what every recipe does the same way), and listed in the table ``RECIPES`` below
by its import path; the two experiments that train a table of runs (``toy-modes``, ``deepi2i``) are
functions ``run(args) -> dict``. Every recipe accepts the same options:

  --data PATH        a folder of the user's images (layout documented per recipe); default: the
                     embedded dataset of the notebooks
  --image-size N     image side in pixels
  --steps N          training steps
  --batch-size N
  --out DIR          where checkpoints, sample grids and the final metrics go (default runs/RECIPE);
                     checked writable before anything trains
  --resume           continue from the newest good checkpoint in --out; stops with a clear message
                     when --out holds none
  --resume-if-any    continue when there is a checkpoint, start from step 0 when there is none
  --seed N, --device NAME
  --publish          also write the final weights into data/ and the manifest (maintainers: this is
                     how the shipped checkpoints are regenerated)
  --no-fast, --no-bf16, --no-channels-last, --no-cudnn-benchmark, --no-fused-optimizers,
  --no-pin-memory, --workers N, --compile
                     GPU fast paths (``gancourse.fastpaths``), each on by default on a GPU

Every recipe writes ``checkpoint_*.pt`` files and a sample grid ``samples_STEP.png`` beside each
into ``--out``, and the same command runs data-parallel on several GPUs or machines under
``torchrun --nproc_per_node N -m gancourse.train RECIPE ...`` (``gancourse.distributed``).
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import tempfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable

from . import distributed, pretrained
from .checkpoint import CheckpointError, CheckpointManager
from .fastpaths import FastPaths
from .runtime import pick_device
from .train import Checkpointer

# name -> (module, function, what it trains): where each recipe lives. A plain table, so that
# listing the recipes (``--help``) imports no model; ``main`` imports only the one it runs.
RECIPES: dict[str, tuple[str, str, str]] = {
    "toy-gan": ("gancourse.models.vanilla", "RECIPE_RING",
        "vanilla GAN on PacGAN's ring of 8 (notebook 04)"),
    "toy-gan-ring": ("gancourse.models.vanilla", "RECIPE_RING",
        "same as toy-gan"),
    "toy-gan-grid": ("gancourse.models.vanilla", "RECIPE_GRID",
        "vanilla GAN on PacGAN's grid of 25 (notebook 04)"),
    "wgan-gp": ("gancourse.models.wgan", "RECIPE_WGAN_GP",
        "WGAN-GP on the digits, DCGAN networks (notebook 08)"),
    "wgan": ("gancourse.models.wgan", "RECIPE_WGAN",
        "WGAN (weight clipping) on the digits, DCGAN networks (notebook 08)"),
    "toy-modes": ("gancourse.models.toy_modes", "run",
        "the toy benchmark of notebooks 04, 07, 08: 8 rows x 2 mixtures x 3 seeds (modes, HQ %, seconds)"),
    "dcgan": ("gancourse.models.dcgan", "RECIPE",
        "DCGAN on the digits (notebook 05)"),
    "dcgan-digits": ("gancourse.models.dcgan", "RECIPE",
        "alias of dcgan; --publish writes data/dcgan_digits.pt"),
    "cgan": ("gancourse.models.cgan", "RECIPE_CGAN",
        "conditional GAN on digits, label embedding (notebook 09)"),
    "acgan": ("gancourse.models.cgan", "RECIPE_ACGAN",
        "AC-GAN on digits, auxiliary classifier in D (notebook 09)"),
    "pix2pix": ("gancourse.models.pix2pix", "RECIPE",
        "Pix2Pix: scenes label map -> image, or --data paired images (A|B side by side, or A/ and B/) (notebook 10)"),
    "pix2pix-l1": ("gancourse.models.pix2pix", "RECIPE_L1",
        "Pix2Pix ablation: L1 loss only, no discriminator (notebook 10)"),
    "pix2pix-gan": ("gancourse.models.pix2pix", "RECIPE_GAN",
        "Pix2Pix ablation: conditional GAN loss only, no L1 (notebook 10)"),
    "cyclegan": ("gancourse.models.cyclegan", "RECIPE",
        "CycleGAN: shapes solid <-> striped, or --data trainA/trainB unpaired folders (notebook 11)"),
    "cyclegan-noid": ("gancourse.models.cyclegan", "RECIPE_NOID",
        "CycleGAN without the identity loss (notebook 11)"),
    "stargan": ("gancourse.models.stargan", "RECIPE",
        "StarGAN: shapes colour x background domains, or --data one sub-folder per domain (notebook 12)"),
    "stargan-shape": ("gancourse.models.stargan", "RECIPE_SHAPE",
        "StarGAN: shapes shape x colour domains, D and G at 3e-4, instance noise in D (notebook 12)"),
    "stargan-mask": ("gancourse.models.stargan", "RECIPE_MASK",
        "StarGAN on two shapes datasets with different label sets, mask vector (notebook 12)"),
    "defectgan": ("gancourse.models.defectgan", "RECIPE",
        "Defect-GAN: defacement / restoration of texture crops, scratch / spot / crack (notebook 14)"),
    "spade": ("gancourse.models.spade", "RECIPE",
        "SPADE: scenes label map -> image, multi-scale D, hinge + feature matching (notebook 13)"),
    "spade-bn": ("gancourse.models.spade", "RECIPE_BN",
        "SPADE ablation: batch norm, map fed at the input only (notebook 13)"),
    "bigan": ("gancourse.models.bigan", "RECIPE",
        "BiGAN on digits: G, encoder E, joint D on (x, z) (notebook 16)"),
    "deepi2i-source": ("gancourse.models.deepi2i", "RECIPE_SOURCE",
        "DeepI2I's source GAN: AC-GAN on digits, G and D (notebook 15)"),
    "deepi2i": ("gancourse.models.deepi2i", "run",
        "DeepI2I translators on styled digits, transfer vs scratch (notebook 15)"),
    "discogan": ("gancourse.models.discogan", "RECIPE",
        "DiscoGAN: shapes solid <-> striped, CycleGAN's object with DiscoGAN's losses (notebook 16)"),
    "infogan": ("gancourse.models.infogan", "RECIPE",
        "InfoGAN on digits, categorical + continuous codes (notebook 16)"),
    "lapgan": ("gancourse.models.lapgan", "RECIPE",
        "LAPGAN on digits: 8x8 GAN + conditional residual GAN (notebook 16)"),
    "stackgan": ("gancourse.models.stackgan", "RECIPE",
        "StackGAN on captioned shapes: 8x8 sketch, then 32x32 (notebook 16)"),
    "digit-classifier": ("gancourse.judges.digits", "RECIPE",
        "CNN digit classifier behind the image metrics (notebook 06)"),
    "shapes-classifier": ("gancourse.judges.shapes", "RECIPE",
        "CNN reading shape, colour, fill, size and background of shapes images (notebooks 11-12)"),
    "scene-segmenter": ("gancourse.judges.scenes", "RECIPE",
        "tiny U-Net segmenting real scenes: the judge of SPADE's mIoU (notebook 13)"),
    "defect-classifier": ("gancourse.judges.defects", "RECIPE",
        "CNN reading normal / scratch / spot / crack texture crops: the judge of Defect-GAN (notebook 14)"),
    "styled-digit-classifier": ("gancourse.judges.styled", "RECIPE",
        "classifier of styled digits, judge of notebook 15's translations"),
}


def build_parser() -> argparse.ArgumentParser:
    lines = "\n".join(f"  {name:16s} {desc}" for name, (_, _, desc) in sorted(RECIPES.items()))
    parser = argparse.ArgumentParser(
        prog="python -m gancourse.train",
        description="Train one of the course's models outside a notebook.",
        epilog=f"recipes:\n{lines}", formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("recipe", help="which model to train (see the list below)")
    parser.add_argument("--data", type=Path, default=None, help="folder of your own images (see the recipe's docs)")
    parser.add_argument("--image-size", type=int, default=None, help="image side in pixels")
    parser.add_argument("--steps", type=int, default=None, help="training steps")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--out", type=Path, default=None, help="output folder (default runs/RECIPE)")
    parser.add_argument("--resume", action="store_const", const=True, default=False,
                        help="continue from the newest good checkpoint in --out (an error when there is none)")
    parser.add_argument("--resume-if-any", dest="resume", action="store_const", const="if-any",
                        help="continue from a checkpoint in --out if there is one, else start from step 0")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1, mps (default: best available)")
    parser.add_argument("--checkpoint-every", type=int, default=None)
    parser.add_argument("--publish", action="store_true", help="write the final weights into data/ (maintainers)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (logs only)")
    fast = parser.add_argument_group(
        "GPU fast paths (on by default on a GPU, off on a CPU; see gancourse.fastpaths)")
    fast.add_argument("--no-fast", action="store_true", help="turn every fast path off")
    for name, what in (("bf16", "bfloat16 autocast"), ("channels-last", "channels_last memory format"),
                       ("cudnn-benchmark", "cudnn.benchmark"), ("fused-optimizers", "fused Adam"),
                       ("pin-memory", "pinned-memory batches with non_blocking copies")):
        fast.add_argument(f"--no-{name}", action="store_true", help=f"no {what}")
    fast.add_argument("--workers", type=int, default=0, help="DataLoader worker processes for --data folders")
    fast.add_argument("--compile", action="store_true", help="torch.compile the networks (long runs)")
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.recipe not in RECIPES:
        parser.error(f"unknown recipe {args.recipe!r}; expected one of {', '.join(sorted(RECIPES)) or '(none yet)'}")
    for name in ("image_size", "steps", "batch_size", "checkpoint_every"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')}: expected a positive integer, got {value}")
    if args.data is not None and not args.data.is_dir():
        parser.error(f"--data: {args.data} is not a folder")
    if args.out is None:
        args.out = Path("runs") / args.recipe
    if args.workers < 0:
        parser.error(f"--workers: expected 0 or more, got {args.workers}")
    writer = distributed.is_main() if distributed.is_initialized() else os.environ.get("RANK", "0") == "0"
    problem = _cannot_write(args.out) if writer else ""   # now, not at the first checkpoint minutes later
    if problem:
        parser.error(f"--out: cannot write into {args.out} ({problem}); choose a folder you can write to")
    if args.resume is True:
        problem = _nothing_to_resume(args.out)
        if problem:
            print(f"{parser.prog}: error: --resume: {problem}. Drop --resume to start from step 0, or use "
                  "--resume-if-any to continue when there is a checkpoint and start over when there is none.",
                  file=sys.stderr)
            return 2
        # Recipes that train several runs (one folder each) resume those that started and start the
        # others: the check above already made sure the run as a whole has something to resume.
        args.resume = "if-any"
    module, function, _ = RECIPES[args.recipe]
    run = getattr(importlib.import_module(module), function)
    joined = distributed.launched_by_torchrun() and not distributed.is_initialized()
    if distributed.launched_by_torchrun():
        # torchrun --nproc_per_node N -m gancourse.train RECIPE: one process per device, same command
        args.device = str(distributed.init(args.device))
    main_process = distributed.is_main()
    try:
        result = run(args) or {}
    except CheckpointError as exc:  # a folder of another recipe or other options: no raw traceback
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 2
    finally:
        if joined:
            distributed.shutdown()
    if result and main_process:
        print(json.dumps(result, indent=2, default=str))
    return 0


# ------------------------------------------------------------------------------------------------
# The recipe skeleton: what every recipe does the same way
# ------------------------------------------------------------------------------------------------

@dataclass
class Recipe:
    """The parts of a recipe that differ from one model to the next; :func:`run_recipe` does the rest.

    ``config``: the config dataclass, built as ``config(seed=args.seed)`` then overridden by
    ``--steps``, ``--batch-size`` and, when ``image_size_field`` names the field, ``--image-size``;
    ``configure(args)`` -> cfg replaces that step for a recipe whose options map differently.
    ``data(args, cfg)`` -> ``(cfg, train_data, test_data)``: the data, the course's embedded set or
    the ``--data`` folder (a recipe without it refuses ``--data``), with cfg adjusted to it.
    ``train(cfg, [train_data,] device, progress, checkpoint, resume[, fast])`` -> ``(trained, history)``;
    ``fast`` (the GPU fast paths of the command line) when the recipe sets ``fast=True``.
    ``evaluate(trained, cfg, history[, test_data])`` -> the metrics dict the run prints (and publishes).
    ``publish(trained, cfg)`` -> ``(pretrained name, {name: module}, description)``, what
    ``--publish`` writes into ``data/`` (never from a ``--data`` folder); or a sentence saying why the
    recipe ships nothing, and ``--publish`` is refused with it. ``trains_on``: the embedded
    data, named in the message that refuses ``--data``. ``checkpoint_every``: the default of
    ``--checkpoint-every``.
    """
    name: str
    config: Callable
    train: Callable
    evaluate: Callable
    publish: Callable | str
    trains_on: str
    checkpoint_every: int = 1000
    image_size_field: str | None = None
    configure: Callable | None = None
    data: Callable | None = None
    fast: bool = False

    def __call__(self, args) -> dict:
        return run_recipe(self, args)


def run_recipe(recipe: Recipe, args) -> dict:
    """Run ``recipe`` under the command line's options (see this module's docstring): the config with
    its overrides, the data, the device, a checkpoint in ``--out`` every ``--checkpoint-every`` steps,
    resuming, the GPU fast paths, the metrics, and with ``--publish`` the weights in ``data/`` with
    the command that rebuilds them."""
    if args.data is not None and recipe.data is None:
        raise SystemExit(f"{recipe.name}: trains on {recipe.trains_on} only; --data is not supported")
    if args.data is not None and args.publish:
        raise SystemExit(f"{recipe.name} --publish: only the course's models are shipped; drop --data")
    if isinstance(recipe.publish, str) and args.publish:
        raise SystemExit(f"{recipe.name} --publish: {recipe.publish}")
    if recipe.configure is not None:
        cfg = recipe.configure(args)
    else:
        if args.image_size is not None and recipe.image_size_field is None:
            raise SystemExit(f"{recipe.name}: its image size is fixed; --image-size is not supported")
        overrides = options(args)
        if recipe.image_size_field is not None and args.image_size is not None:
            overrides[recipe.image_size_field] = args.image_size
        # replace, not setattr: the config's own checks run on the overridden values too
        cfg = replace(recipe.config(seed=args.seed), **overrides)
    data = () if recipe.data is None else recipe.data(args, cfg)
    if data:
        cfg, train_data, test_data = data
    device = pick_device(args.device)          # default: the best available, as --help says
    ckpt = Checkpointer(args.out, modules={}, every=args.checkpoint_every or recipe.checkpoint_every, config=asdict(cfg))
    how = {"device": device, "progress": not args.no_progress, "checkpoint": ckpt, "resume": args.resume}
    if recipe.fast:
        how["fast"] = FastPaths.from_args(args)
    trained, history = recipe.train(cfg, *([train_data] if data else []), **how)
    metrics = recipe.evaluate(trained, cfg, history, *([test_data] if data else []))
    if args.publish:
        name, modules, description = recipe.publish(trained, cfg)
        given = (("steps", args.steps), ("image-size", args.image_size), ("batch-size", args.batch_size),
                 ("seed", args.seed or None), ("device", args.device))
        flags = "".join(f" --{flag} {value}" for flag, value in given if value is not None)
        path = pretrained.save(name, {k: m.cpu().eval() for k, m in modules.items()}, config=asdict(cfg),
                               metrics=metrics, command=f"python -m gancourse.train {recipe.name}{flags} --publish",
                               description=description)
        metrics["published"] = path.name
    return metrics


def options(args) -> dict:
    """The config fields that ``--steps`` and ``--batch-size`` set, when given: for a recipe's
    ``configure``."""
    return {k: v for k, v in (("steps", args.steps), ("batch_size", args.batch_size)) if v is not None}


def last_losses(history) -> dict:
    """The last logged value of each loss in a training history, rounded: the losses a run reports."""
    return {k: round(v[-1], 4) for k, v in history.items() if k != "step"}


def _cannot_write(folder: Path) -> str:
    """Why files cannot be created in ``folder`` (created if missing), or ""."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    return ""


def _nothing_to_resume(out: Path) -> str:
    """Why ``out`` (and its sub-folders, for recipes with several runs) holds no usable checkpoint, or ""."""
    folders = sorted({p.parent for p in out.rglob("ckpt_*.pt")})
    if not folders:
        return f"{out} holds no checkpoint, so there is nothing to resume"
    for folder in folders:
        if CheckpointManager(folder).latest() is not None:  # damaged ones are set aside, with a warning
            return ""
    return f"every checkpoint in {out} is damaged (set aside as *.pt.damaged), so there is nothing to resume"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
