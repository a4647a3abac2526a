"""Issue 18's defects, each pinned by a test that failed before its fix: resuming with nothing to
resume, an unwritable --out, another recipe's folder, a zero-length checkpoint, temporary files of
a killed write, non-finite weights, and the small input checks (empty batches, NaN std, float32
probability vectors)."""
import math

import numpy as np
import pytest
import torch
from torch import nn

from gancourse import checkpoint, divergences, losses, recipes, train
from gancourse.data import GaussianMixture, ring

QUICK = ["--steps", "2", "--checkpoint-every", "1", "--no-progress", "--device", "cpu"]


@pytest.fixture(autouse=True)
def quick(monkeypatch):
    monkeypatch.setenv("GANCOURSE_QUICK", "1")


# ---- the command line ----------------------------------------------------------------------------

def test_resume_with_nothing_to_resume_stops_with_a_clear_message(tmp_path, capsys):
    out = tmp_path / "run"
    assert recipes.main(["toy-gan", *QUICK, "--out", str(out), "--resume"]) == 2
    err = capsys.readouterr().err
    assert f"--resume: {out} holds no checkpoint, so there is nothing to resume" in err
    assert "--resume-if-any" in err and not list(out.glob("ckpt_*.pt")), "nothing was trained"
    # the lenient form starts from step 0, then continues
    assert recipes.main(["toy-gan", *QUICK, "--out", str(out), "--resume-if-any"]) == 0
    assert sorted(p.name for p in out.glob("ckpt_*.pt")) == ["ckpt_00000001.pt", "ckpt_00000002.pt"]
    assert recipes.main(["toy-gan", "--steps", "3", *QUICK[2:], "--out", str(out), "--resume"]) == 0
    assert checkpoint.load_file(out / "ckpt_00000003.pt")["history"]["step"] == [1, 2, 3]


def test_resume_when_every_checkpoint_is_damaged_stops_too(tmp_path, capsys):
    out = tmp_path / "run"
    assert recipes.main(["toy-gan", *QUICK, "--out", str(out)]) == 0
    for p in out.glob("ckpt_*.pt"):
        p.write_bytes(b"")
    with pytest.warns(UserWarning, match="Renamed to ckpt_00000002.pt.damaged"):
        assert recipes.main(["toy-gan", *QUICK, "--out", str(out), "--resume"]) == 2
    assert "every checkpoint in" in capsys.readouterr().err


def test_fit_resume_true_with_nothing_raises_and_if_any_starts_over(tmp_path):
    ck = train.Checkpointer(tmp_path, {"m": nn.Linear(2, 2)}, every=5)
    with pytest.raises(checkpoint.NothingToResumeError, match="nothing to resume in .*: it holds no checkpoint"):
        train.fit(lambda i: {"l": 1.0}, 5, checkpoint=ck, resume=True, progress=False)
    assert train.fit(lambda i: {"l": 1.0}, 5, checkpoint=ck, resume="if-any", progress=False)["step"] == [5]
    with pytest.raises(ValueError, match="resume: expected False, True or 'if-any', got 'yes'"):
        train.fit(lambda i: {}, 5, checkpoint=ck, resume="yes", progress=False)


