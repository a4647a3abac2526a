"""The course in a real browser (headless Chromium, driven by Playwright): the website, the slides,
and two notebooks opened and run in JupyterLab.

* Website (``python -m gancourse.website site``): pages are not blank, their figures load, their
  math is rendered (no raw ``$...$`` left), the navigation links lead to the next notebook, and
  nothing is requested from outside the site. The same checks fail on a site whose math renderer
  was removed.
* Slides (``... slides``): reveal.js starts from local files, the deck has its slides, the math
  of the first content slide is rendered.
* JupyterLab: opening a notebook does not mark it modified, its kernel is the environment's
  "Python 3 (ipykernel)", running it leaves no error output, and its progress bars and slider are
  live widgets.

Screenshots of a notebook page, a slide and JupyterLab go to ``build/screenshots/`` for a person to
look at. Chromium comes from Debian's ``chromium`` package (``.ci/run`` installs it); without it
these tests are skipped with that reason.
"""
from __future__ import annotations

import functools
import http.server
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from gancourse import website

REPO = Path(__file__).resolve().parent.parent
SHOTS = REPO / "build" / "screenshots"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Flags for a closed network: without the background-networking ones Chromium keeps trying Google.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SITE_NOTEBOOKS = [REPO / "notebooks" / f"{n}.ipynb" for n in ("00_getting_started", "01_minimax_game",
                                                               "03_divergences")]
RAW_MATH = re.compile(r"\$[^$\n]{1,200}\$")

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")


@pytest.fixture(scope="module")
def browser():
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve(folder: Path):
    """A static file server on localhost for ``folder``; returns (origin, server)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}", server


def open_page(browser, url: str, origin: str, wait_ms: int = 0):
    """A new page at ``url``; returns (page, outside) where ``outside`` lists every request that left
    ``origin`` (data: URIs and MathJax's about:blank font probe stay in the page)."""
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith((origin, "data:", "about:blank"))
            else None)
    page.goto(url)
    page.wait_for_load_state("networkidle")
    if wait_ms:
        page.wait_for_timeout(wait_ms)
    return page, outside


def page_problems(page, outside: list[str]) -> list[str]:
    """What is wrong with a loaded page of the site: blank, figures not loaded, raw math, outside requests."""
    page.wait_for_function("() => !window.MathJax || !MathJax.Hub || MathJax.Hub.queue.pending === 0",
                           timeout=20000)
    problems = []
    text = page.evaluate("document.body.innerText")
    if len(text.strip()) < 300:
        problems.append(f"blank page ({len(text.strip())} characters)")
    broken = page.evaluate("[...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).length")
    if broken:
        problems.append(f"{broken} figures not loaded")
    prose = page.evaluate("""[...document.querySelectorAll('.markdown')].map(e => {
        const copy = e.cloneNode(true);  // prose only: code may hold dollars, MathJax keeps its source in scripts
        copy.querySelectorAll('pre, code, script').forEach(x => x.remove());
        return copy.textContent; }).join('\\n')""")
    raw = RAW_MATH.findall(prose)
    if raw:
        problems.append(f"math not rendered: {raw[:3]}")
    if outside:
        problems.append(f"requests outside the site: {outside[:3]}")
    return problems


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    website.build_site(out, SITE_NOTEBOOKS)
    origin, server = serve(out)
    yield out, origin
    server.shutdown()


def test_site_pages_render_offline_and_link_to_each_other(browser, site):
    out, origin = site
    home, outside = open_page(browser, f"{origin}/index.html", origin)
    assert page_problems(home, outside) == []
    assert home.locator("table.route a").count() >= 2 * len(SITE_NOTEBOOKS)

    page, outside = open_page(browser, f"{origin}/03_divergences.html", origin)
    assert page_problems(page, outside) == []
    assert page.locator("img").count() >= 5, "the notebook's figures are missing"
    assert page.evaluate("document.querySelectorAll('.MathJax, .MathJax_Display').length") >= 10
    text = page.evaluate("document.body.innerText")
    assert "np.abs(np.asarray(p, float) - np.asarray(q, float))" not in text  # 03.1's solution line
    assert "Exercise 03.1: TV is half of a well-known norm" in " ".join(text.split())  # its stub, instead
    assert page.locator(".exercise-cell").count() >= 4  # the exercises, as students get them
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("h2", has_text="Wasserstein-1 as a linear program").scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "site_03_divergences.png"))

    first, _ = open_page(browser, f"{origin}/00_getting_started.html", origin)
    first.locator("a[rel=next]").first.click()
    first.wait_for_load_state("networkidle")
    assert first.url.endswith("/01_minimax_game.html") and first.title().startswith("01")
    for link in ("setup.html", "instructors.html"):
        info, outside = open_page(browser, f"{origin}/{link}", origin)
        assert page_problems(info, outside) == [], link
    for page_ in (home, page, first, info):
        page_.close()


def test_the_checks_fail_when_the_math_renderer_is_missing(browser, site, tmp_path):
    out, _ = site
    broken = tmp_path / "broken"
    shutil.copytree(out, broken)
    (broken / "mathjax" / "MathJax.js").unlink()
    origin, server = serve(broken)
    try:
        page, outside = open_page(browser, f"{origin}/03_divergences.html", origin, wait_ms=500)
        problems = page_problems(page, outside)
        assert any(p.startswith("math not rendered") for p in problems), problems
        page.close()
    finally:
        server.shutdown()


