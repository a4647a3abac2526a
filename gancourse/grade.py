"""Grade submitted notebooks: ``python -m gancourse.grade NOTEBOOK... [--csv FILE] [--timeout S]``.

Each notebook is executed headless in a fresh Jupyter kernel, in quick mode (``GANCOURSE_QUICK=1``)
unless ``--full`` is given, with a time limit per cell (``--timeout``) and per notebook
(``--total-timeout``). Every exercise is graded on its own:

- the points are those its check printed (the feedback line ``checks.FEEDBACK`` matches), capped
  at the maximum registered in ``gancourse.checks``;
- an exercise whose cell raises, runs past the time limit or kills the kernel gets 0 points, and
  grading goes on with the next exercise (after a timeout the kernel is interrupted; if it does not
  answer, or if it died, a new kernel starts and the setup cells run again): a crash costs that
  exercise only;
- an exercise still holding its stub (``NotImplementedError``) gets 0 with status "not done";
- an exercise whose check cell is missing, or was edited into something other than the call of
  its check, gets 0 with status "missing";
- if a setup cell fails, every exercise of that notebook gets 0 with the reason.

By default all cells run, in order; ``--exercises-only`` runs only the setup, exercise and check
cells (faster; by the course's rules exercises depend on nothing else). The check cells run as the
student has them, minus any hidden-test region; ``--source DIR`` replaces them by the instructor's
check cells from the notebook of the same number in ``DIR`` (``notebooks/``), hidden tests
included.

What the grader isolates, and what it does not:

- every notebook is read into memory before any is run, so a submission that deletes or edits a
  classmate's file cannot change that classmate's grade;
- each submission runs in a temporary copy of its folder (its kernel's working directory; other
  notebooks in that folder are not copied), with ``HOME`` and ``TMPDIR`` inside that copy and a
  scrubbed environment (:data:`KEPT_ENVIRONMENT` only: no tokens, keys or settings of yours); the
  copy is deleted afterwards;
- the course's code (every file of the installed ``gancourse`` package, the checks included) is
  hashed before the first submission and checked after each one: if a submission changed it, the
  grader stops and names that submission (:class:`GraderIntegrityError`), instead of grading the
  next students with altered checks.

It is not a sandbox: the student's code still runs with your rights and can read or write anything
you can by absolute paths, use the network, or rewrite the checks inside its own kernel. Run
untrusted submissions in a container or under bubblewrap (README, "For instructors").

It prints one table per notebook (exercise, difficulty, points, status, detail) and the totals;
``--csv FILE`` writes one row per notebook and exercise.
"""
from __future__ import annotations

import argparse
import ast
import copy
import csv
import hashlib
import math
import os
import re
import shutil
import site
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .assign import (BEGIN_HIDDEN, END_HIDDEN, SETUP_TAGS, ExerciseCells, NotebookFormatError, find_exercises,
                     regions, tags_of)

