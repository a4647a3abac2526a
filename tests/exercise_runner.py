"""Shared by test_assign.py and test_grade.py: the course's notebooks, their student versions, and
a fast way to run their setup, exercise and check cells.

Starting a Jupyter kernel and importing torch in it costs seconds per notebook; with 17 notebooks,
twice (solution and student version), that alone would blow the test budget. So the
all-notebook tests run the cells in this process, in one IPython shell (the same interpreter a
kernel runs, magics included) whose namespace is reset per notebook; imports are paid once. The
grader's own kernel path (time limits, restarts) is tested in test_grade.py on one notebook.
Results are computed once per test session (``functools.cache``).
"""
from __future__ import annotations

import copy
import functools
import os
import sys
from pathlib import Path

import nbformat

from gancourse import assign, grade

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
NAMES = [p.stem for p in NOTEBOOKS]


def path_of(name: str) -> Path:
    return REPO / "notebooks" / f"{name}.ipynb"


@functools.cache
def instructor(name: str):
    return nbformat.read(path_of(name), as_version=4)


@functools.cache
def student(name: str):
    """The student version of a notebook (as ``python -m gancourse.assign`` writes it)."""
    nb, _ = assign.make_student(instructor(name), f"{name}.ipynb")
    return nb


def exercises(nb, name="notebook"):
    return assign.find_exercises(nb, name, strict=False)


def with_solutions_of(student_nb, instructor_nb, ids):
    """A copy of the student notebook where the exercises ``ids`` hold the instructor's solution again."""
    nb = copy.deepcopy(student_nb)
    theirs = {g.id: g for g in assign.find_exercises(instructor_nb)}
    for g in assign.find_exercises(nb):
        if g.id in ids:
            for mine, original in zip(g.exercise_cells, theirs[g.id].exercise_cells, strict=True):
                nb.cells[mine].source = instructor_nb.cells[original].source
    return nb


_SHELL = None


def _fresh_namespace():
    """What ``InteractiveShell.reset`` does to the user namespace, without its costly garbage collection."""
    shell = _shell()
    shell.user_ns.clear()
    shell.user_ns_hidden.clear()
    shell.init_user_ns()


def _shell():
    global _SHELL
    if _SHELL is None:
        from IPython.core.interactiveshell import InteractiveShell
        from traitlets.config import Config

        config = Config()
        config.HistoryManager.enabled = False  # no sqlite history file in ~/.ipython
        main = sys.modules["__main__"]
        _SHELL = InteractiveShell.instance(config=config)
        # The shell installs its namespace as __main__; multiprocessing (the grader's --jobs) needs
        # the real one, so the shell's is only swapped in while a cell runs.
        sys.modules["__main__"] = main
    return _SHELL


def _global_state():
    """What notebook setup cells change in this process (style, seeds), to put back afterwards."""
    import random

    import matplotlib
    import numpy as np
    import torch

    return (dict(matplotlib.rcParams), random.getstate(), np.random.get_state(), torch.get_rng_state(),
            torch.get_default_dtype())


def _restore_global_state(state):
    import random
    import warnings

    import matplotlib
    import numpy as np
    import torch

    rc, py, npy, th, dtype = state
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecated rcParams are in the copy too
        matplotlib.rcParams.update(rc)
    random.setstate(py)
    np.random.set_state(npy)
    torch.set_rng_state(th)
    torch.set_default_dtype(dtype)


class InProcessExecutor:
    """The executor interface of :class:`gancourse.grade.KernelExecutor`, in this process.

    No time limits (nothing can interrupt a cell here); ``start`` and ``restart`` clear the namespace,
    ``close`` puts back the working directory, environment, matplotlib style and random states.
    """

    def __init__(self, nb, cwd: Path, env: dict[str, str]):
        self.nb = nb
        self.cwd = cwd
        self.env = {k: env[k] for k in ("GANCOURSE_QUICK", "PYTHONHASHSEED") if k in env}
        self._saved_env: dict[str, str | None] = {}
        self._saved_cwd = None
        self._saved_state = None

    def start(self):
        self._saved_state = _global_state()
        self._saved_env = {k: os.environ.get(k) for k in self.env}
        os.environ.update(self.env)
        self._saved_cwd = os.getcwd()
        os.chdir(self.cwd)
        _fresh_namespace()

    def run_cell(self, index: int, timeout: float) -> grade.CellRun:
        from IPython.utils.capture import capture_output

        cell = self.nb.cells[index]
        shell, main = _shell(), sys.modules["__main__"]
        sys.modules["__main__"] = shell.user_module
        try:
            with capture_output(display=False) as captured:
                result = shell.run_cell(cell.source, store_history=False)
        finally:
            sys.modules["__main__"] = main
        error = result.error_before_exec or result.error_in_exec
        if error is not None:
            return grade.CellRun(index, "error", captured.stdout, type(error).__name__, str(error))
        return grade.CellRun(index, "ok", captured.stdout)

    def recover(self) -> bool:
        return False  # nothing here ever times out

    def restart(self):
        _fresh_namespace()

    def close(self):
        if self._saved_state is not None:
            _restore_global_state(self._saved_state)
            self._saved_state = None
        if self._saved_cwd is not None:
            os.chdir(self._saved_cwd)
            self._saved_cwd = None
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env = {}


def run_in_process(nb, name: str):
    """Run the setup, exercise and check cells of ``nb``: ``(exercises, runs, setup_failure)``."""
    found = exercises(nb, name)
    executor = InProcessExecutor(nb, REPO / "notebooks", {"GANCOURSE_QUICK": "1", "PYTHONHASHSEED": "0"})
    runs, setup_failure, _ = grade.execute(nb, found, executor, timeout=600, total_timeout=3600,
                                           exercises_only=True)
    return found, runs, setup_failure


def grade_in_process(path: Path, **kwargs) -> grade.NotebookGrade:
    """:func:`gancourse.grade.grade_notebook` with the in-process executor (exercise cells only)."""
    return grade.grade_notebook(path, exercises_only=True, executor_factory=InProcessExecutor, **kwargs)


@functools.cache
def executed(name: str, version: str):
    """``run_in_process`` of the instructor (``version="solution"``) or student version, once."""
    nb = copy.deepcopy(instructor(name) if version == "solution" else student(name))
    return run_in_process(nb, name)
