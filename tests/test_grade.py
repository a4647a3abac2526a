"""The grader (``python -m gancourse.grade``): full marks for the solutions, zero for the untouched
student versions, partial marks for one exercise solved, and a crash, a timeout or a dead kernel in
one exercise costing that exercise only.

The scoring is tested on every notebook with cells run in this process (fast); the kernel path
(headless execution, time limits, restarts, the command, its table and CSV) on one notebook: the
one with the most exercises.
"""
import contextlib
import copy
import csv
import io
import re
import time

import nbformat
import pytest

from exercise_runner import NAMES, REPO, grade_in_process, instructor, path_of, student, with_solutions_of
from gancourse import checks, grade
from gancourse.assign import find_exercises


def _write(nb, folder, name):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.ipynb"
    nbformat.write(nb, path)
    return path


def _max(name):
    return sum(ex.points for ex in checks.exercises_of(name[:2]))


# ------------------------------------------------------------------------------------------------
# Every notebook, cells run in this process


@pytest.mark.parametrize("name", NAMES)
def test_solution_full_marks_student_zero_one_solved_partial(name, tmp_path):
    full = grade_in_process(path_of(name))
    assert full.error is None and [e.status for e in full.exercises] == ["correct"] * len(full.exercises)
    assert full.total == full.max_total == _max(name)

    zero = grade_in_process(_write(student(name), tmp_path / "student", name))
    assert zero.total == 0 and zero.max_total == _max(name)
    hints = {g.id: g.hints for g in find_exercises(instructor(name))}
    for e in zero.exercises:
        assert e.status == "not done" and any(h in e.detail for h in hints[e.id]), e

    # one exercise that stands alone, with others before it (a variant exercise trains with the
    # build exercise's code, so it cannot be solved alone)
    solved = next(ex for ex in checks.exercises_of(name[:2])[1:] if ex.kind != "variant")
    one = with_solutions_of(student(name), instructor(name), {solved.id})
    partial = grade_in_process(_write(one, tmp_path / "partial", name))
    assert partial.total == solved.points < partial.max_total
    assert [e.status for e in partial.exercises] == ["correct" if e.id == solved.id else "not done"
                                                     for e in partial.exercises]


# ------------------------------------------------------------------------------------------------
# Edited, deleted and restored check cells; hidden tests (in process)

REPRESENTATIVE = max(NAMES, key=lambda n: (len(checks.exercises_of(n[:2])), -NAMES.index(n)))


def test_an_edited_or_deleted_check_cell_gets_zero(tmp_path):
    nb = copy.deepcopy(instructor(REPRESENTATIVE))
    groups = find_exercises(nb)
    first, second = groups[0], groups[1]
    ex1 = checks.REGISTRY[first.id]
    fake = f"Exercise {ex1.id} [{ex1.difficulty}] {ex1.title}: correct, {ex1.points:g}/{ex1.points:g} points"
    nb.cells[first.check_cell].source = f"print({fake!r})"
    del nb.cells[second.check_cell]
    result = grade_in_process(_write(nb, tmp_path, "edited_" + REPRESENTATIVE))
    by_id = {e.id: e for e in result.exercises}
    assert by_id[first.id].points == 0 and by_id[first.id].status == "missing"
    assert "check cell was changed" in by_id[first.id].detail
    assert by_id[second.id].points == 0 and by_id[second.id].status == "missing"
    assert result.total == result.max_total - ex1.points - checks.REGISTRY[second.id].points
    # The instructor's check cells (--source) replace the edited one; a deleted one stays missing.
    restored = grade_in_process(tmp_path / f"edited_{REPRESENTATIVE}.ipynb", source_dir=REPO / "notebooks")
    assert {e.id: e.status for e in restored.exercises}[first.id] == "correct"
    assert restored.total == result.total + ex1.points


def test_hidden_tests_run_only_from_the_instructor_source(tmp_path):
    source = copy.deepcopy(instructor(REPRESENTATIVE))
    g = find_exercises(source)[0]
    cell = source.cells[g.check_cell]
    cell.source += "\n### BEGIN HIDDEN TESTS\nassert False, 'a hidden test failed'\n### END HIDDEN TESTS"
    path = _write(source, tmp_path / "source", REPRESENTATIVE)
    without = grade_in_process(path)  # a submission's hidden-test region is dropped, not run
    assert without.total == without.max_total
    with_source = grade_in_process(path, source_dir=tmp_path / "source")
    e = {e.id: e for e in with_source.exercises}[g.id]
    assert e.points == 0 and e.status == "error" and "a hidden test failed" in e.detail
    assert with_source.total == with_source.max_total - e.max_points


def test_unknown_or_unreadable_notebooks_are_reported_not_graded(tmp_path):
    (tmp_path / "junk.ipynb").write_text("not json")
    assert "could not read" in grade_in_process(tmp_path / "junk.ipynb").error
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    assert "no registered exercises" in grade_in_process(_write(nb, tmp_path, "essay")).error
    with pytest.raises(ValueError, match="timeout"):
        grade.grade_notebook(path_of(REPRESENTATIVE), timeout=0)


