"""Student versions (``python -m gancourse.assign``): no solution left, hints in place, and every
check fails with its hint. Every notebook in notebooks/ is covered, including future ones."""
import ast
import json
import re

import nbformat
import pytest

from exercise_runner import NAMES, NOTEBOOKS, REPO, executed, exercises, instructor, student
from gancourse import assign, checks
from gancourse.assign import (MARKERS, NotebookFormatError, SolutionLeak, find_exercises, find_leaks, headings,
                              make_student, solution_lines)
from gancourse.checks import FEEDBACK
from gancourse.grade import NOT_DONE_ERRORS

# Lines of the existing solutions that must never reach a student: a canary for solution_lines().
KNOWN_SOLUTION_LINES = {
    "00_getting_started": ["return ((x + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)"],
    "01_minimax_game": ["return -torch.sigmoid(l)", "minus_log_d = F.softplus(-fake_logits)"],
    "02_optimal_discriminator": ["return np.where(total > 0, p_data / np.where(total > 0, total, 1.0), 0.5)"],
    "03_divergences": ["return float(np.mean(np.abs(np.sort(x) - np.sort(y))))",
                       "rows = np.kron(np.eye(n), np.ones((1, m)))"],
}


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 4, "notebooks/ should hold the course's notebooks"


@pytest.mark.parametrize("name", NAMES)
def test_every_notebook_has_two_to_four_checked_exercises_with_a_difficulty(name):
    nb = instructor(name)
    found = find_exercises(nb, name, strict=True)  # raises on broken conventions
    assert 2 <= len(found) <= 4, f"{name}: {len(found)} exercises, the course wants 2-4"
    number = name[:2]
    registered = checks.exercises_of(number)
    assert [g.id for g in found] == [ex.id for ex in registered], \
        f"{name}: the notebook's check cells and gancourse/checks/nb{number}.py disagree"
    marked = headings(nb)
    for ex in registered:
        assert ex.id in marked, f"{name}: no Markdown heading '### Exercise {ex.id} (difficulty): title'"
        assert marked[ex.id][0] == ex.difficulty, \
            f"{name}: exercise {ex.id} is '{marked[ex.id][0]}' in the heading, '{ex.difficulty}' in its check"
    for g in found:
        assert g.hints, f"{name}: exercise {g.id} has no solution region"


@pytest.mark.parametrize("name", NAMES)
def test_student_version_contains_no_solution(name):
    theirs, mine = instructor(name), student(name)
    raw = json.dumps(mine, ensure_ascii=False)
    for marker in MARKERS:
        assert marker not in raw
    secret = solution_lines(theirs)
    assert secret, f"{name}: no solution lines found"
    leaked = [line for line in secret if line in raw]
    assert not leaked, f"{name}: solution lines in the student version: {leaked[:3]}"
    for line in KNOWN_SOLUTION_LINES.get(name, []):
        assert line in json.dumps(theirs, ensure_ascii=False), f"canary {line!r} is not in {name} any more"
        assert line in secret and line not in raw
    assert find_leaks(mine, theirs) == []


def stub_messages(source: str) -> list[str]:
    """The messages of the ``raise NotImplementedError("...")`` statements in ``source`` (a stub may
    spread its message over several string literals, which Python joins)."""
    return [node.exc.args[0].value for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)
            and getattr(node.exc.func, "id", "") == "NotImplementedError"]


@pytest.mark.parametrize("name", NAMES)
def test_student_version_has_a_stub_with_the_hint_in_every_exercise(name):
    mine = student(name)
    hints = {g.id: g.hints for g in find_exercises(instructor(name), name)}
    for g in exercises(mine, name):
        text = "\n".join(mine.cells[i].source for i in g.exercise_cells)
        stubs = [re.match(r"Exercise (\d\d\.\d+): (.+)", message).groups() for message in stub_messages(text)]
        assert stubs and all(ex_id == g.id for ex_id, _ in stubs), f"{name}: exercise {g.id} has no stub"
        assert [h for _, h in stubs] == hints[g.id]  # the HINT comment stays above each stub too


@pytest.mark.parametrize("name", NAMES)
def test_student_version_keeps_what_precedes_the_exercises_and_clears_the_rest(name):
    theirs, mine = instructor(name), student(name)
    found = find_exercises(theirs, name)
    first = min(i for g in found for i in g.exercise_cells)
    assert len(mine.cells) == len(theirs.cells)  # no notebook has cells made only of hidden tests
    for i, (a, b) in enumerate(zip(theirs.cells, mine.cells)):
        if i < first:
            assert a == b, f"{name}: cell {i}, before the first exercise, changed"
        elif b.cell_type == "code":
            assert b.outputs == [] and b.execution_count is None, f"{name}: cell {i} kept its outputs"
        else:
            assert a.source == b.source


