"""The training loop: history, NaN detection, atomic checkpoints, safe loading, exact resume."""
import pytest
import torch
from torch import nn

from gancourse import checkpoint, data, losses, train
from gancourse.nn import ToyDiscriminator, ToyGenerator


def make_gan(seed=0):
    torch.manual_seed(seed)
    G, D = ToyGenerator(2, 2, hidden=16, depth=2), ToyDiscriminator(2, hidden=16, depth=2)
    opt_G = torch.optim.Adam(G.parameters(), 1e-3, betas=(0.5, 0.999))
    opt_D = torch.optim.Adam(D.parameters(), 1e-3, betas=(0.5, 0.999))
    real = data.batches(data.ring(), 32, generator=torch.Generator().manual_seed(seed))

    def step(i):
        x = next(real)
        z = torch.randn(32, 2)
        loss_D = losses.d_loss_bce(D(x), D(G(z).detach()))
        opt_D.zero_grad(); loss_D.backward(); opt_D.step()
        loss_G = losses.g_loss_nonsaturating(D(G(torch.randn(32, 2))))
        opt_G.zero_grad(); loss_G.backward(); opt_G.step()
        return {"loss_D": loss_D, "loss_G": loss_G}

    return G, D, opt_G, opt_D, real, step


def test_fit_records_window_means_and_calls_back():
    calls = []
    history = train.fit(lambda i: {"x": float(i)}, 10, log_every=5, callback=calls.append, callback_every=4,
                        progress=False)
    assert history["step"] == [5, 10]
    assert history["x"] == [2.0, 7.0]
    assert calls == [3, 7, 9]


def test_fit_stops_on_nan_naming_the_step_and_loss():
    def step(i):
        return {"loss_D": torch.tensor(float("nan") if i == 7 else 1.0)}
    with pytest.raises(train.NonFiniteLossError, match=r"step 7: loss 'loss_D' became nan.*likely causes"):
        train.fit(step, 20, log_every=5, progress=False)


def test_nan_never_reaches_a_checkpoint(tmp_path):
    model = nn.Linear(2, 2)
    ckpt = train.Checkpointer(tmp_path, {"m": model}, every=5)

    def step(i):
        return {"loss": torch.tensor(float("inf") if i == 8 else 0.5)}
    with pytest.raises(train.NonFiniteLossError):
        train.fit(step, 20, log_every=5, checkpoint=ckpt, progress=False)
    assert [p.name for p in ckpt.manager.list()] == ["ckpt_00000005.pt"]


def test_resume_is_exact(tmp_path):
    n = 12
    G1, D1, *_, step1 = make_gan()
    train.fit(step1, 2 * n, log_every=4, progress=False)

    G2, D2, oG, oD, real, step2 = make_gan()
    ck = train.Checkpointer(tmp_path, {"G": G2, "D": D2}, {"G": oG, "D": oD}, {"real": real}, every=n)
    train.fit(step2, n, log_every=4, checkpoint=ck, progress=False)
    torch.manual_seed(1234)  # whatever happens in between must not matter
    G3, D3, oG3, oD3, real3, step3 = make_gan(seed=5)
    ck3 = train.Checkpointer(tmp_path, {"G": G3, "D": D3}, {"G": oG3, "D": oD3}, {"real": real3}, every=n)
    history = train.fit(step3, 2 * n, log_every=4, checkpoint=ck3, resume=True, progress=False)
    for a, b in zip(list(G1.parameters()) + list(D1.parameters()), list(G3.parameters()) + list(D3.parameters())):
        assert torch.equal(a, b)
    assert history["step"] == [4, 8, 12, 16, 20, 24], "the resumed history continues the interrupted one"


