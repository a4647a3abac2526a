"""Student versions of the notebooks: ``python -m gancourse.assign [--out DIR] NOTEBOOK...``.

The notebooks in ``notebooks/`` are the instructor's versions. Their exercise cells (tag
``exercise``) hold the solution between nbgrader's markers::

    def my_kl(p, q):
        # HINT: keep only the indices where p > 0; ...
        ### BEGIN SOLUTION
        ...
        ### END SOLUTION

and may hold instructor-only code between ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS``.
The student version (``make student`` writes them to ``build/student/``):

- replaces each solution region by ``raise NotImplementedError("Exercise NN.k: <hint>")`` at the
  indentation of the BEGIN marker, the hint being the text of the ``# HINT:`` comment just above
  it (a Markdown solution region becomes "*Your answer here.*");
- removes hidden-test regions, markers included;
- clears the outputs of exercise and check cells and of every code cell after the first exercise,
  and keeps the rest (the derivations, experiments and figures before the exercises);
- refuses to be written if any solution line is still in it (sources or outputs).

Because the stub sits inside a function body, the exercise cell still runs; the check cell below
it calls the function, meets the ``NotImplementedError`` and stops "Run all" there with the hint.

The same module reads a notebook's exercise structure (:func:`find_exercises`), which
``python -m gancourse.grade`` uses too.
"""
from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parent.parent
INSTRUCTOR_DIR = REPO / "notebooks"
DEFAULT_OUT = Path("build") / "student"  # relative to where the command runs, as in `make student`

BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"
BEGIN_HIDDEN = "### BEGIN HIDDEN TESTS"
END_HIDDEN = "### END HIDDEN TESTS"
MARKERS = (BEGIN_SOLUTION, END_SOLUTION, BEGIN_HIDDEN, END_HIDDEN)
HINT_PREFIX = "# HINT:"
MARKDOWN_STUB = "*Your answer here.*"
SETUP_TAGS = {"setup", "parameters"}

_CHECK_CALL = re.compile(r"\bchecks\.(ex\d\d_\w+)\s*\(")
# an exercise's heading, "### Exercise 03.1 (core): title" (also read by gancourse.website)
EXERCISE_HEADING = re.compile(r"^#{2,4}\s*Exercise\s+(?P<id>\d\d\.\d+)\s*\((?P<difficulty>[\w-]+)\)\s*:\s*(?P<title>.+?)\s*$",
                              re.MULTILINE)


class NotebookFormatError(ValueError):
    """A notebook breaks the exercise conventions (unbalanced markers, no hint, no check...)."""


class SolutionLeak(RuntimeError):
    """A generated student notebook still contains a line of a solution."""


@dataclass
class ExerciseCells:
    """Where one exercise sits in a notebook: its exercise cells, its check cell, its hints."""

    id: str                                  # "03.2"
    check_name: str                          # "ex03_kl": the check function the check cell calls
    check_cell: int                          # index of the check cell
    exercise_cells: list[int] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)  # the "# HINT:" texts of its solution regions


def tags_of(cell) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", []))


def _lines(source: str) -> list[str]:
    return source.split("\n")


def _marker_at(line: str) -> str | None:
    stripped = line.strip()
    for marker in MARKERS:
        if stripped == marker:
            return marker
    return None


def regions(source: str, begin: str, end: str, where: str = "cell") -> list[tuple[int, int]]:
    """Line ranges ``(i_begin, i_end)`` of the regions ``begin ... end`` in ``source`` (marker lines).

    Raises :class:`NotebookFormatError` on a marker without its partner or on nested regions.
    """
    found, start = [], None
    for i, line in enumerate(_lines(source)):
        marker = _marker_at(line)
        if marker == begin:
            if start is not None:
                raise NotebookFormatError(f"{where}: '{begin}' on line {i + 1} inside another region "
                                          f"opened on line {start + 1}")
            start = i
        elif marker == end:
            if start is None:
                raise NotebookFormatError(f"{where}: '{end}' on line {i + 1} without '{begin}' before it")
            found.append((start, i))
            start = None
    if start is not None:
        raise NotebookFormatError(f"{where}: '{begin}' on line {start + 1} is never closed by '{end}'")
    return found