def test_table_and_csv_format(tmp_path):
    result = grade.NotebookGrade("nb.ipynb", [
        grade.ExerciseGrade("nb.ipynb", "03.1", "total variation", "warm-up", 2, 2, "correct"),
        grade.ExerciseGrade("nb.ipynb", "03.2", "KL, again", "core", 1.5, 3, "not yet", "a hint"),
    ], seconds=3)
    table = grade.format_table(result)
    assert "nb.ipynb: 3.5/5 points" in table and "1.5/3  not yet  a hint" in table and "total" in table
    rows = grade.write_csv([result, grade.NotebookGrade("bad.ipynb", error="could not read")], tmp_path / "g.csv")
    with open(tmp_path / "g.csv", newline="") as f:
        read = list(csv.DictReader(f))
    assert rows == 3 and [r["exercise"] for r in read] == ["03.1", "03.2", ""]
    assert read[1]["title"] == "KL, again" and read[1]["points"] == "1.5" and read[2]["status"] == "not graded"


# ------------------------------------------------------------------------------------------------
# Real kernels, through the command: one notebook, three versions graded two at a time (the
# solution and a partial version are graded in a kernel by the last test and by the "broken" one)

TIMEOUT = 10  # seconds per cell; setup cells take ~1-2 s


def _broken(nb):
    """Exercise 1 raises, exercise 2 never ends, exercise 3 kills the kernel; the others stay solved."""
    nb = copy.deepcopy(nb)
    injected = ['raise ZeroDivisionError("injected crash")',
                "import time\nwhile True:\n    time.sleep(0.05)",
                "import os\nos._exit(3)"]
    groups = find_exercises(nb)
    for g, code in zip(groups[:-1], injected):  # the last exercise stays solved, whatever the count
        cell = nb.cells[g.exercise_cells[0]]
        cell.source = code + "\n" + cell.source
    return nb, [g.id for g in groups[:-1]][:3]


@pytest.fixture(scope="module")
def graded_by_command(tmp_path_factory):
    folder = tmp_path_factory.mktemp("submissions")
    name = REPRESENTATIVE
    broken_nb, broken_ids = _broken(instructor(name))
    bad_setup = copy.deepcopy(instructor(name))
    setup_cell = next(c for c in bad_setup.cells if "setup" in c.metadata.get("tags", []))
    setup_cell.source = 'raise RuntimeError("no torch here")\n' + setup_cell.source
    paths = {  # the slow one first, so that the two others share the second worker
        "broken": _write(broken_nb, folder / "broken", name),
        "student": _write(student(name), folder / "student", name),
        "bad_setup": _write(bad_setup, folder / "bad_setup", name),
    }
    csv_path = folder / "grades.csv"
    argv = [str(p) for p in paths.values()] + ["--exercises-only", "--jobs", "2", "--timeout", str(TIMEOUT),
                                               "--csv", str(csv_path)]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = grade.main(argv)
    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    by_version = {v: {r["exercise"]: r for r in rows if r["notebook"] == str(p)} for v, p in paths.items()}
    return dict(rc=rc, out=out.getvalue(), rows=rows, by=by_version, broken_ids=broken_ids)


def _points(rows):
    return sum(float(r["points"]) for r in rows.values())


def test_command_table_csv_and_zero_for_the_student_version(graded_by_command):
    g = graded_by_command
    assert g["rc"] == 0
    n = len(checks.exercises_of(REPRESENTATIVE[:2]))
    assert len(g["rows"]) == 3 * n  # one row per notebook and exercise
    assert _points(g["by"]["student"]) == 0
    assert {r["status"] for r in g["by"]["student"].values()} == {"not done"}
    full = _max(REPRESENTATIVE)
    assert f"0/{full:g} points" in g["out"] and g["out"].count("== ") == 3 and "Total:" in g["out"]
    assert "CSV: " + str(3 * n) + " rows" in g["out"]


def test_command_crash_timeout_and_dead_kernel_cost_one_exercise_each(graded_by_command):
    g = graded_by_command
    rows = g["by"]["broken"]
    ids = g["broken_ids"]
    expected = ["error", "timeout", "crashed"][:len(ids)]
    assert [rows[i]["status"] for i in ids] == expected
    assert all(float(rows[i]["points"]) == 0 for i in ids)
    assert "injected crash" in rows[ids[0]]["detail"] and f"{TIMEOUT} s" in rows[ids[1]]["detail"]
    others = [r for i, r in rows.items() if i not in ids]
    assert others and all(r["status"] == "correct" and r["points"] == r["max_points"] for r in others)
    assert 0 < _points(rows) < _max(REPRESENTATIVE)  # partial marks


def test_command_setup_failure_gives_zero_with_the_reason(graded_by_command):
    rows = graded_by_command["by"]["bad_setup"]
    assert all(r["status"] == "setup failed" and float(r["points"]) == 0 for r in rows.values())
    assert all("RuntimeError: no torch here" in r["detail"] for r in rows.values())


