"""The grader against hostile and broken submissions, in real kernels: an endless loop costs one
exercise only; a submission cannot change a classmate's grade, write beside its own folder through
relative paths, see the grader's environment, or alter the checks for the next student unnoticed."""
import copy
import json
import os
import shutil

import nbformat
import pytest

from exercise_runner import REPO, instructor
from gancourse import grade
from gancourse.assign import find_exercises

NAME = "03_divergences"   # a cheap setup; four exercises


def _submission(folder, prefix_of=None):
    """The solution of NAME, with code put in front of exercise cells: ``{exercise index: code}``."""
    nb = copy.deepcopy(instructor(NAME))
    groups = find_exercises(nb)
    for k, code in (prefix_of or {}).items():
        cell = nb.cells[groups[k].exercise_cells[0]]
        cell.source = code + "\n" + cell.source
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{NAME}.ipynb"
    nbformat.write(nb, path)
    return path, [g.id for g in groups]


def test_a_busy_endless_loop_costs_its_exercise_only_every_time(tmp_path):
    """Before the fix, after a timeout nbclient's reader of the timed-out cell kept taking the kernel's
    messages: later check cells 'printed no feedback line' (3 runs in 4 here). A pure-Python busy
    loop, in whole-notebook mode, with correct answers after it."""
    path, ids = _submission(tmp_path / "alice", {1: "while True:\n    pass"})
    result = grade.grade_notebook(path, timeout=8, total_timeout=300)
    by_id = {e.id: e for e in result.exercises}
    assert by_id[ids[1]].status == "timeout" and by_id[ids[1]].points == 0
    for i in ids[2:] + ids[:1]:
        assert by_id[i].status == "correct" and by_id[i].points == by_id[i].max_points, by_id[i]


def test_after_timeouts_every_later_cell_keeps_its_output(tmp_path):
    """The executor alone, on a tiny notebook: two endless loops, each followed by printing cells."""
    cells = ["x = 1", "while True:\n    pass"] + [f"print('out{k}')" for k in range(4)] + \
            ["while True:\n    pass"] + [f"print('out{k}')" for k in range(4, 8)]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    executor = grade.KernelExecutor(nb, tmp_path, grade.scrubbed_environment(True, tmp_path / "home"))
    executor.start()
    try:
        seen = []
        for i in range(len(cells)):
            r = executor.run_cell(i, 4)
            if r.status == "timeout":
                assert executor.recover()
            else:
                seen.append(r.stdout.strip())
        assert seen == [""] + [f"out{k}" for k in range(8)]
    finally:
        executor.close()


def test_a_hostile_submission_cannot_touch_classmates_its_surroundings_or_secrets(tmp_path, monkeypatch):
    root = tmp_path / "submissions"
    report = tmp_path / "report.json"
    bob, _ = _submission(root / "bob")
    hostile = "\n".join([
        "import os, json, pathlib",
        f"os.remove({str(bob)!r})                                 # a classmate's notebook, by absolute path",
        "pathlib.Path('../escaped.txt').write_text('x')           # beside its own folder, by relative path",
        "pathlib.Path('../../escaped.txt').write_text('x')",
        f"json.dump({{'env': dict(os.environ), 'cwd': os.getcwd()}}, open({str(report)!r}, 'w'))",
    ])
    alice, ids = _submission(root / "alice", {0: hostile})
    (root / "alice" / "data.csv").write_text("1,2\n")   # the student's own files travel with the notebook
    monkeypatch.setenv("GRADER_SECRET_TOKEN", "s3cr3t")
    rc = grade.main([str(alice), str(bob), "--exercises-only", "--timeout", "60", "--csv", str(tmp_path / "g.csv")])
    assert rc == 0
    rows = [r for r in (tmp_path / "g.csv").read_text().splitlines()[1:]]
    bob_rows = [r for r in rows if r.startswith(str(bob))]
    assert bob_rows and all(",correct," in r for r in bob_rows), "bob's grade changed: " + "\n".join(bob_rows)
    assert all(",correct," in r for r in rows if r.startswith(str(alice))), rows
    assert not bob.exists(), "(the hostile code did run)"
    assert sorted(p.name for p in root.rglob("*")) == ["03_divergences.ipynb", "alice", "bob", "data.csv"]
    assert not (tmp_path / "escaped.txt").exists()
    seen = json.loads(report.read_text())
    assert "GRADER_SECRET_TOKEN" not in seen["env"]
    assert set(seen["env"]) - set(grade.KEPT_ENVIRONMENT) <= {
        "GANCOURSE_QUICK", "PYTHONHASHSEED", "HOME", "TMPDIR", "MPLCONFIGDIR",
        # set by the kernel itself (ipykernel, matplotlib inline backend, jupyter_client)
        "JPY_PARENT_PID", "MPLBACKEND", "PYDEVD_USE_FRAME_EVAL", "JPY_SESSION_NAME", "CLICOLOR", "FORCE_COLOR",
        "PAGER", "GIT_PAGER", "TERM", "CLICOLOR_FORCE"}, sorted(seen["env"])
    assert seen["env"]["HOME"] != os.environ.get("HOME") and seen["cwd"] != str(root / "alice")
    assert not os.path.exists(seen["cwd"]), "the private copy is deleted afterwards"


