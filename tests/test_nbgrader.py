"""The course under nbgrader 0.9 (a dev dependency), as README's instructor section describes it.

Plain ``nbgrader generate_assignment`` and ``nbgrader autograde`` (no flags) on an nbgrader course
folder written by ``python -m gancourse.nbgrader_course``, for two notebooks: the instructor's
solution scores full marks, the release version as it is (the stubs) scores zero, and a wrong
answer scores less than full marks. The notebooks' nbgrader metadata must be in step with the
course's exercise structure and ``checks.REGISTRY``.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from gancourse import nbgrader_course

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
GRADED = ["00_getting_started", "03_divergences"]  # the two cheapest notebooks to run


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_nbgrader_metadata_is_in_step_with_the_exercises(path):
    nb = nbformat.read(path, as_version=4)
    assert nbgrader_course.write_metadata(nb, path.name) == 0, (
        f"{path.name}: its nbgrader metadata is out of step; run python -m gancourse.nbgrader_course "
        f"--metadata notebooks/*.ipynb")


def test_metadata_drift_is_found():
    nb = nbformat.read(REPO / "notebooks" / "03_divergences.ipynb", as_version=4)
    check = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade"))
    check.metadata["nbgrader"]["points"] += 1
    assert nbgrader_course.write_metadata(nb) == 1


def _nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess:
    bin_dir = str(Path(sys.executable).parent)  # nbgrader calls alembic from the same environment
    env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""), "GANCOURSE_QUICK": "1"}
    env.pop("NBGRADER_EXECUTION", None)
    done = subprocess.run([os.path.join(bin_dir, "nbgrader"), *args], cwd=course, env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def _submit(course: Path, student: str, name: str, nb) -> None:
    folder = course / "submitted" / student / name
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / f"{name}.ipynb")


def test_generate_assignment_and_autograde_score_solution_stub_and_wrong_answer(tmp_path):
    pytest.importorskip("nbgrader")
    course = tmp_path / "course"
    nbgrader_course.write_course(course, [REPO / "notebooks" / f"{name}.ipynb" for name in GRADED])
    expected = {}
    for name in GRADED:
        _nbgrader(course, "generate_assignment", name)
        release = nbformat.read(course / "release" / name / f"{name}.ipynb", as_version=4)
        source = nbformat.read(course / "source" / name / f"{name}.ipynb", as_version=4)
        answers = {c.metadata["nbgrader"]["grade_id"]: c.source for c in source.cells
                   if c.metadata.get("nbgrader", {}).get("solution")}
        first = min(i for i, c in enumerate(release.cells) if "nbgrader" in c.metadata)
        assert any(c.get("outputs") for c in release.cells[:first]), "the figures before the exercises were cleared"
        assert not any(c.get("outputs") for c in release.cells[first:])
        assert not any("### BEGIN" in c.source for c in release.cells)
        expected[name] = sum(c.metadata["nbgrader"].get("points", 0) for c in source.cells
                             if c.metadata.get("nbgrader", {}).get("grade"))

        solved = nbformat.from_dict(release)
        for cell in solved.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if grade_id in answers:
                cell.source = answers[grade_id]
        _submit(course, "solution", name, solved)
        _submit(course, "stub", name, release)
        wrong = nbformat.from_dict(solved)
        answer = next(c for c in wrong.cells if c.metadata.get("nbgrader", {}).get("solution"))
        answer.source += "\n\n" + _spoil(answer.source)
        _submit(course, "wrong", name, wrong)
        _nbgrader(course, "autograde", name)

    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        for name in GRADED:
            score = {s: gradebook.find_submission(name, s).score for s in ("solution", "stub", "wrong")}
            assert score["solution"] == expected[name] > 0, (name, score)
            assert score["stub"] == 0, (name, score)
            assert score["wrong"] < expected[name], (name, score)


def _spoil(source: str) -> str:
    """A line that makes the first answer of a notebook wrong: its function returns a constant."""
    function = source.split("def ", 1)[1].split("(", 1)[0]
    return f"def {function}(*args, **kwargs):\n    return 0.123"