def hint_above(lines: list[str], begin: int, where: str = "cell") -> str:
    """The text of the ``# HINT:`` comment block just above line ``begin`` (continuation lines joined)."""
    block = []
    i = begin - 1
    while i >= 0 and lines[i].strip().startswith("#") and _marker_at(lines[i]) is None:
        block.insert(0, lines[i].strip())
        if lines[i].strip().startswith(HINT_PREFIX):
            text = " ".join([block[0][len(HINT_PREFIX):].strip()] + [b.lstrip("#").strip() for b in block[1:]])
            if text:
                return text
            break
        i -= 1
    raise NotebookFormatError(f"{where}: no '{HINT_PREFIX} ...' comment just above '{BEGIN_SOLUTION}' "
                              f"(line {begin + 1}); its text becomes the student's hint")


def check_name_of(source: str) -> str | None:
    """The check function a check cell calls (``"ex03_kl"`` for ``checks.ex03_kl(my_kl)``), or None."""
    found = _CHECK_CALL.findall(source)
    return found[0] if found else None


def _exercise_id(check_name: str, where: str) -> str:
    from . import checks

    fn = getattr(checks, check_name, None)
    if fn is None or not hasattr(fn, "exercise_id"):
        raise NotebookFormatError(f"{where}: calls checks.{check_name}, which is not a registered check "
                                  f"(decorate it with @exercise in gancourse/checks/nbNN.py)")
    return fn.exercise_id


def find_exercises(nb, name: str = "notebook", strict: bool = True) -> list[ExerciseCells]:
    """The exercises of a notebook, in order, from its cell tags.

    A check cell is tagged ``check`` (or, when ``strict`` is False, any code cell calling a check);
    its exercise cells are the cells tagged ``exercise`` since the previous check cell or exercise
    heading, plus any untagged code cell a student inserted between the first of them and the check
    cell. With ``strict`` (the instructor's notebooks), a solution region outside an exercise cell,
    an exercise cell without a check after it, a missing hint or an unregistered check raise
    :class:`NotebookFormatError`. Without it (graded submissions), a check cell that no longer
    calls its check is attributed to the exercise of the heading above it, from the registry, and
    other irregular cells are ignored.
    """
    from . import checks

    found: list[ExerciseCells] = []
    pending: list[int] = []
    heading_id = None
    for index, cell in enumerate(nb.cells):
        where = f"{name}, cell {index}"
        if cell.cell_type == "markdown":
            ids = [m["id"] for m in EXERCISE_HEADING.finditer(cell.source)]
            if ids:
                if strict and pending:
                    raise NotebookFormatError(f"{name}, cell {pending[0]}: exercise cell without a check cell after it")
                pending, heading_id = [], ids[-1]
            continue
        if cell.cell_type != "code":
            continue
        tags = tags_of(cell)
        check_name = check_name_of(cell.source)
        is_check = "check" in tags or (not strict and check_name is not None and "exercise" not in tags)
        if is_check:
            try:
                if check_name is None:
                    if strict or heading_id not in checks.REGISTRY:
                        raise NotebookFormatError(f"{where}: tagged 'check' but calls no checks.exNN_name(...)")
                    ex_id, check_name = heading_id, checks.REGISTRY[heading_id].check.__name__
                else:
                    ex_id = _exercise_id(check_name, where)
            except NotebookFormatError:
                if strict:
                    raise
                pending = []
                continue
            group = ExerciseCells(ex_id, check_name, index, list(pending))
            for i in pending:
                src = nb.cells[i].source
                try:
                    for begin, _ in regions(src, BEGIN_SOLUTION, END_SOLUTION, f"{name}, cell {i}"):
                        group.hints.append(hint_above(_lines(src), begin, f"{name}, cell {i}"))
                except NotebookFormatError:
                    if strict:
                        raise
            found.append(group)
            pending, heading_id = [], None
        elif "exercise" in tags or (pending and not (tags & SETUP_TAGS)):
            pending.append(index)
        elif strict and regions(cell.source, BEGIN_SOLUTION, END_SOLUTION, where):
            raise NotebookFormatError(f"{where}: a solution region in a cell not tagged 'exercise'")
    if strict and pending:
        raise NotebookFormatError(f"{name}, cell {pending[0]}: exercise cell without a check cell after it")
    ids = [g.id for g in found]
    if strict and len(set(ids)) != len(ids):
        raise NotebookFormatError(f"{name}: an exercise is checked twice: {ids}")
    return found


