"""The machinery behind exercise checks: registration, feedback lines, points.

A check is a function decorated with :func:`exercise`. It receives the student's answer and a
:class:`Tester`; each ``t.require(condition, hint)`` is one sub-test. The decorator turns the
outcome into one feedback line and a :class:`CheckResult` (a float: the points earned)::

    Exercise 03.1 [warm-up] total variation: correct, 2/2 points
    Exercise 03.2 [core] KL divergence: not yet, 1/3 points. Hint: KL is infinite when ...

Points are shared equally among the sub-tests that pass. Hints describe what is wrong, never the
solution. An exercise that is not attempted yet (its function still raises NotImplementedError)
raises :class:`ExerciseIncomplete` carrying the stub's hint, so that "Run all" stops right there.

**Strict mode**, for nbgrader (on when nbgrader runs the notebook, which sets ``NBGRADER_EXECUTION``,
or when ``GANCOURSE_STRICT_CHECKS=1``): nbgrader counts a graded cell that does not raise as full
marks, and reads partial credit from the cell's result. So a check that earns nothing raises
:class:`ExerciseFailed` with its hint, and a check cell's result shows the points earned (a
number) instead of nothing. The feedback line, the points and the course's own grader are the same
in both modes.
"""
from __future__ import annotations

import functools
import os
import re
import textwrap
from dataclasses import dataclass

import torch

DIFFICULTIES = ("warm-up", "core", "challenge")
# "build": the student writes the code the notebook is about, before the training run that then uses
# it; "variant": the student runs a variant of the notebook's experiment and reports what it measured.
KINDS = ("", "build", "variant")

FEEDBACK = re.compile(
    r"^Exercise (?P<id>\d\d\.\d+) \[(?P<difficulty>[\w-]+)\] (?P<title>.+?): "
    r"(?P<verdict>correct|not yet), (?P<points>\d+(?:\.\d+)?)/(?P<max>\d+(?:\.\d+)?) points"
)


STRICT_VARIABLES = ("GANCOURSE_STRICT_CHECKS", "NBGRADER_EXECUTION")


def strict_mode() -> bool:
    """True under nbgrader (``NBGRADER_EXECUTION`` set) or when ``GANCOURSE_STRICT_CHECKS=1``."""
    return bool(os.environ.get("NBGRADER_EXECUTION")) or os.environ.get("GANCOURSE_STRICT_CHECKS", "0") not in ("", "0")


class ExerciseFailed(AssertionError):
    """Strict mode: a check earned no points (its message is the feedback line, hint included)."""

    def _render_traceback_(self) -> list[str]:
        return textwrap.wrap(f"{type(self).__name__}: {self}", width=100)


class ExerciseIncomplete(NotImplementedError):
    """The exercise still holds the stub from the student version.

    In a notebook it shows as its message alone, wrapped to the cell's width: the frames of the
    check machinery say nothing to a student (IPython calls ``_render_traceback_`` when present).
    """

    def _render_traceback_(self) -> list[str]:
        return textwrap.wrap(f"{type(self).__name__}: {self}", width=100)


@dataclass(frozen=True)
class Exercise:
    id: str  # "03.2": notebook number, then exercise number
    title: str
    points: float
    difficulty: str
    check: object  # the registered (decorated) check function
    kind: str = ""  # "", "build" or "variant" (see KINDS)

    @property
    def notebook(self) -> str:
        return self.id.split(".")[0]


REGISTRY: dict[str, Exercise] = {}


class CheckResult(float):
    """Points earned (a float), with the exercise, the maximum and the feedback attached."""

    def __new__(cls, points: float, exercise: Exercise, message: str):
        obj = super().__new__(cls, points)
        obj.exercise = exercise
        obj.max_points = exercise.points
        obj.message = message
        return obj

    @property
    def passed(self) -> bool:
        return float(self) == self.max_points

    def __repr__(self):
        return f"CheckResult({float(self):g}/{self.max_points:g} points, exercise {self.exercise.id})"

    @property
    def _ipython_display_(self):
        # The feedback line is already printed; showing the float again would only add noise. In
        # strict mode the attribute is missing, so IPython shows the points as the cell's result
        # (via _repr_pretty_), where nbgrader reads partial credit.
        if strict_mode():
            raise AttributeError("_ipython_display_")
        return lambda: None

    def _repr_pretty_(self, printer, cycle):
        printer.text(f"{float(self):g}")


