"""The course as a website and as slides, built offline: ``python -m gancourse.website (site | slides)``.

``make site`` writes ``build/site/``: a home page (the route: what each notebook teaches), one page
per notebook with its stored figures and its math, the exercises as students get them (solutions
replaced by the stub, hidden tests removed, the exercise and check cells without outputs), links
from each page to the previous and next notebook, and README's set-up and instructor sections.
``make slides`` writes ``build/slides/``: one reveal.js deck per notebook, cut by the cells'
``slideshow`` metadata (the same that JupyterLab's slideshow extension reads), with an index.

Nothing is fetched: reveal.js is vendored in ``assets/`` (see ``assets/README.md``), MathJax 2.7
is copied from the installed ``jupyter-server-mathjax`` package, figures are embedded as data URIs,
and code is highlighted at build time (Pygments). A page therefore requests only files of its own
folder; the browser test (``tests/test_browser.py``) checks it.

The cells are rendered here rather than with nbconvert's HTML templates, which load require.js,
jQuery, mermaid and reveal.js from CDNs.
"""
from __future__ import annotations

import copy
import html
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbconvert.filters.markdown_mistune import markdown2html_mistune
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer

from ..assign import EXERCISE_HEADING
from ..assign import find_exercises, find_leaks, strip_source, tags_of

ASSETS = Path(__file__).resolve().parent / "assets"
REPO = Path(__file__).resolve().parents[2]
SLIDE_TYPES = ("slide", "subslide", "fragment", "skip", "notes", "-")
LONG_CODE_LINES = 12  # on a slide, longer code goes to the speaker notes and only its outputs show

MATHJAX_CONFIG = r"""<script type="text/x-mathjax-config">
MathJax.Hub.Config({
  tex2jax: {inlineMath: [["$", "$"], ["\\(", "\\)"]], displayMath: [["$$", "$$"], ["\\[", "\\]"]],
            processEscapes: true},
  "HTML-CSS": {availableFonts: [], preferredFont: null, webFont: "STIX-Web", imageFont: null},
  "fast-preview": {disabled: true}, AssistiveMML: {disabled: true}, menuSettings: {assistiveMML: false},
  messageStyle: "none", showMathMenu: false
});
</script>
<script src="mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe"></script>"""


@dataclass
class Page:
    """One notebook of the site: where it comes from, its file name and the title it shows."""

    source: Path
    file: str      # "03_divergences.html"
    title: str     # "03 · Divergences between distributions"
    summary: str   # the first paragraph of its first cell: what it teaches


# ---------------------------------------------------------------------------------------------
# Notebooks as readers see them
# ---------------------------------------------------------------------------------------------

def reader_version(nb, name: str = "notebook"):
    """The notebook as the website shows it: the student's exercises (solutions replaced by the
    stub, hidden tests removed, exercise and check cells without outputs), every other output kept.
    Raises ValueError (naming the lines) if a solution line would still be shown."""
    exercises = find_exercises(nb, name, strict=True)
    owner = {i: g.id for g in exercises for i in g.exercise_cells}
    check_cells = {g.check_cell for g in exercises}
    shown = copy.deepcopy(nb)
    for index, cell in enumerate(shown.cells):
        cell.source = strip_source(cell.source, owner.get(index), f"{name}, cell {index}",
                                   markdown=cell.cell_type == "markdown")
        if cell.cell_type == "code" and (index in owner or index in check_cells):
            cell.outputs = []
            cell.metadata["gancourse_exercise"] = "check" if index in check_cells else "answer"
    leaks = find_leaks(shown, nb)
    if leaks:
        raise ValueError(f"{name}: the website would show solution text: {leaks[:3]}")
    return shown


def _title_and_summary(nb) -> tuple[str, str]:
    first = nb.cells[0].source if nb.cells else ""
    title = next((line[2:].strip() for line in first.splitlines() if line.startswith("# ")), "notebook")
    paragraphs = [p.strip() for p in first.split("\n\n") if p.strip() and not p.startswith("#")]
    return title, " ".join(paragraphs[0].split()) if paragraphs else ""


# ---------------------------------------------------------------------------------------------
# Cells to HTML
# ---------------------------------------------------------------------------------------------