def test_whole_notebook_mode_gives_the_solution_full_marks_in_a_kernel():
    """The default mode runs every code cell (quick mode), as "Run all" would; the smallest notebook."""
    name = min(NAMES, key=lambda n: sum(c.cell_type == "code" for c in instructor(n).cells))
    result = grade.grade_notebook(path_of(name), timeout=120, total_timeout=300)
    assert result.error is None
    assert result.cells_run == sum(c.cell_type == "code" and bool(c.source.strip()) for c in instructor(name).cells)
    assert result.total == result.max_total == _max(name)
    assert [e.status for e in result.exercises] == ["correct"] * len(result.exercises)


def test_command_rejects_bad_arguments(capsys):
    for argv in (["x.ipynb", "--timeout", "0"], ["x.ipynb", "--jobs", "0"], ["x.ipynb", "--source", "/nonexistent"]):
        with pytest.raises(SystemExit) as info:
            grade.main(argv)
        assert info.value.code == 2
    assert "--source" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------------
# The execution loop with a scripted executor: restarts, failed restarts, the notebook time limit


class ScriptedExecutor:
    """Plays back what each cell does: ``script[index]`` is a list of results, one per attempt."""

    def __init__(self, nb, script, recovers=False):
        self.nb, self.script, self.recovers = nb, script, recovers
        self.calls, self.restarts, self.attempts = [], 0, {}

    def start(self):
        self.calls.append("start")

    def run_cell(self, index, timeout):
        self.calls.append(index)
        k = self.attempts[index] = self.attempts.get(index, -1) + 1
        plan = self.script.get(index, ["ok"])
        status = plan[min(k, len(plan) - 1)]
        if status == "slow":
            time.sleep(0.5)
            status = "ok"
        if status == "ok":
            source = self.nb.cells[index].source
            found = re.search(r"checks\.(ex\d\d_\w+)\s*\(", source)  # after any hidden tests
            if found:
                ex = getattr(checks, found.group(1))
                e = checks.REGISTRY[ex.exercise_id]
                line = f"Exercise {e.id} [{e.difficulty}] {e.title}: correct, {e.points:g}/{e.points:g} points\n"
                return grade.CellRun(index, "ok", line)
            return grade.CellRun(index, "ok")
        return grade.CellRun(index, status, ename="RuntimeError" if status == "error" else "", evalue="boom",
                             limit=timeout)

    def recover(self):
        return self.recovers

    def restart(self):
        self.restarts += 1
        self.calls.append("restart")

    def close(self):
        self.calls.append("close")


def _scripted(script, recovers=False, total_timeout=100):
    nb = instructor(REPRESENTATIVE)
    groups = find_exercises(nb)
    setup = [i for i, c in enumerate(nb.cells) if {"setup", "parameters"} & set(c.metadata.get("tags", []))]
    executor = ScriptedExecutor(nb, script(groups, setup) if callable(script) else script, recovers)
    runs, failure, notes = grade.execute(nb, groups, executor, timeout=10, total_timeout=total_timeout,
                                         exercises_only=True)
    grades = grade.score("nb", checks.exercises_of(REPRESENTATIVE[:2]), groups, runs, failure)
    return executor, groups, grades


def g_status(grades):
    return [e.status for e in grades]


def test_a_timeout_that_an_interrupt_ends_needs_no_restart():
    executor, groups, grades = _scripted(lambda g, s: {g[0].exercise_cells[0]: ["timeout"]}, recovers=True)
    assert executor.restarts == 0 and g_status(grades) == ["timeout"] + ["correct"] * (len(groups) - 1)


def test_a_restart_whose_setup_fails_keeps_the_grades_already_earned():
    def script(groups, setup):
        return {groups[1].exercise_cells[0]: ["timeout"], setup[-1]: ["ok", "error"]}
    executor, groups, grades = _scripted(script)
    assert executor.restarts == 1
    assert g_status(grades) == ["correct", "timeout"] + ["setup failed"] * (len(groups) - 2)
    assert grades[0].points == grades[0].max_points and "after a restart" in grades[-1].detail


def test_the_notebook_time_limit_stops_the_rest():
    executor, groups, grades = _scripted(lambda g, s: {g[0].exercise_cells[0]: ["slow"]}, total_timeout=0.3)
    assert g_status(grades) == ["not run"] * len(groups) and "time limit of 0.3 s" in grades[0].detail
    assert executor.calls[-2] == groups[0].exercise_cells[0]  # nothing ran after it
    executor, groups, grades = _scripted(lambda g, s: {}, total_timeout=1e-9)
    assert g_status(grades) == ["setup failed"] * len(groups) and "time limit" in grades[0].detail


def test_command_exits_1_when_a_notebook_cannot_be_graded(tmp_path, capsys):
    (tmp_path / "junk.ipynb").write_text("{")
    assert grade.main([str(tmp_path / "junk.ipynb"), "--csv", str(tmp_path / "g.csv")]) == 1
    out = capsys.readouterr().out
    assert "NOT GRADED: could not read" in out and "1 could not be graded" in out
    assert "not graded" in (tmp_path / "g.csv").read_text()
