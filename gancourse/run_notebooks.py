"""Execute notebooks headless: ``python -m gancourse.run_notebooks [--quick] (--out DIR | --inplace) NB...``.

``make course`` uses it to run every notebook in full mode into ``build/course/`` (the sources
are left untouched), printing one progress line per notebook. With ``--inplace`` it refreshes the
stored outputs of the sources, scrubbing machine paths from them.

Widgets (tqdm's progress bars, ``ipywidgets.interact`` sliders) are stored frozen: a reader who
opens a notebook before running it sees each bar's last line and each slider's figure, not the
widget's ``repr``; the live widgets come back when the cell runs (``freeze_widgets``).
"""
from __future__ import annotations

import argparse
import html
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

REPO = Path(__file__).resolve().parent.parent


def scrub_paths(nb, root: Path = REPO) -> int:
    """Replace absolute paths of this machine in outputs (repo root, home, temp) by neutral ones."""
    replacements = [(str(root), "."), (str(Path.home()), "~")]
    count = 0
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            for key in ("text",):
                if key in out and isinstance(out[key], str):
                    new = out[key]
                    for old, rep in replacements:
                        new = new.replace(old, rep)
                    new = re.sub(r"/tmp/[\w./-]+", "<tmp>", new)
                    if new != out[key]:
                        count += 1
                        out[key] = new
            data = out.get("data", {})
            if "text/plain" in data and isinstance(data["text/plain"], str):
                new = data["text/plain"]
                for old, rep in replacements:
                    new = new.replace(old, rep)
                if new != data["text/plain"]:
                    count += 1
                    data["text/plain"] = new
    return count


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def _widget_text(model_id: str, state: dict) -> str:
    """The text a widget shows, read from its saved state: a tqdm bar's three parts become one line."""
    model = state.get(model_id, {})
    fields = model.get("state", {})
    name = model.get("model_name", "")
    if name == "HTMLModel":
        return html.unescape(re.sub(r"<[^>]+>", "", str(fields.get("value", "")))).replace("\u2007", " ")
    if name.endswith("ProgressModel"):
        top = float(fields.get("max") or 0) or 1.0
        filled = round(10 * float(fields.get("value") or 0) / top)
        return "|" + "\u2588" * filled + " " * (10 - filled) + "|"
    if name.endswith("SliderModel"):
        return f"{fields.get('description', '')}={fields.get('value')}"
    parts = [_widget_text(child.removeprefix("IPY_MODEL_"), state) for child in fields.get("children", [])]
    return "".join(p for p in parts if p)


def _widget_outputs(model_id: str, state: dict) -> list:
    """The outputs captured by the Output widgets inside a widget (an ``interact``'s figure)."""
    fields = state.get(model_id, {}).get("state", {})
    found = list(fields.get("outputs", []))
    for child in fields.get("children", []):
        found += _widget_outputs(child.removeprefix("IPY_MODEL_"), state)
    return found


def freeze_widgets(nb) -> int:
    """Replace every stored widget view by what it showed when the run ended; drop the widget state.

    A progress bar becomes its final line (``loss: 100%|██████████| 2000/2000 [00:41<00:00, ...]``),
    an interactive figure its last drawn outputs, preceded by the controls' values. Without this,
    JupyterLab shows a widget that was not re-created by running the cell as its ``repr``
    (``interactive(children=(FloatSlider(...``) or as the bar's first line (0%). Returns the count.
    """
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    count = 0
    for cell in nb.cells:
        if not any(WIDGET_VIEW in out.get("data", {}) for out in cell.get("outputs", [])):
            continue
        outputs = []
        for out in cell["outputs"]:
            view = out.get("data", {}).get(WIDGET_VIEW)
            if view is None:
                outputs.append(out)
                continue
            count += 1
            model_id = view.get("model_id", "")
            captured = _widget_outputs(model_id, state)
            text = _widget_text(model_id, state) if model_id in state else ""
            if captured:
                text = f"(an interactive figure: run the cell to move its controls; shown at {text})" \
                    if text else "(an interactive figure: run the cell to use it)"
            if text or not captured:
                outputs.append(nbformat.v4.new_output("stream", name="stdout", text=(text or out["data"].get("text/plain", "")) + "\n"))
            outputs.extend(nbformat.from_dict(o) for o in captured)
        cell["outputs"] = outputs
    nb.metadata.pop("widgets", None)
    return count


def execute(path: Path, out_path: Path, quick: bool, timeout: int, kernel: str | None) -> float:
    nb = nbformat.read(path, as_version=4)
    env_backup = dict(os.environ)
    os.environ["GANCOURSE_QUICK"] = "1" if quick else "0"
    os.environ.setdefault("PYTHONHASHSEED", "0")
    try:
        client = NotebookClient(nb, timeout=timeout, kernel_name=kernel or "python3",
                                resources={"metadata": {"path": str(path.parent)}}, store_widget_state=True)
        t0 = time.perf_counter()
        # The kernel's own stderr only carries start-up chatter; cell errors arrive as messages.
        client.execute(stderr=subprocess.DEVNULL)
        seconds = time.perf_counter() - t0
    finally:
        os.environ.clear()
        os.environ.update(env_backup)
    freeze_widgets(nb)
    scrub_paths(nb)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, out_path)
    return seconds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gancourse.run_notebooks", description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--out", type=Path, help="folder for the executed copies")
    where.add_argument("--inplace", action="store_true", help="overwrite the notebooks with their executed versions")
    parser.add_argument("--quick", action="store_true", help="quick mode (GANCOURSE_QUICK=1)")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds allowed per cell")
    parser.add_argument("--kernel", default=None, help="Jupyter kernel name (default: python3 of this environment)")
    args = parser.parse_args(argv)
    failures = 0
    total = len(args.notebooks)
    for k, path in enumerate(args.notebooks, 1):
        if not path.is_file():
            print(f"[{k}/{total}] {path}: no such notebook", flush=True)
            failures += 1
            continue
        out_path = path if args.inplace else args.out / path.name
        print(f"[{k}/{total}] {path.name} ({'quick' if args.quick else 'full'} mode) ...", end=" ", flush=True)
        try:
            seconds = execute(path, out_path, args.quick, args.timeout, args.kernel)
            print(f"done in {seconds:.0f} s -> {out_path}", flush=True)
        except CellExecutionError as exc:
            failures += 1
            first = str(exc).strip().splitlines()
            print(f"FAILED: {first[-1] if first else exc}", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
