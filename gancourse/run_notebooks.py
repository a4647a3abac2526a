"""Execute notebooks headless: ``python -m gancourse.run_notebooks [--quick] (--out DIR | --inplace) NB...``.

``make course`` uses it to run every notebook in full mode into ``build/course/`` (the sources
are left untouched), printing one progress line per notebook. With ``--inplace`` it refreshes the
stored outputs of the sources, scrubbing machine paths from them.
"""
from __future__ import annotations

import argparse
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