def test_a_submission_that_edits_the_checks_stops_the_grader_naming_it(tmp_path, monkeypatch, capsys):
    package = tmp_path / "installed" / "gancourse"
    shutil.copytree(grade.PACKAGE_ROOT / "checks", package / "checks")
    monkeypatch.setattr(grade, "PACKAGE_ROOT", package)
    target = package / "checks" / f"nb{NAME[:2]}.py"
    carol, _ = _submission(tmp_path / "subs" / "carol",
                           {0: f"open({str(target)!r}, 'a').write('\\nFEEDBACK_ALWAYS_FULL = True\\n')"})
    dave, _ = _submission(tmp_path / "subs" / "dave")
    rc = grade.main([str(carol), str(dave), "--exercises-only", "--timeout", "60"])
    captured = capsys.readouterr()
    assert rc == 3
    assert f"STOPPED: {carol}: changed the course's code while it was graded (checks/nb{NAME[:2]}.py)" in captured.err
    assert "1 notebook(s) were not graded" in captured.err
    assert str(dave) not in captured.out, "the next student was graded with altered checks"
    with pytest.raises(grade.GraderIntegrityError, match="had changed before it started"):
        grade.grade_notebook(dave, exercises_only=True, expected_code={"checks/nb03.py": "0" * 64})


def _readme_sandbox_command():
    """The bubblewrap command of README's instructor section, as an argument list."""
    import re

    readme = (REPO / "README.md").read_text()
    block = next(b for b in re.findall(r"```bash\n(.*?)```", readme, re.S) if "bwrap" in b)
    line = next(l for l in block.replace("\\\n", " ").splitlines() if l.strip().startswith("bwrap"))
    return line


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed (.ci/run installs it)")
def test_the_readme_sandbox_command_blocks_writes_and_still_grades(tmp_path):
    """README's bwrap command, run as written (paths substituted): a submission that writes into the
    submissions folder and into the package fails at both, and the other exercises are graded."""
    import shlex
    import subprocess
    import sys

    work = REPO / "build" / "sandbox-test"          # outside /tmp: the sandbox's /tmp is private
    shutil.rmtree(work, ignore_errors=True)
    try:
        victim = work / "submissions" / "bob" / "notes.txt"
        victim.parent.mkdir(parents=True)
        victim.write_text("bob's")
        check = grade.PACKAGE_ROOT / "checks" / f"nb{NAME[:2]}.py"
        before = check.read_bytes()
        hostile = (f"open({str(victim)!r}, 'w').write('gone')\n"
                   f"open({str(check)!r}, 'a').write('# edited')")
        eve, ids = _submission(work / "submissions" / "eve", {0: hostile})
        line = _readme_sandbox_command().replace('"$PWD"', str(work)).replace("$PWD", str(work))
        argv = shlex.split(line)
        argv = [sys.executable if a == ".venv/bin/python" else a for a in argv]
        argv = [a for a in argv if "*" not in a] + ["--exercises-only"]
        argv.insert(argv.index("--csv"), str(eve.relative_to(work)))
        (work / "out").mkdir()
        done = subprocess.run(argv, cwd=work, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        assert victim.read_text() == "bob's" and check.read_bytes() == before
        rows = (work / "out" / "grades.csv").read_text().splitlines()[1:]
        first = next(r for r in rows if f",{ids[0]}," in r)
        assert ",error," in first and "Read-only file system" in first, first
        assert all(",correct," in r for r in rows if f",{ids[0]}," not in r), rows
    finally:
        shutil.rmtree(work, ignore_errors=True)