NOT_DONE_ERRORS = ("NotImplementedError", "ExerciseIncomplete")
# The only variables of the grader's environment a submission's kernel sees (plus GANCOURSE_QUICK,
# PYTHONHASHSEED, HOME, TMPDIR and MPLCONFIGDIR, set by the grader).
KEPT_ENVIRONMENT = ("PATH", "PYTHONPATH", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "TZ", "SYSTEMROOT",
                    "GANCOURSE_DEVICE", "CUDA_VISIBLE_DEVICES", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
CSV_COLUMNS = ["notebook", "exercise", "title", "difficulty", "points", "max_points", "status", "detail"]


@dataclass
class CellRun:
    """What happened when one cell ran. ``status``: ok, error, timeout, dead, not run, skipped."""

    index: int
    status: str
    stdout: str = ""
    ename: str = ""
    evalue: str = ""
    seconds: float = 0.0
    limit: float = 0.0  # the time limit the cell ran under


@dataclass
class ExerciseGrade:
    notebook: str
    id: str
    title: str
    difficulty: str
    points: float
    max_points: float
    status: str   # correct, not yet, not done, error, timeout, crashed, missing, setup failed, not run
    detail: str = ""


@dataclass
class NotebookGrade:
    notebook: str
    exercises: list[ExerciseGrade] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    cells_run: int = 0        # distinct code cells executed
    error: str | None = None  # the notebook could not be graded at all (unreadable, unknown)
    integrity: bool = False   # grading stopped: the course's code changed (GraderIntegrityError)

    @property
    def total(self) -> float:
        return sum(e.points for e in self.exercises)

    @property
    def max_total(self) -> float:
        return sum(e.max_points for e in self.exercises)


# ----------------------------------------------------------------------------------------------
# Running cells


def _client_class():
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError

    class Client(NotebookClient):
        """nbclient's client, minus one leak: when a cell times out, nbclient leaves that cell's
        output reader running; it goes on taking messages from the kernel and drops those of the
        later cells, so a correct exercise after an endless loop printed "no feedback line"."""

        async def _async_poll_for_reply(self, msg_id, cell, timeout, task_poll_output_msg, task_poll_kernel_alive):
            try:
                return await super()._async_poll_for_reply(msg_id, cell, timeout, task_poll_output_msg,
                                                           task_poll_kernel_alive)
            except CellTimeoutError:
                task_poll_output_msg.cancel()
                raise

    return Client


def _Client(*args, **kwargs):
    return _client_class()(*args, **kwargs)


class KernelExecutor:
    """Runs cells of one notebook in a Jupyter kernel; can start over in a fresh kernel."""

    def __init__(self, nb, cwd: Path, env: dict[str, str], kernel_name: str = "python3",
                 startup_timeout: int = 120):
        self.nb = nb
        self.cwd = cwd
        self.env = env
        self.kernel_name = kernel_name
        self.startup_timeout = startup_timeout
        self.client = None
        self._context = None

    def start(self) -> None:
        self.client = _Client(self.nb, kernel_name=self.kernel_name, allow_errors=True,
                                     interrupt_on_timeout=False, shutdown_kernel="immediate",
                                     startup_timeout=self.startup_timeout,
                                     resources={"metadata": {"path": str(self.cwd)}})
        self._context = self.client.setup_kernel(env=self.env, stderr=subprocess.DEVNULL)
        self._context.__enter__()

    def run_cell(self, index: int, timeout: float) -> CellRun:
        from nbclient.exceptions import CellTimeoutError, DeadKernelError

        cell = self.nb.cells[index]
        self.client.timeout = max(1, int(math.ceil(timeout)))
        t0 = time.perf_counter()
        try:
            self.client.execute_cell(cell, index)
        except CellTimeoutError:
            return CellRun(index, "timeout", _stdout(cell), seconds=time.perf_counter() - t0, limit=timeout)
        except DeadKernelError:
            return CellRun(index, "dead", _stdout(cell), seconds=time.perf_counter() - t0, limit=timeout)
        seconds = time.perf_counter() - t0
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                return CellRun(index, "error", _stdout(cell), out.get("ename", ""), out.get("evalue", ""),
                               seconds, timeout)
        return CellRun(index, "ok", _stdout(cell), seconds=seconds, limit=timeout)

    def recover(self, wait: float = 5) -> bool:
        """After a timeout: interrupt the kernel; True if it answers again within ``wait`` seconds."""
        from nbclient.util import ensure_async, run_sync

        async def interrupt():
            await ensure_async(self.client.km.interrupt_kernel())

        try:
            run_sync(interrupt)()
            self.client.timeout = max(1, int(wait))
            self.client.execute_cell(nbformat.v4.new_code_cell("pass"), 0)
            return True
        except Exception:  # still busy (C code ignores the interrupt), or dead
            return False

    def restart(self) -> None:
        self.close()
        self.start()

    def close(self) -> None:
        if self._context is not None:
            context, self._context = self._context, None
            try:
                context.__exit__(None, None, None)
            except Exception:  # a kernel that is already dead cannot be shut down twice
                pass


def _stdout(cell) -> str:
    return "".join(out.get("text", "") for out in cell.get("outputs", [])
                   if out.get("output_type") == "stream" and out.get("name") == "stdout")


# ----------------------------------------------------------------------------------------------
# Reading a submission


def notebook_number(nb, path: Path, exercises: list[ExerciseCells]) -> str | None:
    """The course notebook a submission belongs to: from its checks, else from its file name."""
    if exercises:
        return exercises[0].id.split(".")[0]
    m = re.search(r"(?:^|[^\d])(\d\d)_", path.name)
    return m.group(1) if m else None


def is_plain_check_call(source: str, check_name: str) -> bool:
    """True if ``source`` is nothing but ``checks.<check_name>(...)`` (optionally ``x = ...``)."""
    try:
        body = ast.parse(source).body
    except SyntaxError:
        return False
    if len(body) != 1:
        return False
    stmt = body[0]
    call = stmt.value if isinstance(stmt, (ast.Expr, ast.Assign)) else None
    if not isinstance(call, ast.Call):
        return False
    func = call.func
    return (isinstance(func, ast.Attribute) and func.attr == check_name
            and isinstance(func.value, ast.Name) and func.value.id == "checks")


def without_hidden_tests(source: str) -> str:
    lines = source.split("\n")
    drop = set()
    for begin, end in regions(source, BEGIN_HIDDEN, END_HIDDEN):
        drop.update(range(begin, end + 1))
    return "\n".join(line for i, line in enumerate(lines) if i not in drop)


def instructor_notebook(source_dir: Path, path: Path, number: str) -> Path:
    """The instructor's notebook for a submission: same file name in ``source_dir``, else ``NN_*.ipynb``."""
    same = source_dir / path.name
    if same.is_file():
        return same
    found = sorted(source_dir.glob(f"{number}_*.ipynb"))
    if len(found) != 1:
        raise FileNotFoundError(f"--source: no single notebook {number}_*.ipynb in {source_dir} (found {len(found)})")
    return found[0]


# ----------------------------------------------------------------------------------------------
# Isolation: a private copy per submission, a scrubbed environment, the course's code verified


class GraderIntegrityError(RuntimeError):
    """A submission changed the course's code (the checks) while it was graded."""


PACKAGE_ROOT = Path(__file__).resolve().parent   # the code whose integrity the grader verifies


def package_fingerprint() -> dict[str, str]:
    """SHA-256 of every file under :data:`PACKAGE_ROOT` (the installed ``gancourse``, checks included)."""
    root = PACKAGE_ROOT
    digests = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digests[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


def changed_files(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """Files of the package added, removed or modified between two fingerprints."""
    return sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))


def scrubbed_environment(quick: bool, home: Path) -> dict[str, str]:
    """The kernel's environment: :data:`KEPT_ENVIRONMENT` from ours, quick mode, a private home."""
    env = {k: os.environ[k] for k in KEPT_ENVIRONMENT if k in os.environ}
    (home / "tmp").mkdir(parents=True, exist_ok=True)
    env.update(GANCOURSE_QUICK="1" if quick else "0", PYTHONHASHSEED="0", HOME=str(home),
               TMPDIR=str(home / "tmp"), MPLCONFIGDIR=str(home / "matplotlib"))
    user_site = site.getusersitepackages() if site.ENABLE_USER_SITE else None
    if user_site and Path(user_site).is_dir():  # a `pip install --user` of the course, found under the real home
        env["PYTHONPATH"] = os.pathsep.join(p for p in (env.get("PYTHONPATH"), user_site) if p)
    return env


COPY_LIMIT = (2000, 500 * 2**20)  # files, bytes: a submission folder larger than this is not copied


def private_copy(path: Path, content: bytes, where: Path) -> tuple[Path, str]:
    """Copy the submission's folder into ``where`` (no other notebooks, no links followed) and
    write the notebook ``content`` read before grading began. Returns the copied notebook's path
    and a note ("" or why only the notebook was copied: a folder over :data:`COPY_LIMIT`)."""
    folder = where / "submission"

    def ignore(directory, names):
        return [n for n in names if n in (".ipynb_checkpoints", ".git", ".venv", "__pycache__")
                or (n.endswith(".ipynb") and Path(directory, n) != path)]

    note = ""
    if path.parent.is_dir():  # the folder may have gone since the notebook was read
        files = size = 0
        for directory, dirs, names in os.walk(path.parent):
            dirs[:] = [d for d in dirs if d not in ignore(directory, dirs)]
            for n in names:
                files += 1
                try:
                    size += os.lstat(os.path.join(directory, n)).st_size
                except OSError:
                    pass
            if files > COPY_LIMIT[0] or size > COPY_LIMIT[1]:
                note = (f"its folder {path.parent} holds more than {COPY_LIMIT[0]} files or "
                        f"{COPY_LIMIT[1] // 2**20} MB: only the notebook was copied for grading")
                break
        if not note:
            shutil.copytree(path.parent, folder, symlinks=True, ignore=ignore)
    folder.mkdir(parents=True, exist_ok=True)
    copy_path = folder / path.name
    copy_path.write_bytes(content)
    return copy_path, note


# ----------------------------------------------------------------------------------------------
# Executing and scoring


def execute(nb, exercises: list[ExerciseCells], executor, timeout: float, total_timeout: float,
            exercises_only: bool = False, refused: dict[int, str] | None = None):
    """Run a submission's cells with ``executor`` and return ``(runs, setup_failure, notes)``.

    ``runs`` maps cell index to :class:`CellRun`. The check cell of an exercise whose exercise cells
    failed is skipped. After a timeout the kernel is interrupted; if it does not answer, or after
    a dead kernel, the executor restarts and the setup cells run again. ``refused`` maps check
    cells that must not run to the reason. ``setup_failure`` is the setup cell run that failed
    (the cells after it did not run), or None.
    """
    refused = refused or {}
    setup = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and tags_of(c) & SETUP_TAGS]
    member = {}
    for g in exercises:
        for i in g.exercise_cells + [g.check_cell]:
            member.setdefault(i, g)
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.source.strip()]
    order = [i for i in code if i in member or i in setup] if exercises_only else code
    runs: dict[int, CellRun] = {}
    notes: list[str] = []
    failed: set[str] = set()
    deadline = time.monotonic() + total_timeout

    def run(i: int) -> CellRun:
        left = deadline - time.monotonic()
        if left <= 0:
            return CellRun(i, "not run", evalue=f"the notebook's time limit of {total_timeout:g} s was reached")
        r = executor.run_cell(i, min(timeout, left))
        if r.status == "timeout" and left < timeout:
            r.evalue = f"the notebook's time limit of {total_timeout:g} s was reached"
        return r

    executor.start()
    try:
        for i in order:
            g = member.get(i)
            if g is not None and g.id in failed:
                runs[i] = CellRun(i, "skipped")
                continue
            if i in refused:
                runs[i] = CellRun(i, "refused", evalue=refused[i])
                continue
            r = runs[i] = run(i)
            if r.status == "ok":
                continue
            if i in setup:
                return runs, r, notes
            if g is not None and i != g.check_cell:
                failed.add(g.id)
            elif g is None and r.status != "not run":
                notes.append(f"cell {i} (not part of an exercise): {_describe(r)}")
            if r.status == "timeout" and executor.recover():
                continue  # interrupted: the kernel and its setup are still there
            if r.status in ("timeout", "dead") and deadline > time.monotonic():
                executor.restart()
                for s in setup:
                    again = runs[s] = run(s)
                    if again.status != "ok":
                        again.evalue = f"after a restart: {again.evalue or again.status}"
                        return runs, again, notes
        return runs, None, notes
    finally:
        executor.close()


