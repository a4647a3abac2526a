"""The training loop around a notebook's step function: progress bar, history, snapshots, checkpoints.

The step itself (how G and D are updated) is what each notebook teaches, so it stays in the
notebook or in the model's file. ``fit`` only runs it::

    def step(i):
        ...                               # one update of D and G
        return {"loss_D": loss_D, "loss_G": loss_G}   # tensors or floats

    history = fit(step, steps=2000, log_every=50)

``fit`` keeps the losses on the device and reads them every ``log_every`` steps (no host
synchronisation per step), stops with a clear message when a loss becomes NaN or infinite, and,
given a :class:`Checkpointer`, saves every ``checkpoint.every`` steps and resumes where it
stopped. Training never loses more than the last checkpoint interval.

``python -m gancourse.train RECIPE`` runs the course's recipes outside notebooks (see
``gancourse.recipes``).
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch

from . import _validate as V
from . import distributed
from .checkpoint import (CheckpointError, CheckpointManager, NothingToResumeError, collect_state, load_file,
                         restore_state)


class History(dict):
    """Loss history: ``{"step": [...], name: [...]}``, one entry per logged step.

    Values are means over each logging window. ``history.last("loss_D")`` is the latest value.
    """

    def last(self, name: str) -> float:
        if name not in self or not self[name]:
            raise KeyError(f"history has no values for {name!r}; it has {sorted(k for k in self if k != 'step')}")
        return self[name][-1]

    def mean(self, name: str, last: int = 10) -> float:
        values = self[name][-last:]
        return sum(values) / len(values)


class NonFiniteLossError(FloatingPointError):
    """A loss became NaN or infinite; the message names the step, the loss and the likely causes."""


class NonFiniteWeightsError(FloatingPointError):
    """A network's weights or buffers hold NaN or infinity at a checkpoint (the losses were finite):
    the checkpoint is not written, the previous one is kept."""


LIKELY_CAUSES = (
    "likely causes: a learning rate too high for this loss; a log of 0 (use the logit-based losses "
    "in gancourse.losses, not log(sigmoid(x))); exploding critic weights (clip, penalise the gradient "
    "or use spectral normalisation); input images outside [-1, 1]"
)


@dataclass
class Checkpointer:
    """What to save and where: modules, optimizers and extras (schedulers, pools, iterators)."""

    directory: str | Path
    modules: dict
    optimizers: dict = field(default_factory=dict)
    extras: dict = field(default_factory=dict)
    every: int = 500
    keep: int = 3
    config: dict = field(default_factory=dict)
    # A function returning images (N, C, H, W) in [-1, 1]: a grid of them is written beside each
    # checkpoint (samples_STEP.png), to watch a long run from a file browser.
    samples: Callable[[], torch.Tensor] | None = None

    def __post_init__(self):
        if not isinstance(self.directory, (str, os.PathLike)):
            raise TypeError(f"directory: expected a folder path (str or Path), got {type(self.directory).__name__}")
        for name in ("modules", "optimizers", "extras"):
            value = getattr(self, name)
            if not isinstance(value, dict):
                raise TypeError(f"{name}: expected a dict {{name: object}}, got {type(value).__name__}")
            for key, obj in value.items():
                if not isinstance(key, str):
                    raise TypeError(f"{name}: expected string keys, got {key!r}")
                if name != "extras" and not (hasattr(obj, "state_dict") and hasattr(obj, "load_state_dict")):
                    raise TypeError(f"{name}[{key!r}]: expected an object with state_dict() and load_state_dict(), "
                                    f"got {type(obj).__name__}")
        if self.samples is not None and not callable(self.samples):
            raise TypeError(f"samples: expected a function returning images, got {type(self.samples).__name__}")
        if not isinstance(self.config, dict):
            raise TypeError(f"config: expected a dict of plain values (e.g. dataclasses.asdict(cfg)), "
                            f"got {type(self.config).__name__}")
        _check_plain(self.config, "config")
        self.every = V.positive_int(self.every, "every")
        self.manager = CheckpointManager(self.directory, keep=self.keep)
        self._verified = False
        if distributed.is_main():
            self.manager.remove_temporaries()  # left by a run killed while it wrote a checkpoint

    def track(self, model, samples: Callable[[], torch.Tensor] | None = None, **streams) -> None:
        """Save a model object in every checkpoint: its ``modules()`` and ``optimizers()``, its
        ``extras()`` (schedules, pools) when it has them, and the random ``streams`` its batches come
        from (batch iterators, generators), so that a resumed run continues exactly. ``samples``: the
        grid beside each checkpoint, unless the caller already chose one."""
        self.modules.update(model.modules())
        self.optimizers.update(model.optimizers())
        if hasattr(model, "extras"):
            self.extras.update(model.extras())
        self.extras.update(streams)
        if self.samples is None and samples is not None:
            self.samples = samples

    def non_finite(self) -> list[str]:
        """``module.tensor`` names of the weights and buffers that hold NaN or infinity."""
        found = []
        for name, module in self.modules.items():
            for key, t in distributed.unwrap(module).state_dict().items():
                if torch.is_floating_point(t) and not bool(torch.isfinite(t).all()):
                    found.append(f"{name}.{key}")
        return found

    def save(self, step: int, history: dict | None = None) -> Path | None:
        """Write a checkpoint (and a sample grid); under torchrun only rank 0 writes, and the file
        holds every rank's random-number and iterator states. Returns the path (None on other ranks).
        Raises :class:`NonFiniteWeightsError`, writing nothing, when a network holds NaN or infinity."""
        bad = self.non_finite()
        if bad:
            raise NonFiniteWeightsError(
                f"step {step}: {', '.join(bad[:4])}{' ...' if len(bad) > 4 else ''} hold NaN or infinity although "
                f"the losses were finite; not saved (the last good checkpoint is kept). {LIKELY_CAUSES}")
        state = collect_state(step, self.modules, self.optimizers, self.extras, self.config, history)
        per_rank = distributed.gather_to_main({"rng": state["rng"], "extras": state["extras"]})
        if not distributed.is_main():
            return None
        if len(per_rank) > 1:
            state["ranks"] = per_rank
        path = self.manager.save(state)
        if self.samples is not None:
            self.write_samples(step)
        if not self._verified:  # read the first one back: an unloadable checkpoint must fail now, not at resume
            try:
                load_file(path)
            except CheckpointError as exc:
                raise CheckpointError(
                    f"{exc} It was just written, so its content cannot be loaded with weights_only=True: "
                    "extras' state_dict() and config must hold only tensors, numbers, strings, None and "
                    "lists/tuples/dicts of them.") from None
            self._verified = True
        return path

    def write_samples(self, step: int) -> Path:
        """Save ``samples()`` as a PNG grid ``samples_STEP.png`` in the checkpoint folder."""
        from torchvision.utils import save_image

        # Drawing samples must not change training: random numbers (dropout, noise) and buffers
        # (batch-norm running statistics) are put back as they were, so a resumed run stays exact.
        nets = [distributed.unwrap(m) for m in self.modules.values() if isinstance(m, torch.nn.Module)]
        buffers = [b.detach().clone() for net in nets for b in net.buffers()]
        devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
        with torch.random.fork_rng(devices=devices), torch.no_grad():
            images = self.samples()
        with torch.no_grad():
            for saved, b in zip(buffers, (b for net in nets for b in net.buffers())):
                b.copy_(saved)
        V.images(images, "samples()")
        path = Path(self.directory) / f"samples_{step:08d}.png"
        save_image((images.detach().float().cpu().clamp(-1, 1) + 1) / 2, path,
                   nrow=max(1, int(math.sqrt(images.shape[0]) + 0.5)), padding=1)
        return path

    def restore_latest(self, map_location="cpu", required: bool = False) -> tuple[int, dict]:
        """Load the newest good checkpoint; return ``(step, history)``, ``(0, {})`` when none, or
        raise :class:`NothingToResumeError` when none and ``required``. Under torchrun each rank
        takes back its own random-number and iterator states."""
        state = self.manager.latest(map_location=map_location)
        if state is None:
            if required:
                damaged = sorted(p.name for p in Path(self.directory).glob("ckpt_*.pt.damaged"))
                what = (f"every checkpoint there was damaged ({', '.join(damaged)})" if damaged
                        else "it holds no checkpoint")
                raise NothingToResumeError(
                    f"resume: nothing to resume in {self.directory}: {what}. Run without resume to start from "
                    "step 0, or with resume='if-any' (--resume-if-any) to continue when there is a checkpoint "
                    "and start over when there is none.")
            return 0, {}
        ranks = state.get("ranks")
        if ranks and len(ranks) == distributed.world_size():
            state = {**state, **ranks[distributed.rank()]}
        step = restore_state(state, self.modules, self.optimizers, self.extras)
        return step, state.get("history", {})


_PLAIN = (type(None), bool, int, float, str, torch.Tensor)


def _check_plain(value, where: str) -> None:
    """Refuse values that ``torch.load(weights_only=True)`` cannot read back (a Path, an object)."""
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, (str, int)):
                raise TypeError(f"{where}: expected string keys, got {k!r}")
            _check_plain(v, f"{where}[{k!r}]")
    elif isinstance(value, (list, tuple)):
        for k, v in enumerate(value):
            _check_plain(v, f"{where}[{k}]")
    elif not isinstance(value, _PLAIN):
        raise TypeError(f"{where}: expected a plain value (number, string, None, tensor, or a list/dict of them) "
                        f"that a checkpoint can store safely, got {type(value).__name__} {value!r:.60}")


def _progress(total: int, initial: int, desc: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc=desc, disable=not enabled, dynamic_ncols=True,
                mininterval=0.5)


def linear_decay(step: int, steps: int, decay_steps: int) -> float:
    """CycleGAN's (and StarGAN's) learning-rate factor at ``step`` (0-based): 1 for the first
    ``steps - decay_steps`` steps, then decreasing linearly, 1 - k / (decay_steps + 1) at the k-th
    step of the decay (k = 1, ..., decay_steps), so it ends just above 0."""
    steps = V.positive_int(steps, "steps")
    decay_steps = V.positive_int(decay_steps, "decay_steps", minimum=0)
    step = V.positive_int(step, "step", minimum=0)
    if decay_steps > steps:
        raise ValueError(f"decay_steps: expected at most steps = {steps}, got {decay_steps}")
    return 1.0 - max(0, step + 1 - (steps - decay_steps)) / (decay_steps + 1)


def fit(step_fn: Callable[[int], dict], steps: int, *, log_every: int = 25,
        callback: Callable[[int], None] | None = None, callback_every: int | None = None,
        checkpoint: Checkpointer | None = None, resume: bool | str = False, desc: str = "training",
        progress: bool = True, history: History | None = None) -> History:
    """Run ``step_fn(i)`` for i = start, ..., steps - 1 and return the loss :class:`History`.

    ``step_fn`` returns a dict of scalar losses (tensors or floats). Every ``log_every`` steps the
    window's means are appended to the history and shown on the progress bar; ``callback(i)`` runs
    every ``callback_every`` steps (e.g. to keep sample snapshots) and after the last step. With
    ``checkpoint``, state is saved every ``checkpoint.every`` steps and at the end; with
    ``resume=True`` training continues from the newest good checkpoint, and stops with
    :class:`~gancourse.checkpoint.NothingToResumeError` when there is none; ``resume="if-any"``
    continues when there is one and starts from step 0 when there is none.
    """
    if not callable(step_fn):
        raise TypeError(f"step_fn: expected a function of the step index, got {type(step_fn).__name__}")
    if callback is not None and not callable(callback):
        raise TypeError(f"callback: expected a function of the step index, got {type(callback).__name__}")
    if checkpoint is not None and not isinstance(checkpoint, Checkpointer):
        raise TypeError(f"checkpoint: expected a Checkpointer, got {type(checkpoint).__name__}")
    if history is not None and not isinstance(history, dict):
        raise TypeError(f"history: expected a History (dict) to append to, got {type(history).__name__}")
    steps = V.positive_int(steps, "steps", minimum=0)
    log_every = V.positive_int(log_every, "log_every")
    if callback_every is not None:
        callback_every = V.positive_int(callback_every, "callback_every")
    history = History() if history is None else history
    start = 0
    if resume is not False and resume is not True and resume != "if-any":
        raise ValueError(f"resume: expected False, True or 'if-any', got {resume!r}")
    if resume:
        if checkpoint is None:
            raise ValueError(f"resume: {resume!r} needs a checkpoint=Checkpointer(...) to resume from")
        start, saved = checkpoint.restore_latest(required=resume is True)
        for k, v in saved.items():
            history[k] = list(v)
    window: dict[str, list] = {}
    window_steps: list[int] = []
    bar = _progress(steps, min(start, steps), desc, progress and distributed.is_main())
    t0 = time.perf_counter()

    def flush():
        if not window_steps:
            return
        means = {}
        for name, values in window.items():
            vals = torch.stack([torch.as_tensor(v, dtype=torch.float32).detach().reshape(()).cpu() for v in values])
            bad = ~torch.isfinite(vals)
            if bad.any():
                k = int(bad.nonzero()[0])
                raise NonFiniteLossError(
                    f"step {window_steps[k]}: loss {name!r} became {vals[k].item()} "
                    f"(last good checkpoint kept). {LIKELY_CAUSES}"
                )
            means[name] = float(vals.mean())
        history.setdefault("step", []).append(window_steps[-1] + 1)
        for name, value in means.items():
            history.setdefault(name, []).append(value)
        bar.set_postfix({k: f"{v:.3g}" for k, v in means.items()}, refresh=False)
        window.clear()
        window_steps.clear()

    try:
        for i in range(start, steps):
            losses = step_fn(i)
            if losses:
                if not isinstance(losses, dict):
                    raise TypeError(f"step_fn: expected it to return a dict of losses, got {type(losses).__name__}")
                for name, value in losses.items():
                    window.setdefault(name, []).append(value.detach() if isinstance(value, torch.Tensor) else value)
            window_steps.append(i)
            bar.update(1)
            done = i + 1
            if done % log_every == 0 or done == steps:
                flush()
            if callback is not None and callback_every is not None and done % callback_every == 0 and done != steps:
                callback(i)
            if checkpoint is not None and (done % checkpoint.every == 0 or done == steps):
                flush()  # never save a checkpoint before checking its losses are finite
                checkpoint.save(done, history)
        flush()
        if callback is not None and steps > start:
            callback(steps - 1)
    finally:
        bar.close()
    history.seconds = time.perf_counter() - t0
    return history


def steps_per_second(history: History) -> float:
    """Training speed of the last ``fit`` (steps / second of wall time)."""
    if not isinstance(history, dict):
        raise TypeError(f"history: expected the History that fit returned, got {type(history).__name__}")
    seconds = getattr(history, "seconds", float("nan"))
    steps = history["step"][-1] if history.get("step") else 0
    return steps / seconds if seconds and not math.isnan(seconds) else float("nan")


def main(argv=None) -> int:
    """Entry point of ``python -m gancourse.train RECIPE ...``."""
    from .recipes import main as recipes_main

    return recipes_main(argv)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