_FORMATTER = HtmlFormatter(nowrap=True)
_MATH = re.compile(r"\$\$.+?\$\$|\$[^$\n]+?\$", re.DOTALL)


def markdown_html(text: str) -> str:
    """Markdown to HTML with the math left intact for MathJax.

    The math spans are set aside before the Markdown is parsed and put back after: a ``\\|``
    (TeX's ‖) inside a table cell's math would otherwise end the cell, and ``_`` or ``*`` inside
    math would become emphasis.
    """
    spans = []

    def keep(match):
        spans.append(match.group(0))
        return f"GCMATH{len(spans) - 1}X"

    rendered = markdown2html_mistune(_MATH.sub(keep, text))
    return re.sub(r"GCMATH(\d+)X", lambda m: html.escape(spans[int(m.group(1))], quote=False), rendered)


def _code_html(source: str) -> str:
    return f'<pre class="source highlight"><code>{highlight(source, PythonLexer(), _FORMATTER)}</code></pre>'


def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def outputs_html(cell) -> str:
    """A code cell's stored outputs: images as data URIs, text as preformatted blocks."""
    parts = []
    for out in cell.get("outputs", []):
        kind = out.get("output_type")
        if kind == "stream":
            parts.append(f"<pre>{html.escape(_text(out.get('text', '')))}</pre>")
        elif kind in ("display_data", "execute_result"):
            data = out.get("data", {})
            if "image/png" in data:
                parts.append(f'<img alt="figure" src="data:image/png;base64,{_text(data["image/png"]).strip()}">')
            elif "image/svg+xml" in data:
                parts.append(_text(data["image/svg+xml"]))
            elif "text/html" in data:
                parts.append(_text(data["text/html"]))
            elif "text/markdown" in data:
                parts.append(markdown_html(_text(data["text/markdown"])))
            elif "text/plain" in data:
                parts.append(f"<pre>{html.escape(_text(data['text/plain']))}</pre>")
        elif kind == "error":  # stored notebooks have none (a hygiene test); shown plainly if one slips in
            parts.append(f"<pre>{html.escape(out.get('ename', '') + ': ' + out.get('evalue', ''))}</pre>")
    return f'<div class="output">{"".join(parts)}</div>' if parts else ""


def cell_html(cell) -> str:
    """One cell for the website: Markdown rendered (math left for MathJax), code highlighted."""
    if cell.cell_type == "markdown":
        return f'<div class="cell markdown">{markdown_html(cell.source)}</div>'
    if cell.cell_type != "code":
        return ""
    exercise = cell.metadata.get("gancourse_exercise")
    note = {"answer": "Exercise cell: yours to write, in the notebook.",
            "check": "Check cell: run it in the notebook to check your answer."}.get(exercise, "")
    note = f'<p class="exercise-note">{note}</p>' if note else ""
    css = "cell code exercise-cell" if exercise else "cell code"
    return f'<div class="{css}">{note}{_code_html(cell.source)}{outputs_html(cell)}</div>'