def test_slides_run_from_local_files(browser, tmp_path):
    website.build_slides(tmp_path, [REPO / "notebooks" / "03_divergences.ipynb"])
    origin, server = serve(tmp_path)
    try:
        page, outside = open_page(browser, f"{origin}/03_divergences.slides.html#/1", origin, wait_ms=500)
        assert page.evaluate("Reveal.isReady()") and page.evaluate("Reveal.getTotalSlides()") >= 10
        page.wait_for_function("() => MathJax.Hub.queue.pending === 0", timeout=20000)
        current = page.evaluate("Reveal.getCurrentSlide().innerText")
        assert len(current) > 100 and not RAW_MATH.search(current), current[:300]
        assert page.evaluate("Reveal.getCurrentSlide().querySelectorAll('.MathJax').length") > 0
        assert outside == []
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "slide_03_divergences.png"))
        page.close()
    finally:
        server.shutdown()


# ---------------------------------------------------------------------------------------------
# JupyterLab
# ---------------------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def jupyterlab(tmp_path_factory):
    """JupyterLab from this environment on copies of notebooks 01 and 03, kernels in quick mode."""
    folder = tmp_path_factory.mktemp("lab")
    for name in ("01_minimax_game", "03_divergences"):
        shutil.copyfile(REPO / "notebooks" / f"{name}.ipynb", folder / f"{name}.ipynb")
    port = _free_port()
    home = folder / "home"
    env = {**os.environ, "GANCOURSE_QUICK": "1", "JUPYTER_CONFIG_DIR": str(home / "config"),
           "JUPYTER_RUNTIME_DIR": str(home / "runtime")}
    env.pop("JUPYTER_PLATFORM_DIRS", None)
    # Render every cell (JupyterLab 4 renders only those near the viewport), so that the DOM holds them all.
    settings = home / "config" / "lab" / "user-settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    (settings / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
           "--IdentityProvider.token=", "--ServerApp.password=", "--ServerApp.disable_check_xsrf=True",
           f"--ServerApp.root_dir={folder}", "--LabApp.workspaces_dir=" + str(home / "workspaces")]
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    server = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    origin = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            urllib.request.urlopen(f"{origin}/api/status", timeout=1)
            break
        except OSError:
            time.sleep(0.5)
    else:
        server.kill()
        pytest.fail("JupyterLab did not start within 60 s")
    yield origin, folder
    server.terminate()
    server.wait(timeout=30)


def _lab_notebook(browser, origin: str, name: str):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith((origin, "data:", "about:", "blob:",
                                                                                  "ws://127.0.0.1")) else None)
    page.goto(f"{origin}/lab/tree/{name}.ipynb?reset")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60000)
    page.wait_for_function("() => { const s = document.querySelector('.jp-Notebook-ExecutionIndicator');"
                           " return s && s.getAttribute('data-status') === 'idle'; }", timeout=60000)
    return page, outside


def _run_all_and_wait(page, timeout_s: float = 300) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        prompts = page.evaluate("[...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]"
                                ".map(e => e.innerText.trim())")
        if prompts and all(re.fullmatch(r"\[\d+\]:", p) for p in prompts):
            return
        page.wait_for_timeout(1000)
    pytest.fail(f"the notebook did not finish within {timeout_s:.0f} s")


@pytest.mark.parametrize("name, widget", [("01_minimax_game", ".widget-hprogress, .widget-progress"),
                                          ("03_divergences", ".widget-slider, .widget-hslider")])
def test_a_notebook_opens_unmodified_runs_cleanly_with_live_widgets(browser, jupyterlab, name, widget):
    origin, folder = jupyterlab
    page, outside = _lab_notebook(browser, origin, name)
    page.wait_for_timeout(1500)  # let JupyterLab settle any metadata it would rewrite
    assert page.locator(".lm-TabBar-tab.jp-mod-dirty").count() == 0, "opening the notebook marked it modified"
    assert page.locator(".jp-NotebookPanel-toolbar .jp-ToolbarButtonComponent-label").filter(
        has_text="Python 3 (ipykernel)").count() >= 1, "the notebook does not run on the environment's Python 3 kernel"
    sessions = json.loads(urllib.request.urlopen(f"{origin}/api/sessions").read())
    assert [s["kernel"]["name"] for s in sessions if s["path"].endswith(f"{name}.ipynb")] == ["python3"]
    if name.startswith("01"):
        # Before running, the stored progress bars read as their last line, not "0%".
        stored = "\n".join(page.evaluate("[...document.querySelectorAll('.jp-OutputArea-output')].map(e => e.innerText)"))
        assert "100%|" in stored and not re.search(r"(?<!\d)0%\|", stored), "stored bars read 0%"

    _run_all_and_wait(page)
    errors = page.evaluate("[...document.querySelectorAll('.jp-OutputArea-output')].map(e => e.innerText)"
                           ".filter(t => /Traceback|\\w+Error:/.test(t))")
    assert errors == [], errors[:2]
    assert page.locator(widget).count() >= 1, f"no live {widget} after running"
    assert page.get_by_text("Error displaying widget").count() == 0
    assert outside == [], outside[:3]
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.locator(widget).first.scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / f"jupyterlab_{name}.png"))
    page.close()