def test_checkpoints_keep_the_last_n_and_fall_back_on_a_damaged_one(tmp_path):
    model = nn.Linear(3, 1)
    ck = train.Checkpointer(tmp_path, {"m": model}, every=2, keep=2)
    train.fit(lambda i: {"l": 1.0}, 8, log_every=2, checkpoint=ck, progress=False)
    files = ck.manager.list()
    assert [p.name for p in files] == ["ckpt_00000006.pt", "ckpt_00000008.pt"]
    files[-1].write_bytes(files[-1].read_bytes()[:100])  # truncate the newest
    with pytest.warns(UserWarning, match="ckpt_00000008.pt.*cannot be read.*previous"):
        step, _ = ck.restore_latest()
    assert step == 6


def test_loading_errors_name_the_file(tmp_path):
    missing = tmp_path / "none.pt"
    with pytest.raises(checkpoint.CheckpointError, match="none.pt: no such file"):
        checkpoint.load_file(missing)
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint at all")
    with pytest.raises(checkpoint.CheckpointError, match="garbage.pt: cannot be read"):
        checkpoint.load_file(garbage)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(2)}, foreign)
    with pytest.raises(checkpoint.CheckpointError, match="foreign.pt: not a gancourse checkpoint"):
        checkpoint.load_file(foreign)


def test_unsafe_pickles_are_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("this should never run",))
    path = tmp_path / "evil.pt"
    torch.save({"format": checkpoint.FORMAT, "x": Evil()}, path)
    with pytest.raises(checkpoint.CheckpointError, match="evil.pt"):
        checkpoint.load_file(path)


def test_atomic_save_leaves_no_partial_file(tmp_path, monkeypatch):
    target = tmp_path / "ck.pt"
    checkpoint.save_atomic({"a": 1}, target)

    def boom(*a, **k):
        raise RuntimeError("disk full")
    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        checkpoint.save_atomic({"a": 2}, target)
    assert torch.load(target, weights_only=True) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["ck.pt"]


def test_rng_state_roundtrip():
    import random

    import numpy as np
    state = checkpoint.rng_state()
    a = (random.random(), np.random.rand(), torch.rand(2))
    checkpoint.set_rng_state(state)
    b = (random.random(), np.random.rand(), torch.rand(2))
    assert a[0] == b[0] and a[1] == b[1] and torch.equal(a[2], b[2])


def test_fit_bad_input():
    with pytest.raises(TypeError, match="step_fn"):
        train.fit(None, 3)
    with pytest.raises(ValueError, match="resume"):
        train.fit(lambda i: {}, 3, resume=True, progress=False)
    with pytest.raises(TypeError, match="return a dict"):
        train.fit(lambda i: 1.0, 3, progress=False)


def test_the_recipe_table_points_at_functions_and_listing_it_imports_no_model():
    import importlib
    import subprocess
    import sys

    from gancourse import recipes

    for name, (module, function, description) in recipes.RECIPES.items():
        assert callable(getattr(importlib.import_module(module), function, None)), name
        assert description, name
    code = ("import sys, contextlib, io\nfrom gancourse import recipes\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    try:\n        recipes.main(['--help'])\n    except SystemExit:\n        pass\n"
            "print(sorted(m for m in sys.modules if m.startswith(('gancourse.models', 'gancourse.judges.digits'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", out


def test_the_recipe_skeleton_refuses_what_a_recipe_cannot_do(tmp_path):
    from gancourse import recipes

    from gancourse import judges

    assert isinstance(judges.styled.RECIPE, recipes.Recipe)
    with pytest.raises(SystemExit, match="styled-digit-classifier: its image size is fixed; --image-size is not supported"):
        recipes.main(["styled-digit-classifier", "--image-size", "32", "--steps", "1", "--out", str(tmp_path / "a")])
    with pytest.raises(SystemExit, match="infogan: trains on the embedded digits only; --data is not supported"):
        recipes.main(["infogan", "--data", str(tmp_path), "--steps", "1", "--out", str(tmp_path / "b")])
    assert recipes.last_losses({"step": [1, 2], "loss_D": [0.5, 0.123456]}) == {"loss_D": 0.1235}