def _describe(r: CellRun) -> str:
    if r.status == "timeout":
        return r.evalue or f"timed out after {r.limit:g} s"
    if r.status == "dead":
        return "the kernel died while running it (a crash, os._exit, out of memory...)"
    if r.status in ("not run", "refused"):
        return r.evalue
    return f"{r.ename}: {r.evalue}".strip(": ")


_STATUS = {"timeout": "timeout", "dead": "crashed", "not run": "not run", "refused": "missing"}


_STUB_PREFIX = re.compile(r"^Exercise \d\d\.\d+(?: \(.*?\) is not done yet\.|:)\s*(?:Hint:\s*)?")


def _failure(r: CellRun) -> tuple[str, str]:
    if r.status == "error" and r.ename in NOT_DONE_ERRORS:
        return "not done", _STUB_PREFIX.sub("", r.evalue)
    return _STATUS.get(r.status, "error"), _describe(r)


def score(notebook: str, expected, exercises: list[ExerciseCells], runs: dict[int, CellRun],
          setup_failure: CellRun | None) -> list[ExerciseGrade]:
    """One :class:`ExerciseGrade` per expected (registered) exercise, from what the cells did."""
    from .checks import FEEDBACK

    by_id: dict[str, ExerciseCells] = {}
    for g in exercises:
        by_id.setdefault(g.id, g)
    grades = []
    for ex in expected:
        def grade(points, status, detail=""):
            grades.append(ExerciseGrade(notebook, ex.id, ex.title, ex.difficulty, points, ex.points, status, detail))

        g = by_id.get(ex.id)
        ran = g is not None and any(i in runs for i in g.exercise_cells + [g.check_cell])
        if setup_failure is not None and not ran:  # exercises graded before a failed restart keep their grade
            where = f"cell {setup_failure.index}: " if setup_failure.index >= 0 else ""
            grade(0.0, "setup failed", where + _describe(setup_failure))
            continue
        if g is None:
            grade(0.0, "missing", f"no check cell calls checks.{ex.check.__name__}(...) (was it deleted?)")
            continue
        bad = next((runs[i] for i in g.exercise_cells if i in runs and runs[i].status not in ("ok", "skipped")), None)
        if bad is not None:
            grade(0.0, *_failure(bad))
            continue
        r = runs.get(g.check_cell)
        if r is None:
            grade(0.0, "not run", "its check cell was not run")
            continue
        if r.status != "ok":
            status, detail = _failure(r)
            if status == "error":
                detail = f"the check cell raised {detail}"
            grade(0.0, status, detail)
            continue
        lines = [FEEDBACK.match(line.strip()) for line in r.stdout.splitlines()]
        lines = [m for m in lines if m and m["id"] == ex.id]
        if not lines:
            grade(0.0, "error", "the check printed no feedback line")
            continue
        m = lines[-1]  # the check prints last; anything before it came from the student's code
        points = min(max(float(m["points"]), 0.0), ex.points)
        hint = m.string[m.end():].strip(" .")
        if m["verdict"] == "correct" and points == ex.points:
            grade(points, "correct")
        else:
            grade(points, "not yet", hint.removeprefix("Hint:").strip())
    return grades