class Tester:
    """Collects sub-test outcomes for one check."""

    def __init__(self):
        self.passed = 0
        self.total = 0
        self.hints: list[str] = []

    def require(self, condition, hint: str) -> bool:
        """One sub-test: ``condition`` should hold; ``hint`` says what is wrong when it does not."""
        self.total += 1
        ok = bool(condition)
        if ok:
            self.passed += 1
        elif hint not in self.hints:
            self.hints.append(hint)
        return ok

    def call(self, fn, *args, what: str = "your function", **kwargs):
        """Call the student's function; a crash becomes a failed sub-test with the error as hint."""
        try:
            return fn(*args, **kwargs), None
        except NotImplementedError:
            raise
        except Exception as exc:  # the student's code may raise anything
            self.require(False, f"{what} raised {type(exc).__name__}: {str(exc)[:160]}")
            return None, exc


def _round_points(value: float) -> float:
    return round(value * 2) / 2  # half points


def exercise(id: str, title: str, points: float = 2, difficulty: str = "core", kind: str = ""):
    """Register a check for exercise ``id`` (``"NN.k"``) worth ``points``, of a given difficulty and
    ``kind`` (``"build"``, ``"variant"`` or plain, see :data:`KINDS`)."""
    if not re.fullmatch(r"\d\d\.\d+", id):
        raise ValueError(f"id: expected 'NN.k' (notebook number, exercise number), got {id!r}")
    if difficulty not in DIFFICULTIES:
        raise ValueError(f"difficulty: expected one of {DIFFICULTIES}, got {difficulty!r}")
    if kind not in KINDS:
        raise ValueError(f"kind: expected one of {KINDS}, got {kind!r}")

    def decorate(fn):
        @functools.wraps(fn)
        def check(*answer, **kwargs) -> CheckResult:
            __tracebackhide__ = True  # noqa: F841  (IPython hides this frame in tracebacks)
            ex = REGISTRY[id]
            t = Tester()
            try:
                with torch.random.fork_rng(devices=[]):   # a check leaves the notebook's random state alone
                    fn(t, *answer, **kwargs)
            except NotImplementedError as exc:
                hint = str(exc) or "replace the stub with your code"
                # The stub of the student version says "Exercise NN.k: <hint>"; do not repeat the id.
                own = f"Exercise {id}:"
                hint = f"Hint: {hint[len(own):].strip()}" if hint.startswith(own) else hint
                raise ExerciseIncomplete(f"Exercise {id} ({title}) is not done yet. {hint}") from None
            except Exception as exc:  # a bug in the answer that the check did not anticipate
                t.require(False, f"checking your answer raised {type(exc).__name__}: {str(exc)[:160]}")
            if t.total == 0:
                t.require(False, "nothing could be checked")
            earned = _round_points(ex.points * t.passed / t.total)
            if t.passed < t.total:  # rounding must not turn a failed sub-test into full points
                earned = min(earned, _round_points(ex.points - 0.5))
            if t.passed == t.total:
                line = f"Exercise {id} [{difficulty}] {title}: correct, {ex.points:g}/{ex.points:g} points"
            else:
                line = (f"Exercise {id} [{difficulty}] {title}: not yet, {earned:g}/{ex.points:g} points. "
                        f"Hint: {t.hints[0]}")
            print(line)
            if earned == 0 and strict_mode():
                raise ExerciseFailed(line) from None
            return CheckResult(earned, ex, line)

        if id in REGISTRY and REGISTRY[id].check.__qualname__ != check.__qualname__:
            raise ValueError(f"exercise {id} is registered twice")
        REGISTRY[id] = Exercise(id, title, float(points), difficulty, check, kind)
        check.exercise_id = id
        return check

    return decorate


def exercises_of(notebook: str) -> list[Exercise]:
    """The registered exercises of notebook ``"NN"``, in order."""
    from . import _load_all

    _load_all()
    found = [ex for ex in REGISTRY.values() if ex.notebook == notebook]
    return sorted(found, key=lambda ex: int(ex.id.split(".")[1]))


