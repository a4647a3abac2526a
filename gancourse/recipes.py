"""Training recipes outside notebooks: ``python -m gancourse.train RECIPE [options]``.

A recipe is a function ``run(args) -> dict`` in the file of the model it trains (one file per GAN
family), registered in ``RECIPES`` below by its import path. Every recipe accepts the same options:

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
from pathlib import Path

from . import distributed
from .checkpoint import CheckpointError, CheckpointManager

# name -> (module, function, what it trains). Filled in by the model files' authors.
RECIPES: dict[str, tuple[str, str, str]] = {}


def register(name: str, module: str, function: str, description: str) -> None:
    RECIPES[name] = (module, function, description)


def _load_registry() -> None:
    """Import the model packages so that each registers its recipes."""
    for module in ("gancourse.models", "gancourse.evaluators", "gancourse.evaluators_shapes",
                   "gancourse.evaluators_scenes", "gancourse.evaluators_defects", "gancourse.evaluators_styled"):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise


def build_parser() -> argparse.ArgumentParser:
    _load_registry()
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