def test_an_unwritable_out_is_refused_before_training(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(SystemExit) as info:
        recipes.main(["dcgan", *QUICK, "--out", str(blocker / "run")])
    assert info.value.code == 2
    assert f"--out: cannot write into {blocker / 'run'}" in capsys.readouterr().err


def test_resuming_from_another_recipes_folder_names_the_mismatch(tmp_path, capsys):
    out = tmp_path / "run"
    assert recipes.main(["dcgan", *QUICK, "--out", str(out)]) == 0
    assert recipes.main(["cgan", *QUICK, "--out", str(out), "--resume"]) == 2
    err = capsys.readouterr().err
    assert "ckpt_00000002.pt: module 'G' does not fit this model" in err
    assert "written by another recipe or with other options" in err and "Traceback" not in err


# ---- checkpoint files ------------------------------------------------------------------------------

def test_a_zero_length_checkpoint_is_set_aside_and_the_previous_one_used(tmp_path):
    model = nn.Linear(3, 3)
    ck = train.Checkpointer(tmp_path, {"m": model}, every=2)
    train.fit(lambda i: {"l": 1.0}, 4, checkpoint=ck, progress=False)
    (tmp_path / "ckpt_00000004.pt").write_bytes(b"")
    with pytest.raises(checkpoint.CheckpointError, match=r"ckpt_00000004.pt: cannot be read \(EOFError"):
        checkpoint.load_file(tmp_path / "ckpt_00000004.pt")
    with pytest.warns(UserWarning, match="Renamed to ckpt_00000004.pt.damaged"):
        step, _ = ck.restore_latest()
    assert step == 2 and (tmp_path / "ckpt_00000004.pt.damaged").is_file()


KILLED_WRITER = """
import sys, time, torch
from gancourse import checkpoint
def slow_save(obj, fh):
    fh.write(b"half a checkpoint"); fh.flush()
    time.sleep(60)                                   # killed here, mid-write
torch.save = slow_save
checkpoint.save_atomic({"step": 10}, sys.argv[1] + "/ckpt_00000010.pt")
"""


def test_temporary_files_of_a_killed_write_are_removed_at_the_next_start(tmp_path):
    import subprocess
    import sys
    import time

    proc = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(tmp_path)])
    try:
        deadline = time.monotonic() + 60
        while not list(tmp_path.glob(".ckpt_*.tmp")) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        proc.kill()                                  # SIGKILL: no cleanup handler runs
        proc.wait()
    stale = list(tmp_path.glob(".ckpt_*.tmp"))
    assert len(stale) == 1, "the killed write left its temporary file"
    keep = tmp_path / "notes.tmp"
    keep.write_text("not ours")
    train.Checkpointer(tmp_path, {"m": nn.Linear(2, 2)})   # the next start
    assert not stale[0].exists() and keep.exists()


def test_non_finite_weights_are_never_saved(tmp_path):
    model = nn.Linear(2, 2)
    ck = train.Checkpointer(tmp_path, {"m": model}, every=2)

    def step(i):
        if i == 2:
            with torch.no_grad():
                model.weight[0, 0] = math.nan    # the loss stays finite: it does not read the weights
        return {"l": 1.0}

    with pytest.raises(train.NonFiniteWeightsError, match=r"step 4: m.weight hold NaN or infinity"):
        train.fit(step, 6, checkpoint=ck, progress=False)
    assert sorted(p.name for p in tmp_path.glob("ckpt_*")) == ["ckpt_00000002.pt"], "the last good one is kept"


# ---- small input checks --------------------------------------------------------------------------

def test_losses_refuse_an_empty_batch_instead_of_returning_nan():
    empty = torch.zeros(0, 1)
    with pytest.raises(ValueError, match=r"real_logits: expected at least one score, got an empty tensor"):
        losses.d_loss_bce(empty, torch.zeros(3, 1))
    critic = nn.Linear(2, 1)
    with pytest.raises(ValueError, match=r"real and fake: expected a batch of at least one sample, got shape \(0, 2\)"):
        losses.gradient_penalty(critic, torch.zeros(0, 2), torch.zeros(0, 2))


def test_a_nan_std_is_refused():
    with pytest.raises(ValueError, match="std: expected one finite positive value"):
        ring(std=math.nan)
    with pytest.raises(ValueError, match="std: expected one finite positive value"):
        GaussianMixture([[0.0, 0.0]], std=math.inf)


def test_a_float32_probability_vector_normalised_in_float32_is_accepted():
    g = torch.Generator().manual_seed(0)
    for _ in range(3):
        p = torch.softmax(torch.randn(10**6, generator=g), 0)    # misses 1 by up to ~2.5e-6 in float32
        assert divergences.kl(p, p) == pytest.approx(0.0, abs=1e-9)
    off = np.full(10, 0.1)
    off[0] += 1e-4
    with pytest.raises(ValueError, match=r"p: expected probabilities summing to 1 \(within 1e-06\), got sum 1.0001"):
        divergences.kl(off, np.full(10, 0.1))