def headings(nb) -> dict[str, tuple[str, str]]:
    """``{"03.2": (difficulty, title)}`` from the Markdown headings ``### Exercise NN.k (difficulty): title``."""
    out = {}
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for m in EXERCISE_HEADING.finditer(cell.source):
                out[m["id"]] = (m["difficulty"], m["title"])
    return out


def _solution_and_public_text(nb) -> tuple[set[str], set[str]]:
    solution, public = set(), set()
    for cell in nb.cells:
        lines = _lines(cell.source)
        inside = set()
        for begin, end in regions(cell.source, BEGIN_SOLUTION, END_SOLUTION):
            inside.update(range(begin + 1, end))
        for i, line in enumerate(lines):
            (solution if i in inside else public).add(line.strip())
    return solution, public


def solution_lines(nb) -> set[str]:
    """The lines (stripped) that appear only inside the notebook's solution regions.

    Lines that also appear outside the solutions (in the narrative or in other code) are public
    anyway, and lines without 6 characters including a letter or digit (``)``, ``else:``) say nothing.
    """
    solution, public = _solution_and_public_text(nb)
    return {line for line in solution - public
            if len(line) >= 6 and re.search(r"\w", line) and line not in MARKERS}


def _all_text_lines(nb) -> set[str]:
    """Every line (stripped) of every cell source and text output of a notebook."""
    lines = set()
    for cell in nb.cells:
        lines.update(line.strip() for line in _lines(cell.source))
        for out in cell.get("outputs", []):
            texts = [out.get("text", "")] + [v for v in out.get("data", {}).values() if isinstance(v, str)]
            texts += ["\n".join(out.get("traceback", []))]
            for text in texts:
                if isinstance(text, list):
                    text = "".join(text)
                lines.update(line.strip() for line in str(text).split("\n"))
    return lines


def find_leaks(student_nb, instructor_nb) -> list[str]:
    """Solution lines of ``instructor_nb`` and marker lines present in ``student_nb`` (should be [])."""
    text = _all_text_lines(student_nb)
    leaks = sorted(solution_lines(instructor_nb) & text)
    leaks += [m for m in MARKERS if m in text]
    raw = json.dumps(student_nb, ensure_ascii=False)
    leaks += [f"marker {m!r}" for m in MARKERS if m in raw and m not in text]
    return leaks


STUB_WIDTH = 88  # characters per line of a stub, so that it fits a notebook cell without scrolling


def _literal(text: str) -> str:
    literal = json.dumps(text, ensure_ascii=False)
    return repr(text) if '\\"' in literal else literal  # a hint quoting code: single quotes need no backslashes


def _stub_line(indent: str, ex_id: str, hint: str) -> str:
    """``raise NotImplementedError("Exercise NN.k: <hint>")``, the message split into adjacent string
    literals of at most about STUB_WIDTH characters a line (Python joins them into one string)."""
    message = f"Exercise {ex_id}: {hint}"
    one_line = f"{indent}raise NotImplementedError({_literal(message)})"
    if len(one_line) <= STUB_WIDTH:
        return one_line
    inner = indent + "    "
    pieces, current = [], ""
    for word in re.split(r"(?<= )", message):  # words with their trailing space, so the pieces rejoin exactly
        if current and len(inner) + len(_literal(current + word)) > STUB_WIDTH:
            pieces.append(current)
            current = ""
        current += word
    pieces.append(current)
    body = "\n".join(inner + _literal(piece) for piece in pieces)
    return f"{indent}raise NotImplementedError(\n{body})"


