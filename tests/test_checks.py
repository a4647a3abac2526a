"""Exercise checks: wrong answers get hints (never the solution), stubs stop with their hint."""

import numpy as np
import pytest
import torch

from gancourse import checks
from gancourse.checks import FEEDBACK, ExerciseIncomplete


def stub(*args, **kwargs):
    raise NotImplementedError("Exercise: replace this stub. HINT: think about it")


def test_every_check_is_registered_with_a_difficulty_and_points():
    assert checks.REGISTRY, "no exercises registered"
    for ex in checks.REGISTRY.values():
        assert ex.difficulty in checks.DIFFICULTIES and ex.points > 0
        assert hasattr(checks, ex.check.__name__), f"{ex.check.__name__} is not exported from gancourse.checks"


FUNCTION_CHECKS = sorted(k for k, e in checks.REGISTRY.items() if e.kind != "variant")


@pytest.mark.parametrize("ex_id", FUNCTION_CHECKS)
def test_every_check_stops_with_the_hint_on_a_stub(ex_id):
    ex = checks.REGISTRY[ex_id]
    import inspect
    n_args = len([p for p in inspect.signature(ex.check.__wrapped__).parameters.values()][1:])
    with pytest.raises(ExerciseIncomplete, match=f"Exercise {ex_id}.*not done yet.*HINT: think about it"):
        ex.check(*([stub] * n_args))


@pytest.mark.parametrize("ex_id", FUNCTION_CHECKS)
def test_every_check_gives_zero_to_an_answer_that_crashes(ex_id, capsys):
    ex = checks.REGISTRY[ex_id]
    import inspect
    n_args = len(list(inspect.signature(ex.check.__wrapped__).parameters.values())[1:])

    def crash(*a, **k):
        raise ZeroDivisionError("oops")
    result = ex.check(*([crash] * n_args))
    out = capsys.readouterr().out
    assert float(result) < ex.points
    m = FEEDBACK.match(out.strip())
    assert m and m["verdict"] == "not yet" and m["id"] == ex_id
    assert "ZeroDivisionError" in out


def test_wrong_answers_get_specific_hints(capsys):
    r = checks.ex03_kl(lambda p, q: float(np.sum(np.asarray(p) * np.log(np.asarray(p) / np.asarray(q)))))
    out = capsys.readouterr().out
    assert 0 < float(r) < 3 and "0 log 0" in out
    r = checks.ex00_to_uint8(lambda x: ((x + 1) * 127.5).to(torch.uint8))  # wraps around, no rounding
    assert float(r) < 2
    log_sigmoid = lambda l: -torch.log(torch.sigmoid(l)).mean()   # noqa: E731
    r = checks.ex01_gan_losses(lambda a, b: log_sigmoid(a) + log_sigmoid(-b), lambda l: -log_sigmoid(-l), log_sigmoid)
    out = capsys.readouterr().out
    assert "never forms the sigmoid" in out and float(r) < 4
    r = checks.ex03_tv(lambda p, q: np.abs(np.asarray(p) - np.asarray(q)).sum())
    assert float(r) == 0


def test_correct_answers_get_full_points(capsys):
    r = checks.ex03_tv(lambda p, q: 0.5 * np.abs(np.asarray(p) - np.asarray(q)).sum())
    assert r.passed and float(r) == 2
    assert FEEDBACK.match(capsys.readouterr().out.strip())["verdict"] == "correct"


def test_feedback_never_contains_solution_code(capsys):
    checks.ex03_kl(lambda p, q: 0.0)
    checks.ex01_gradients(lambda l: l, lambda l: l)
    out = capsys.readouterr().out
    for solution_line in ["np.log(p[mask] / q[mask])", "-torch.sigmoid(l)", "F.softplus(-fake_logits)"]:
        assert solution_line not in out


def test_an_exercise_not_done_shows_its_message_alone_in_a_notebook():
    """IPython shows ``_render_traceback_``'s lines instead of the frames of the check machinery."""
    from gancourse.checks._core import ExerciseIncomplete

    exc = ExerciseIncomplete("Exercise 03.2 (KL) is not done yet. Hint: " + "keep only the indices where p > 0; " * 6)
    lines = exc._render_traceback_()
    assert lines[0].startswith("ExerciseIncomplete: Exercise 03.2 (KL) is not done yet.")
    assert all(len(line) <= 100 for line in lines) and len(lines) >= 2
    assert " ".join(lines).count("keep only the indices") == 6


def test_strict_mode_raises_on_no_points_and_shows_partial_points(monkeypatch, capsys):
    """Under nbgrader a graded cell that does not raise earns full marks, and a number as the
    cell's result is read as partial credit: strict mode gives it both."""
    from IPython.core.formatters import PlainTextFormatter

    def tv(p, q):
        return 0.5 * float(np.abs(np.asarray(p) - np.asarray(q)).sum())

    relaxed = checks.ex03_tv(tv)
    assert relaxed.passed and hasattr(relaxed, "_ipython_display_")  # the line is printed, no result shown
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert checks.strict_mode()
    full = checks.ex03_tv(tv)
    assert full.passed and not hasattr(full, "_ipython_display_")
    assert PlainTextFormatter()(full) == f"{full.max_points:g}"
    with pytest.raises(checks.ExerciseFailed, match=r"Exercise 03\.1 .*not yet, 0/"):
        checks.ex03_tv(lambda p, q: "not a number")
    monkeypatch.delenv("NBGRADER_EXECUTION")
    monkeypatch.setenv("GANCOURSE_STRICT_CHECKS", "1")
    assert checks.strict_mode()
    monkeypatch.setenv("GANCOURSE_STRICT_CHECKS", "0")
    assert not checks.strict_mode() and checks.ex03_tv(lambda p, q: "not a number") == 0
    assert "not yet, 0/" in capsys.readouterr().out