def lower_of(values: dict) -> set:
    """The acceptable answers to "which is lower?" for ``{name: measured value}``: the name of the
    smallest value, or every name tied with it (a tie makes either answer right)."""
    low = min(values.values())
    return {name for name, v in values.items() if abs(v - low) <= 1e-9 * max(1.0, abs(low))}


def has_keys(t: Tester, answer, keys) -> bool:
    """Require ``answer`` to be a dict holding ``keys``; the hint lists them."""
    keys = list(keys)
    listed = ", ".join(f'"{k}"' for k in keys[:-1]) + f' and "{keys[-1]}"' if len(keys) > 1 else f'"{keys[0]}"'
    return t.require(isinstance(answer, dict) and set(keys) <= set(answer),
                     f"answer should be a dict with the keys {listed}")


def check_measured(t: Tester, answer, key: str, measured: float, how: str, *, rtol: float = 0.0,
                   atol: float = 0.0, fraction: bool = False) -> bool:
    """Require ``answer[key]`` to equal the value the check ``measured`` again (within ``rtol`` /
    ``atol``); the hint says it "is not" ``how`` the number is made. With ``fraction``, a percentage
    where a fraction was asked gets its own hint."""
    value = answer_number(answer, key)
    if fraction and not close(value, measured, rtol=rtol, atol=atol) and close(value, 100 * measured, rtol=1e-3):
        return t.require(False, f"{key}: give it as a fraction between 0 and 1, not a percentage")
    return t.require(close(value, measured, rtol=rtol, atol=atol), f"{key} is not {how}")


def check_variant(t: Tester, answer, measure: dict, how: str, lower: str, **tolerance) -> None:
    """The variant exercises' check: two runs that differ in one thing, measured by the same number.
    ``measure`` maps each answer key (``"<quantity>_<run>"``, e.g. ``"iou_with"``) to a function that
    measures that run again; ``answer`` must hold those keys, each close to its measurement (see
    :func:`check_measured`, ``how`` and ``tolerance``), and ``"lower"``, the run with the lower value
    (``lower`` says what that means, e.g. "has the lower Fréchet distance")."""
    if not has_keys(t, answer, [*measure, "lower"]):
        return
    measured = {}
    for key, run in measure.items():
        measured[key.rsplit("_", 1)[1]] = value = run()
        check_measured(t, answer, key, value, how, **tolerance)
    names = " or ".join(f'"{name}"' for name in measured)
    t.require(answer["lower"] in lower_of(measured), f'"lower" should say which run ({names}) {lower}, '
                                                     "by your own numbers")


def check_backward(t: Tester, total, ref_total, pairs, hint: str) -> bool:
    """Require the student's ``total`` loss to be differentiable and to send each network the gradients
    the reference's ``ref_total`` sends its twin: ``pairs`` = [(net, reference net), ...], the twins
    built with the same weights. ``hint`` says what to look for when the gradients differ."""
    if not t.require(total.requires_grad, "the total loss must be differentiable: no .item(), no detach"):
        return False
    total.backward()
    ref_total.backward()
    return t.require(all(p.grad is not None and close(p.grad, q.grad, atol=1e-6)
                         for net, ref in pairs for p, q in zip(net.parameters(), ref.parameters())), hint)


def answer_number(answer, key: str) -> float:
    """``float(answer[key])``, or NaN when it is missing or not a number: a measured-answer check
    then fails with its hint instead of raising."""
    try:
        return float(answer[key])
    except (TypeError, ValueError, KeyError, IndexError):
        return float("nan")


def close(a, b, rtol: float = 1e-5, atol: float = 1e-8) -> bool:
    """Numerical comparison that tolerates lists, arrays, tensors and infinities, never raises."""
    import numpy as np
    import torch

    try:
        if isinstance(a, torch.Tensor):
            a = a.detach().cpu().double().numpy()
        if isinstance(b, torch.Tensor):
            b = b.detach().cpu().double().numpy()
        a = np.asarray(a, dtype=float)
        b = np.asarray(b, dtype=float)
        if a.shape != b.shape:
            return False
        return bool(np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=False))
    except (TypeError, ValueError):
        return False
