"""``python -m gancourse.website (site | slides | slide-metadata) [--out DIR] [NOTEBOOK...]``."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

from . import REPO, build_site, build_slides, write_slide_metadata


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gancourse.website",
                                     description="The course as a website or as slides, built offline.")
    parser.add_argument("what", choices=("site", "slides", "slide-metadata"),
                        help="site: build/site/; slides: build/slides/; slide-metadata: write the lecture cut "
                             "into the notebooks' slideshow metadata, in place")
    parser.add_argument("notebooks", nargs="*", type=Path, help="notebooks (default: notebooks/*.ipynb)")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: build/site or build/slides)")
    args = parser.parse_args(argv)
    notebooks = args.notebooks or sorted((REPO / "notebooks").glob("*.ipynb"))
    missing = [str(p) for p in notebooks if p.suffix != ".ipynb" or not p.is_file()]
    if missing:
        parser.error(f"notebooks: expected existing .ipynb files, not found: {', '.join(missing)}")
    if args.what == "slide-metadata":
        for path in notebooks:
            nb = nbformat.read(path, as_version=4)
            changed = write_slide_metadata(nb)
            if changed:
                nbformat.write(nb, path)
            print(f"{path.name}: slide metadata {'written to ' + str(changed) + ' cells' if changed else 'in step'}")
        return 0
    out = args.out or Path("build") / args.what
    build = build_site if args.what == "site" else build_slides
    written = build(out, notebooks)
    print(f"{len(written)} pages written to {out}/; open {out / 'index.html'} in a browser (works offline)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