@pytest.mark.parametrize("name", NAMES)
def test_solution_notebook_passes_all_its_checks(name):
    found, runs, setup_failure = executed(name, "solution")
    assert setup_failure is None, f"{name}: setup failed: {setup_failure}"
    for g in found:
        for i in g.exercise_cells:
            assert runs[i].status == "ok", f"{name}: exercise cell {i}: {runs[i].ename}: {runs[i].evalue}"
        m = FEEDBACK.match(runs[g.check_cell].stdout.strip())
        assert m and m["id"] == g.id and m["verdict"] == "correct" and m["points"] == m["max"], \
            f"{name}: exercise {g.id}: {runs[g.check_cell].stdout or runs[g.check_cell].evalue}"


@pytest.mark.parametrize("name", NAMES)
def test_student_notebook_fails_every_check_with_its_hint_and_nothing_else(name):
    found, runs, setup_failure = executed(name, "student")
    assert setup_failure is None, f"{name}: setup failed: {setup_failure}"
    hints = {g.id: g.hints for g in find_exercises(instructor(name), name)}
    first_error = None
    for g in found:
        group_runs = [runs[i] for i in g.exercise_cells + [g.check_cell]]
        errors = [r for r in group_runs if r.status == "error"]
        assert errors, f"{name}: exercise {g.id} raised nothing"
        err = errors[0]
        first_error = first_error or (g, err)
        assert err.ename in NOT_DONE_ERRORS, f"{name}: exercise {g.id} failed with {err.ename}: {err.evalue}"
        assert any(h in err.evalue for h in hints[g.id]), f"{name}: exercise {g.id}: no hint in {err.evalue!r}"
        assert all(r.status in ("ok", "skipped") for r in group_runs if r is not err)
        assert not any(FEEDBACK.match(line) for r in group_runs for line in r.stdout.splitlines())
    # "Run all" stops at the first exercise, with its hint (cells before it are the instructor's, tested by nbval)
    g, err = first_error
    assert g is found[0]
    assert min(i for i, r in runs.items() if r.status != "ok") in found[0].exercise_cells + [found[0].check_cell]


# ------------------------------------------------------------------------------------------------
# The transformation itself, on small notebooks


def _nb(*cells):
    nb = nbformat.v4.new_notebook()
    for kind, source, tags in cells:
        make = nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell
        cell = make(source)
        cell.metadata["tags"] = list(tags)
        if kind == "code":
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="an output\n")]
            cell.execution_count = 1
        nb.cells.append(cell)
    return nb


EXERCISE = """def my_tv(p, q):
    # HINT: half of a norm.
    ### BEGIN SOLUTION
    import numpy as np
    return 0.5 * np.abs(np.asarray(p) - np.asarray(q)).sum()
    ### END SOLUTION
"""


CHECK = "checks.ex03_tv(my_tv)\n### BEGIN HIDDEN TESTS\nassert my_tv([1], [1]) == 0\n### END HIDDEN TESTS"
PROSE = "### Exercise 03.1 (warm-up): total variation\nExplain:\n### BEGIN SOLUTION\nthe secret prose\n### END SOLUTION"


def _course_nb(exercise=EXERCISE, check=CHECK):
    return _nb(("code", "from gancourse import checks", ["setup"]),
               ("code", "print('a figure')", []),
               ("markdown", PROSE, []),
               ("code", exercise, ["exercise"]),
               ("code", check, ["check"]),
               ("code", "### BEGIN HIDDEN TESTS\nassert True\n### END HIDDEN TESTS", []),
               ("code", "print('after')", []))


def test_stub_hidden_tests_markdown_and_outputs():
    nb = _course_nb()
    mine, found = make_student(nb, "t.ipynb")
    assert [g.id for g in found] == ["03.1"] and found[0].hints == ["half of a norm."]
    sources = [c.source for c in mine.cells]
    assert sources[3] == ('def my_tv(p, q):\n    # HINT: half of a norm.\n'
                          '    raise NotImplementedError("Exercise 03.1: half of a norm.")\n')
    assert "*Your answer here.*" in sources[2] and "secret prose" not in sources[2]
    assert sources[4] == "checks.ex03_tv(my_tv)"  # hidden tests gone
    assert len(mine.cells) == 6 and sources[5] == "print('after')"  # the hidden-tests-only cell is dropped
    assert mine.cells[1].outputs and not mine.cells[3].outputs and not mine.cells[5].outputs
    assert nb.cells[3].source == EXERCISE  # the instructor's notebook is not modified
    ns = {}
    exec(sources[0] + "\n" + sources[3], ns)
    with pytest.raises(checks.ExerciseIncomplete, match=r"Exercise 03\.1 \(total variation\) is not done yet\. "
                                                        r"Hint: half of a norm\.$"):
        ns["checks"].ex03_tv(ns["my_tv"])