def _page(title: str, body: str, nav: str, head_extra: str = "") -> str:
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<link rel="stylesheet" href="assets/course.css">
<style>{_FORMATTER.get_style_defs('.highlight')}</style>
{head_extra}
</head><body class="site">
{nav}
<main>
{body}
</main>
{nav}
</body></html>
"""


def _nav(pages: list[Page], index: int | None) -> str:
    links = ['<a href="index.html">gancourse: home</a>', '<a href="setup.html">Set-up</a>',
             '<a href="instructors.html">For instructors</a>', '<span class="spacer"></span>']
    if index is not None:
        if index > 0:
            links.append(f'<a rel="prev" href="{pages[index - 1].file}">&larr; {html.escape(pages[index - 1].title)}</a>')
        if index + 1 < len(pages):
            links.append(f'<a rel="next" href="{pages[index + 1].file}">{html.escape(pages[index + 1].title)} &rarr;</a>')
    return f'<nav class="course">{"".join(links)}</nav>'


def readme_section(heading: str, readme: Path = REPO / "README.md") -> str:
    """The Markdown of README's section ``heading`` (a line ``## heading`` or ``### heading``),
    up to the next heading of the same or a higher level."""
    lines = readme.read_text(encoding="utf-8").splitlines()
    start = next((i for i, line in enumerate(lines) if re.fullmatch(rf"(#+) {re.escape(heading)}", line)), None)
    if start is None:
        raise ValueError(f"heading: README has no section {heading!r}")
    level = len(lines[start].split(" ")[0])
    end = next((i for i in range(start + 1, len(lines))
                if re.match(r"#+ ", lines[i]) and len(lines[i].split(" ")[0]) <= level
                and not _inside_fence(lines, i)), len(lines))
    return "\n".join(lines[start:end])


def _inside_fence(lines: list[str], i: int) -> bool:
    return sum(line.startswith("```") for line in lines[:i]) % 2 == 1


def _copy_assets(out: Path, reveal: bool) -> None:
    import jupyter_server_mathjax  # installed with the course (pyproject); only the build needs it

    (out / "assets").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(ASSETS / "course.css", out / "assets" / "course.css")
    mathjax = Path(jupyter_server_mathjax.__file__).parent / "static"
    if not (out / "mathjax").is_dir():
        shutil.copytree(mathjax, out / "mathjax", ignore=shutil.ignore_patterns("localization"))
    if reveal and not (out / "reveal.js").is_dir():
        shutil.copytree(ASSETS / "reveal.js", out / "reveal.js")


def notebook_pages(notebooks: list[Path]) -> list[Page]:
    pages = []
    for path in sorted(notebooks):
        title, summary = _title_and_summary(nbformat.read(path, as_version=4))
        pages.append(Page(path, path.stem + ".html", title, summary))
    return pages


def build_site(out: Path, notebooks: list[Path]) -> list[Path]:
    """Write the website into ``out``; returns the pages written (home page first)."""
    out = Path(out)
    _copy_assets(out, reveal=False)
    pages = notebook_pages(notebooks)
    written = []
    rows = "".join(f'<tr><td class="number"><a href="{p.file}">{html.escape(p.title.split(" · ")[0])}</a></td>'
                   f'<td><a href="{p.file}">{html.escape(p.title.split(" · ", 1)[-1])}</a><br>'
                   f'{markdown_html(p.summary).removeprefix("<p>").removesuffix("</p>").strip()}</td></tr>'
                   for p in pages)
    home = (markdown_html(readme_section("gancourse: Generative Adversarial Networks, from the minimax "
                                                 "game to Defect-GAN").split("\n## ")[0])
            + f'<h2>The route</h2><table class="route"><tr><th>notebook</th><th>what it teaches</th></tr>{rows}</table>'
            + '<p>Each notebook page shows the stored outputs of a full run; the exercises appear as students get '
              'them. <a href="setup.html">Set-up</a> says how to run them yourself.</p>')
    written.append(_write(out / "index.html", _page("gancourse", f'<div class="markdown">{home}</div>',
                                                     _nav(pages, None), MATHJAX_CONFIG)))
    for file, heading in (("setup.html", "Quick start"), ("instructors.html", "For instructors")):
        body = markdown_html(readme_section(heading))
        written.append(_write(out / file, _page(f"gancourse: {heading}", f'<div class="markdown">{body}</div>',
                                                _nav(pages, None), MATHJAX_CONFIG)))
    for k, page in enumerate(pages):
        nb = reader_version(nbformat.read(page.source, as_version=4), page.source.name)
        body = "\n".join(cell_html(cell) for cell in nb.cells)
        written.append(_write(out / page.file, _page(page.title, body, _nav(pages, k), MATHJAX_CONFIG)))
    return written


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------------
# Slides
# ---------------------------------------------------------------------------------------------

def slide_type(cell) -> str:
    return cell.get("metadata", {}).get("slideshow", {}).get("slide_type", "-")


def choose_slide_types(nb) -> list[str]:
    """A lecture's cut of a notebook, one slide type per cell (what ``--slide-metadata`` writes).

    Headings start slides (``#``/``##``) or vertical sub-slides (``###``); a code cell with a figure gets a sub-slide of its own; the set-up and parameters cells,
    each exercise (its heading, cells and check) is skipped (exercises are for the notebook, not the
    projector; the "Exercises" slide says they are there); long code without a figure goes to the speaker notes; other cells follow on the
    current slide. A lecturer may change any of them in JupyterLab; the metadata are the notebook's.
    """
    exercises = find_exercises(nb, strict=False)
    answer_cells = {i for g in exercises for i in g.exercise_cells} | {g.check_cell for g in exercises}
    types = []
    for index, cell in enumerate(nb.cells):
        source = cell.source.lstrip()
        if cell.cell_type == "markdown":
            if EXERCISE_HEADING.search(cell.source) or index in answer_cells:
                kind = "skip"
            elif index == 0 or source.startswith(("# ", "## ")):
                kind = "slide"
            elif source.startswith(("### ", "#### ")):
                kind = "subslide"
            else:
                kind = "-"
        elif index in answer_cells or tags_of(cell) & {"parameters", "setup"}:
            kind = "skip"
        elif any("image/png" in out.get("data", {}) for out in cell.get("outputs", [])):
            kind = "subslide"
        elif len(cell.source.splitlines()) > LONG_CODE_LINES and not cell.get("outputs"):
            kind = "notes"
        else:
            kind = "-"
        types.append(kind)
    return types


def write_slide_metadata(nb) -> int:
    """Write :func:`choose_slide_types` into the cells' ``slideshow`` metadata; returns cells changed."""
    changed = 0
    for cell, kind in zip(nb.cells, choose_slide_types(nb)):
        if slide_type(cell) != kind or "slideshow" not in cell.metadata:
            cell.metadata["slideshow"] = {"slide_type": kind}
            changed += 1
    return changed


def _slide_cell_html(cell) -> str:
    if cell.cell_type == "markdown":
        return f'<div class="markdown">{markdown_html(cell.source)}</div>'
    if len(cell.source.splitlines()) > LONG_CODE_LINES:  # the figure on the slide, the code in the notes
        return outputs_html(cell) + f'<aside class="notes"><pre>{html.escape(cell.source)}</pre></aside>'
    return _code_html(cell.source) + outputs_html(cell)


def slides_html(nb, title: str) -> str:
    """One reveal.js deck: horizontal slides, each a column of vertical sub-slides."""
    columns: list[list[list[str]]] = []
    for cell in nb.cells:
        kind = slide_type(cell)
        if kind == "skip":
            continue
        if kind == "notes":
            inner = (markdown_html(cell.source) if cell.cell_type == "markdown"
                     else f"<pre>{html.escape(cell.source)}</pre>")
            part = f'<aside class="notes">{inner}</aside>'
        else:
            part = _slide_cell_html(cell)
            if kind == "fragment":
                part = f'<div class="fragment">{part}</div>'
        if kind == "slide" or not columns:
            columns.append([[]])
        elif kind == "subslide":
            columns[-1].append([])
        columns[-1][-1].append(part)
    sections = "\n".join("<section>" + "".join(f"<section>{''.join(s)}</section>" for s in column) + "</section>"
                         for column in columns)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{html.escape(title)} (slides)</title>
<link rel="stylesheet" href="reveal.js/dist/reveal.css">
<link rel="stylesheet" href="reveal.js/dist/theme/white.css">
<link rel="stylesheet" href="assets/course.css">
<style>{_FORMATTER.get_style_defs('.highlight')}</style>
{MATHJAX_CONFIG}
</head><body>
<div class="reveal"><div class="slides">
{sections}
</div></div>
<script src="reveal.js/dist/reveal.js"></script>
<script src="reveal.js/plugin/notes/notes.js"></script>
<script>
Reveal.initialize({{hash: true, width: 1280, height: 800, margin: 0.04, center: false, plugins: [RevealNotes]}});
</script>
</body></html>
"""


def build_slides(out: Path, notebooks: list[Path]) -> list[Path]:
    """Write one deck per notebook and an index into ``out``; returns the files written (index first)."""
    out = Path(out)
    _copy_assets(out, reveal=True)
    pages = notebook_pages(notebooks)
    items = "".join(f'<li><a href="{p.source.stem}.slides.html">{html.escape(p.title)}</a></li>' for p in pages)
    written = [_write(out / "index.html", _page("gancourse: slides", f"<h1>Slides</h1><ul>{items}</ul>", ""))]
    for page in pages:
        nb = reader_version(nbformat.read(page.source, as_version=4), page.source.name)
        written.append(_write(out / f"{page.source.stem}.slides.html", slides_html(nb, page.title)))
    return written
