"""Exercise checks: one function per exercise, called in the cell right after the exercise.

Each check tests the answer against an independent computation (values, shapes, properties,
edge cases), prints one line ("correct", or "not yet" with a hint that does not give the answer
away) and returns the points earned. ``python -m gancourse.grade`` totals them.

    from gancourse import checks
    checks.ex03_kl(my_kl)
"""
from __future__ import annotations

import importlib
import pkgutil

from ._core import (DIFFICULTIES, FEEDBACK, REGISTRY, CheckResult, Exercise, ExerciseFailed, ExerciseIncomplete,
                    exercises_of, strict_mode)

_loaded = False


def _load_all() -> None:
    """Import every ``nbNN`` module so that all checks are registered and exported here."""
    global _loaded
    if _loaded:
        return
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("nb"):
            module = importlib.import_module(f"{__name__}.{info.name}")
            for name in dir(module):
                if name[:2] == "ex" and name[2:4].isdigit() and callable(getattr(module, name)):
                    globals()[name] = getattr(module, name)
    _loaded = True


_load_all()

__all__ = ["CheckResult", "Exercise", "ExerciseFailed", "ExerciseIncomplete", "REGISTRY", "FEEDBACK",
           "DIFFICULTIES", "exercises_of", "strict_mode"] + sorted(n for n in globals() if n.startswith("ex") and n[2:4].isdigit())
