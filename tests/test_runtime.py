import pytest
import torch

import gancourse
from gancourse import runtime


@pytest.mark.parametrize("value, expected", [("1", True), ("true", True), ("0", False), ("", False), ("off", False)])
def test_quick_mode_reads_the_environment(monkeypatch, value, expected):
    monkeypatch.setenv("GANCOURSE_QUICK", value)
    assert gancourse.quick_mode() is expected
    assert gancourse.pick(full=100, quick=5) == (5 if expected else 100)


def test_quick_mode_rejects_unknown_values(monkeypatch):
    monkeypatch.setenv("GANCOURSE_QUICK", "maybe")
    with pytest.raises(ValueError, match="GANCOURSE_QUICK='maybe'"):
        gancourse.quick_mode()


def test_pick_device(monkeypatch):
    monkeypatch.delenv("GANCOURSE_DEVICE", raising=False)
    assert gancourse.pick_device("cpu") == torch.device("cpu")
    monkeypatch.setenv("GANCOURSE_DEVICE", "cpu")
    assert gancourse.pick_device() == torch.device("cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA device"):
            gancourse.pick_device("cuda")
    with pytest.raises(ValueError, match="not a device name"):
        gancourse.pick_device("gpu0")
    with pytest.raises(TypeError, match="prefer"):
        gancourse.pick_device(3)


def test_seed_everything_repeats_all_generators():
    import random

    import numpy as np

    gancourse.seed_everything(5)
    a = (random.random(), np.random.rand(), torch.rand(1).item())
    gancourse.seed_everything(5)
    assert a == (random.random(), np.random.rand(), torch.rand(1).item())
    with pytest.raises(TypeError, match="seed"):
        gancourse.seed_everything(1.5)
    with pytest.raises(ValueError, match="seed"):
        gancourse.seed_everything(-1)


def test_describe_environment_has_the_essentials():
    info = runtime.describe_environment()
    for key in ("python", "torch", "device", "quick mode"):
        assert key in info
