"""The website and slides builder, without a browser (tests/test_browser.py opens what it builds)."""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from gancourse import website
from gancourse.website.__main__ import main

REPO = Path(__file__).resolve().parent.parent
NB03 = REPO / "notebooks" / "03_divergences.ipynb"


def test_math_survives_markdown_tables_and_emphasis():
    html = website.markdown_html("| name | value |\n|---|---|\n| KL | $KL(P\\|Q) = a_1 * b_2$ |\n\n$x_1 * y_1$")
    assert "<table>" in html and "$KL(P\\|Q) = a_1 * b_2$" in html
    assert "<em>" not in html and "$x_1 * y_1$" in html
    assert website.markdown_html("a $x < y$ b") == "<p>a $x &lt; y$ b</p>\n"


def test_the_site_shows_exercises_as_students_get_them_and_keeps_every_other_figure(tmp_path):
    nb = nbformat.read(NB03, as_version=4)
    shown = website.reader_version(nb, NB03.name)
    text = "\n".join(c.source for c in shown.cells)
    assert "### BEGIN SOLUTION" not in text and "### BEGIN HIDDEN TESTS" not in text
    assert text.count("raise NotImplementedError(") == 4
    figures = lambda book: sum("image/png" in o.get("data", {}) for c in book.cells for o in c.get("outputs", []))
    assert figures(shown) == figures(nb) > 0  # the exercises' own cells have no figures to lose
    pages = website.build_site(tmp_path, [REPO / "notebooks" / "00_getting_started.ipynb", NB03])
    assert [p.name for p in pages] == ["index.html", "setup.html", "instructors.html", "00_getting_started.html",
                                       "03_divergences.html"]
    page = (tmp_path / "03_divergences.html").read_text()
    assert 'rel="prev" href="00_getting_started.html"' in page and 'rel="next"' not in page
    assert not re.findall(r'(?:src|href)="(?:https?:)?//', page), "a page links outside the site"
    assert (tmp_path / "mathjax" / "MathJax.js").is_file() and (tmp_path / "assets" / "course.css").is_file()
    assert "Quick start" in (tmp_path / "setup.html").read_text()
    assert "With nbgrader" in (tmp_path / "instructors.html").read_text()


def test_slides_follow_the_slide_metadata(tmp_path):
    nb = nbformat.read(NB03, as_version=4)
    deck = website.slides_html(website.reader_version(nb, NB03.name), "03")
    slides = sum(website.slide_type(c) == "slide" for c in nb.cells)
    assert deck.count("<section><section>") == slides
    assert "Exercise 03.1" not in deck and "my_tv" not in deck  # exercises are skipped
    assert not re.findall(r'(?:src|href)="(?:https?:)?//', deck)
    written = website.build_slides(tmp_path, [NB03])
    assert (tmp_path / "reveal.js" / "dist" / "reveal.js").is_file() and len(written) == 2


def test_the_lecture_cut_skips_exercises_and_gives_figures_their_own_slide():
    nb = nbformat.read(NB03, as_version=4)
    kinds = website.choose_slide_types(nb)
    assert kinds[0] == "slide"
    for cell, kind in zip(nb.cells, kinds):
        if "exercise" in cell.metadata.get("tags", []) or "check" in cell.metadata.get("tags", []):
            assert kind == "skip"
        elif cell.cell_type == "code" and any("image/png" in o.get("data", {}) for o in cell.outputs):
            assert kind == "subslide"


def test_command_line_refuses_missing_notebooks(capsys):
    with pytest.raises(SystemExit):
        main(["site", "no_such.ipynb"])
    assert "expected existing .ipynb files" in capsys.readouterr().err
