"""What a checkpoint holds, damaged files (bit flips, not only truncation), and shipped checkpoints
whose checksum does not match the manifest."""
import json
import warnings

import pytest
import torch
from torch import nn

import gancourse
from gancourse import checkpoint, pretrained, train


def _flip_byte(path, where=0.5):
    raw = bytearray(path.read_bytes())
    raw[int(len(raw) * where)] ^= 0xFF
    path.write_bytes(bytes(raw))


def test_a_checkpoint_holds_everything_needed_to_continue(tmp_path):
    model = nn.Linear(4, 2)
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    sched = torch.optim.lr_scheduler.StepLR(opt, 10)
    gen = torch.Generator().manual_seed(3)
    config = {"recipe": "toy", "lr": 1e-3, "steps": 4}
    ck = train.Checkpointer(tmp_path, {"G": model}, {"G": opt}, {"sched": sched, "noise": gen}, every=2,
                            config=config)
    train.fit(lambda i: {"loss": 0.5}, 4, log_every=2, checkpoint=ck, progress=False)
    state = checkpoint.load_file(ck.manager.path(4))
    assert state["format"] == checkpoint.FORMAT
    assert state["version"] == gancourse.__version__
    assert state["config"] == config
    assert state["step"] == 4
    assert set(state["rng"]) == {"python", "numpy", "torch", "cuda"}
    assert torch.equal(state["modules"]["G"]["weight"], model.weight.detach())
    assert "state" in state["optimizers"]["G"] and state["extras"]["sched"]["step_size"] == 10
    assert torch.equal(state["extras"]["noise"]["generator"], gen.get_state())
    assert state["history"]["loss"] == [0.5, 0.5]


def test_a_flipped_bit_inside_the_weights_is_detected(tmp_path):
    path = tmp_path / "ck.pt"
    checkpoint.save_atomic(checkpoint.collect_state(1, {"m": nn.Linear(100, 100)}), path)
    _flip_byte(path, 0.5)  # the middle of the file: tensor data, which torch.load alone reads silently
    with pytest.raises(checkpoint.CheckpointError, match=r"ck.pt: corrupted \(record .*CRC-32"):
        checkpoint.load_file(path)


def test_training_falls_back_past_a_corrupted_checkpoint_and_sets_it_aside(tmp_path):
    model = nn.Linear(50, 50)
    ck = train.Checkpointer(tmp_path, {"m": model}, every=2, keep=3)
    train.fit(lambda i: {"l": 1.0}, 6, log_every=2, checkpoint=ck, progress=False)
    _flip_byte(ck.manager.path(6))
    with pytest.warns(UserWarning, match=r"ckpt_00000006.pt: corrupted.*Renamed to ckpt_00000006.pt.damaged"):
        step, _ = ck.restore_latest()
    assert step == 4
    assert (tmp_path / "ckpt_00000006.pt.damaged").is_file()
    assert [p.name for p in ck.manager.list()] == ["ckpt_00000002.pt", "ckpt_00000004.pt"]


def test_new_checkpoints_survive_when_every_old_one_is_damaged(tmp_path):
    ck = train.Checkpointer(tmp_path, {"m": nn.Linear(2, 2)}, every=10, keep=2)
    train.fit(lambda i: {"l": 1.0}, 40, log_every=10, checkpoint=ck, progress=False)
    for p in ck.manager.list():
        p.write_bytes(b"garbage")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        history = train.fit(lambda i: {"l": 1.0}, 10, log_every=10, checkpoint=ck, resume="if-any", progress=False)
    assert history["step"] == [10], "nothing loadable, resume='if-any': training starts again from step 0"
    # the new step-10 checkpoint is kept although damaged files had larger step numbers
    assert [p.name for p in ck.manager.list()] == ["ckpt_00000010.pt"]
    assert checkpoint.load_file(ck.manager.path(10))["step"] == 10


@pytest.fixture
def shipped(tmp_path, monkeypatch):
    monkeypatch.setenv(pretrained.DATA_ENV, str(tmp_path))
    model = nn.Linear(3, 2)
    pretrained.save("toy-linear", {"G": model}, command="python -m gancourse.train toy --publish",
                    description="a test model", config={"steps": 7}, metrics={"score": 1.0})
    return tmp_path, model


def test_a_shipped_checkpoint_loads_after_its_checksum_is_verified(shipped):
    folder, model = shipped
    entry = json.loads((folder / "MANIFEST.json").read_text())["toy-linear"]
    assert entry["sha256"] == checkpoint.sha256(folder / entry["file"])
    target = nn.Linear(3, 2)
    state = pretrained.load_into("toy-linear", G=target)
    assert torch.equal(target.weight, model.weight) and state["metrics"] == {"score": 1.0}
    assert state["version"] == gancourse.__version__ and state["config"] == {"steps": 7}


def test_a_checksum_mismatch_is_an_error_naming_the_file_and_the_fix(shipped):
    folder, _ = shipped
    file = folder / "toy_linear.pt"
    _flip_byte(file, 0.9)
    with pytest.raises(pretrained.ChecksumError, match=r"toy_linear.pt: SHA-256 .* does not match") as err:
        pretrained.load("toy-linear")
    assert "git checkout" in str(err.value) and "python -m gancourse.train toy --publish" in str(err.value)
    assert isinstance(err.value, checkpoint.CheckpointError)
    # an edit that keeps the file loadable is still refused: the checksum, not the format, decides
    torch.save({"format": checkpoint.FORMAT, "modules": {}}, file)
    with pytest.raises(pretrained.ChecksumError):
        pretrained.path("toy-linear")


def test_shipped_checkpoint_bad_input(shipped, monkeypatch, tmp_path):
    folder, _ = shipped
    with pytest.raises(ValueError, match="name: unknown pretrained checkpoint 'nope'; expected one of toy-linear"):
        pretrained.load("nope")
    with pytest.raises(TypeError, match="name: expected a checkpoint name"):
        pretrained.load(3)
    (folder / "toy_linear.pt").unlink()
    with pytest.raises(checkpoint.CheckpointError, match="toy_linear.pt: missing. Regenerate it with: python"):
        pretrained.load("toy-linear")
    monkeypatch.setenv(pretrained.DATA_ENV, str(tmp_path / "empty"))
    with pytest.raises(FileNotFoundError, match="MANIFEST.json: no checkpoint manifest"):
        pretrained.names()
