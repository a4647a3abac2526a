"""The course under nbgrader: ``python -m gancourse.nbgrader_course (--metadata | --course DIR) NOTEBOOK...``.

The course marks its exercises with its own cell tags (``exercise``, ``check``) and nbgrader's
text markers (``### BEGIN SOLUTION`` ... ``### END SOLUTION``, ``### BEGIN HIDDEN TESTS`` ...).
nbgrader reads cell *metadata* instead, so this module writes it from the course's own structure,
keeping it in step with ``checks.REGISTRY`` (a test fails when a notebook's metadata drifts):

- ``--metadata`` writes nbgrader's cell metadata (schema 3) into the instructor notebooks, in
  place: every exercise cell holding a solution region becomes an autograded-answer cell
  (``solution``), every check cell a locked autograder-test cell (``grade``) worth the exercise's
  points; every other cell loses any nbgrader metadata.
- ``--course DIR`` writes an nbgrader course folder: ``DIR/nbgrader_config.py`` and
  ``DIR/source/<notebook>/<notebook>.ipynb`` for each notebook (one assignment per notebook).
  Then, in DIR, plain ``nbgrader generate_assignment <notebook>`` and ``nbgrader autograde
  <notebook>`` work.

Three things make nbgrader grade the course right:

1. The checks run in *strict mode* under nbgrader (``checks.strict_mode``): a check that earns
   nothing raises, and a check cell's result is the points it earned, which nbgrader reads as
   partial credit. Without it nbgrader gives full marks to every check cell that does not raise.
2. The course folder's config replaces nbgrader's ``ClearOutput`` (which clears every output,
   figures before the exercises included) by :class:`ClearOutputLikeStudentVersion`, the rule of
   ``make student``: outputs are kept up to the first exercise, cleared from there on.
3. Hidden tests sit inside check cells (nbgrader's rule: only graded cells may hold them), so the
   release version drops them and ``autograde`` restores them with the locked cell.

Autograding runs every cell of a submission, training included: set ``GANCOURSE_QUICK=1`` in the
environment of ``nbgrader autograde`` for the quick mode (minutes rather than tens of minutes per
notebook); the checks measure the student's own runs either way.
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import nbformat
from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

from . import checks
from .assign import BEGIN_SOLUTION, INSTRUCTOR_DIR, find_exercises, first_exercise_cell

SCHEMA_VERSION = 3

CONFIG = '''\
"""nbgrader's configuration for the gancourse notebooks (written by python -m gancourse.nbgrader_course)."""
from gancourse.nbgrader_course import generate_assignment_preprocessors

c = get_config()  # noqa: F821 (nbgrader defines it)
c.CourseDirectory.course_id = "gancourse"
# Keep the figures and derivations before the first exercise; clear outputs from there on.
c.GenerateAssignment.preprocessors = generate_assignment_preprocessors()
'''


def _grade_id(kind: str, exercise_id: str, k: int | None = None) -> str:
    suffix = "" if k is None else f"_{k}"
    return f"{kind}_{exercise_id.replace('.', '_')}{suffix}"


def expected_metadata(nb, name: str = "notebook") -> dict[int, dict]:
    """``{cell index: nbgrader metadata}`` for the cells nbgrader must know: answers and checks."""
    found = {}
    for g in find_exercises(nb, name, strict=True):
        answers = [i for i in g.exercise_cells if BEGIN_SOLUTION in nb.cells[i].source]
        for k, i in enumerate(answers):
            found[i] = {"grade": False, "solution": True, "locked": False, "task": False,
                        "grade_id": _grade_id("answer", g.id, k if len(answers) > 1 else None),
                        "schema_version": SCHEMA_VERSION}
        found[g.check_cell] = {"grade": True, "solution": False, "locked": True, "task": False,
                               "points": checks.REGISTRY[g.id].points, "grade_id": _grade_id("check", g.id),
                               "schema_version": SCHEMA_VERSION}
    return found


def write_metadata(nb, name: str = "notebook") -> int:
    """Write nbgrader's cell metadata into ``nb`` (see the module docstring). Returns the cells changed."""
    wanted = expected_metadata(nb, name)
    changed = 0
    for i, cell in enumerate(nb.cells):
        before = cell.metadata.get("nbgrader")
        if i in wanted:
            cell.metadata["nbgrader"] = wanted[i]
        else:
            cell.metadata.pop("nbgrader", None)
        changed += before != cell.metadata.get("nbgrader")
    return changed


class ClearOutputLikeStudentVersion(Preprocessor):
    """nbgrader's output clearing, with ``make student``'s rule: keep the outputs before the first
    exercise (the derivations' figures a student reads first), clear them from there on."""

    enabled = Bool(True, help="whether nbgrader runs it").tag(config=True)  # nbconvert's default is off

    def preprocess(self, nb, resources):
        first = first_exercise_cell(nb)
        for i, cell in enumerate(nb.cells):
            if cell.cell_type == "code" and (i >= first or "nbgrader" in cell.metadata):
                cell.outputs = []
                cell.execution_count = None
                cell.metadata.pop("execution", None)
        return nb, resources


def generate_assignment_preprocessors() -> list:
    """nbgrader's ``generate_assignment`` preprocessors, ``ClearOutput`` replaced (see above)."""
    from nbgrader.converters import GenerateAssignment  # optional dependency: only under nbgrader
    from nbgrader.preprocessors import ClearOutput

    return [ClearOutputLikeStudentVersion if p is ClearOutput else p
            for p in GenerateAssignment.class_traits()["preprocessors"].default()]


def write_course(root: Path, notebooks: list[Path]) -> list[str]:
    """An nbgrader course folder at ``root`` with one assignment per notebook; returns their names."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    (root / "nbgrader_config.py").write_text(CONFIG)
    names = []
    for path in notebooks:
        folder = root / "source" / path.stem
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, folder / path.name)
        names.append(path.stem)
    return names


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gancourse.nbgrader_course", description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path, help="instructor notebooks (notebooks/NN_*.ipynb)")
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--metadata", action="store_true", help="write nbgrader's cell metadata into the notebooks")
    what.add_argument("--course", type=Path, help="write an nbgrader course folder here")
    args = parser.parse_args(argv)
    missing = [str(p) for p in args.notebooks if p.suffix != ".ipynb" or not p.is_file()]
    if missing:
        parser.error(f"notebooks: expected existing .ipynb files, not found: {', '.join(missing)}")
    if args.course is not None:
        if args.course.resolve() == INSTRUCTOR_DIR.resolve():
            parser.error("--course: choose a folder other than notebooks/, e.g. build/nbgrader")
        names = write_course(args.course, args.notebooks)
        print(f"nbgrader course in {args.course}: assignments {', '.join(names)}; in that folder run "
              f"nbgrader generate_assignment <name>, then nbgrader autograde <name>")
        return 0
    for path in args.notebooks:
        nb = nbformat.read(path, as_version=4)
        changed = write_metadata(nb, path.name)
        if changed:
            nbformat.write(nb, path)
        print(f"{path.name}: nbgrader metadata {'written to ' + str(changed) + ' cells' if changed else 'in step'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
