"""Every number a notebook states in its conclusions is a number it printed, or is listed as given
(a paper's table, a setting, a constant): see ``claims.py`` for the rules."""
import copy

import nbformat
import pytest

import claims
from exercise_runner import NAMES, instructor


@pytest.mark.parametrize("name", NAMES)
def test_claimed_numbers_match_the_stored_outputs(name):
    problems = claims.check_notebook(instructor(name))
    assert not problems, f"{name}: numbers in its conclusions that no output above prints:\n" + \
        "\n".join(str(p) for p in problems)


def _tiny_notebook():
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# A notebook\nWe train for 1,000 steps."),
        nbformat.v4.new_code_cell("print(...)"),
        nbformat.v4.new_markdown_cell("Compare with Table 1 of the paper: 17.3 modes."),
        nbformat.v4.new_markdown_cell("## What to remember\n- The run keeps 92.3% of its samples, about 70 of them "
                                      "sharp, in 24/25 modes (notebook 04, Section 5, Lin et al. 2018)."),
    ]
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", name="stdout",
                                                  text="this run: 24/25 modes, 0.9231 high quality, 71.2 sharp\n")]
    nb.cells[2].metadata["gancourse"] = {"given": ["17.3"]}
    return nb


def test_the_claims_check_passes_a_faithful_notebook_and_fails_a_wrong_number():
    nb = _tiny_notebook()
    assert claims.claim_cells(nb) == [2, 3]
    assert claims.check_notebook(nb) == []
    wrong = copy.deepcopy(nb)          # a number in "What to remember" changed by hand
    wrong.cells[3].source = wrong.cells[3].source.replace("92.3%", "93.2%")
    problems = claims.check_notebook(wrong)
    assert [(p.cell, p.number) for p in problems] == [(3, "93.2")]
    ungiven = copy.deepcopy(nb)        # a paper's number not declared as given
    ungiven.cells[2].metadata = {}
    assert [(p.cell, p.number) for p in claims.check_notebook(ungiven)] == [(2, "17.3")]
    late = copy.deepcopy(nb)           # a number printed only *after* the claim does not count
    late.cells.insert(3, late.cells.pop(1))
    assert "92.3" in [p.number for p in claims.check_notebook(late)]
    far = copy.deepcopy(nb)            # "about" allows 5%, not more
    far.cells[3].source = far.cells[3].source.replace("about 70", "about 60")
    assert [p.number for p in claims.check_notebook(far)] == ["60"]
