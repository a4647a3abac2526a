"""Run by ``tests/test_distributed.py`` under ``torchrun --nproc_per_node 2``: trains each recipe
named on the command line for a few steps, exactly as ``python -m gancourse.train`` would, and
reports, per rank, a digest of the trained weights and every file the rank opened for writing.

    torchrun --nproc_per_node 2 tests/torchrun_worker.py REPORT_DIR OUT_ROOT STEPS RECIPE...
"""
import os
import sys

import torch

from gancourse import distributed, recipes

report_dir, out_root, steps, names = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
captured = []
_prepare = distributed.prepare


def capture(model):
    captured.append(model)
    return _prepare(model)


distributed.prepare = capture  # gancourse.fastpaths.prepare calls distributed.prepare
written = []


def audit(event, args):
    # Every file opened for writing (open(..., "w"/"a"/"x"/"+") or os.open with write flags).
    if event == "open" and args[0] is not None:
        mode, flags = args[1], args[2]
        writes = (isinstance(mode, str) and any(c in mode for c in "wax+")) or \
            (mode is None and isinstance(flags, int) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT))
        if writes:
            written.append(os.fsdecode(args[0]) if isinstance(args[0], (str, bytes, os.PathLike)) else str(args[0]))


distributed.init()
rank = distributed.rank()
sys.addaudithook(audit)
report = {}
for name in names:
    captured.clear()
    start = len(written)
    recipes.main([name, "--steps", steps, "--checkpoint-every", "1", "--no-progress",
                  "--out", os.path.join(out_root, name)])
    report[name] = {"digest": torch.cat([distributed.weights_digest(m) for m in captured])
                    if captured else torch.zeros(0, dtype=torch.float64),
                    "wrapped": [type(net).__name__ for m in captured for net in m.modules().values()],
                    "written": [p for p in written[start:] if p.startswith(out_root)]}
distributed.shutdown()
torch.save(report, os.path.join(report_dir, f"rank{rank}.pt"))