def grade_notebook(path, timeout: float = 120, total_timeout: float = 1200, exercises_only: bool = False,
                   quick: bool = True, source_dir: Path | None = None, kernel: str = "python3",
                   executor_factory=None, content: bytes | None = None,
                   expected_code: dict[str, str] | None = None) -> NotebookGrade:
    """Execute one submitted notebook and grade each of its exercises (see the module docstring).

    ``executor_factory(nb, cwd, env)`` builds the object that runs cells (a :class:`KernelExecutor`
    by default). ``content``: the notebook's bytes, read before grading began (default: read
    ``path`` now). ``expected_code``: the :func:`package_fingerprint` the course's code must still
    have before and after this submission (default: taken now); a difference raises
    :class:`GraderIntegrityError` naming the submission and the files.
    """
    from .checks import exercises_of

    path = Path(path)
    if timeout <= 0:
        raise ValueError(f"timeout: expected a positive number of seconds, got {timeout}")
    if total_timeout <= 0:
        raise ValueError(f"total_timeout: expected a positive number of seconds, got {total_timeout}")
    result = NotebookGrade(str(path))
    t0 = time.perf_counter()
    try:
        if content is None:
            content = path.read_bytes()
        nb = nbformat.reads(content.decode("utf-8"), as_version=4)
    except Exception as exc:  # not a file, not JSON, not a notebook
        result.error = f"could not read the notebook: {type(exc).__name__}: {exc}"
        return result
    try:
        exercises = find_exercises(nb, path.name, strict=False)
    except NotebookFormatError as exc:
        exercises = []
        result.notes.append(f"exercise cells could not be read: {exc}")
    number = notebook_number(nb, path, exercises)
    expected = exercises_of(number) if number else []
    if not expected:
        result.error = ("no registered exercises found for this notebook (no check cell, and the file "
                        "name does not start with a known notebook number NN_)")
        return result
    exercises = [g for g in exercises if g.id.split(".")[0] == number]

    nb = copy.deepcopy(nb)
    refused: dict[int, str] = {}
    if source_dir is not None:
        try:
            reference = nbformat.read(instructor_notebook(Path(source_dir), path, number), as_version=4)
            originals = {g.id: reference.cells[g.check_cell].source
                         for g in find_exercises(reference, "instructor notebook", strict=True)}
        except (OSError, ValueError) as exc:
            result.error = str(exc)
            return result
        for g in exercises:
            if g.id in originals:
                nb.cells[g.check_cell].source = originals[g.id]
    else:
        for g in exercises:
            cell = nb.cells[g.check_cell]
            try:
                cell.source = without_hidden_tests(cell.source)
            except NotebookFormatError:
                pass  # unbalanced markers: the plain-call test below refuses it
            if not is_plain_check_call(cell.source, g.check_name):
                refused[g.check_cell] = (f"its check cell was changed; it must contain only "
                                         f"checks.{g.check_name}(...)")

    expected_code = package_fingerprint() if expected_code is None else expected_code
    changed = changed_files(expected_code, package_fingerprint())
    if changed:
        raise GraderIntegrityError(
            f"{path}: not graded: the course's code had changed before it started ({', '.join(changed[:5])}): "
            "a submission graded earlier or alongside it changed it. Restore the package (git checkout -- "
            "gancourse/, or reinstall it) and grade the remaining notebooks in a sandbox (README).")
    factory = executor_factory or (lambda nb_, cwd, env_: KernelExecutor(nb_, cwd, env_, kernel_name=kernel))
    with tempfile.TemporaryDirectory(prefix="gancourse-grade-", ignore_cleanup_errors=True) as private:
        private = Path(private)
        env = scrubbed_environment(quick, private / "home")
        try:
            copied, note = private_copy(path.resolve(), content, private)
            if note:
                result.notes.append(note)
            executor = factory(nb, copied.parent, env)
            runs, setup_failure, notes = execute(nb, exercises, executor, timeout, total_timeout,
                                                 exercises_only, refused)
        except Exception as exc:  # the kernel did not start, or the executor itself broke
            runs, notes = {}, []
            setup_failure = CellRun(-1, "error", ename=type(exc).__name__,
                                    evalue=f"the kernel could not run: {exc}")
    changed = changed_files(expected_code, package_fingerprint())
    if changed:
        raise GraderIntegrityError(
            f"{path}: changed the course's code while it was graded ({', '.join(changed[:5])}); its grade is "
            "void and grading stopped, so that no later submission is graded with altered checks. Restore the "
            "package (git checkout -- gancourse/, or reinstall it), and grade the remaining notebooks in a "
            "sandbox (README).")
    result.notes.extend(notes)
    result.cells_run = sum(r.status in ("ok", "error", "timeout", "dead") for r in runs.values())
    result.exercises = score(str(path), expected, exercises, runs, setup_failure)
    result.seconds = time.perf_counter() - t0
    return result


