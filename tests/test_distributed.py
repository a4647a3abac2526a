"""Every recipe of the course trains, resumes where it stopped, and runs data-parallel under
torchrun (2 CPU processes, gloo): both ranks end with identical weights, only rank 0 writes."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from gancourse import checkpoint, distributed, recipes
from gancourse.fastpaths import FastPaths, prepare

# The models of the course that ``python -m gancourse.train`` must train (issue: speed and scale).
COURSE_RECIPES = ["dcgan", "wgan-gp", "cgan", "acgan", "pix2pix", "cyclegan", "stargan", "spade", "defectgan",
                  "deepi2i"]
REPO = Path(__file__).resolve().parents[1]


def registered():
    return [r for r in COURSE_RECIPES if r in recipes.RECIPES]


def test_every_course_model_has_a_recipe():
    missing = [r for r in COURSE_RECIPES if r not in recipes.RECIPES]
    assert not missing, f"no training recipe for {missing}"


# Recipes that generate no images (the judges, and the GANs of 2-D toy points) write no sample grid.
NO_SAMPLE_GRID = {"digit-classifier", "defect-classifier", "shapes-classifier", "scene-segmenter",
                  "styled-digit-classifier", "toy-gan", "toy-gan-ring", "toy-gan-grid", "toy-modes"}


def every_recipe():
    return sorted(recipes.RECIPES)


@pytest.mark.parametrize("name", every_recipe())
def test_every_recipe_resumes_exactly_where_it_stopped(name, tmp_path, monkeypatch):
    """A run interrupted after its checkpoint at step 2 and resumed ends bit for bit where the
    uninterrupted 4-step run ends: same weights, optimizer states and loss history. Every recipe
    the registry lists. (A recipe that trains several runs, such as deepi2i's seeds or toy-modes'
    table, keeps one folder per run.)"""
    monkeypatch.setenv("GANCOURSE_QUICK", "1")   # recipes build smaller datasets and evaluations
    common = ["--steps", "4", "--checkpoint-every", "2", "--no-progress", "--device", "cpu"]
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    assert recipes.main([name, *common, "--out", str(straight)]) == 0
    shutil.copytree(straight, resumed)
    finals = sorted(p.relative_to(straight) for p in straight.rglob("ckpt_00000004.pt"))
    assert finals, f"{name}: no checkpoint at step 4 (does it honour --out and --checkpoint-every?)"
    for rel in finals:
        (resumed / rel).unlink()                      # the run "died" after step 2's checkpoint
        grids = sorted(p.name for p in (straight / rel).parent.glob("samples_*.png"))
        expected = [] if name in NO_SAMPLE_GRID else ["samples_00000002.png", "samples_00000004.png"]
        assert grids == expected, f"{name}: sample grids {grids}"
    assert recipes.main([name, *common, "--out", str(resumed), "--resume"]) == 0
    for rel in finals:
        a, b = checkpoint.load_file(straight / rel), checkpoint.load_file(resumed / rel)
        assert a["history"] == b["history"] and a["history"]["step"][-1] == 4, (rel, a["history"], b["history"])
        for module, weights in a["modules"].items():
            for p, t in weights.items():
                assert torch.equal(t, b["modules"][module][p]), f"{name} {rel}: {module}.{p} differs after resuming"
        assert _flat(a["optimizers"]) == _flat(b["optimizers"]), f"{name} {rel}: optimizer states differ"


def _flat(tree, prefix=""):
    """Nested dicts/lists of tensors and numbers as {path: value}, tensors as bytes (bitwise)."""
    if isinstance(tree, dict):
        return {k: v for key, sub in tree.items() for k, v in _flat(sub, f"{prefix}/{key}").items()}
    if isinstance(tree, (list, tuple)):
        return {k: v for i, sub in enumerate(tree) for k, v in _flat(sub, f"{prefix}/{i}").items()}
    if isinstance(tree, torch.Tensor):
        return {prefix: (tuple(tree.shape), str(tree.dtype), tree.cpu().contiguous().view(-1).view(torch.uint8)
                         .numpy().tobytes())}
    return {prefix: tree}


def test_two_cpu_processes_under_torchrun_hold_identical_weights(tmp_path):
    names = registered()
    reports, out_root = tmp_path / "reports", tmp_path / "runs"
    reports.mkdir()
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           str(REPO / "tests" / "torchrun_worker.py"), str(reports), str(out_root), "2", *names]
    env = {**os.environ, "GANCOURSE_QUICK": "1", "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=900, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    rank0, rank1 = (torch.load(reports / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    for name in names:
        d0, d1 = rank0[name]["digest"], rank1[name]["digest"]
        assert d0.numel() > 0, f"{name}: the recipe never called gancourse.fastpaths.prepare"
        assert "DDP" in rank0[name]["wrapped"], f"{name}: no network was wrapped in DistributedDataParallel"
        assert torch.equal(d0, d1), f"{name}: the two ranks' weights differ by {float((d0 - d1).abs().max()):.3g}"
        assert rank1[name]["written"] == [], f"{name}: rank 1 wrote {rank1[name]['written'][:3]}"
        assert rank0[name]["written"], f"{name}: rank 0 wrote nothing"   # (temporary files, renamed into place)
        assert list((out_root / name).rglob("ckpt_00000002.pt")), f"{name}: no checkpoint at step 2"


def test_without_torchrun_nothing_is_wrapped():
    from gancourse.models import dcgan

    model = prepare(dcgan.DCGAN(dcgan.DCGANConfig(steps=1)), FastPaths())
    assert distributed.world_size() == 1 and distributed.is_main()
    assert type(model.G).__name__ != "DDP"
    assert model.fast.bf16 is False and model.fast.channels_last is False  # automatic: off on a CPU


def test_fast_paths_validate_and_resolve():
    from gancourse.models import dcgan

    with pytest.raises(TypeError, match="fast: expected a FastPaths"):
        prepare(dcgan.DCGAN(dcgan.DCGANConfig(steps=1)), {"bf16": True})
    with pytest.raises(TypeError, match="model: expected a model object"):
        prepare(torch.nn.Linear(2, 2))
    on_gpu = FastPaths().resolve("cuda") if torch.cuda.is_available() else None
    if on_gpu is not None:
        assert on_gpu.channels_last and on_gpu.cudnn_benchmark and on_gpu.fused_optimizers
    off = FastPaths.off()
    assert not any([off.bf16, off.channels_last, off.cudnn_benchmark, off.fused_optimizers, off.pin_memory])


def test_batches_shard_epochs_across_ranks(monkeypatch):
    """Under torchrun each rank reads a disjoint share of every epoch (DistributedSampler's rule)."""
    from gancourse.data import TensorImageDataset, batches

    data = TensorImageDataset(torch.zeros(12, 1, 2, 2), torch.arange(12), ["x"])
    seen = []
    for r in (0, 1):
        monkeypatch.setattr(distributed, "rank", lambda r=r: r)
        monkeypatch.setattr(distributed, "world_size", lambda: 2)
        stream = batches(data, 3, generator=torch.Generator().manual_seed(0))
        seen.append(torch.cat([next(stream)[1] for _ in range(2)]).tolist())
    assert sorted(seen[0] + seen[1]) == list(range(12)) and not set(seen[0]) & set(seen[1])