def strip_source(source: str, ex_id: str | None, where: str, markdown: bool = False) -> str:
    """One cell's student source: hidden tests removed, solutions replaced by the stub."""
    lines = _lines(source)
    drop = set()
    for begin, end in regions(source, BEGIN_HIDDEN, END_HIDDEN, where):
        drop.update(range(begin, end + 1))
    replace = {}
    for begin, end in regions(source, BEGIN_SOLUTION, END_SOLUTION, where):
        if drop & set(range(begin, end + 1)):
            raise NotebookFormatError(f"{where}: a solution region overlaps a hidden-test region")
        indent = lines[begin][: len(lines[begin]) - len(lines[begin].lstrip())]
        if markdown:
            replace[begin] = MARKDOWN_STUB
        else:
            if ex_id is None:
                raise NotebookFormatError(f"{where}: a solution region outside an exercise cell")
            replace[begin] = _stub_line(indent, ex_id, hint_above(lines, begin, where))
        drop.update(range(begin + 1, end + 1))
    out = []
    for i, line in enumerate(lines):
        if i in replace:
            out.append(replace[i])
        elif i not in drop:
            out.append(line)
    return "\n".join(out)


def first_exercise_cell(nb, exercises: list[ExerciseCells] | None = None) -> int:
    """The index of the first exercise or check cell (``len(nb.cells)`` if none): the student
    versions keep the outputs above it and clear them from there on."""
    exercises = find_exercises(nb, strict=False) if exercises is None else exercises
    return min([i for g in exercises for i in g.exercise_cells + [g.check_cell]], default=len(nb.cells))


def make_student(nb, name: str = "notebook"):
    """The student version of an instructor notebook (a new notebook; ``nb`` is not modified).

    Returns ``(student_nb, exercises)`` with ``exercises`` from :func:`find_exercises`. Raises
    :class:`NotebookFormatError` if the notebook breaks the conventions and :class:`SolutionLeak`
    if a solution line survives.
    """
    exercises = find_exercises(nb, name, strict=True)
    owner = {i: g.id for g in exercises for i in g.exercise_cells}
    first_exercise = first_exercise_cell(nb, exercises)
    check_cells = {g.check_cell for g in exercises}
    student = copy.deepcopy(nb)
    kept = []
    for index, cell in enumerate(student.cells):
        where = f"{name}, cell {index}"
        original = cell.source
        cell.source = strip_source(original, owner.get(index), where, markdown=cell.cell_type == "markdown")
        if cell.source.strip() == "" and original.strip() != "":
            continue  # the cell held nothing but hidden tests
        if cell.cell_type == "code" and (index >= first_exercise or index in owner or index in check_cells
                                         or cell.source != original):
            cell.outputs = []
            cell.execution_count = None
            cell.metadata.pop("execution", None)
        kept.append(cell)
    student.cells = kept
    leaks = find_leaks(student, nb)
    if leaks:
        raise SolutionLeak(f"{name}: the student version would contain solution text: {leaks[:5]}")
    return student, exercises


def _is_inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gancourse.assign",
                                     description="Write the student versions of notebooks (solutions removed).")
    parser.add_argument("notebooks", nargs="+", type=Path, help="instructor notebooks (notebooks/NN_*.ipynb)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"folder for the student notebooks (default: {DEFAULT_OUT})")
    args = parser.parse_args(argv)
    out: Path = args.out
    sources = {p.resolve().parent for p in args.notebooks}
    if _is_inside(out, INSTRUCTOR_DIR) or out.resolve() in sources:
        parser.error(f"--out: refusing to write into {out} (the instructor's notebooks live there); "
                     f"choose another folder, e.g. build/student")
    failures = 0
    total = len(args.notebooks)
    for k, path in enumerate(args.notebooks, 1):
        prefix = f"[{k}/{total}] {path.name}:"
        if path.suffix != ".ipynb" or not path.is_file():
            print(f"{prefix} no such notebook (expected an existing .ipynb file)", flush=True)
            failures += 1
            continue
        try:
            nb = nbformat.read(path, as_version=4)
            student, exercises = make_student(nb, path.name)
        except (NotebookFormatError, SolutionLeak, ValueError, OSError) as exc:  # ValueError: not JSON
            print(f"{prefix} FAILED: {exc}", flush=True)
            failures += 1
            continue
        out.mkdir(parents=True, exist_ok=True)
        target = out / path.name
        nbformat.write(student, target)
        ids = ", ".join(g.id for g in exercises) or "none"
        print(f"{prefix} {len(exercises)} exercises ({ids}), solutions removed -> {target}", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