# ----------------------------------------------------------------------------------------------
# Reporting


def _fmt(x: float) -> str:
    return f"{x:g}"


def format_table(result: NotebookGrade) -> str:
    """The per-exercise table of one notebook, as printed by the command."""
    if result.error:
        return f"== {result.notebook}: NOT GRADED: {result.error}"
    rows = [("exercise", "difficulty", "points", "status", "detail")]
    for e in result.exercises:
        detail = e.detail if len(e.detail) <= 110 else e.detail[:107] + "..."
        rows.append((e.id, e.difficulty, f"{_fmt(e.points)}/{_fmt(e.max_points)}", e.status, detail))
    rows.append(("total", "", f"{_fmt(result.total)}/{_fmt(result.max_total)}", "", ""))
    widths = [max(len(r[k]) for r in rows) for k in range(4)]
    lines = [f"== {result.notebook}: {_fmt(result.total)}/{_fmt(result.max_total)} points "
             f"({result.seconds:.0f} s, {result.cells_run} cells run)"]
    for r in rows:
        lines.append("   " + "  ".join(r[k].ljust(widths[k]) if k != 2 else r[k].rjust(widths[k])
                                        for k in range(4)) + ("  " + r[4] if r[4] else ""))
    for note in result.notes:
        lines.append(f"   note: {note}")
    return "\n".join(line.rstrip() for line in lines)