def test_top_level_solution_becomes_a_raising_stub_and_multiline_hints_join():
    exercise = ("# HINT: a value,\n#   computed by hand.\n### BEGIN SOLUTION\nanswer = 3\n### END SOLUTION\n"
                "my_tv = lambda p, q: answer")
    mine, _ = make_student(_course_nb(exercise=exercise), "t.ipynb")
    assert 'raise NotImplementedError("Exercise 03.1: a value, computed by hand.")' in mine.cells[3].source
    with pytest.raises(NotImplementedError, match="Exercise 03.1: a value, computed by hand"):
        exec(mine.cells[3].source, {})


def test_a_hint_with_double_quotes_reads_without_backslashes():
    exercise = ('# HINT: use reduction="mean".\n### BEGIN SOLUTION\nanswer = 3\n### END SOLUTION\n'
                "my_tv = lambda p, q: answer")
    mine, _ = make_student(_course_nb(exercise=exercise), "t.ipynb")
    assert """raise NotImplementedError('Exercise 03.1: use reduction="mean".')""" in mine.cells[3].source
    with pytest.raises(NotImplementedError, match='reduction="mean"'):
        exec(mine.cells[3].source, {})


@pytest.mark.parametrize("exercise, check, message", [
    (EXERCISE.replace("    # HINT: half of a norm.\n", ""), "checks.ex03_tv(my_tv)", "no '# HINT: ...' comment"),
    (EXERCISE.replace("    ### END SOLUTION\n", ""), "checks.ex03_tv(my_tv)", "never closed"),
    (EXERCISE + "### END SOLUTION\n", "checks.ex03_tv(my_tv)", "without '### BEGIN SOLUTION'"),
    (EXERCISE.replace("    return", "    ### BEGIN SOLUTION\n    return"), "checks.ex03_tv(my_tv)",
     "inside another region"),
    (EXERCISE, "checks.ex99_nothing(my_tv)", "not a registered check"),
    (EXERCISE, "print(my_tv)", "calls no checks"),
])
def test_broken_conventions_are_refused_with_the_cell(exercise, check, message):
    with pytest.raises(NotebookFormatError, match=re.escape(message)) as info:
        make_student(_course_nb(exercise=exercise, check=check), "t.ipynb")
    assert "t.ipynb, cell" in str(info.value)


def test_solution_outside_an_exercise_cell_or_without_check_is_refused():
    nb = _course_nb()
    nb.cells[3].metadata["tags"] = []
    with pytest.raises(NotebookFormatError, match="not tagged 'exercise'"):
        make_student(nb, "t.ipynb")
    nb = _course_nb()
    del nb.cells[4]
    with pytest.raises(NotebookFormatError, match="without a check cell"):
        make_student(nb, "t.ipynb")


def test_a_solution_line_that_survives_is_a_leak():
    nb = _course_nb()
    printed = "    return 0.5 * np.abs(np.asarray(p) - np.asarray(q)).sum()\n"
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", name="stdout", text=printed)]
    with pytest.raises(SolutionLeak, match="np.abs"):
        make_student(nb, "t.ipynb")


def test_command_writes_student_notebooks_and_refuses_the_instructor_folder(tmp_path, capsys):
    source = tmp_path / "src"
    source.mkdir()
    nbformat.write(_course_nb(), source / "03_t.ipynb")
    out = tmp_path / "student"
    assert assign.main(["--out", str(out), str(source / "03_t.ipynb")]) == 0
    assert "1 exercises (03.1)" in capsys.readouterr().out
    assert "BEGIN SOLUTION" not in (out / "03_t.ipynb").read_text()
    for bad_out in (REPO / "notebooks", REPO / "notebooks" / "student", source):
        with pytest.raises(SystemExit) as info:
            assign.main(["--out", str(bad_out), str(source / "03_t.ipynb")])
        assert info.value.code == 2
        assert "refusing to write" in capsys.readouterr().err
    assert assign.main(["--out", str(out), str(tmp_path / "missing.ipynb")]) == 1
    broken = _course_nb(exercise=EXERCISE.replace("    # HINT: half of a norm.\n", ""))
    nbformat.write(broken, source / "03_broken.ipynb")
    assert assign.main(["--out", str(out), str(source / "03_broken.ipynb")]) == 1
    assert "FAILED" in capsys.readouterr().out and not (out / "03_broken.ipynb").exists()


def test_a_long_hint_becomes_a_stub_that_fits_the_cell():
    hint = "keep only the indices where p > 0, " * 6 + 'then use reduction="mean".'
    exercise = f"def my_tv(p, q):\n    # HINT: {hint}\n    ### BEGIN SOLUTION\n    return 0\n    ### END SOLUTION"
    mine, _ = make_student(_course_nb(exercise=exercise), "t.ipynb")
    stub = mine.cells[3].source
    raise_lines = stub[stub.index("raise"):].splitlines()
    assert all(len(line) <= 90 for line in raise_lines) and len(raise_lines) >= 4
    ns = {}
    exec(stub, ns)
    with pytest.raises(NotImplementedError) as err:
        ns["my_tv"](0, 0)
    assert str(err.value) == f"Exercise 03.1: {hint}"