def write_csv(results: list[NotebookGrade], path: Path) -> int:
    """One row per notebook and exercise (``CSV_COLUMNS``); returns the number of rows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = 0
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(CSV_COLUMNS)
        for res in results:
            if res.error:
                writer.writerow([res.notebook, "", "", "", 0, 0, "not graded", res.error])
                rows += 1
            for e in res.exercises:
                writer.writerow([e.notebook, e.id, e.title, e.difficulty, _fmt(e.points), _fmt(e.max_points),
                                 e.status, e.detail])
                rows += 1
    return rows


def _grade_one(kwargs) -> NotebookGrade:
    try:
        return grade_notebook(**kwargs)
    except GraderIntegrityError as exc:
        result = NotebookGrade(str(kwargs["path"]), error=str(exc), integrity=True)
        return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gancourse.grade",
                                     description="Execute submitted notebooks and grade each exercise.")
    parser.add_argument("notebooks", nargs="+", type=Path, help="submitted notebooks")
    parser.add_argument("--csv", type=Path, help="write one row per notebook and exercise to this CSV file")
    parser.add_argument("--timeout", type=float, default=120, help="seconds allowed per cell (default 120)")
    parser.add_argument("--total-timeout", type=float, default=1200,
                        help="seconds allowed per notebook (default 1200)")
    parser.add_argument("--exercises-only", action="store_true",
                        help="run only the setup, exercise and check cells (faster)")
    parser.add_argument("--full", action="store_true", help="full mode instead of quick mode (GANCOURSE_QUICK=0)")
    parser.add_argument("--source", type=Path, help="folder of the instructor's notebooks: run their check cells "
                                                    "(hidden tests included) instead of the submitted ones")
    parser.add_argument("--jobs", type=int, default=1, help="notebooks graded at the same time (default 1)")
    parser.add_argument("--kernel", default="python3",
                        help="Jupyter kernel name (default: python3 of this environment)")
    args = parser.parse_args(argv)
    if args.timeout <= 0:
        parser.error(f"--timeout: expected a positive number of seconds, got {args.timeout:g}")
    if args.total_timeout <= 0:
        parser.error(f"--total-timeout: expected a positive number of seconds, got {args.total_timeout:g}")
    if args.jobs < 1:
        parser.error(f"--jobs: expected at least 1, got {args.jobs}")
    if args.source is not None and not args.source.is_dir():
        parser.error(f"--source: {args.source} is not a folder")

    mode = "full" if args.full else "quick"
    print(f"Grading {len(args.notebooks)} notebook(s) in {mode} mode, {args.timeout:g} s per cell, "
          f"{args.total_timeout:g} s per notebook{', exercise cells only' if args.exercises_only else ''}",
          flush=True)
    expected_code = package_fingerprint()
    contents = {}
    for p in args.notebooks:  # all read first: a submission cannot delete or edit a classmate's
        try:
            contents[p] = p.read_bytes()
        except OSError:
            contents[p] = None   # grade_notebook reports it as unreadable
    jobs = [dict(path=p, timeout=args.timeout, total_timeout=args.total_timeout, exercises_only=args.exercises_only,
                 quick=not args.full, source_dir=args.source, kernel=args.kernel, content=contents[p],
                 expected_code=expected_code) for p in args.notebooks]
    results: list[NotebookGrade] = []
    if args.jobs == 1 or len(jobs) == 1:
        for job in jobs:
            results.append(_grade_one(job))
            print(format_table(results[-1]), flush=True)
            if results[-1].integrity:
                break
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            for res in pool.map(_grade_one, jobs):
                results.append(res)
                print(format_table(res), flush=True)
                if res.integrity:
                    pool.shutdown(wait=True, cancel_futures=True)
                    break
    stopped = next((r for r in results if r.integrity), None)
    graded = [r for r in results if not r.error]
    total = sum(r.total for r in graded)
    max_total = sum(r.max_total for r in graded)
    print(f"Total: {_fmt(total)}/{_fmt(max_total)} points over {len(graded)} graded notebook(s)"
          + (f"; {len(results) - len(graded)} could not be graded" if len(graded) < len(results) else ""))
    if args.csv:
        rows = write_csv(results, args.csv)
        print(f"CSV: {rows} rows -> {args.csv}")
    if stopped is not None:
        left = len(args.notebooks) - len(results)
        print(f"STOPPED: {stopped.error}" + (f" {left} notebook(s) were not graded." if left else ""),
              file=sys.stderr, flush=True)
        return 3
    return 1 if len(graded) < len(results) else 0


if __name__ == "__main__":
    sys.exit(main())
